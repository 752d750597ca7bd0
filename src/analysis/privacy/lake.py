"""The exported Parquet lake (`<lake>/<table>/day=YYYY-MM-DD/part-N.parquet`) under privacy rules.

Each file is read on its own and, when some of its rows must go, rewritten to a temporary name and
renamed over itself (readers never see half a file); a file whose rows all go is deleted, and so is a
partition directory left empty.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb

from analysis.privacy.address import Address, sql_pattern
from analysis.privacy.sqlexpr import any_match as _any_match
from analysis.privacy.sqlexpr import quote_ident as _q
from analysis.privacy.sqlexpr import redact_expr as _redact_expr


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def files(lake: Path, table: str) -> list[Path]:
    """The Parquet files of one table, in a stable order."""
    return sorted((lake / table).glob("**/*.parquet"))


def relation(lake: Path, table: str) -> str | None:
    """A FROM-clause relation over all of one table's files, None when it has none."""
    if not files(lake, table):
        return None
    return f"read_parquet({_lit((lake / table).as_posix() + '/**/*.parquet')}, hive_partitioning = false)"


def file_relation(path: Path) -> str:
    return f"read_parquet({_lit(path.as_posix())}, hive_partitioning = false)"


def rewrite(con: duckdb.DuckDBPyConnection, path: Path, select: str, params: dict[str, object]) -> None:
    """Replace a file by the rows of `select` (or delete it, and its emptied directory, if there are none)."""
    n = int(con.execute(f"SELECT COUNT(*) FROM ({select}) x", params).fetchall()[0][0])
    if n == 0:
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
        return
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    con.execute(f"COPY ({select}) TO {_lit(tmp.as_posix())} (FORMAT PARQUET)", params)
    os.replace(tmp, path)


def prune_table(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    table: str,
    expired: Callable[[str], str],
    params: dict[str, object],
    *,
    dry_run: bool,
) -> int:
    """Remove the rows for which `expired(alias)` is true from one table's files; rows removed."""
    removed = 0
    for path in files(lake, table):
        rel = file_relation(path)
        n = con.execute(f"SELECT COUNT(*) FROM {rel} t WHERE {expired('t')}", params).fetchall()[0][0]
        if n and not dry_run:
            rewrite(con, path, f"SELECT t.* FROM {rel} t WHERE NOT ({expired('t')})", params)
        removed += int(n)
    return removed


def _text_columns(con: duckdb.DuckDBPyConnection, rel: str) -> tuple[list[str], list[str]]:
    cols = con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
    return [c[0] for c in cols], [c[0] for c in cols if c[1] == "VARCHAR"]


def redact_lake(lake: Path, addr: Address, token: str | None, *, fold_local: bool = False) -> dict[str, int]:
    """Rows mentioning the address per Parquet file (relative path); redacted in place unless token is None."""
    pattern = sql_pattern(addr, fold_local=fold_local)
    params: dict[str, object] = {"pattern": pattern}
    if token is not None:
        params["replacement"] = "\\1" + token.replace("\\", "\\\\") + "\\3"
    out: dict[str, int] = {}
    con = duckdb.connect()
    try:
        for path in sorted(lake.glob("**/*.parquet")):
            rel = file_relation(path)
            names, texts = _text_columns(con, rel)
            if not texts:
                continue
            where = _any_match(texts)
            count_params = {"pattern": pattern}
            n = int(con.execute(f"SELECT COUNT(*) FROM {rel} WHERE {where}", count_params).fetchall()[0][0])
            if not n:
                continue
            out[path.relative_to(lake).as_posix()] = n
            if token is not None:
                cols = ", ".join(_redact_expr(c) + f" AS {_q(c)}" if c in texts else _q(c) for c in names)
                rewrite(con, path, f"SELECT {cols} FROM {rel}", params)
    finally:
        con.close()
    return out
