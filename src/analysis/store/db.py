"""Open the DuckDB store.

DuckDB allows one writer process or many readers, so writers wait and retry on the lock with a clear
message instead of failing with a traceback, and readers open read-only.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from analysis.errors import InputError, StoreLockedError

DEFAULT_DB = Path("data/deliverability.duckdb")
LOCK_WAIT_SECONDS = float(os.environ.get("DELIVERABILITY_LOCK_WAIT", "60"))


def db_path(db: str | os.PathLike[str] | None = None) -> Path:
    """The database path: explicit argument, else $DELIVERABILITY_DB, else data/deliverability.duckdb."""
    if db is not None:
        return Path(db)
    env = os.environ.get("DELIVERABILITY_DB")
    return Path(env) if env else DEFAULT_DB


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def connect(
    db: str | os.PathLike[str] | None = None,
    *,
    read_only: bool = False,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the store; writers get the schema migrated, readers must find an existing file. In lake mode
    ($DELIVERABILITY_LAKE, set by --lake) readers get the Parquet lake's tables through DuckDB views, and
    the tables the lake lacks from the database file when there is one."""
    if read_only:
        from analysis.store.lake import lake_path, open_lake

        lake = lake_path()
        if lake is not None:
            return open_lake(lake, db_path(db))
    path = db_path(db)
    if read_only and not path.exists():
        raise InputError(f"no database at {path}: run 'deliverability ingest' first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait is None else wait)
    said = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None
            if time.monotonic() >= deadline:
                raise StoreLockedError(
                    f"database {path} is locked by another process (waited "
                    f"{LOCK_WAIT_SECONDS if wait is None else wait:.0f}s); try again when it finishes"
                ) from None
            if not said:
                msg = f"database {path} is locked by another process; waiting..."
                (on_wait or (lambda m: print(m, file=sys.stderr)))(msg)
                said = True
            time.sleep(0.5)
        except duckdb.Error as exc:
            raise InputError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None
    con.execute("SET TimeZone = 'UTC'")
    if not read_only:
        migrate(con)
    return con


WRITE_GENERATION = "write_generation"  # the sequence of migration 050


class WriteTransaction:
    """What a writer may do inside write_transaction besides writing."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, commit: bool, bump: bool) -> None:
        self.con = con
        self.commit = commit
        self.bump = bump

    def _finish(self) -> None:
        if self.commit and self.bump:
            self.con.execute(f"SELECT nextval('{WRITE_GENERATION}')").fetchall()

    def step(self) -> None:
        """Commit what is written so far (with its generation number) and go on in a new transaction:
        bounds a long writer's transaction (the ingest's commit steps). Not in a dry run."""
        if not self.commit:
            raise RuntimeError("a transaction that will be rolled back cannot commit a step")
        self._finish()
        self.con.execute("COMMIT")
        self.con.execute("BEGIN TRANSACTION")

    def abandon(self) -> None:
        """Roll back at the end of the block instead of committing (nothing worth keeping was written)."""
        self.commit = False


@contextmanager
def write_transaction(
    con: duckdb.DuckDBPyConnection, *, commit: bool = True, bump: bool = True
) -> Iterator[WriteTransaction]:
    """BEGIN ... COMMIT for every writer, ROLLBACK when the body raises (or when `commit` is False: a dry
    run; or after `abandon()`). A committing transaction takes the next write generation as its last
    statement, which is what tells readers that tables derived from the store (recipient_facts) may be
    stale: writers must not write outside one. `bump=False` only for transactions that write nothing such
    tables are built from (the refresh of those tables, the schema migrations)."""
    con.execute("BEGIN TRANSACTION")
    tx = WriteTransaction(con, commit=commit, bump=bump)
    try:
        yield tx
        tx._finish()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if tx.commit else "ROLLBACK")


def _migration_files() -> list[tuple[str, str]]:
    root = resources.files("analysis.store").joinpath("migrations")
    out = [(p.name, p.read_text(encoding="utf-8")) for p in root.iterdir() if p.name.endswith(".sql")]
    return sorted(out)


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; returns the names applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
    applied = []
    for name, sql in _migration_files():
        if name in done:
            continue
        # No generation number: the sequence may not exist yet; the freshness stamp counts migrations.
        with write_transaction(con, bump=False):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, now())", [name])
        applied.append(name)
    return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the applied migrations, in order."""
    return [r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
