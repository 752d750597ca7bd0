"""Small-sample statistics the metrics and abuse layers judge rates with.

Raw rates lie at small volume (1 bounce of 3 sends is 33 %), so thresholds are judged on the Wilson
score interval; many accounts tested at once need false-discovery control (Benjamini–Hochberg); volume
anomalies use the robust z-score (median/MAD), which a single spike cannot drag along. Pure Python, no
SciPy: the formulas are short and the results are checked against published values in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist, median
from typing import Any, TypeVar

T = TypeVar("T")

# Iglewicz & Hoaglin: 0.6745 makes the MAD of a normal sample comparable to its standard deviation;
# |z| > 3.5 is their suggested outlier cut-off.
ROBUST_Z_SCALE = 0.6745
ROBUST_Z_OUTLIER = 3.5
# When more than half the values are equal the MAD is 0; fall back to the mean absolute deviation
# scaled by sqrt(pi/2) (≈ 1.2533), the IBM SPSS / Iglewicz-Hoaglin convention.
_MEAN_AD_SCALE = math.sqrt(math.pi / 2.0)


def z_for_confidence(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level in (0, 1): 0.95 → 1.95996."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_bounds(k: T, n: T, z: float) -> tuple[T, T]:
    """Wilson score bounds as arithmetic on k and n, so one formula serves floats and polars columns.

    Callers handle n = 0 and clamp; `wilson_interval` is the checked scalar entry point.
    """
    kk: Any = k
    nn: Any = n
    z2 = z * z
    p = kk / nn
    denom = 1.0 + z2 / nn
    centre = (p + z2 / (2.0 * nn)) / denom
    half = z * ((p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) ** 0.5) / denom
    low: Any = centre - half
    high: Any = centre + half
    return low, high


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (nan, nan) when n = 0 (no evidence).

    The bounds are exact at the edges: 0/n has lower bound 0 and n/n upper bound 1.
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (math.nan, math.nan)
    low, high = wilson_bounds(float(k), float(n), z_for_confidence(confidence))
    low = 0.0 if k == 0 else max(0.0, low)
    high = 1.0 if k == n else min(1.0, high)
    return (low, high)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (q-values), in input order; reject where q <= the chosen FDR level."""
    m = len(p_values)
    for p in p_values:
        if not 0.0 <= p <= 1.0 or math.isnan(p):
            raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def bh_reject(p_values: Sequence[float], fdr: float = 0.05) -> list[bool]:
    """Which hypotheses Benjamini–Hochberg rejects at false-discovery rate `fdr`."""
    return [q <= fdr for q in benjamini_hochberg(p_values)]


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of seeing k or more events."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if k == 0:
        return 1.0
    if k > n:
        return 0.0
    return regularized_beta(p, float(k), float(n - k + 1))


def robust_z(values: Sequence[float]) -> list[float]:
    """0.6745·(x − median)/MAD for each value (mean-absolute-deviation fallback when MAD is 0)."""
    if not values:
        return []
    med = median(values)
    mad = median([abs(v - med) for v in values])
    return [_robust_z_one(v, med, mad, values) for v in values]


def robust_z_score(x: float, baseline: Sequence[float]) -> float:
    """Robust z of a new observation against a baseline (e.g. an account's own history)."""
    if not baseline:
        return math.nan
    med = median(baseline)
    mad = median([abs(v - med) for v in baseline])
    return _robust_z_one(x, med, mad, baseline)


def _robust_z_one(x: float, med: float, mad: float, values: Sequence[float]) -> float:
    if mad > 0:
        return ROBUST_Z_SCALE * (x - med) / mad
    mean_ad = sum(abs(v - med) for v in values) / len(values)
    if mean_ad > 0:
        return (x - med) / (_MEAN_AD_SCALE * mean_ad)
    if x == med:
        return 0.0
    return math.copysign(math.inf, x - med)
