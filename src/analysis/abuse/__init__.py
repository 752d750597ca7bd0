"""Abuse signals per account, ranked suspects and the evidence behind them (issue 7).

Accounts are the inventory account of the SASL username, else the SASL username, else the envelope
sender domain; any question can be drilled down to one account, SASL username, sender domain or client
IP (`Scope`). Thresholds live in thresholds.toml (`load_config(path)` overlays another file).
"""

from analysis.abuse.config import SIGNAL_NAMES, AbuseConfig, SignalConfig, load_config
from analysis.abuse.facts import Facts, load_facts
from analysis.abuse.ranking import ACTIONS, SEVERITIES, Ranking, Suspect, rank, rank_facts, verdict
from analysis.abuse.signals import Signal, compute_signals
from analysis.abuse.window import SCOPE_DIMENSIONS, Scope, Window, resolve_window

__all__ = [
    "ACTIONS",
    "SCOPE_DIMENSIONS",
    "SEVERITIES",
    "SIGNAL_NAMES",
    "AbuseConfig",
    "Facts",
    "Ranking",
    "Scope",
    "Signal",
    "SignalConfig",
    "Suspect",
    "Window",
    "compute_signals",
    "load_config",
    "load_facts",
    "rank",
    "rank_facts",
    "resolve_window",
    "verdict",
]
