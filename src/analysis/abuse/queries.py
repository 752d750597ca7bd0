"""Run the abuse SQL files beside this module: `{{scoped}}` is the scoped-messages fragment, `{{scope}}`
the drill-down condition (a validated column name compared with a bound parameter, never a value)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from analysis.abuse.window import Scope, Window
from analysis.errors import WorkbenchError

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


def render(name: str, scope: Scope) -> str:
    """The query with the scoped-messages fragment and the scope condition filled in."""
    slots = {
        "scoped": _SLOT.sub(lambda m: scope.sql() if m.group(1) == "scope" else m.group(0), load("scoped"))
    }
    return _SLOT.sub(lambda m: slots[m.group(1)], load(name))


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
    try:
        df: pl.DataFrame = con.sql(render(name, scope), params=params(name, window, scope, extra)).pl()
        return df
    except duckdb.CatalogException as exc:
        raise WorkbenchError(
            f"abuse query {name}: {str(exc).splitlines()[0]} (is this a deliverability database?)"
        ) from None
    except duckdb.Error as exc:
        raise WorkbenchError(f"abuse query {name} failed: {str(exc).splitlines()[0]}") from None
