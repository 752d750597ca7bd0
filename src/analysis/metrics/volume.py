"""Attempt and refusal events per hour or day: the traffic shape behind the rates."""

from __future__ import annotations

import duckdb
import polars as pl

from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.attempts import attempts_slot
from analysis.metrics.filters import TIME_DIMENSIONS, Filters, where_sql

OUTCOMES: tuple[str, ...] = ("sent", "bounced", "deferred", "expired", "rejected")


def volume_series(
    con: duckdb.DuckDBPyConnection, freq: str = "hour", filters: Filters | None = None
) -> pl.DataFrame:
    """bucket (UTC timestamp) and event counts per outcome; buckets without events are absent."""
    if freq not in TIME_DIMENSIONS:
        raise InputError(f"freq must be one of {', '.join(sorted(TIME_DIMENSIONS))}, got {freq!r}")
    where, params = where_sql(filters)
    return sqlfiles.run(
        con, "volume", params, {**attempts_slot(con, [], filters), "bucket": freq, "where": where}
    )
