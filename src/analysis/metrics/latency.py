"""Delivery latency quantiles (p50/p90/p99) of Postfix's delay and of each part of delays=a/b/c/d.

Counted over successful attempts (status sent), each dated by its own time: a latency belongs to the
moment the message left, and a deferral's delay would measure the retry schedule, not the path.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from analysis.metrics import sqlfiles
from analysis.metrics.attempts import attempts_slot
from analysis.metrics.filters import Filters, check_dimensions, where_sql

LATENCY_FIELDS: tuple[str, ...] = ("delay", "delay_a", "delay_b", "delay_c", "delay_d")
QUANTILES: tuple[str, ...] = ("p50", "p90", "p99")


def latency(
    con: duckdb.DuckDBPyConnection, by: Sequence[str], filters: Filters | None = None
) -> pl.DataFrame:
    """The `by` columns, n (sent attempts) and <field>_p50/_p90/_p99 for each of LATENCY_FIELDS."""
    dims = check_dimensions(by)
    where, params = where_sql(filters)
    slots = {**sqlfiles.group_slots(dims), **attempts_slot(con, dims, filters), "where": where}
    df = sqlfiles.run(con, "latency", params, slots)
    df = df.with_columns(pl.col("n").fill_null(0))
    return df.sort(list(dims), nulls_last=True) if dims else df
