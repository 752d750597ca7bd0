"""The facts every signal is computed from, loaded once per question (window × scope)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from analysis.abuse import queries
from analysis.abuse.window import Scope, Window


@dataclass(frozen=True)
class Facts:
    """Query results for one window and scope (see the .sql files for each frame's columns)."""

    window: Window
    scope: Scope
    hourly: pl.DataFrame
    messages: pl.DataFrame
    history_identities: pl.DataFrame
    recipients: pl.DataFrame
    recipient_buckets: pl.DataFrame
    failures: pl.DataFrame
    traps: pl.DataFrame
    complaints: pl.DataFrame
    dmarc: pl.DataFrame
    dnsbl: pl.DataFrame
    domains: pl.DataFrame
    new_recipients: pl.DataFrame
    timeline: pl.DataFrame

    def accounts(self) -> list[str]:
        """Accounts with at least one message in the window, sorted."""
        return sorted(self.messages["account"].unique().drop_nulls().to_list())


def load_facts(con: duckdb.DuckDBPyConnection, window: Window, scope: Scope, evidence_cap: int = 10) -> Facts:
    """Run every abuse query for this window and scope (`evidence_cap` rows of row-level evidence)."""
    extra = {"period_seconds": max(1.0, (window.until - window.since).total_seconds()), "cap": evidence_cap}
    frames = {name: queries.run(con, name, window, scope, extra) for name in queries.QUERIES}
    frames["messages"] = frames.pop("window_messages")
    return Facts(window=window, scope=scope, **frames)
