"""Recipient-level counts and rates with Wilson intervals, a volume gate and threshold flags.

Definitions (also in DEFINITIONS.md):
- attempted: distinct recipients of a message (message_key, recipient) with at least one delivery
  attempt, dated by their first attempt; their outcome is their last attempt's.
- delivered / bounced / expired / pending: final outcome; hard_bounced = bounced with severity hard,
  soft_bounced = the other bounces (unclassified ones included: not known to be permanent).
- deferred: recipients deferred at least once (whatever came after).
- rejected: refusals by this relay (NOQUEUE/postscreen/cleanup/milter rejects), one per event; they
  never reach a relay, so with relay_ip/relay_host in the grouping or filter they are unknown (null).
- submitted = attempted + rejected; complained = delivered recipients named by a complaint.
Rates: see thresholds.RATE_DEFINITIONS. A rate whose denominator is 0 is null, as are its bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.filters import Filters, check_dimension, check_dimensions, where_sql
from analysis.metrics.rate_rows import (
    COUNT_COLUMNS,
    PYTHON_ROWS,
    check_confidence,
    check_min_volume,
    rates_sql,
    relay_unknown,
)
from analysis.metrics.thresholds import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_VOLUME,
    RATE_DEFINITIONS,
    RATES,
    THRESHOLDS,
)
from analysis.stats import wilson_bounds, z_for_confidence


def count_recipients(
    con: duckdb.DuckDBPyConnection, by: Sequence[str], filters: Filters | None = None
) -> pl.DataFrame:
    """The raw counts per group (no rates): the `by` columns and COUNT_COLUMNS."""
    dims = check_dimensions(by)
    filters = filters or Filters()
    where, params = where_sql(filters)
    sql = rates_sql(con, {**sqlfiles.group_slots(dims), "where": where})
    counts = sqlfiles.run_rendered(con, "rates", sql, params, python_rows=PYTHON_ROWS)
    return finish_counts(counts, dims, filters)


def prefetch_counts(
    con: duckdb.DuckDBPyConnection, groupings: Sequence[Sequence[str]], filters: Filters | None = None
) -> None:
    """Count several groupings in one pass for later rates() calls on this connection (read-only ones;
    see sqlfiles.prefetch): a summary asking for rates overall and by four dimensions scans once."""
    where, params = where_sql(filters or Filters())
    wanted = [check_dimensions(g) for g in groupings]
    sqlfiles.prefetch(
        con, "rates", wanted, params, lambda _dims, group: rates_sql(con, {**group, "where": where})
    )


def finish_counts(df: pl.DataFrame, dims: Sequence[str], filters: Filters) -> pl.DataFrame:
    """The rates query's raw rows as counts, whichever engine ran it: nulls are zero, `submitted` is
    attempted + rejected, and refusals are unknown (null) once a relay dimension is involved."""
    counts = [c for c in COUNT_COLUMNS if c != "submitted"]
    # An ungrouped aggregate over no rows is one row of nulls: that is zero recipients.
    df = df.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts)
    df = df.with_columns((pl.col("attempted") + pl.col("rejected")).alias("submitted"))
    if relay_unknown(dims, filters):
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias(c) for c in ("rejected", "submitted"))
    if dims:
        df = df.sort(list(dims), nulls_last=True)
    return df.select(*dims, *COUNT_COLUMNS)


def add_rates(df: pl.DataFrame, *, confidence: float, min_volume: int) -> pl.DataFrame:
    """Each rate with its Wilson bounds, `gated` and `flags`, from a frame of counts."""
    check_min_volume(min_volume)
    z = z_for_confidence(check_confidence(confidence))
    exprs: list[pl.Expr] = []
    for d in RATE_DEFINITIONS:
        k = pl.col(d.numerator).cast(pl.Float64)
        n = pl.col(d.denominator).cast(pl.Float64)
        low, high = wilson_bounds(k, n, z)
        known = n > 0
        exprs += [
            pl.when(known).then(k / n).otherwise(None).alias(d.name),
            pl.when(~known)
            .then(None)
            .when(k == 0)
            .then(0.0)
            .otherwise(low.clip(0.0, 1.0))
            .alias(f"{d.name}_low"),
            pl.when(~known)
            .then(None)
            .when(k == n)
            .then(1.0)
            .otherwise(high.clip(0.0, 1.0))
            .alias(f"{d.name}_high"),
        ]
    gated = (pl.col("attempted") < min_volume) | (pl.col("attempted") == 0)
    out = df.with_columns(exprs).with_columns(gated.alias("gated"))
    denominators = {d.name: d.denominator for d in RATE_DEFINITIONS}
    flag_exprs = [
        pl.when(
            ~pl.col("gated")
            & (pl.col(denominators[t.rate]) >= min_volume)
            & (pl.col(f"{t.rate}_low") >= t.level)
        ).then(pl.lit(t.label))
        for t in THRESHOLDS
    ]
    flags = (
        pl.concat_list(flag_exprs).list.drop_nulls() if flag_exprs else pl.lit([], dtype=pl.List(pl.String))
    )
    return out.with_columns(flags.cast(pl.List(pl.String)).alias("flags"))


def rates(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> pl.DataFrame:
    """One row per group: counts, every rate in RATES with `<rate>_low`/`<rate>_high`, `gated`, `flags`."""
    check_confidence(confidence)
    return add_rates(count_recipients(con, by, filters), confidence=confidence, min_volume=min_volume)


def worst_senders(
    con: duckdb.DuckDBPyConnection,
    by: str = "sender_domain",
    filters: Filters | None = None,
    *,
    limit: int = 20,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> pl.DataFrame:
    """rates() rows by one dimension, worst first by the Wilson lower bound of hard bounces, then
    complaints, then rejections; gated groups (too small to judge) come after every judged one."""
    check_dimension(by)
    if limit < 1:
        raise InputError(f"limit must be >= 1, got {limit}")
    df = rates(con, [by], filters, confidence=confidence, min_volume=min_volume)
    keys = ["gated", "hard_bounce_rate_low", "complaint_rate_low", "rejection_rate_low", by]
    return df.sort(keys, descending=[False, True, True, True, False], nulls_last=True).head(limit)


__all__ = [
    "COUNT_COLUMNS",
    "RATES",
    "add_rates",
    "check_confidence",
    "count_recipients",
    "prefetch_counts",
    "rates",
    "worst_senders",
]
