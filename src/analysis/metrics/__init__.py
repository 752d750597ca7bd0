"""The metrics layer: counts, rates with Wilson intervals, latency, replies and volume, as polars frames.

SQL lives in sql/*.sql (a portable subset that sqlglot transpiles to Spark); definitions of every
count and rate are in DEFINITIONS.md.
"""

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
