"""Every route a metric can take gives the live query's answer.

A metric is computed live (a writable connection: no stored facts, nothing remembered), from the stored
recipient facts (read-only, after `refresh`), from a per-connection cache, from results remembered on a
read-only connection, from a summary's grouping-sets pass, as Python rows or through Arrow, and with or
without the join to `messages`. The store is a generated log through the real ingest, without complaints
(the rates then skip their complaint columns).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.metrics import (
    Filters,
    cache_recipients,
    latency,
    rates,
    sqlfiles,
    summary,
    top_replies,
    volume_series,
)
from analysis.metrics.cache import refresh_recipient_facts, stored_is_fresh
from analysis.store import connect
from analysis.synth.postfix import generate

Query = Callable[..., pl.DataFrame]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("routes")
    log = root / "g.log"
    generate(log, lines=30_000, seed=4)
    db = root / "g.duckdb"
    con = connect(db)
    try:
        Ingestor(con, IngestOptions(year=2026)).ingest([str(log)])
    finally:
        con.close()
    return db


def _domain(db: Path) -> str:
    con = connect(db, read_only=True)
    try:
        rows = con.sql(
            "SELECT sender_domain FROM messages WHERE sender_domain IS NOT NULL GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    return str(rows[0][0])


QUESTIONS: list[tuple[str, Callable[[object, Filters], pl.DataFrame]]] = [
    ("rates overall", lambda c, f: rates(c, [], f, min_volume=5)),
    ("rates sender_domain,day", lambda c, f: rates(c, ["sender_domain", "day"], f, min_volume=5)),
    ("rates provider", lambda c, f: rates(c, ["provider"], f)),
    ("rates relay_ip,hour", lambda c, f: rates(c, ["relay_ip", "hour"], f)),
    ("rates sasl_username,recipient_domain", lambda c, f: rates(c, ["sasl_username", "recipient_domain"], f)),
    ("latency overall", lambda c, f: latency(c, [], f)),
    ("latency provider", lambda c, f: latency(c, ["provider"], f)),
    ("latency sender_domain", lambda c, f: latency(c, ["sender_domain"], f)),
    ("volume day", lambda c, f: volume_series(c, "day", f)),
    ("replies", lambda c, f: top_replies(c, f)),
]


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(pl.all(), nulls_last=True) if df.height else df


def _answers(con: object, filters: Filters) -> dict[str, pl.DataFrame]:
    return {name: _sorted(q(con, filters)) for name, q in QUESTIONS}


@pytest.fixture(scope="module")
def expected(store: Path) -> dict[str, dict[str, pl.DataFrame]]:
    """The live answers, with no filter and with a sender-domain filter (which needs `messages`)."""
    domain = _domain(store)
    con = connect(store)  # writable: nothing stored, cached or remembered is used
    try:
        return {
            "all": _answers(con, Filters()),
            "domain": _answers(con, Filters(where={"sender_domain": domain})),
        }
    finally:
        con.close()


def _check(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    for name, frame in want.items():
        assert frame.height, name  # a question with no answer would compare nothing
        assert_frame_equal(got[name], frame, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_cached_and_remembered_answers_equal_the_live_ones(
    store: Path, expected: dict[str, dict[str, pl.DataFrame]]
) -> None:
    domain = _domain(store)
    con = connect(store, read_only=True)
    try:
        assert cache_recipients(con) is True
        for key, filters in (
            ("all", Filters()),
            ("domain", Filters(where={"sender_domain": domain})),
        ):
            _check(_answers(con, filters), expected[key])
            _check(_answers(con, filters), expected[key])  # the second time, from remembered results
    finally:
        con.close()


def test_stored_facts_and_the_summary_pass_equal_the_live_answers(
    store: Path, expected: dict[str, dict[str, pl.DataFrame]]
) -> None:
    domain = Filters(where={"sender_domain": _domain(store)})
    writer = connect(store)
    try:
        refresh_recipient_facts(writer)
    finally:
        writer.close()
    con = connect(store, read_only=True)
    try:
        assert stored_is_fresh(con)
        _check(_answers(con, Filters()), expected["all"])
    finally:
        con.close()
    con = connect(store, read_only=True)
    try:
        summary(con, min_volume=5)  # answers its groupings in one grouping-sets pass and remembers them
        _check(_answers(con, Filters()), expected["all"])
        _check(_answers(con, domain), expected["domain"])
    finally:
        con.close()


@pytest.mark.parametrize("python_rows", [0, 1, 10**6])
def test_python_rows_and_arrow_give_the_same_frame(store: Path, python_rows: int) -> None:
    con = connect(store, read_only=True)
    try:
        sql = (
            "SELECT d.recipient_domain, d.status, COUNT(*) AS n, CAST(SUM(d.delay) AS DOUBLE) AS delay,"
            " MIN(d.ts) AS first_ts FROM deliveries d GROUP BY 1, 2"
        )
        want = sqlfiles.query_frame(con, sql, None, "test")
        got = sqlfiles.query_frame(con, sql, None, "test", python_rows=python_rows)
        assert want.height > 1
        assert_frame_equal(_sorted(got), _sorted(want))
    finally:
        con.close()
