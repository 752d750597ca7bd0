"""Delivery latency quantiles (p50/p90/p99) of Postfix's delay and of each part of delays=a/b/c/d.

Counted over successful attempts (status sent), each dated by its own time: a latency belongs to the
moment the message left, and a deferral's delay would measure the retry schedule, not the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from analysis.metrics import sqlfiles
from analysis.metrics.attempts import attempts_slot
from analysis.metrics.filters import Filters, check_dimensions, where_sql

LATENCY_FIELDS: tuple[str, ...] = ("delay", "delay_a", "delay_b", "delay_c", "delay_d")
QUANTILES: tuple[str, ...] = ("p50", "p90", "p99")


def _latency_sql(
    con: duckdb.DuckDBPyConnection, dims: Sequence[str], group: Mapping[str, str], filters: Filters | None
) -> tuple[str, dict[str, Any]]:
    where, params = where_sql(filters)
    slots = {**group, **attempts_slot(con, dims, filters), "where": where}
    return sqlfiles.render("latency", slots), params


def prefetch_latency(
    con: duckdb.DuckDBPyConnection, groupings: Sequence[Sequence[str]], filters: Filters | None = None
) -> None:
    """Compute several latency groupings in one pass for later latency() calls (read-only connections;
    see sqlfiles.prefetch): one scan of the attempts instead of one per grouping."""
    wanted = [check_dimensions(g) for g in groupings]
    _, params = where_sql(filters)
    sqlfiles.prefetch(
        con, "latency", wanted, params, lambda dims, group: _latency_sql(con, dims, group, filters)[0]
    )


def latency(
    con: duckdb.DuckDBPyConnection, by: Sequence[str], filters: Filters | None = None
) -> pl.DataFrame:
    """The `by` columns, n (sent attempts) and <field>_p50/_p90/_p99 for each of LATENCY_FIELDS."""
    dims = check_dimensions(by)
    sql, params = _latency_sql(con, dims, sqlfiles.group_slots(dims), filters)
    df = sqlfiles.run_rendered(con, "latency", sql, params)
    df = df.with_columns(pl.col("n").fill_null(0))
    return df.sort(list(dims), nulls_last=True) if dims else df
