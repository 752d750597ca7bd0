"""Score, severity and suggested action per account, explainable from its raised signals.

score = Σ over raised signals of weight × min(strength_cap, strength), where strength is how far the
judged figure is past its threshold (Wilson lower bound ÷ threshold for rates, value ÷ threshold for
counts, robust z ÷ 3.5 for volume). Signals of one family (e.g. hard bounces and unknown users) are
one piece of evidence: nothing stronger than warn without raised signals in two families.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from analysis.abuse.config import AbuseConfig, RankingConfig, load_config
from analysis.abuse.facts import Facts, load_facts
from analysis.abuse.signals import Signal, compute_signals
from analysis.abuse.window import Scope, Window, resolve_window

ACTIONS: tuple[str, ...] = ("monitor", "warn", "throttle", "suspend")
SEVERITIES: tuple[str, ...] = ("none", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Suspect:
    """One account's verdict."""

    account: str
    score: float
    severity: str
    action: str
    families: tuple[str, ...]
    why: tuple[str, ...]
    messages: int
    signals: tuple[Signal, ...]

    def to_dict(self) -> dict[str, Any]:
        """The `abuse rank --json` object."""
        return {
            "account": self.account,
            "score": self.score,
            "severity": self.severity,
            "action": self.action,
            "families": list(self.families),
            "why": list(self.why),
            "messages": self.messages,
            "signals": [s.to_dict() for s in self.signals],
        }


@dataclass(frozen=True)
class Ranking:
    """Suspects sorted by score (highest first), with the window, scope and facts they came from."""

    window: Window
    scope: Scope
    config: AbuseConfig
    suspects: tuple[Suspect, ...]
    facts: Facts

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON contract: a list of suspect objects, highest score first."""
        return [s.to_dict() for s in self.suspects]

    def frame(self) -> pl.DataFrame:
        """One row per account: account, score, severity, action, messages, raised, why."""
        return pl.DataFrame(
            {
                "account": [s.account for s in self.suspects],
                "score": [s.score for s in self.suspects],
                "severity": [s.severity for s in self.suspects],
                "action": [s.action for s in self.suspects],
                "messages": [s.messages for s in self.suspects],
                "raised": [", ".join(x.name for x in s.signals if x.raised) for s in self.suspects],
                "why": ["; ".join(s.why) for s in self.suspects],
            },
            schema={
                "account": pl.String,
                "score": pl.Float64,
                "severity": pl.String,
                "action": pl.String,
                "messages": pl.Int64,
                "raised": pl.String,
                "why": pl.String,
            },
        )

    def at_least(self, severity: str) -> Ranking:
        """Only suspects of this severity or worse."""
        level = severity_level(severity)
        keep = tuple(s for s in self.suspects if SEVERITIES.index(s.severity) >= level)
        return Ranking(self.window, self.scope, self.config, keep, self.facts)


def severity_level(severity: str) -> int:
    """Index of a severity name; ValueError naming the valid ones."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; choose from {', '.join(SEVERITIES)}")
    return SEVERITIES.index(severity)


def explain(s: Signal) -> str:
    """One line a person can check: what was measured against what."""
    if s.kind == "rate" and s.interval is not None and s.value is not None:
        lo, hi = s.interval
        return f"{s.name} {s.value:.2%} [{lo:.2%}–{hi:.2%}] of {s.n} (threshold {s.threshold:.2%})"
    if s.kind == "score" and s.value is not None:
        return f"{s.name} robust z {s.value:.1f} (threshold {s.threshold:g}; {s.note})"
    if s.value is not None:
        return f"{s.name} {s.value:g} (threshold {s.threshold:g}; n={s.n})"
    return f"{s.name}: {s.note}"


def verdict(signals: Sequence[Signal], cfg: RankingConfig) -> tuple[float, str, str, tuple[str, ...]]:
    """(score, severity, action, families) from raised signals and the ranking configuration."""
    raised = [s for s in signals if s.raised]
    score = round(sum(s.weight * min(cfg.strength_cap, s.strength) for s in raised), 3)
    families = tuple(sorted({s.family for s in raised}))
    if not raised:
        return score, "none", "monitor", families
    if score < cfg.warn_score:
        return score, "low", "monitor", families
    if len(families) < cfg.min_families_above_warn:
        return score, "medium", "warn", families
    if score >= cfg.suspend_score:
        return score, "critical", "suspend", families
    if score >= cfg.throttle_score:
        return score, "high", "throttle", families
    return score, "medium", "warn", families


def rank_facts(facts: Facts, cfg: AbuseConfig) -> Ranking:
    """Judge every account of already-loaded facts."""
    per = compute_signals(facts, cfg)
    counts = {r[0]: int(r[1]) for r in facts.messages.group_by("account").len().iter_rows()} if per else {}
    suspects = []
    for account, signals in per.items():
        score, severity, action, families = verdict(signals, cfg.ranking)
        why = tuple(explain(s) for s in sorted(signals, key=lambda x: -x.weight * x.strength) if s.raised)
        suspects.append(
            Suspect(account, score, severity, action, families, why, counts.get(account, 0), tuple(signals))
        )
    suspects.sort(key=lambda s: (-s.score, s.account))
    return Ranking(facts.window, facts.scope, cfg, tuple(suspects), facts)


def rank(
    con: duckdb.DuckDBPyConnection,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    *,
    scope: Scope | None = None,
    config: AbuseConfig | None = None,
) -> Ranking:
    """Rank the accounts of a window (default: the last default_window_hours of data) by abuse score."""
    cfg = config or load_config()
    window = resolve_window(
        con, since, until, default_hours=cfg.default_window_hours, lookback_days=cfg.lookback_days
    )
    return rank_facts(load_facts(con, window, scope or Scope(), cfg.evidence_cap), cfg)
