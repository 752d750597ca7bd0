"""`deliverability spark ingest | rates`: the pipeline on Apache Spark over a Parquet lake.

PySpark is an optional extra (`pip install -e '.[spark]'`) and needs Java; without them these commands
fail with one line saying so. `python -m analysis.spark.job` runs the same commands under spark-submit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from analysis.commands.metrics import _emit, _filters, _rates_table, _split_by
from analysis.commands.options import since_until_options
from analysis.errors import InputError
from analysis.metrics import DEFAULT_CONFIDENCE, DEFAULT_MIN_VOLUME, DIMENSIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_HELP = "Spark master URL (default: the one spark-submit was given, else local[*])."


def _conf(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--conf expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def _session(master: str | None, conf: tuple[str, ...]) -> SparkSession:
    from analysis.spark.session import get_session

    return get_session(master, _conf(conf))


@click.group("spark")
def spark_group() -> None:
    """Run ingest and metrics on Apache Spark over a Hive-partitioned Parquet lake (see docs/SCALE_OUT.md).

    Read the lake with any other command through --lake DIR (or $DELIVERABILITY_LAKE).
    """


@spark_group.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--lake", required=True, type=click.Path(file_okay=False), help="Lake directory to write.")
@click.option("--master", default=None, help=MASTER_HELP)
@click.option(
    "--year", type=int, default=None, help="Year of the first line of year-less logs (default: mtime)."
)
@click.option("--tz", default="UTC", show_default=True, help="Time zone of year-less syslog timestamps.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions of the queue-ID correlation (default: one per core or per 1M lines).",
)
@click.option(
    "--split-mb", type=click.IntRange(min=1), default=64, show_default=True, help="Split size of plain files."
)
@click.option(
    "--inventory",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Inventory TOML that maps messages to accounts (default: none; accounts stay empty).",
)
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE", help="Spark configuration (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Rows written per table as JSON.")
def spark_ingest(
    paths: tuple[str, ...],
    lake: str,
    master: str | None,
    year: int | None,
    tz: str,
    partitions: int | None,
    split_mb: int,
    inventory: str | None,
    conf: tuple[str, ...],
    as_json: bool,
) -> None:
    """Parse, classify and correlate Postfix logs (files, globs, directories; .gz .bz2 .xz .zst) on Spark
    and write messages, deliveries, rejections, quarantine and ingest_files to LAKE/<table>/day=.../.

    The five tables are rebuilt from the given logs (a batch job over closed files). Executors open the
    files themselves: on a cluster the paths must be on a filesystem every node mounts.
    """
    from analysis.ingest.options import IngestOptions
    from analysis.ingest.sources import expand_inputs
    from analysis.inventory import load_inventory
    from analysis.spark.ingest import ingest_lake

    IngestOptions(year=year, tz=tz)  # validate before starting a JVM
    expand_inputs(list(paths))
    inv = load_inventory(inventory) if inventory else None
    spark = _session(master, conf)
    written = ingest_lake(
        spark,
        list(paths),
        lake,
        year=year,
        tz=tz,
        warn=lambda m: click.echo(f"warning: {m}", err=True),
        split_bytes=split_mb * 1024 * 1024,
        partitions=partitions,
        inventory=inv,
    )
    if as_json:
        click.echo(json.dumps(written, indent=2))
        return
    for table, n in written.items():
        click.echo(f"{table}: {n:,} rows")
    click.echo(f"wrote {lake}")


@spark_group.command("rates")
@click.option("--lake", required=True, type=click.Path(file_okay=False, exists=True), help="Lake directory.")
@click.option("--by", "by", required=True, metavar="DIM[,DIM...]", help=f"Group by: {', '.join(DIMENSIONS)}.")
@since_until_options
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="DIM=VALUE",
    help="Keep only rows whose dimension equals VALUE.",
)
@click.option(
    "--confidence", type=float, default=DEFAULT_CONFIDENCE, show_default=True, help="Wilson confidence."
)
@click.option("--min-volume", "min_volume", type=int, default=DEFAULT_MIN_VOLUME, show_default=True,
              help="Groups with fewer attempted recipients are never flagged.")  # fmt: skip
@click.option("--json", "fmt", flag_value="json", help="A JSON list of row objects.")
@click.option("--csv", "fmt", flag_value="csv", help="Comma-separated values with a header row.")
@click.option("--master", default=None, help=MASTER_HELP)
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE", help="Spark configuration (repeatable).")
def spark_rates(
    lake: str,
    by: str,
    since: str | None,
    until: str | None,
    where: tuple[str, ...],
    confidence: float,
    min_volume: int,
    fmt: str | None,
    master: str | None,
    conf: tuple[str, ...],
) -> None:
    """`deliverability rates` computed by Spark from the lake: the same SQL files, transpiled by sqlglot,
    so the numbers equal the DuckDB path's."""
    from analysis.spark.metrics import rates_spark

    dims = _split_by(by)
    filters = _filters(since, until, where)
    spark = _session(master, conf)
    df = rates_spark(spark, lake, dims, filters, confidence=confidence, min_volume=min_volume)
    _emit(df, fmt, _rates_table(dims))


def register(group: click.Group) -> None:
    group.add_command(spark_group)
