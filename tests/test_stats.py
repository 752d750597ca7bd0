"""Wilson, Benjamini–Hochberg, binomial tail and robust z against published or hand-worked values."""

from __future__ import annotations

import math

import pytest

from analysis.stats import (
    benjamini_hochberg,
    bh_reject,
    binomial_sf,
    robust_z,
    robust_z_score,
    wilson_interval,
    z_for_confidence,
)


@pytest.mark.parametrize(
    ("k", "n", "confidence", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857, Table I (method 3, Wilson score).
        (81, 263, 0.95, 0.2553, 0.3662),
        (15, 148, 0.95, 0.0624, 0.1605),
        (0, 20, 0.95, 0.0, 0.1611),
        (1, 29, 0.95, 0.0061, 0.1718),
        # Widely quoted example: 1 of 10.
        (1, 10, 0.95, 0.0179, 0.4042),
        # Hand-worked: 1 of 6 (centre 0.29678, half-width 0.26673).
        (1, 6, 0.95, 0.0301, 0.5635),
    ],
)
def test_wilson_published_values(k: int, n: int, confidence: float, low: float, high: float) -> None:
    got = wilson_interval(k, n, confidence)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_edges() -> None:
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    low, high = wilson_interval(0, 50)
    assert low == 0.0 and 0.0 < high < 0.1
    low, high = wilson_interval(50, 50)
    assert high == 1.0 and 0.9 < low < 1.0
    # symmetric: k/n and (n-k)/n mirror each other
    a = wilson_interval(3, 40, 0.99)
    b = wilson_interval(37, 40, 0.99)
    assert a[0] == pytest.approx(1 - b[1]) and a[1] == pytest.approx(1 - b[0])
    for bad in [(-1, 5), (6, 5), (1, -1)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)


def test_confidence_levels() -> None:
    assert z_for_confidence(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_for_confidence(0.99) == pytest.approx(2.575829, abs=1e-6)
    narrow = wilson_interval(10, 100, 0.90)
    wide = wilson_interval(10, 100, 0.99)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError):
            z_for_confidence(bad)


def test_benjamini_hochberg() -> None:
    # Hand-worked: sorted p (0.01, 0.02, 0.03, 0.04, 0.05) * 5 / rank = 0.05 each; monotone from the top.
    p = [0.05, 0.01, 0.04, 0.02, 0.03]
    assert benjamini_hochberg(p) == pytest.approx([0.05] * 5)
    # Benjamini & Hochberg (1995), 15 p-values: at FDR 0.05 the first four are rejected.
    bh95 = [
        0.0001,
        0.0004,
        0.0019,
        0.0095,
        0.0201,
        0.0278,
        0.0298,
        0.0344,
        0.0459,
        0.3240,
        0.4262,
        0.5719,
        0.6528,
        0.7590,
        1.0000,
    ]
    assert bh_reject(bh95, 0.05) == [True] * 4 + [False] * 11
    q = benjamini_hochberg([0.001, 0.2, 0.9])
    assert q == pytest.approx([0.003, 0.3, 0.9])
    assert benjamini_hochberg([]) == []
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.2])


def exact_binomial_sf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 10, 0.3), (1, 10, 0.3), (5, 10, 0.5), (12, 40, 0.1), (40, 40, 0.9), (3, 200, 0.001), (41, 50, 0.05)],
)
def test_binomial_sf_matches_the_sum(k: int, n: int, p: float) -> None:
    assert binomial_sf(k, n, p) == pytest.approx(exact_binomial_sf(k, n, p), rel=1e-9, abs=1e-300)


def test_binomial_sf_edges() -> None:
    assert binomial_sf(11, 10, 0.5) == 0.0
    assert binomial_sf(0, 0, 0.5) == 1.0


def test_robust_z() -> None:
    # median 3, |x - 3| = 2, 1, 0, 1, 97 -> MAD 1
    z = robust_z([1, 2, 3, 4, 100])
    assert z == pytest.approx([-1.349, -0.6745, 0.0, 0.6745, 65.4265])
    assert z[-1] > 3.5 and abs(z[0]) < 3.5
    # MAD 0 (most values equal): mean-absolute-deviation fallback, 1.2533 * mean |x - median|
    z = robust_z([5, 5, 5, 5, 15])
    assert z[-1] == pytest.approx(10 / (math.sqrt(math.pi / 2) * 2))
    assert robust_z([7, 7, 7]) == [0.0, 0.0, 0.0]
    assert robust_z([]) == []
    assert robust_z_score(100.0, [1, 2, 3, 4, 5]) == pytest.approx(0.6745 * 97 / 1)
    assert robust_z_score(9.0, [4, 4, 4]) == math.inf
    assert math.isnan(robust_z_score(1.0, []))
