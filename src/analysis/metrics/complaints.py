"""Complaints for reports and the CLI: who complained about what, how each was matched, and the rates.

Two views of the same reports. The complaint RATE (complained ÷ delivered, from `rates()`) counts only
complaints matched to a delivered recipient, dated by the send, so it is comparable with the other
rates. The complaint LISTS below count every complaint received in the window (dated by the report),
matched or not: an unmatched complaint is still a complaint, and a high unmatched share means the
Message-ID/recipient join is losing evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl

from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.filters import Filters, check_dimension, where_sql
from analysis.metrics.rates import rates
from analysis.metrics.summary import _breaches
from analysis.metrics.thresholds import DEFAULT_CONFIDENCE, DEFAULT_MIN_VOLUME, THRESHOLDS

RATE = "complaint_rate"
COMPLAINT_FLAGS: frozenset[str] = frozenset(t.label for t in THRESHOLDS if t.rate == RATE)
COMPLAINT_LEVELS: tuple[float, ...] = tuple(sorted(t.level for t in THRESHOLDS if t.rate == RATE))
# Who a complaint-rate breach is attributed to in the JSON summary. Provider is here because the
# published limits (Gmail/Yahoo 0.3 %) are judged per mailbox provider.
BREACH_DIMENSIONS: tuple[str | None, ...] = (None, "provider", "sender_domain", "account")
UNMATCHED = "unmatched"
# Distinct user agents listed per feedback type (they are reporter-written text; keep the list short).
MAX_USER_AGENTS = 5

_FACT_SCHEMA: dict[str, Any] = {
    "complaint_id": pl.String,
    "t": pl.Datetime("us", "UTC"),
    "feedback_type": pl.String,
    "report_variant": pl.String,
    "source": pl.String,
    "user_agent": pl.String,
    "reporting_mta": pl.String,
    "match_method": pl.String,
    "matched": pl.Boolean,
    "account": pl.String,
    "sasl_username": pl.String,
    "sender_domain": pl.String,
    "client_ip": pl.String,
    "recipient_domain": pl.String,
    "provider": pl.String,
    "relay_ip": pl.String,
    "relay_host": pl.String,
    "message_key": pl.String,
    "original_rcpt_to": pl.String,
    "reported_domain": pl.String,
}


def complaint_facts(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """One row per complaint received in the window that passes the dimension filters (see the SQL)."""
    if not sqlfiles.table_exists(con, "complaints"):
        return pl.DataFrame(schema=_FACT_SCHEMA)
    where, params = where_sql(filters)
    return sqlfiles.run(con, "complaint_facts", params, {"where": where})


def by_feedback_type(facts: pl.DataFrame) -> pl.DataFrame:
    """Complaints per feedback type and source: counts, matched/unmatched, and the user agents seen."""
    return (
        facts.with_columns(pl.col("feedback_type").fill_null("(none)"))
        .group_by("feedback_type", "source")
        .agg(
            pl.len().cast(pl.Int64).alias("complaints"),
            pl.col("matched").sum().cast(pl.Int64).alias("matched"),
            (~pl.col("matched")).sum().cast(pl.Int64).alias("unmatched"),
            pl.col("provider").drop_nulls().unique().sort().alias("providers"),
            pl.col("user_agent").drop_nulls().unique().sort().head(MAX_USER_AGENTS).alias("user_agents"),
        )
        .sort(["complaints", "feedback_type", "source"], descending=[True, False, False])
    )


def by_match_method(facts: pl.DataFrame) -> pl.DataFrame:
    """Complaints per match method ('unmatched' for none) with their share of all complaints."""
    total = facts.height
    return (
        facts.with_columns(pl.col("match_method").fill_null(UNMATCHED))
        .group_by("match_method")
        .agg(
            pl.len().cast(pl.Int64).alias("complaints"),
            pl.col("source").drop_nulls().unique().sort().alias("sources"),
        )
        .with_columns(
            (pl.col("complaints") / total if total else pl.lit(None)).cast(pl.Float64).alias("share")
        )
        .sort(["complaints", "match_method"], descending=[True, False])
    )


def complaint_rates(
    con: duckdb.DuckDBPyConnection,
    by: str,
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> pl.DataFrame:
    """Complaint rate per group (groups with deliveries), worst lower bound first; `flags` keep only
    complaint-rate breaches."""
    check_dimension(by)
    df = rates(con, [by], filters, confidence=confidence, min_volume=min_volume)
    cols = [by, "attempted", "delivered", "complained", RATE, f"{RATE}_low", f"{RATE}_high", "gated", "flags"]
    return (
        df.filter((pl.col("delivered") > 0) | (pl.col("complained") > 0))
        .with_columns(pl.col("flags").list.eval(pl.element().filter(pl.element().is_in(COMPLAINT_FLAGS))))
        .select(cols)
        .sort(
            [f"{RATE}_low", "complained", "delivered", by],
            descending=[True, True, True, False],
            nulls_last=True,
        )
    )


def complaint_breaches(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
    dimensions: Sequence[str | None] = BREACH_DIMENSIONS,
) -> list[dict[str, Any]]:
    """Complaint-rate threshold breaches, overall and per dimension, in the metrics summary's shape."""
    out: list[dict[str, Any]] = []
    for dim in dimensions:
        df = rates(con, [dim] if dim else [], filters, confidence=confidence, min_volume=min_volume)
        out += [b for b in _breaches(df, dim) if b["rate"] == RATE]
    return out


