"""Spark local mode builds the same tables and rates as the DuckDB ingest.

One SparkSession (local[2]) for the module; each log is ingested once by each engine and every table is
compared row for row after sorting. Skips when PySpark or Java is missing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.errors import InputError
from analysis.ingest.loader import Ingestor
from analysis.ingest.options import IngestOptions
from analysis.inventory import load_inventory, store_inventory
from analysis.metrics import Filters, rates
from analysis.spark.session import missing
from analysis.store import connect
from analysis.store.lake import open_lake
from analysis.synth.postfix import generate

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "postfix-real.log"
TABLES = ("messages", "deliveries", "rejections", "quarantine", "ingest_files")
# Times of the run and the raw file's signature (the DuckDB side reads it from the ingest's own copy).
VOLATILE = {"ingest_files": ("started_at", "finished_at")}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.skipif(missing() is not None, reason=f"Spark unavailable: {missing()}"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from analysis.spark.session import get_session

    session = get_session("local[2]", {"spark.sql.shuffle.partitions": "3", "spark.ui.enabled": "false"})
    yield session
    session.stop()


@dataclass
class Built:
    """One log ingested by both engines: the DuckDB store (read-only) and the Spark-built lake."""

    db: Path
    con: duckdb.DuckDBPyConnection
    lake: Path


def _both(spark: object, tmp: Path, logs: list[Path], split_bytes: int) -> Iterator[Built]:
    from analysis.spark.ingest import ingest_lake

    db = tmp / "duck.duckdb"
    inventory = load_inventory(ROOT / "data" / "inventory.toml")  # accounts are compared too
    writer = connect(db)
    store_inventory(writer, inventory)
    Ingestor(writer, IngestOptions(year=2026)).ingest([str(p) for p in logs])
    writer.close()
    lake = tmp / "lake"
    paths = [str(p) for p in logs]
    ingest_lake(spark, paths, lake, year=2026, split_bytes=split_bytes, inventory=inventory)  # type: ignore[arg-type]
    con = connect(db, read_only=True)
    yield Built(db, con, lake)
    con.close()


@pytest.fixture(scope="module")
def sample(spark: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The captured real-Postfix log, gzip-compressed (one split, decompressed by the executor)."""
    tmp = tmp_path_factory.mktemp("spark-sample")
    log = tmp / "postfix-real.log.gz"
    with gzip.open(log, "wb") as f:
        f.write(SAMPLE.read_bytes())
    yield from _both(spark, tmp, [log], 64 * 1024 * 1024)


@pytest.fixture(scope="module")
def reused(spark: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A generated log with queue-ID reuse, read in 256 KiB splits (about a dozen)."""
    tmp = tmp_path_factory.mktemp("spark-reuse")
    log = tmp / "synth.log"
    generate(log, lines=20000, seed=1, reuse_ids=0.05)
    yield from _both(spark, tmp, [log], 256 * 1024)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def _assert_tables_equal(con: duckdb.DuckDBPyConnection, lake: Path) -> None:
    lk = open_lake(lake)
    for table in TABLES:
        drop = VOLATILE.get(table, ())
        want = _sorted(con.sql(f"SELECT * FROM {table}").pl().drop(drop))
        got = _sorted(lk.sql(f"SELECT * FROM {table}").pl().drop(drop))
        assert got.schema == want.schema, table
        assert got.height == want.height, table
        for col in want.columns:
            assert got[col].equals(want[col]), f"{table}.{col} differs"
    lk.close()


def test_sample_log_tables_equal(sample: Built) -> None:
    assert sample.con.sql("SELECT COUNT(*) FROM deliveries").fetchall()[0][0] > 500
    assert sample.con.sql("SELECT COUNT(DISTINCT account) FROM messages").fetchall()[0][0] >= 2
    _assert_tables_equal(sample.con, sample.lake)


def test_reused_queue_ids_tables_equal(reused: Built) -> None:
    lives = reused.con.sql(
        "SELECT COUNT(*) FROM (SELECT qid FROM messages GROUP BY host, instance, qid HAVING COUNT(*) > 1)"
    )
    assert lives.fetchall()[0][0] > 10  # the reuse is really there
    _assert_tables_equal(reused.con, reused.lake)


def test_lake_is_hive_partitioned_parquet(reused: Built) -> None:
    lake = reused.lake
    days = sorted(p.name for p in (lake / "deliveries").iterdir() if p.is_dir())
    assert days == ["day=2026-11-20"]
    assert list((lake / "deliveries" / "day=2026-11-20").glob("*.parquet"))
    assert not list(lake.glob(".*tmp*"))  # temporary directories were swapped in


GROUPINGS: list[tuple[tuple[str, ...], Filters | None]] = [
    ((), None),
    (("provider",), None),
    (("hour", "recipient_domain"), Filters(since=dt.datetime(2026, 11, 20, 0, 10, tzinfo=dt.UTC))),
    (("account", "sasl_username"), Filters(where={"provider": "google"})),
]


@pytest.mark.parametrize("which", ["sample", "reused"])
def test_rates_equal(spark: object, which: str, request: pytest.FixtureRequest) -> None:
    from analysis.spark.metrics import rates_spark

    built: Built = request.getfixturevalue(which)
    for by, filters in GROUPINGS:
        want = rates(built.con, by, filters)
        got = rates_spark(spark, built.lake, by, filters)  # type: ignore[arg-type]
        assert want.height > 0
        assert got.equals(want), (by, filters)


def test_cli_spark_rates_equal_duckdb_rates(reused: Built) -> None:
    runner = CliRunner()
    spark_out = runner.invoke(main, ["spark", "rates", "--lake", str(reused.lake), "--by", "provider", "--json",
                                     "--master", "local[2]"])  # fmt: skip
    duck_out = runner.invoke(main, ["rates", "--db", str(reused.db), "--by", "provider", "--json"])
    assert spark_out.exit_code == 0, spark_out.output
    assert duck_out.exit_code == 0, duck_out.output
    assert json.loads(spark_out.stdout) == json.loads(duck_out.stdout)


def test_refuses_non_postfix_input(tmp_path: Path) -> None:
    from analysis.spark.ingest import plan_files

    arf = sorted((ROOT / "data" / "samples" / "arf").iterdir())[0]
    with pytest.raises(InputError, match="not a Postfix log"):
        plan_files([str(arf)], IngestOptions(year=2026), lambda m: None)
