"""Run the abuse SQL files beside this module: `{{name}}` is the fragment name.sql (scoped.sql: the scoped
messages; window_outcomes.sql: the window's recipients), `{{scope}}` the drill-down condition (a validated
column name compared with a bound parameter, never a value)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from analysis.abuse.window import Scope, Window
from analysis.metrics.sqlfiles import query_frame

_SLOT = re.compile(r"\{\{(\w+)\}\}")
QUERIES: tuple[str, ...] = (
    "hourly",
    "window_messages",
    "history_identities",
    "recipients",
    "recipient_buckets",
    "failures",
    "traps",
    "complaints",
    "dmarc",
    "dnsbl",
    "domains",
    "new_recipients",
    "timeline",
)


@cache
def load(name: str) -> str:
    """The text of <name>.sql beside this module."""
    path = resources.files("analysis.abuse").joinpath(f"{name}.sql")
    if not path.is_file():
        raise KeyError(f"no abuse SQL file {name}.sql")
    return path.read_text(encoding="utf-8")


def render(name: str, scope: Scope, _depth: int = 0) -> str:
    """The query with its fragments ({{scoped}}, {{window_outcomes}}, ...) and the scope condition filled in."""
    if _depth > 4:
        raise ValueError(f"abuse SQL fragments nest too deep at {name}")

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        return scope.sql() if key == "scope" else render(key, scope, _depth + 1)

    return _SLOT.sub(fill, load(name))


def params(name: str, window: Window, scope: Scope, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Bound parameters a query uses (DuckDB refuses unused ones)."""
    text = render(name, scope)
    values: dict[str, Any] = {
        "history_start": window.history_start,
        "since": window.since,
        "until": window.until,
        **scope.params(),
        **(extra or {}),
    }
    return {k: v for k, v in values.items() if f"${k}" in text}


def run(
    con: duckdb.DuckDBPyConnection,
    name: str,
    window: Window,
    scope: Scope,
    extra: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Execute one abuse query; database errors become one-line WorkbenchErrors."""
    return query_frame(con, render(name, scope), params(name, window, scope, extra), f"abuse query {name}")
