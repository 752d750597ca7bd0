"""Read a Parquet lake (`<table>/day=YYYY-MM-DD/*.parquet`) as if it were the store.

An in-memory DuckDB gets the store's schema from the migrations (so tables the lake lacks exist, empty,
and views such as recipient_outcomes are defined), then every table directory that holds Parquet files
replaces its table with a view over those files, columns in the store's order and without the `day`
partition column. Commands, reports and notebooks then run their usual SQL unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from analysis.errors import InputError

LAKE_ENV = "DELIVERABILITY_LAKE"


def lake_path() -> Path | None:
    """The lake named by $DELIVERABILITY_LAKE, if any."""
    env = os.environ.get(LAKE_ENV)
    return Path(env) if env else None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def _base_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def open_lake(
    path: str | os.PathLike[str], db: str | os.PathLike[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table directory of the lake at `path`. Tables
    the lake has no directory for come from the database file `db` when it exists (attached read-only:
    evidence, inventory and DNS history stay in the analyst's file while the relay-log facts come from a
    Spark-built lake), else they are the store's empty tables."""
    from analysis.store.db import migrate

    root = Path(path)
    if not root.is_dir():
        raise InputError(
            f"no lake at {root}: run 'deliverability export --out' or 'deliverability spark ingest'"
        )
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    known = _base_tables(con)
    if db is not None and Path(db).is_file():
        _attach_store(con, Path(db), known, root)
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not any(d.rglob("*.parquet")):
            continue  # an empty table: the migration's empty one stands
        source = (
            f"read_parquet({_quote((d / '**' / '*.parquet').as_posix())}, hive_partitioning = true, "
            "union_by_name = true)"
        )
        table = d.name
        try:
            if table in known:
                have = set(con.sql(f"SELECT * FROM {source} LIMIT 0").columns)
                cols = ", ".join(
                    f'"{c}"' if c in have else f'CAST(NULL AS {_type(con, table, c)}) AS "{c}"'
                    for c in _columns(con, table)
                )
                con.execute(f'DROP TABLE "{table}"')
                con.execute(f'CREATE VIEW "{table}" AS SELECT {cols} FROM {source}')
            else:
                con.execute(f'CREATE VIEW "{table}" AS SELECT * EXCLUDE (day) FROM {source}')
        except duckdb.Error as exc:
            con.close()
            raise InputError(f"cannot read lake table {d}: {str(exc).splitlines()[0]}") from None
    return con


def _type(con: duckdb.DuckDBPyConnection, table: str, column: str) -> str:
    rows = con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        [table, column],
    ).fetchall()
    return str(rows[0][0])


def _attach_store(con: duckdb.DuckDBPyConnection, db: Path, known: set[str], lake: Path) -> None:
    """Views over the database's tables that the lake has no directory for (an empty directory is an
    empty table of the lake's, not a gap)."""
    try:
        con.execute(f"ATTACH {_quote(str(db))} AS store (READ_ONLY)")
    except duckdb.Error as exc:
        raise InputError(f"cannot open database {db}: {str(exc).splitlines()[0]}") from None
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'store' "
        "AND table_schema = 'main' AND table_type = 'BASE TABLE'"
    ).fetchall()
    for (table,) in rows:
        if table == "schema_migrations" or (lake / table).is_dir():
            continue
        if table in known:
            con.execute(f'DROP TABLE "{table}"')
        con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM store.main."{table}"')
