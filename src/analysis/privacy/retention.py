"""Retention: delete what is past its period, in the store and in the exported Parquet lake.

Each table's rule (privacy.toml) gives its period and the time that dates a row: a column of its own,
a column of a parent row (quarantined lines are as old as the file they came from), or its parent's
fate (DMARC records go with their report). A dry run does the same deletions inside a transaction and
rolls back, so the counts it prints are exactly what a real run removes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis.errors import InputError
from analysis.privacy import lake as lakefs
from analysis.privacy import sqlfiles
from analysis.privacy.config import PrivacyConfig, Rule
from analysis.privacy.sqlexpr import quote_ident as _q
from analysis.privacy.subject import refresh_caches
from analysis.store.db import write_transaction


def stored_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every base table of the store, from information_schema."""
    return [r[0] for r in con.execute(sqlfiles.load("tables")).fetchall()]


def uncovered(con: duckdb.DuckDBPyConnection, config: PrivacyConfig) -> list[str]:
    """Stored tables that have no retention rule."""
    return [t for t in stored_tables(con) if t not in config.rules]


def _order(rules: list[Rule]) -> list[Rule]:
    # Own-column rules first, then rules that look at a parent's time, then rules that follow a parent.
    return sorted(rules, key=lambda r: (2 if r.keep == "parent" else 1 if r.through else 0, r.table))


def expired_predicate(rule: Rule, relation: Callable[[str], str | None]) -> Callable[[str], str] | None:
    """A function alias -> SQL condition true for the alias's expired rows; None if nothing ever expires.

    `relation(table)` names where a parent's rows are (a table, or a lake's Parquet files; None: none).
    """
    if rule.keep == "forever":
        return None
    if rule.keep == "parent" or rule.through:
        parent = rule.parent if rule.keep == "parent" else rule.through
        assert parent is not None
        rel = relation(parent)
        if rel is None:
            return lambda alias: "TRUE"
        live = "" if rule.keep == "parent" else f" AND p.{_q(rule.column or '')} >= $cutoff"

        def orphan(alias: str) -> str:
            on = " AND ".join(f"p.{_q(k)} = {alias}.{_q(k)}" for k in rule.key)
            return f"NOT EXISTS (SELECT 1 FROM {rel} p WHERE {on}{live})"

        return orphan
    return lambda alias: f"{alias}.{_q(rule.column or '')} < $cutoff"


@dataclass
class RetentionResult:
    """Rows removed (or that would be) per table, rows kept because they carry no date, and the lake's."""

    removed: dict[str, int] = field(default_factory=dict)
    undated: dict[str, int] = field(default_factory=dict)
    lake_removed: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, str] = field(default_factory=dict)


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    config: PrivacyConfig,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    lake: Path | None = None,
) -> RetentionResult:
    """Delete every expired row (one transaction; rolled back on a dry run) and prune the lake likewise."""
    missing = uncovered(con, config)
    if missing:
        raise InputError(
            f"no retention rule for table(s) {', '.join(missing)}: add [retention.<table>] to privacy.toml"
        )
    present = set(stored_tables(con))
    rules = _order([r for t, r in config.rules.items() if t in present])
    result = RetentionResult()
    with write_transaction(con, commit=not dry_run):
        for rule in rules:
            cutoff = rule.cutoff(now)
            pred = expired_predicate(rule, lambda t: _q(t) if t in present else None)
            if pred is None:
                continue
            params: Mapping[str, object] = {"cutoff": cutoff} if cutoff is not None else {}
            if cutoff is not None:
                result.cutoffs[rule.table] = cutoff.isoformat()
            table = _q(rule.table)
            n = con.execute(f"SELECT COUNT(*) FROM {table} t WHERE {pred('t')}", dict(params)).fetchall()[0][
                0
            ]
            if n:
                con.execute(f"DELETE FROM {table} t WHERE {pred('t')}", dict(params))
            result.removed[rule.table] = int(n)
            if rule.column and not rule.through:
                undated = con.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {_q(rule.column)} IS NULL"
                ).fetchall()
                if undated[0][0]:
                    result.undated[rule.table] = int(undated[0][0])
    if not dry_run:
        refresh_caches(con)
        con.execute("CHECKPOINT")
    if lake is not None:
        result.lake_removed = prune_lake(config, lake, now=now, dry_run=dry_run)
    return result


def prune_lake(
    config: PrivacyConfig, lake: Path, *, now: dt.datetime, dry_run: bool = False
) -> dict[str, int]:
    """Apply the rules to an exported lake; rows removed per table (tables without a rule are an error)."""
    if not lake.is_dir():
        raise InputError(f"no lake at {lake}")
    tables = sorted(p.name for p in lake.iterdir() if p.is_dir() and not p.name.startswith("."))
    missing = [t for t in tables if t not in config.rules]
    if missing:
        raise InputError(f"no retention rule for lake table(s) {', '.join(missing)}")
    out: dict[str, int] = {}
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for rule in _order([config.rules[t] for t in tables]):
            cutoff = rule.cutoff(now)
            pred = expired_predicate(rule, lambda t: lakefs.relation(lake, t))
            if pred is None:
                continue
            params: dict[str, object] = {"cutoff": cutoff} if cutoff is not None else {}
            out[rule.table] = lakefs.prune_table(con, lake, rule.table, pred, params, dry_run=dry_run)
    finally:
        con.close()
    return out