def summary(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
    facts: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """The complaints block of the JSON summary: counts, per feedback type and match method, breaches."""
    facts = complaint_facts(con, filters) if facts is None else facts
    types = by_feedback_type(facts).group_by("feedback_type").agg(pl.col("complaints").sum())
    methods = by_match_method(facts)
    matched = int(facts["matched"].sum()) if facts.height else 0
    return {
        "complaints": facts.height,
        "matched": matched,
        "unmatched": facts.height - matched,
        "by_feedback_type": dict(sorted(types.rows())),
        "by_match_method": dict(sorted(methods.select("match_method", "complaints").rows())),
        "breaches": complaint_breaches(con, filters, confidence=confidence, min_volume=min_volume),
    }


def extend_summary(figures: Mapping[str, Any], **blocks: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics summary with evidence blocks added (e.g. complaints=..., dmarc=...); a block's
    `breaches` join the top-level list (once each), so alerting reads one list."""
    out = dict(figures)
    breaches = list(out.get("breaches") or [])
    for name, block in blocks.items():
        if name in out:
            raise InputError(f"summary already has a {name!r} entry")
        out[name] = dict(block)
        breaches += [b for b in block.get("breaches") or [] if b not in breaches]
    out["breaches"] = breaches
    return out


def mask_recipient(expr: pl.Expr) -> pl.Expr:
    """An address as '***@domain' (lower-cased domain): enough to see the provider, not the person."""
    domain = expr.str.split("@").list.last().str.to_lowercase()
    return (
        pl.when(expr.is_null())
        .then(None)
        .when(expr.str.contains("@", literal=True))
        .then(pl.lit("***@") + domain)
        .otherwise(pl.lit("***"))
    )


def complaint_list(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    unmatched_only: bool = False,
    limit: int | None = None,
) -> pl.DataFrame:
    """Complaints newest first, recipient masked to its domain, with how (or whether) each was matched."""
    if limit is not None and limit < 1:
        raise InputError(f"limit must be >= 1, got {limit}")
    facts = complaint_facts(con, filters)
    if unmatched_only:
        facts = facts.filter(~pl.col("matched"))
    out = facts.sort(["t", "complaint_id"], descending=[True, False]).select(
        pl.col("t").alias("received_at"),
        "feedback_type",
        "source",
        "provider",
        "user_agent",
        mask_recipient(pl.col("original_rcpt_to")).alias("recipient"),
        "reported_domain",
        "account",
        "sender_domain",
        pl.col("match_method").fill_null(UNMATCHED),
        "message_key",
    )
    return out.head(limit) if limit is not None else out


__all__ = [
    "BREACH_DIMENSIONS",
    "COMPLAINT_FLAGS",
    "COMPLAINT_LEVELS",
    "by_feedback_type",
    "by_match_method",
    "complaint_breaches",
    "complaint_facts",
    "complaint_list",
    "complaint_rates",
    "extend_summary",
    "mask_recipient",
    "summary",
]
