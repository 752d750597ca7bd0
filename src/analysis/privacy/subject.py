"""Data-subject requests: find every row that mentions an address (access/export), or redact it (erasure).

The search is generic on purpose: every text column of every stored table is scanned, so a table added
later is covered without anyone remembering to list it. Erasure redacts instead of deleting, keeping
counts intact: a bounce stays a bounce, with `erased-<random>@domain` in place of the address (one token
per request, so per-recipient counts do not merge). Then the file itself is checked byte by byte, because
DuckDB leaves superseded blocks in the file (possibly compressed, where no byte search sees them), so
after a change the database is rewritten into a fresh file (COPY FROM DATABASE) holding only live data,
and the new file is searched byte by byte.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from analysis.privacy import sqlfiles
from analysis.privacy.address import Address, bytes_pattern, sql_pattern
from analysis.privacy.sqlexpr import any_match as _any_match
from analysis.privacy.sqlexpr import quote_ident as _q
from analysis.privacy.sqlexpr import redact_expr as _redact_expr
from analysis.store.db import write_transaction

CHUNK = 16 << 20


def text_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Text columns per stored table."""
    out: dict[str, list[str]] = {}
    for table, column in con.execute(sqlfiles.load("text_columns")).fetchall():
        out.setdefault(table, []).append(column)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def find_rows(
    con: duckdb.DuckDBPyConnection, addr: Address, *, fold_local: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table that mentions the address, grouped by table (tables without any left out)."""
    pattern = sql_pattern(addr, fold_local=fold_local)
    found: dict[str, list[dict[str, Any]]] = {}
    for table, columns in text_columns(con).items():
        cur = con.execute(f"SELECT * FROM {_q(table)} WHERE {_any_match(columns)}", {"pattern": pattern})
        names = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
        if rows:
            found[table] = [{n: _jsonable(v) for n, v in zip(names, r, strict=True)} for r in rows]
    return found


def count_rows(con: duckdb.DuckDBPyConnection, addr: Address, *, fold_local: bool = False) -> dict[str, int]:
    """How many rows per table mention the address (tables with none left out)."""
    pattern = sql_pattern(addr, fold_local=fold_local)
    counts = {}
    for table, columns in text_columns(con).items():
        n = con.execute(f"SELECT COUNT(*) FROM {_q(table)} WHERE {_any_match(columns)}", {"pattern": pattern})
        value = int(n.fetchall()[0][0])
        if value:
            counts[table] = value
    return counts


def redaction_token(addr: Address) -> str:
    """What replaces the address: random (not a hash a guess could confirm), the domain kept for statistics."""
    return f"erased-{secrets.token_hex(6)}@{addr.domain}"


def redact(
    con: duckdb.DuckDBPyConnection, addr: Address, token: str, *, fold_local: bool = False
) -> dict[str, int]:
    """Replace the address by `token` in every text column; rows changed per table. One transaction."""
    pattern = sql_pattern(addr, fold_local=fold_local)
    params = {"pattern": pattern, "replacement": "\\1" + token.replace("\\", "\\\\") + "\\3"}
    changed: dict[str, int] = {}
    with write_transaction(con):
        for table, columns in text_columns(con).items():
            where = _any_match(columns)
            count = con.execute(f"SELECT COUNT(*) FROM {_q(table)} WHERE {where}", {"pattern": pattern})
            n = int(count.fetchall()[0][0])
            if not n:
                continue
            sets = ", ".join(
                f"{_q(c)} = CASE WHEN regexp_matches({_q(c)}, $pattern) THEN {_redact_expr(c)} ELSE {_q(c)} END"
                for c in columns
            )
            con.execute(f"UPDATE {_q(table)} SET {sets} WHERE {where}", params)
            changed[table] = n
    return changed


def file_hits(path: Path, addr: Address, *, fold_local: bool = False) -> int:
    """Occurrences of the address in the raw bytes of a file and of its write-ahead log."""
    pat = bytes_pattern(addr, fold_local=fold_local)
    overlap = 4 * (len(str(addr).encode()) + 8)  # chunks overlap so a match across a boundary is seen
    hits = 0
    for p in (path, path.with_name(path.name + ".wal")):
        if not p.exists():
            continue
        seen: set[int] = set()
        with p.open("rb") as fh:
            start, prev = 0, b""
            while block := fh.read(CHUNK):
                buf = prev + block
                seen.update(start - len(prev) + m.start() for m in pat.finditer(buf))
                start += len(block)
                prev = buf[-overlap:]
        hits += len(seen)
    return hits


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def compact(path: Path) -> None:
    """Rewrite the database into a new file holding only live data, then swap it in (no other user open)."""
    tmp = path.with_name(f".{path.name}.compact-{uuid.uuid4().hex[:8]}")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_sql_str(path)} AS src (READ_ONLY)")
        con.execute(f"ATTACH {_sql_str(tmp)} AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
        con.execute("DETACH src")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)


@dataclass
class EraseResult:
    """What an erasure did and the proof that the file no longer holds the address."""

    rows: dict[str, int]
    token: str | None
    hits_after_checkpoint: int = 0
    compacted: bool = False
    hits_in_file: int = 0
    lake_files: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "hits_after_checkpoint": self.hits_after_checkpoint,
            "compacted": self.compacted,
            "hits_in_file": self.hits_in_file,
            "lake_files": self.lake_files,
        }


def erase(
    db: Path,
    addr: Address,
    *,
    dry_run: bool = False,
    fold_local: bool = False,
    lake: Path | None = None,
) -> EraseResult:
    """Redact the address everywhere in the database file (and the Parquet lake), then prove it is gone.

    Needs the write lock for the whole operation: the file is replaced when a rewrite is needed.
    """
    from analysis.privacy.lake import redact_lake
    from analysis.store import connect

    con = connect(db)
    try:
        if dry_run:
            result = EraseResult(count_rows(con, addr, fold_local=fold_local), None)
            if lake is not None:
                result.lake_files = redact_lake(lake, addr, None, fold_local=fold_local)
            return result
        token = redaction_token(addr)
        rows = redact(con, addr, token, fold_local=fold_local)
        refresh_caches(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    result = EraseResult(rows, token)
    result.hits_after_checkpoint = file_hits(db, addr, fold_local=fold_local)
    if rows or result.hits_after_checkpoint:
        # Always rewrite when something changed: superseded blocks may hold the address compressed
        # (dictionary/FSST), where no byte search can see it.
        compact(db)
        result.compacted = True
    result.hits_in_file = file_hits(db, addr, fold_local=fold_local)
    if lake is not None:
        result.lake_files = redact_lake(lake, addr, token, fold_local=fold_local)
    return result


def refresh_caches(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild a stored metrics cache after its sources changed, so its fingerprint matches again."""
    from analysis.metrics.cache import STORED_TABLE, refresh_recipient_facts

    exists = con.execute(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE NOT temporary AND table_name = ?", [STORED_TABLE]
    ).fetchall()[0][0]
    if exists:
        refresh_recipient_facts(con)
