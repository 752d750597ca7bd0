"""Per-connection cache of the per-recipient facts, for callers that ask many questions in a row.

Every rate starts from the per-recipient window over all delivery attempts (the expensive part). A
summary or a report asks a handful of grouped questions of the same data, so it can build that table
once as a TEMP table and reuse it. Only on read-only connections: DuckDB lets no other process write
while a reader holds the file, so the data cannot change under the cache; a temp table dies with its
connection.
"""

from __future__ import annotations

import duckdb

from analysis.errors import WorkbenchError
from analysis.metrics import sqlfiles

CACHE_TABLE = "metrics_recipient_facts"


def _read_only(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.sql("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only")


def _cached(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.sql(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE temporary AND table_name = $t", params={"t": CACHE_TABLE}
    ).fetchall()
    return bool(rows[0][0])


def cache_recipients(con: duckdb.DuckDBPyConnection) -> bool:
    """Build the recipient facts once for this connection; False (and nothing done) unless read-only."""
    if not _read_only(con):
        return False
    if not _cached(con):
        try:
            con.sql(f"CREATE TEMP TABLE {CACHE_TABLE} AS {sqlfiles.render('recipients')}")
        except duckdb.Error as exc:
            raise WorkbenchError(f"cannot cache recipient facts: {str(exc).splitlines()[0]}") from None
    return True


def recipients_slot(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The `recipients` slot: the cached table when this connection has one, else the live query."""
    if _cached(con):
        return {"recipients": f"SELECT * FROM temp.{CACHE_TABLE}"}
    return {}
