"""Lake mode: a store exported to Parquet answers every reader exactly as the database file does.

The store holds the captured Postfix sample, the ARF/ESP/DMARC samples and the inventory, so accounts
and complaints are in play; commands read it once with --db and once with --lake.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.errors import InputError
from analysis.store import connect
from analysis.store.lake import LAKE_ENV, open_lake

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lake")
    db, lake = tmp / "store.duckdb", tmp / "lake"
    inputs = [
        SAMPLES / "postfix-real.log",
        *sorted(p for d in ("arf", "esp", "dmarc") for p in (SAMPLES / d).iterdir()),
    ]
    _run("inventory", "load", "--inventory", str(ROOT / "data" / "inventory.toml"), "--db", str(db))
    _run("ingest", *map(str, inputs), "--db", str(db), "--year", "2026")
    _run("export", "--db", str(db), "--out", str(lake))
    return db, lake


COMMANDS = [
    ["totals", "--json"],
    ["totals", "--json", "--since", "2026-11-22T05:00:00"],
    ["rates", "--by", "provider", "--json"],
    ["rates", "--by", "account,day", "--json"],
    ["rates", "--by", "sender_domain", "--where", "provider=google", "--json"],
    ["latency", "--by", "provider", "--json"],
    ["replies", "--json"],
    ["quarantine", "--json"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_lake_answers_as_the_database(exported: tuple[Path, Path], command: list[str]) -> None:
    db, lake = exported
    from_db = _run(*command, "--db", str(db))
    from_lake = _run(*command, "--lake", str(lake))
    assert from_lake == from_db
    assert LAKE_ENV not in os.environ  # --lake lasts one command


def test_the_comparison_can_fail(exported: tuple[Path, Path]) -> None:
    db, lake = exported
    assert json.loads(_run("totals", "--json", "--db", str(db)))["delivered"] > 0
    assert json.loads(_run("totals", "--json", "--db", str(db))) != json.loads(
        _run("totals", "--json", "--lake", str(lake), "--since", "2030-01-01")
    )


def test_env_var_makes_readers_use_the_lake(
    exported: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lake = exported
    monkeypatch.setenv(LAKE_ENV, str(lake))
    con = connect(lake / "no-such.duckdb", read_only=True)  # the lake serves readers, no file needed
    try:
        n = con.sql("SELECT COUNT(*) FROM recipient_outcomes").fetchall()[0][0]
        kinds = dict(con.sql("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    finally:
        con.close()
    assert n > 0
    assert kinds["deliveries"] == "VIEW" and kinds["complaints"] == "VIEW"
    assert kinds["dns_observations"] == "BASE TABLE"  # not in the lake: the store's empty table


def test_views_keep_store_columns(exported: tuple[Path, Path]) -> None:
    db, lake = exported
    with connect(db, read_only=True) as con:
        want = con.sql("DESCRIBE deliveries").fetchall()
    lk = open_lake(lake)
    got = lk.sql("DESCRIBE deliveries").fetchall()
    lk.close()
    assert [r[:2] for r in got] == [r[:2] for r in want]  # no `day` column, same names and types


def test_missing_lake_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no lake at"):
        open_lake(tmp_path / "nowhere")
    result = CliRunner().invoke(main, ["totals", "--lake", str(tmp_path / "nowhere")])
    assert result.exit_code == 2


def test_tables_the_lake_lacks_come_from_the_database(exported: tuple[Path, Path], tmp_path: Path) -> None:
    """A Spark-built lake holds only the relay-log tables: complaints and inventory stay in the file."""
    db, lake = exported
    partial = tmp_path / "partial"
    shutil.copytree(lake, partial)
    for table in ("complaints", "inventory_sasl_users", "inventory_domains"):
        shutil.rmtree(partial / table)
    command = ["rates", "--by", "account", "--json"]
    want = json.loads(_run(*command, "--db", str(db)))
    assert sum(r["complained"] for r in want) > 0
    assert json.loads(_run(*command, "--lake", str(partial), "--db", str(db))) == want
    alone = json.loads(_run(*command, "--lake", str(partial), "--db", str(tmp_path / "none.duckdb")))
    assert sum(r["complained"] for r in alone) == 0  # without the file there are no complaints
