"""The window an abuse question is asked over, its history, and the drill-down scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from analysis.errors import InputError

# Drill-down dimensions: columns of scoped.sql a scope may compare (the only names placed into SQL).
SCOPE_DIMENSIONS: tuple[str, ...] = ("account", "sasl_username", "sender_domain", "client_ip")


@dataclass(frozen=True)
class Window:
    """[since, until) is judged; [history_start, since) is the account's own baseline."""

    since: dt.datetime
    until: dt.datetime
    history_start: dt.datetime

    @property
    def hours(self) -> float:
        """Length of the window in hours."""
        return (self.until - self.since).total_seconds() / 3600.0

    def describe(self) -> str:
        """'2026-11-17 00:00 → 2026-11-18 00:00 UTC (baseline from 2026-10-20 00:00)'."""
        fmt = "%Y-%m-%d %H:%M"
        return (
            f"{self.since.strftime(fmt)} → {self.until.strftime(fmt)} UTC "
            f"(baseline from {self.history_start.strftime(fmt)})"
        )


@dataclass(frozen=True)
class Scope:
    """All messages, or only those whose `dimension` equals `value` (account, SASL user, domain, IP)."""

    dimension: str | None = None
    value: str | None = None

    def __post_init__(self) -> None:
        if self.dimension is None:
            if self.value is not None:
                raise InputError("a scope value needs a dimension")
            return
        if self.dimension not in SCOPE_DIMENSIONS:
            raise InputError(f"unknown scope {self.dimension!r}; choose from {', '.join(SCOPE_DIMENSIONS)}")
        if not self.value:
            raise InputError(f"scope {self.dimension} needs a value")

    def sql(self) -> str:
        """The condition on scoped.sql's columns (sender domains compare in lower case)."""
        if self.dimension is None:
            return "1 = 1"
        if self.dimension == "sender_domain":
            return "s.sender_domain = lower($scope_value)"
        return f"s.{self.dimension} = $scope_value"

    def params(self) -> dict[str, Any]:
        """The bound value of the condition."""
        return {} if self.dimension is None else {"scope_value": self.value}

    def describe(self) -> str:
        """'all accounts' or 'client_ip = 192.0.2.7'."""
        return "all accounts" if self.dimension is None else f"{self.dimension} = {self.value}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def data_end(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The start of the hour after the newest message, or None for an empty store."""
    rows = con.execute("SELECT MAX(first_seen) FROM messages").fetchall()
    newest = rows[0][0] if rows else None
    if newest is None:
        return None
    newest = _utc(newest)
    assert newest is not None
    return newest.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def resolve_window(
    con: duckdb.DuckDBPyConnection,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    default_hours: float,
    lookback_days: float,
) -> Window:
    """Fill a missing end from the data (else now) and a missing start as `default_hours` before it."""
    since, until = _utc(since), _utc(until)
    if until is None:
        end = data_end(con)
        if end is None:
            now = dt.datetime.now(dt.UTC)
            end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        until = end if since is None or end > since else since + dt.timedelta(hours=default_hours)
    if since is None:
        since = until - dt.timedelta(hours=default_hours)
    if since >= until:
        raise InputError(f"empty window: since {since.isoformat()} is not before until {until.isoformat()}")
    return Window(since, until, since - dt.timedelta(days=lookback_days))
