"""The metrics layer: counts, rates with Wilson intervals, latency, replies and volume, as polars frames.

SQL lives in sql/*.sql (a portable subset that sqlglot transpiles to Spark); definitions of every
count and rate are in DEFINITIONS.md.

Names are imported on first use (PEP 562): `deliverability rates` needs only the polars-free modules
(rate_rows, cache, sqlfiles), and importing the whole layer would load polars and the classifier.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analysis.metrics.cache import cache_recipients
    from analysis.metrics.filters import DIMENSIONS, Filters, parse_where
    from analysis.metrics.latency import LATENCY_FIELDS, latency
    from analysis.metrics.rates import COUNT_COLUMNS, add_rates, count_recipients, rates, worst_senders
    from analysis.metrics.replies import top_replies
    from analysis.metrics.summary import summary
    from analysis.metrics.thresholds import (
        DEFAULT_CONFIDENCE,
        DEFAULT_MIN_VOLUME,
        RATE_DEFINITIONS,
        RATES,
        THRESHOLDS,
        RateDefinition,
        Threshold,
    )
    from analysis.metrics.volume import OUTCOMES, volume_series

_HOME: dict[str, str] = {
    "cache_recipients": "cache",
    "DIMENSIONS": "filters",
    "Filters": "filters",
    "parse_where": "filters",
    "LATENCY_FIELDS": "latency",
    "latency": "latency",
    "COUNT_COLUMNS": "rates",
    "add_rates": "rates",
    "count_recipients": "rates",
    "rates": "rates",
    "worst_senders": "rates",
    "top_replies": "replies",
    "summary": "summary",
    "DEFAULT_CONFIDENCE": "thresholds",
    "DEFAULT_MIN_VOLUME": "thresholds",
    "RATE_DEFINITIONS": "thresholds",
    "RATES": "thresholds",
    "THRESHOLDS": "thresholds",
    "RateDefinition": "thresholds",
    "Threshold": "thresholds",
    "OUTCOMES": "volume",
    "volume_series": "volume",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps `rates`, `latency` and `summary` naming the functions, as the eager imports did: importing
    the submodule of the same name would otherwise bind the module over the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if _HOME.get(name) == name and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "COUNT_COLUMNS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_VOLUME",
    "DIMENSIONS",
    "LATENCY_FIELDS",
    "OUTCOMES",
    "RATES",
    "RATE_DEFINITIONS",
    "THRESHOLDS",
    "Filters",
    "RateDefinition",
    "Threshold",
    "add_rates",
    "cache_recipients",
    "count_recipients",
    "latency",
    "parse_where",
    "rates",
    "summary",
    "top_replies",
    "volume_series",
    "worst_senders",
]
