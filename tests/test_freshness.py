"""Stored recipient facts are served only while they match the store: every writing path makes them stale
or rebuilds them (analysis.metrics.cache, sql/duckdb/stamp.sql, analysis.store.db.write_transaction).

Each case builds a store from the captured Postfix sample, optionally prepares it, runs `deliverability
refresh`, then runs one writing command as a user would. Afterwards a reader must either see the stored
facts as stale, or find them equal to the facts rebuilt from the sources right now. Cases that change
what the facts are built from must leave them stale or rebuilt: a stamp that missed the change would
serve the old facts and fail the equality below.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.metrics import Filters, rates, sqlfiles
from analysis.metrics.cache import STORED_TABLE, refresh_recipient_facts, stored_is_fresh
from analysis.store import connect
from analysis.store.db import WRITE_GENERATION, write_transaction

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "postfix-real.log"
INVENTORY = ROOT / "data" / "inventory.toml"
SPLIT = 2000  # the base store holds the sample's first lines; the rest arrives as a write under test
ERASED = "frank.smith88@yahoo.com"  # a bounced recipient of the sample


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def facts(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[object, ...]]:
    rows = con.sql(f"SELECT * FROM ({source}) f").fetchall()
    return sorted(rows, key=repr)


@dataclass(frozen=True)
class Store:
    db: Path
    log: Path  # the Postfix log the base store was ingested from (its first SPLIT lines)
    rest: Path  # the sample's remaining lines, not yet ingested


def base_store(tmp: Path, *, inventory: bool = True) -> Store:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    log, rest = tmp / "relay.log", tmp / "rest.log"
    log.write_text("".join(lines[:SPLIT]), encoding="utf-8")
    rest.write_text("".join(lines[SPLIT:]), encoding="utf-8")
    db = tmp / "store.duckdb"
    if inventory:
        cli("inventory", "load", "--inventory", str(INVENTORY), "--db", str(db))
    cli("ingest", str(log), "--db", str(db), "--year", "2026")
    return Store(db, log, rest)


def wipe_severities(s: Store) -> None:
    con = connect(s.db)
    with write_transaction(con):
        con.execute("UPDATE deliveries SET severity = NULL, reason = NULL WHERE status = 'bounced'")
    con.close()


def append_rest(s: Store) -> None:
    with s.log.open("a", encoding="utf-8") as out:
        out.write(s.rest.read_text(encoding="utf-8"))
    cli("ingest", str(s.log), "--db", str(s.db), "--year", "2026")


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Store], object]
    changes_facts: bool  # whether the write changes what the recipient facts are built from
    rebuilds: bool = False  # whether the command refreshes the stored facts itself
    prepare: Callable[[Store], None] | None = None  # before the refresh
    inventory: bool = True


CASES = [
    Case(
        "ingest a new file", lambda s: cli("ingest", str(s.rest), "--db", str(s.db), "--year", "2026"), True
    ),
    Case("append-ingest (the file grew)", append_rest, True),
    Case(
        "ingest ESP events",
        lambda s: cli("ingest", str(ROOT / "data" / "samples" / "esp"), "--db", str(s.db)),
        True,
    ),
    Case(
        "re-ingest an unchanged file",
        lambda s: cli("ingest", str(s.log), "--db", str(s.db), "--year", "2026"),
        False,
    ),
    Case("reclassify", lambda s: cli("reclassify", "--db", str(s.db)), True, prepare=wipe_severities),
    Case(
        "inventory load (accounts assigned)",
        lambda s: cli("inventory", "load", "--inventory", str(INVENTORY), "--db", str(s.db)),
        True,
        inventory=False,
    ),
    Case("privacy erase", lambda s: cli("privacy", "erase", ERASED, "--db", str(s.db)), True, rebuilds=True),
    Case(
        "retention apply",
        lambda s: cli("retention", "apply", "--as-of", "2028-01-01T00:00:00Z", "--db", str(s.db)),
        True,
        rebuilds=True,
    ),
    Case(
        "retention dry run",
        lambda s: cli(
            "retention", "apply", "--dry-run", "--as-of", "2028-01-01T00:00:00Z", "--db", str(s.db)
        ),
        False,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_writer_makes_stored_facts_stale_or_rebuilds_them(tmp_path: Path, case: Case) -> None:
    store = base_store(tmp_path, inventory=case.inventory)
    if case.prepare:
        case.prepare(store)
    cli("refresh", "--db", str(store.db))
    con = connect(store.db, read_only=True)
    assert stored_is_fresh(con)
    before = facts(con, STORED_TABLE)
    con.close()

    case.write(store)

    con = connect(store.db, read_only=True)
    current = facts(con, sqlfiles.render("recipients"))
    fresh = stored_is_fresh(con)
    if fresh:
        assert facts(con, STORED_TABLE) == current, "stale recipient facts would be served"
    served = rates(con, ["sender_domain", "day"])
    con.close()
    # The case does what it says: the sources changed (or not) under the stored facts.
    assert (current != before) == case.changes_facts
    if case.changes_facts and not case.rebuilds:
        assert not fresh
    if case.rebuilds or not case.changes_facts:
        assert fresh  # rebuilt by the command, or nothing to invalidate: no needless slow path
    # Whatever route the reader took, its answer is the live one.
    assert served.equals(_live_rates(store.db))


def _live_rates(db: Path) -> pl.DataFrame:
    """rates computed from the sources, with the stored facts out of the way (on a copy)."""
    copy = db.with_name("live-" + db.name)
    shutil.copyfile(db, copy)
    con = connect(copy)
    con.execute(f"DROP TABLE IF EXISTS {STORED_TABLE}")
    con.close()
    con = connect(copy, read_only=True)
    try:
        frame: pl.DataFrame = rates(con, ["sender_domain", "day"], Filters())
        return frame
    finally:
        con.close()


def generation(con: duckdb.DuckDBPyConnection) -> int | None:
    rows = con.sql(
        "SELECT last_value FROM duckdb_sequences() WHERE sequence_name = $s", params={"s": WRITE_GENERATION}
    ).fetchall()
    value: int | None = rows[0][0]
    return value


def test_write_transaction_commits_with_a_new_generation_and_rolls_back_without(tmp_path: Path) -> None:
    con = connect(tmp_path / "t.duckdb")
    con.execute("CREATE TABLE t (i INTEGER)")
    start = generation(con)
    with write_transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
    first = generation(con)
    assert first is not None and first != start
    with pytest.raises(RuntimeError), write_transaction(con):
        con.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("writer failed")
    with write_transaction(con, commit=False):  # a dry run
        con.execute("INSERT INTO t VALUES (3)")
    with write_transaction(con, bump=False):  # derived tables only
        con.execute("CREATE TABLE derived AS SELECT 1 AS x")
    assert generation(con) == first
    assert con.sql("SELECT list(i ORDER BY i) FROM t").fetchall()[0][0] == [1]
    con.close()


def test_commit_steps_take_a_generation_each_and_abandon_rolls_back(tmp_path: Path) -> None:
    con = connect(tmp_path / "s.duckdb")
    con.execute("CREATE TABLE t (i INTEGER)")
    start = generation(con) or 0
    with write_transaction(con) as tx:
        con.execute("INSERT INTO t VALUES (1)")
        tx.step()  # committed here, with a number
        con.execute("INSERT INTO t VALUES (2)")
        tx.abandon()  # the rest is rolled back, without one
    assert generation(con) == start + 1
    assert con.sql("SELECT list(i) FROM t").fetchall()[0][0] == [1]
    with pytest.raises(RuntimeError), write_transaction(con, commit=False) as tx:
        tx.step()
    con.close()


def test_a_write_between_refresh_and_read_is_seen_without_a_row_count_change(tmp_path: Path) -> None:
    # The generation alone catches an update that leaves every count and ingest file as it was.
    store = base_store(tmp_path)
    con = connect(store.db)
    refresh_recipient_facts(con)
    with write_transaction(con):
        con.execute("UPDATE messages SET account = 'someone-else'")
    con.close()
    con = connect(store.db, read_only=True)
    assert not stored_is_fresh(con)
    con.close()


# Writers that run their own BEGIN/COMMIT (no write generation): none may.
OWN_TRANSACTIONS: set[str] = set()


def test_writers_use_the_one_write_transaction() -> None:
    src = ROOT / "src" / "analysis"
    begins = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if re.search(r"""["']BEGIN( TRANSACTION)?["']""", p.read_text(encoding="utf-8"))
    }
    assert begins - {"store/db.py"} <= OWN_TRANSACTIONS, "write through analysis.store.db.write_transaction"
