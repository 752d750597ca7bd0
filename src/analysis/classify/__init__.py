"""Bounce classification (Sisimai v5 reasons, hard/soft) and mailbox providers, driven by data tables."""

from analysis.classify.engine import (
    Classification,
    classify_key,
    classify_reply,
    extract_dsn,
    extract_reply_code,
)
from analysis.classify.frame import classify_frame
from analysis.classify.normalize import normalize_reply, normalize_reply_expr
from analysis.classify.providers import provider_for, provider_frame
from analysis.classify.rules import REASONS, RuleSet, default_rules, parse_rules

__all__ = [
    "REASONS",
    "Classification",
    "RuleSet",
    "classify_frame",
    "classify_key",
    "classify_reply",
    "default_rules",
    "extract_dsn",
    "extract_reply_code",
    "normalize_reply",
    "normalize_reply_expr",
    "parse_rules",
    "provider_for",
    "provider_frame",
]
