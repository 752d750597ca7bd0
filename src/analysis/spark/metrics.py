"""The metric SQL on Spark: the same `.sql` files, rendered with the same slots, transpiled by sqlglot.

The lake's table directories become Spark temporary views (without the `day` partition column, which
would clash with the `day` dimension), and filter values travel as named parameters (`:since`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from analysis.errors import InputError, WorkbenchError
from analysis.metrics import sqlfiles
from analysis.metrics.filters import Filters, check_dimensions, where_sql
from analysis.metrics.rates import add_rates, check_confidence, finish_counts
from analysis.metrics.thresholds import DEFAULT_CONFIDENCE, DEFAULT_MIN_VOLUME
from analysis.spark.tables import table_schema

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Tables the rate SQL reads; complaints is optional (its stand-in fragment has no rows).
RATE_TABLES = ("deliveries", "messages", "rejections")


def register_lake(spark: SparkSession, lake: str | Path) -> set[str]:
    """Temporary views over the lake's tables; a core table without files is an empty view of its schema.
    Returns the names of the tables that have data files."""
    from pyspark.sql.pandas.types import from_arrow_schema

    root = Path(lake)
    if not root.is_dir():
        raise InputError(f"no lake at {root}")
    present: set[str] = set()
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if any(d.rglob("*.parquet")):
            spark.read.parquet(str(d)).drop("day").createOrReplaceTempView(d.name)
            present.add(d.name)
    for table in RATE_TABLES:
        if table not in present:
            schema = from_arrow_schema(table_schema(table), prefer_timestamp_ntz=False)
            spark.createDataFrame([], schema).createOrReplaceTempView(table)
    return present


def count_recipients_spark(
    spark: SparkSession, lake: str | Path, by: Sequence[str], filters: Filters | None = None
) -> pl.DataFrame:
    """analysis.metrics.count_recipients, computed by Spark over the lake."""
    dims = check_dimensions(by)
    filters = filters or Filters()
    present = register_lake(spark, lake)
    where, params = where_sql(filters)
    complaints = "complaints" if "complaints" in present else "complaints_none"
    slots = {**sqlfiles.group_slots(dims), "where": where, "complaints": sqlfiles.render(complaints)}
    text = sqlfiles.to_spark(sqlfiles.render("rates", slots))
    try:
        table = spark.sql(text, args=params).toArrow()
    except Exception as exc:  # Spark analysis errors arrive as several exception types
        raise WorkbenchError(f"metric query rates failed on Spark: {str(exc).splitlines()[0]}") from None
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return finish_counts(df, dims, filters)


def rates_spark(
    spark: SparkSession,
    lake: str | Path,
    by: Sequence[str],
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> pl.DataFrame:
    """analysis.metrics.rates on Spark: counts by Spark, rates and flags by the same polars code."""
    check_confidence(confidence)
    counts = count_recipients_spark(spark, lake, by, filters)
    return add_rates(counts, confidence=confidence, min_volume=min_volume)
