"""The most frequent reply texts of failures, deferrals and refusals, with variable parts masked.

The database groups raw texts (portable SQL); masking runs here with the classifier's normaliser
(polars/Rust regex, not SQL regex, whose dialects differ between DuckDB and Spark), so a reply
groups here exactly as the classifier sees it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import polars as pl

from analysis.classify import normalize_reply_expr
from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.attempts import attempts_slot
from analysis.metrics.filters import DEFAULT_STATUSES, REPLY_STATUSES, Filters, where_sql

# The local part of an address is the personal bit; the domain helps a diagnosis and stays.
_LOCAL_PART = re.compile(r"[^\s<>@()\[\]\",;:]+@(?=[^\s<>@()\[\]\",;:]+)")
# Remote servers choose the text: cap it before a backtracking regex sees it (and for display).
EXAMPLE_MAX_CHARS = 1000


def mask_addresses(text: str) -> str:
    """Replace the local part of every e-mail address with ***; longer texts are cut first."""
    if len(text) > EXAMPLE_MAX_CHARS:
        text = text[:EXAMPLE_MAX_CHARS] + "…"
    return _LOCAL_PART.sub("***@", text)


def _check_statuses(statuses: Sequence[str]) -> tuple[str, ...]:
    chosen = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    if not chosen:
        raise InputError("give at least one status")
    for s in chosen:
        if s not in REPLY_STATUSES:
            raise InputError(f"unknown status {s!r}; choose from {', '.join(REPLY_STATUSES)}")
    return chosen


def _mode(col: str) -> pl.Expr:
    # The value carried by the most events (ties: the smallest), ignoring nulls.
    return (
        pl.col(col)
        .sort_by([pl.col("n"), pl.col(col)], descending=[True, False], nulls_last=True)
        .drop_nulls()
        .first()
    )


def top_replies(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    limit: int = 20,
    statuses: Sequence[str] = DEFAULT_STATUSES,
) -> pl.DataFrame:
    """normalized_reply, count, reason, severity, dsn (each the most frequent) and one masked example."""
    if limit < 1:
        raise InputError(f"limit must be >= 1, got {limit}")
    chosen = _check_statuses(statuses)
    where, params = where_sql(filters)
    status_params = {f"s{i}": s for i, s in enumerate(chosen)}
    slots = {
        **attempts_slot(con, [], filters),
        "where": where,
        "statuses": ", ".join(f"${k}" for k in status_params),
    }
    raw = sqlfiles.run(con, "replies", {**params, **status_params}, slots)
    grouped = (
        raw.with_columns(normalize_reply_expr(pl.col("reply")).alias("normalized_reply"))
        .group_by("normalized_reply")
        .agg(
            pl.col("n").sum().alias("count"),
            _mode("reason").alias("reason"),
            _mode("severity").alias("severity"),
            _mode("dsn").alias("dsn"),
            pl.col("reply")
            .sort_by([pl.col("n"), pl.col("reply")], descending=[True, False])
            .first()
            .alias("example"),
        )
        .sort(["count", "normalized_reply"], descending=[True, False])
        .head(limit)
    )
    return grouped.with_columns(
        pl.col("example").map_elements(mask_addresses, return_dtype=pl.String)
    ).select("normalized_reply", "count", "reason", "severity", "dsn", "example")
