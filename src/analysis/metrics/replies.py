"""The most frequent reply texts of failures, deferrals and refusals, with variable parts masked.

The database groups raw texts (portable SQL); masking runs here with the classifier's normaliser
(Python/Rust regex, not SQL regex, whose dialects differ between DuckDB and Spark).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from typing import cast

import duckdb
import polars as pl

from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.filters import Filters, where_sql

REPLY_STATUSES: tuple[str, ...] = ("bounced", "deferred", "expired", "softbounce", "rejected")
DEFAULT_STATUSES: tuple[str, ...] = ("bounced", "deferred", "rejected")

# The local part of an address is the personal bit; the domain helps a diagnosis and stays.
_LOCAL_PART = re.compile(r"[^\s<>@()\[\]\",;:]+@(?=[^\s<>@()\[\]\",;:]+)")


def mask_addresses(text: str) -> str:
    """Replace the local part of every e-mail address with ***."""
    return _LOCAL_PART.sub("***@", text)


def _minimal_normaliser(col: pl.Expr) -> pl.Expr:
    # Used only when the classifier's normaliser is not installed: addresses, IPs, long digit runs.
    return (
        col.str.replace_all(r"[^\s<>@()\[\]\",;]+@[^\s<>@()\[\]\",;:]+", "<addr>")
        .str.replace_all(r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b", "<ip>")
        .str.replace_all(r"\b[0-9A-Fa-f]{10,}\b", "<id>")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def reply_normaliser() -> Callable[[pl.Expr], pl.Expr]:
    """analysis.classify's normalize_reply_expr when present, else a minimal masking."""
    for module in ("analysis.classify", "analysis.classify.normalize"):
        try:
            fn = getattr(importlib.import_module(module), "normalize_reply_expr", None)
        except ImportError:
            continue
        if fn is not None:
            return cast(Callable[[pl.Expr], pl.Expr], fn)
    return _minimal_normaliser


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
    slots = {"where": where, "statuses": ", ".join(f"${k}" for k in status_params)}
    raw = sqlfiles.run(con, "replies", {**params, **status_params}, slots)
    normalise = reply_normaliser()
    grouped = (
        raw.with_columns(normalise(pl.col("reply")).alias("normalized_reply"))
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
