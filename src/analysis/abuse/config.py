"""Abuse thresholds from thresholds.toml, overridable by a file of the same layout.

Why configuration: what counts as abuse is a policy decision of the abuse team (SES pauses at 10 %
bounces, a small relay may act at 5 %); the code only says how a signal is measured and judged.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.errors import InputError

SIGNAL_NAMES: tuple[str, ...] = (
    "volume_spike",
    "hard_bounce_rate",
    "unknown_user_rate",
    "complaint_rate",
    "trap_hits",
    "policy_rejections",
    "deferral_storm",
    "dnsbl_listed_ips",
    "sasl_client_ips",
    "new_client_ips",
    "unverified_from_domains",
    "new_recipients",
    "recipient_fanout",
    "dmarc_unknown_sources",
)


@dataclass(frozen=True)
class SignalConfig:
    """How one signal is judged."""

    name: str
    family: str
    weight: float
    threshold: float
    min_n: int


@dataclass(frozen=True)
class RankingConfig:
    """Score bands and the two-independent-signals rule."""

    strength_cap: float
    warn_score: float
    throttle_score: float
    suspend_score: float
    min_families_above_warn: int


@dataclass(frozen=True)
class Patterns:
    """Which failed attempts count as policy rejections and which deferrals as a storm."""

    policy_reasons: tuple[str, ...]
    policy_dsns: tuple[str, ...]
    policy_reply: str
    storm_dsns: tuple[str, ...]
    storm_reply: str


@dataclass(frozen=True)
class AbuseConfig:
    """Everything analysis.abuse reads from configuration."""

    confidence: float
    fdr: float
    default_window_hours: float
    lookback_days: float
    min_history_messages: int
    evidence_cap: int
    robust_z_cap: float
    baseline_min_points: int
    baseline_min_hours: int
    fbl_providers: tuple[str, ...]
    ranking: RankingConfig
    signals: Mapping[str, SignalConfig]
    patterns: Patterns
    source: str

    def signal(self, name: str) -> SignalConfig:
        """The configuration of one signal."""
        return self.signals[name]


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key not in base:
            raise InputError(f"thresholds: unknown key {where}{key}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise InputError(f"thresholds: {where}{key} must be a table")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def _num(table: Mapping[str, Any], key: str, where: str, *, lo: float = 0.0, integer: bool = False) -> Any:
    value = table.get(key)
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= lo
    )
    if not ok or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise InputError(f"thresholds: {where}{key} must be {kind} >= {lo:g}, got {value!r}")
    assert isinstance(value, int | float)
    return int(value) if integer else float(value)


def _strs(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"thresholds: {where}{key} must be a list of strings")
    return tuple(value)


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise InputError(f"thresholds: {where}{key} must be a string")
    return value


def default_text() -> str:
    """The packaged thresholds.toml."""
    return resources.files("analysis.abuse").joinpath("thresholds.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> AbuseConfig:
    """The packaged thresholds, overlaid with the file at `path` (if given)."""
    data = tomllib.loads(default_text())
    source = "packaged thresholds.toml"
    if path is not None and str(path) != "":
        p = Path(path)
        try:
            over = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"thresholds: cannot read {p}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"thresholds: {p} is not valid TOML: {exc}") from None
        data = _merge(data, over, "")
        source = str(p)
    return _parse(data, source)


def _parse(data: Mapping[str, Any], source: str) -> AbuseConfig:
    g, r, pat = data["general"], data["ranking"], data["patterns"]
    confidence = _num(g, "confidence", "general.")
    if not 0.0 < confidence < 1.0:
        raise InputError(
            f"thresholds: general.confidence must lie strictly between 0 and 1, got {confidence}"
        )
    fdr = _num(g, "fdr", "general.")
    if not 0.0 < fdr <= 1.0:
        raise InputError(f"thresholds: general.fdr must lie in (0, 1], got {fdr}")
    signals: dict[str, SignalConfig] = {}
    for name in SIGNAL_NAMES:
        s = data["signals"][name]
        where = f"signals.{name}."
        signals[name] = SignalConfig(
            name=name,
            family=_text(s, "family", where),
            weight=_num(s, "weight", where),
            threshold=_num(s, "threshold", where),
            min_n=_num(s, "min_n", where, integer=True),
        )
    ranking = RankingConfig(
        strength_cap=_num(r, "strength_cap", "ranking.", lo=1.0),
        warn_score=_num(r, "warn_score", "ranking."),
        throttle_score=_num(r, "throttle_score", "ranking."),
        suspend_score=_num(r, "suspend_score", "ranking."),
        min_families_above_warn=_num(r, "min_families_above_warn", "ranking.", lo=1, integer=True),
    )
    if not ranking.warn_score <= ranking.throttle_score <= ranking.suspend_score:
        raise InputError("thresholds: ranking needs warn_score <= throttle_score <= suspend_score")
    patterns = Patterns(
        policy_reasons=_strs(pat, "policy_reasons", "patterns."),
        policy_dsns=_strs(pat, "policy_dsns", "patterns."),
        policy_reply=_text(pat, "policy_reply", "patterns."),
        storm_dsns=_strs(pat, "storm_dsns", "patterns."),
        storm_reply=_text(pat, "storm_reply", "patterns."),
    )
    return AbuseConfig(
        confidence=confidence,
        fdr=fdr,
        default_window_hours=_num(g, "default_window_hours", "general.", lo=1e-9),
        lookback_days=_num(g, "lookback_days", "general."),
        min_history_messages=_num(g, "min_history_messages", "general.", integer=True),
        evidence_cap=_num(g, "evidence_cap", "general.", lo=1, integer=True),
        robust_z_cap=_num(g, "robust_z_cap", "general.", lo=1.0),
        baseline_min_points=_num(g, "baseline_min_points", "general.", lo=2, integer=True),
        baseline_min_hours=_num(g, "baseline_min_hours", "general.", lo=2, integer=True),
        fbl_providers=_strs(g, "fbl_providers", "general."),
        ranking=ranking,
        signals=signals,
        patterns=patterns,
        source=source,
    )
