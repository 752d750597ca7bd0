"""Export the store as Hive-partitioned Parquet (`<table>/day=YYYY-MM-DD/part-*.parquet`).

The lake is the scale-out contract: engine-neutral types, one directory per table, each table written to
a temporary directory and swapped in by rename so a reader never sees half a table.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb

# The time column that decides each fact table's day partition.
PARTITION_COLUMNS = {
    "pending_events": "ts",
    "deliveries": "ts",
    "rejections": "ts",
    "messages": "first_seen",
    "ingest_files": "started_at",
    "quarantine": None,  # days come from the file's ingest time (joined below)
}


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema = 'main' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows if r[0] != "schema_migrations"]


def _time_column(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    if table in PARTITION_COLUMNS:
        return PARTITION_COLUMNS[table]
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type LIKE 'TIMESTAMP%'"
        " ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return rows[0][0] if rows else None


def export_parquet(con: duckdb.DuckDBPyConnection, out: str | os.PathLike[str]) -> dict[str, int]:
    """Write every table under `out`; returns rows written per table."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for table in _tables(con):
        col = _time_column(con, table)
        if table == "quarantine":
            select = (
                "SELECT q.*, strftime(f.started_at, '%Y-%m-%d') AS day FROM quarantine q "
                "JOIN ingest_files f ON f.file_id = q.file_id"
            )
        elif col is not None:
            select = f"SELECT *, COALESCE(strftime(\"{col}\", '%Y-%m-%d'), 'unknown') AS day FROM \"{table}\""
        else:
            select = f"SELECT *, 'all' AS day FROM \"{table}\""
        tmp = root / f".{table}.tmp-{uuid.uuid4().hex[:8]}"
        n = int(con.execute(f"SELECT COUNT(*) FROM ({select}) x").fetchall()[0][0])
        if n:
            con.execute(
                f"COPY ({select}) TO '{tmp.as_posix()}' (FORMAT PARQUET, PARTITION_BY (day), "
                "FILENAME_PATTERN 'part-{i}')"
            )
        else:
            tmp.mkdir()
        final = root / table
        old = root / f".{table}.old-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
        written[table] = n
    return written
