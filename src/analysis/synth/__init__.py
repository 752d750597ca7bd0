"""Synthetic test data: realistic logs of any size with known ground truth, for tests and benchmarks."""

from __future__ import annotations

from analysis.synth.postfix import Mix, Options, Truth, generate

__all__ = ["Mix", "Options", "Truth", "generate"]
