"""Caches of the per-recipient facts, the expensive start of every rate.

Every rate starts from a window over all delivery attempts. Two ways to avoid repeating it:

- per connection: `cache_recipients(con)` builds the facts once as a TEMP table for a caller that asks
  many questions in a row (summary, a report). Only on read-only connections: DuckDB lets no other
  process write while a reader holds the file, so the data cannot change under it; it dies with the
  connection.
- stored: `refresh_recipient_facts(con)` (a writer, e.g. at the end of an ingest) stores the facts in
  `recipient_facts` with a stamp of the store's state (sql/duckdb/stamp.sql): the write generation that
  every writing transaction advances (analysis.store.db.write_transaction), plus row counts and the
  ingest files' progress counters. Readers use the stored table only while the stamp still matches, so
  a forgotten refresh costs speed, never correctness. (The stamp used to hash every source row: 0.1-0.4 s
  of each command on a 10M-line store; reading it now takes a few milliseconds.) The generation is a
  sequence, read outside transactions: the refresh's facts and stamp agree because nothing else writes
  while it runs (DuckDB admits one writing process, and our writers use one connection at a time); two
  writing connections in one process, one refreshing while the other commits, could pair new numbers
  with old facts.

A read-only connection's data cannot change while it is open (DuckDB lets no other process write while a
reader holds the file), so what it learns once is remembered for its lifetime, keyed weakly by the
connection: whether it is read-only, whether the stored facts are fresh, and, in sqlfiles, the frames
its metric queries returned.
"""

from __future__ import annotations

import datetime as dt
from weakref import WeakKeyDictionary

import duckdb

from analysis.errors import WorkbenchError
from analysis.metrics import sqlfiles
from analysis.metrics.sqlfiles import read_only
from analysis.store.db import write_transaction

CACHE_TABLE = "metrics_recipient_facts"
STORED_TABLE = "recipient_facts"
STATE_TABLE = "recipient_facts_state"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None) -> object:
    return con.sql(sql, params=params).fetchall()[0][0]


_FRESH: WeakKeyDictionary[duckdb.DuckDBPyConnection, bool] = WeakKeyDictionary()
_UNIQUE: WeakKeyDictionary[duckdb.DuckDBPyConnection, bool] = WeakKeyDictionary()


def _has_table(con: duckdb.DuckDBPyConnection, name: str, *, temporary: bool) -> bool:
    return bool(
        _scalar(
            con,
            "SELECT COUNT(*) FROM duckdb_tables() WHERE temporary = $tmp AND table_name = $t",
            {"tmp": temporary, "t": name},
        )
    )


def source_stamp(con: duckdb.DuckDBPyConnection) -> str:
    """The store's state as far as the recipient facts are concerned: it changes with every write to the
    tables they are built from (see sql/duckdb/stamp.sql)."""
    return str(_scalar(con, sqlfiles.load("duckdb/stamp")))


def stored_is_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether recipient_facts exists and was built from exactly the current sources."""
    if con in _FRESH:
        return _FRESH[con]
    fresh = False
    if _has_table(con, STORED_TABLE, temporary=False) and _has_table(con, STATE_TABLE, temporary=False):
        rows = con.sql(f"SELECT stamp FROM {STATE_TABLE}").fetchall()
        fresh = len(rows) == 1 and rows[0][0] == source_stamp(con)
    if read_only(con):
        _FRESH[con] = fresh
    return fresh


def refresh_recipient_facts(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild recipient_facts and its stamp in one transaction (writers); returns its rows."""
    if read_only(con):
        raise WorkbenchError("refreshing recipient facts needs a writable database connection")
    # No new write generation: these tables are derived, and the stamp must describe the sources as read.
    with write_transaction(con, bump=False):
        con.execute(f"CREATE OR REPLACE TABLE {STORED_TABLE} AS {sqlfiles.render('recipients')}")
        con.execute(
            f"CREATE OR REPLACE TABLE {STATE_TABLE} (stamp VARCHAR NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL, "
            "unique_message_keys BOOLEAN)"
        )
        con.execute(
            f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?)",
            [
                source_stamp(con),
                dt.datetime.now(dt.UTC),
                _scalar(con, sqlfiles.load("duckdb/unique_message_keys")),
            ],
        )
        rows = int(str(_scalar(con, f"SELECT COUNT(*) FROM {STORED_TABLE}")))
    return rows


def unique_message_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether messages.message_key has no duplicates: recorded by the last refresh while its stamp still
    matches (no write since), else computed (once per read-only connection)."""
    if con in _UNIQUE:
        return _UNIQUE[con]
    recorded = None
    if stored_is_fresh(con):
        columns = {c[0] for c in con.sql(f"DESCRIBE {STATE_TABLE}").fetchall()}
        if "unique_message_keys" in columns:
            recorded = con.sql(f"SELECT unique_message_keys FROM {STATE_TABLE}").fetchall()[0][0]
    unique = (
        bool(_scalar(con, sqlfiles.load("duckdb/unique_message_keys")))
        if recorded is None
        else bool(recorded)
    )
    if read_only(con):
        _UNIQUE[con] = unique
    return unique


def cache_recipients(con: duckdb.DuckDBPyConnection) -> bool:
    """Build the recipient facts once for this connection; False (and nothing done) unless read-only."""
    if not read_only(con):
        return False
    # Fresh stored facts serve as they are: copying them into a temp table would only cost time.
    if not stored_is_fresh(con) and not _has_table(con, CACHE_TABLE, temporary=True):
        try:
            con.execute(f"CREATE TEMP TABLE {CACHE_TABLE} AS {sqlfiles.render('recipients')}")
        except duckdb.Error as exc:
            raise WorkbenchError(f"cannot cache recipient facts: {str(exc).splitlines()[0]}") from None
    return True


def recipients_table(con: duckdb.DuckDBPyConnection) -> str | None:
    """The table holding the recipient facts: this connection's cache, else a fresh stored table, else
    None (the live query)."""
    if _has_table(con, CACHE_TABLE, temporary=True):
        return f"temp.{CACHE_TABLE}"
    if stored_is_fresh(con):
        return STORED_TABLE
    return None


def recipients_slot(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The `recipients` slot: this connection's cache, else a fresh stored table, else the live query."""
    table = recipients_table(con)
    return {"recipients": f"SELECT * FROM {table}"} if table else {}
