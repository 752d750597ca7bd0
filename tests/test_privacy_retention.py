"""Retention with a fixed clock: every table has a rule; exactly the expired rows go, in DuckDB and in the
exported Parquet lake; a dry run counts the same and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analysis.errors import InputError
from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.metrics.cache import refresh_recipient_facts
from analysis.privacy.config import Rule, load_config
from analysis.privacy.retention import apply_retention, uncovered
from analysis.store import connect

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "analysis"]
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
# The cut-offs for NOW, written out by hand (not computed by the code under test).
CUTOFF_13MO = "2025-10-22 12:00:00+00"
CUTOFF_2Y = "2024-11-22 12:00:00+00"
CUTOFF_30D = "2026-10-23 12:00:00+00"
# (table, SQL that counts its expired rows before retention runs)
EXPECTED = {
    "deliveries": f"SELECT COUNT(*) FROM deliveries WHERE ts < TIMESTAMPTZ '{CUTOFF_13MO}'",
    "rejections": f"SELECT COUNT(*) FROM rejections WHERE ts < TIMESTAMPTZ '{CUTOFF_13MO}'",
    "messages": f"SELECT COUNT(*) FROM messages WHERE first_seen < TIMESTAMPTZ '{CUTOFF_13MO}'",
    "esp_events": f"SELECT COUNT(*) FROM esp_events WHERE event_time < TIMESTAMPTZ '{CUTOFF_13MO}'",
    "recipient_facts": f"SELECT COUNT(*) FROM recipient_facts WHERE t < TIMESTAMPTZ '{CUTOFF_13MO}'",
    "complaints": f"SELECT COUNT(*) FROM complaints WHERE received_at < TIMESTAMPTZ '{CUTOFF_2Y}'",
    "pending_events": f"SELECT COUNT(*) FROM pending_events WHERE ts < TIMESTAMPTZ '{CUTOFF_30D}'",
    "quarantine": "SELECT COUNT(*) FROM quarantine q JOIN ingest_files f USING (file_id)"
    f" WHERE f.started_at < TIMESTAMPTZ '{CUTOFF_30D}'",
}


def _message(when: str, qid: str, rcpt: str, status: str = "sent") -> str:
    dsn = "2.0.0" if status == "sent" else "5.1.1"
    return (
        f"{when}T10:00:01+00:00 mx1 postfix/smtpd[10]: {qid}: client=a.example[192.0.2.1]:40000\n"
        f"{when}T10:00:02+00:00 mx1 postfix/qmgr[12]: {qid}: from=<news@news.acme.example>, size=10, nrcpt=1 (queue active)\n"
        f"{when}T10:00:03+00:00 mx1 postfix/smtp[13]: {qid}: to=<{rcpt}>, relay=mx.example.net[198.51.100.7]:25, "
        f"delay=2, delays=0.1/0/1/0.9, dsn={dsn}, status={status} (250 ok)\n"
        f"{when}T10:00:04+00:00 mx1 postfix/qmgr[12]: {qid}: removed\n"
        f"{when}T10:05:00+00:00 mx1 postfix/smtpd[10]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 "
        f"<x@other.example>: Relay access denied; from=<s@evil.example> to=<x@other.example> proto=ESMTP helo=<evil>\n"
    )


def _arf(date: str, n: int) -> str:
    return (
        f"From: fbl@isp.example\nDate: {date}\nMessage-ID: <arf-{n}@isp.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nreport\n\n--b\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\nUser-Agent: ISP/1.0\nVersion: 1\nOriginal-Rcpt-To: someone@isp.example\n\n"
        "--b\nContent-Type: text/rfc822-headers\n\nFrom: news@news.acme.example\nMessage-ID: <x@y>\n\n--b--\n"
    )


def _ses(when: str, n: int) -> str:
    mail = {
        "timestamp": when,
        "source": "orders@globex.example",
        "messageId": f"ses-{n}",
        "destination": ["r@gmail.com"],
        "commonHeaders": {"to": ["r@gmail.com"]},
    }
    return json.dumps(
        {
            "eventType": "Delivery",
            "mail": mail,
            "delivery": {"timestamp": when, "recipients": ["r@gmail.com"], "smtpResponse": "250 ok"},
        }
    )


def _build(root: Path) -> Path:
    """A store whose rows straddle every cut-off: old, just kept, recent (Postfix, ARF, SES, DMARC)."""
    inputs = root / "inputs"
    inputs.mkdir()
    log = (
        _message("2025-09-01", "A0001", "old@example.net", "bounced")  # past 13 months
        + _message("2025-10-23", "A0002", "kept@example.net")  # inside 13 months by a day
        + _message("2026-11-20", "A0003", "new@example.net")
        + "2025-09-01T11:00:00+00:00 mx1 postfix/smtp[13]: B0001: to=<t@example.net>, relay=x[1.2.3.4]:25, dela\n"
        + "2026-10-01T09:00:00+00:00 mx1 postfix/qmgr[12]: C0001: from=<s@news.acme.example>, size=1, nrcpt=1 (queue active)\n"
        + "2026-11-21T09:00:00+00:00 mx1 postfix/qmgr[12]: C0002: from=<s@news.acme.example>, size=1, nrcpt=1 (queue active)\n"
    )
    (inputs / "mail.log").write_text(log)
    (inputs / "old.eml").write_text(_arf("Mon, 01 Jan 2024 00:00:00 +0000", 1))
    (inputs / "new.eml").write_text(_arf("Mon, 01 Jan 2025 00:00:00 +0000", 2))
    (inputs / "ses.jsonl").write_text(
        _ses("2025-08-01T00:00:00.000Z", 1) + "\n" + _ses("2026-11-01T00:00:00.000Z", 2) + "\n"
    )
    db = root / "store.duckdb"
    con = connect(db)
    try:
        samples = sorted((ROOT / "data" / "samples" / "dmarc").glob("*.xml*"))
        Ingestor(con, IngestOptions(year=2026)).ingest(
            [str(p) for p in sorted(inputs.iterdir())] + [str(p) for p in samples]
        )
        refresh_recipient_facts(con)
        # Ingest time is the wall clock: pin the files' times so the 30-day quarantine rule is deterministic.
        con.execute(
            "UPDATE ingest_files SET started_at = TIMESTAMPTZ '2026-09-01 00:00:00+00' WHERE path LIKE '%mail.log'"
        )
        con.execute(
            "UPDATE ingest_files SET started_at = TIMESTAMPTZ '2026-11-22 00:00:00+00' WHERE path NOT LIKE '%mail.log'"
        )
    finally:
        con.close()
    return db


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("retention"))


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store.duckdb"
    target.write_bytes(built.read_bytes())
    return target


def _counts(db: Path | duckdb.DuckDBPyConnection) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True) if isinstance(db, Path) else db
    try:
        tables = [
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
        ]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    finally:
        if isinstance(db, Path):
            con.close()


def test_every_table_has_a_rule(built: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(built), read_only=True)
    try:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        }
        assert uncovered(con, load_config()) == []
    finally:
        con.close()
    assert {"audit_log", "recipient_facts", "quarantine", "dmarc_records", "inventory_traps"} <= tables
    # A table nobody wrote a rule for stops retention with a message naming it.
    extra = tmp_path / "extra.duckdb"
    extra.write_bytes(built.read_bytes())
    con = connect(extra)
    try:
        con.execute("CREATE TABLE new_personal_table (who VARCHAR)")
        with pytest.raises(InputError, match="new_personal_table"):
            apply_retention(con, load_config(), now=NOW)
    finally:
        con.close()


def test_fixture_straddles_every_cutoff(built: Path) -> None:
    con = duckdb.connect(str(built), read_only=True)
    try:
        for table, sql in EXPECTED.items():
            expired = con.execute(sql).fetchall()[0][0]
            total = con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0]
            assert 0 < expired < total or (table == "quarantine" and expired == total > 0), table
    finally:
        con.close()


def test_fixed_clock_removes_exactly_the_expired_rows(db: Path) -> None:
    con = duckdb.connect(str(db), read_only=True)
    expected = {t: con.execute(sql).fetchall()[0][0] for t, sql in EXPECTED.items()}
    con.close()
    before = _counts(db)
    con = connect(db)
    try:
        dry = apply_retention(con, load_config(), now=NOW, dry_run=True)
        assert _counts(con) == before
        result = apply_retention(con, load_config(), now=NOW)
    finally:
        con.close()
    assert dry.removed == result.removed
    for table, n in expected.items():
        assert result.removed[table] == n, table
    after = _counts(db)
    for table, n in result.removed.items():
        assert after[table] == before[table] - n, table
    # Nothing within its period was touched, and what has no period stays.
    untouched = {t for t in before if t not in EXPECTED and result.removed.get(t, 0) == 0}
    assert {t: after[t] for t in untouched} == {t: before[t] for t in untouched}
    assert after["dmarc_records"] == before["dmarc_records"] > 0  # their reports are recent


def test_parents_take_their_children_along(db: Path) -> None:
    con = connect(db)
    try:
        result = apply_retention(con, load_config(), now=dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
        left = {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchall()[0][0]
            for t in (
                "dmarc_reports",
                "dmarc_records",
                "dmarc_auth_results",
                "deliveries",
                "inventory_domains",
            )
        }
    finally:
        con.close()
    assert result.removed["dmarc_records"] > 0 and result.removed["dmarc_auth_results"] > 0
    assert left == {
        "dmarc_reports": 0,
        "dmarc_records": 0,
        "dmarc_auth_results": 0,
        "deliveries": 0,
        "inventory_domains": left["inventory_domains"],
    }


def test_cli_prunes_the_lake_like_the_store(db: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    env = {**os.environ, "DELIVERABILITY_PRIVACY_KEY": "retention-test-key-0123456789"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
        )

    assert run("export", "--db", str(db), "--out", str(lake)).returncode == 0
    dry = run(
        "retention",
        "apply",
        "--db",
        str(db),
        "--export-dir",
        str(lake),
        "--as-of",
        NOW.isoformat(),
        "--dry-run",
    )
    assert dry.returncode == 0, dry.stderr
    res = run("retention", "apply", "--db", str(db), "--export-dir", str(lake), "--as-of", NOW.isoformat())
    assert res.returncode == 0, res.stderr
    assert (
        "deliveries: removed 2 rows (13mo" in res.stdout  # Postfix 2025-09-01 and SES 2025-08-01
        and "aggregate that may outlive its rows" in res.stdout
    )
    assert dry.stdout.replace("would remove", "removed") == res.stdout
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table in EXPECTED:
            files = sorted((lake / table).glob("**/*.parquet"))
            in_lake = sum(
                con.execute(f"SELECT COUNT(*) FROM read_parquet('{f.as_posix()}')").fetchall()[0][0]
                for f in files
            )
            assert in_lake == con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0], table
        audit = con.execute("SELECT command, status FROM audit_log ORDER BY audit_id").fetchall()
    finally:
        con.close()
    assert audit == [("export", "ok"), ("retention apply", "dry-run"), ("retention apply", "ok")]
    assert not (lake / "deliveries" / "day=2025-09-01").exists()  # an emptied partition is removed
    assert (lake / "deliveries" / "day=2025-10-23").is_dir()


@pytest.mark.parametrize(
    ("keep", "cutoff"),
    [
        ("30d", dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)),
        ("1mo", dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)),  # 30 March minus a month: clamped to February
        ("13mo", dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC)),
        ("2y", dt.datetime(2024, 3, 30, 12, tzinfo=dt.UTC)),
        ("forever", None),
    ],
)
def test_cutoffs(keep: str, cutoff: dt.datetime | None) -> None:
    assert Rule("t", keep, column="ts").cutoff(dt.datetime(2026, 3, 30, 12, tzinfo=dt.UTC)) == cutoff


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[retention.deliveries]\nkeep = "13 months"\n', "not like 30d"),
        ('[retention.deliveries]\nkeep = "30d"\ncolumn = ""\n', "time column"),
        ('[retention.dmarc_records]\nkeep = "parent"\nparent = ""\n', "needs parent and key"),
        ("[retention.deliveries\n", "privacy configuration"),
    ],
)
def test_bad_configuration(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "privacy.toml"
    path.write_text(toml)
    with pytest.raises(InputError, match=message):
        load_config(path)
