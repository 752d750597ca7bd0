"""The key figures of a window in one JSON-ready dict, for the written and the machine summary."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import polars as pl

from analysis.metrics import sqlfiles
from analysis.metrics.cache import cache_recipients, recipients_slot
from analysis.metrics.filters import Filters, where_sql
from analysis.metrics.latency import latency, prefetch_latency
from analysis.metrics.rates import COUNT_COLUMNS, prefetch_counts, rates, worst_senders
from analysis.metrics.thresholds import DEFAULT_CONFIDENCE, DEFAULT_MIN_VOLUME, RATE_DEFINITIONS, THRESHOLDS

# The identities a breach is attributed to (the people who can act on it), besides the overall figure.
BREACH_DIMENSIONS: tuple[str, ...] = ("account", "sasl_username", "sender_domain")
# Counted together up front: the breach dimensions, the top provider, and what reports ask next.
PREFETCH_DIMENSIONS: tuple[str, ...] = (*BREACH_DIMENSIONS, "provider")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _num(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _breaches(df: pl.DataFrame, dimension: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    by_label = {t.label: t for t in THRESHOLDS}
    denominators = {d.name: d.denominator for d in RATE_DEFINITIONS}
    for row in df.filter(pl.col("flags").list.len() > 0).iter_rows(named=True):
        for label in row["flags"]:
            t = by_label[label]
            out.append(
                {
                    "dimension": dimension or "overall",
                    "value": row[dimension] if dimension else None,
                    "rate": t.rate,
                    "observed": _num(row[t.rate]),
                    "low": _num(row[f"{t.rate}_low"]),
                    "high": _num(row[f"{t.rate}_high"]),
                    "n": row[denominators[t.rate]],
                    "threshold": t.level,
                    "action": t.action,
                    "label": label,
                }
            )
    return out


def summary(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_volume: int = DEFAULT_MIN_VOLUME,
) -> dict[str, Any]:
    """window, messages, counts, every overall rate with its interval, breaches, top provider, worst
    sender domain and the p90 delay; every value JSON-serialisable (no NaN)."""
    filters = filters or Filters()
    where, params = where_sql(filters)
    cache_recipients(con)  # six questions of the same recipients: build them at most once (read-only)
    # Every grouping this summary, the complaint breaches and the overview report ask for, in one pass.
    prefetch_counts(con, [[], *([d] for d in PREFETCH_DIMENSIONS)], filters)
    prefetch_latency(con, [[], ["provider"]], filters)  # the p90 below, and latency by provider in reports
    extent = sqlfiles.run(con, "window", params, {**recipients_slot(con), "where": where}).row(0, named=True)
    overall_rates = rates(con, [], filters, confidence=confidence, min_volume=min_volume)
    overall = overall_rates.row(0, named=True)
    breaches = _breaches(overall_rates, None)
    for dim in BREACH_DIMENSIONS:
        breaches += _breaches(rates(con, [dim], filters, confidence=confidence, min_volume=min_volume), dim)

    providers = rates(con, ["provider"], filters, confidence=confidence, min_volume=min_volume)
    top = providers.filter(pl.col("attempted") > 0).sort(["attempted", "provider"], descending=[True, False])
    top_provider = (
        {"provider": top["provider"][0], "attempted": int(top["attempted"][0])} if top.height else None
    )
    worst = worst_senders(
        con, "sender_domain", filters, limit=1, confidence=confidence, min_volume=min_volume
    )
    worst_row = worst.row(0, named=True) if worst.height else None
    worst_sender = (
        {
            "sender_domain": worst_row["sender_domain"],
            "attempted": worst_row["attempted"],
            "hard_bounce_rate": _num(worst_row["hard_bounce_rate"]),
            "hard_bounce_rate_low": _num(worst_row["hard_bounce_rate_low"]),
            "hard_bounce_rate_high": _num(worst_row["hard_bounce_rate_high"]),
            "gated": worst_row["gated"],
            "flags": list(worst_row["flags"]),
        }
        if worst_row
        else None
    )
    lat = latency(con, [], filters)
    p90 = _num(lat["delay_p90"][0]) if lat.height else None

    return {
        "window": {
            "since": _iso(filters.since),
            "until": _iso(filters.until),
            "first_attempt": _iso(extent["first_attempt"]),
            "last_attempt": _iso(extent["last_attempt"]),
        },
        "filters": dict(filters.where),
        "confidence": confidence,
        "min_volume": min_volume,
        "messages": int(extent["messages"] or 0),
        "attempted": overall["attempted"],
        "delivered": overall["delivered"],
        "counts": {k: overall[k] for k in COUNT_COLUMNS if k not in ("attempted", "delivered")},
        "rates": {
            d.name: {
                "value": _num(overall[d.name]),
                "low": _num(overall[f"{d.name}_low"]),
                "high": _num(overall[f"{d.name}_high"]),
                "numerator": overall[d.numerator],
                "denominator": overall[d.denominator],
            }
            for d in RATE_DEFINITIONS
        },
        "gated": overall["gated"],
        "breaches": breaches,
        "top_provider": top_provider,
        "worst_sender_domain": worst_sender,
        "p90_delay": p90,
    }
