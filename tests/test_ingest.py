"""The ingest spine end to end: correlation, idempotency, resume, rotation, compression, crash safety,
fuzzing, and the totals against the synthetic generator's independent ground truth."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.store import connect
from analysis.synth.postfix import generate
from analysis.totals import totals

ROOT = Path(__file__).resolve().parents[1]
# Keys of `totals --json` that pflogsumm-style counting and the generator's truth share.
COUNT_KEYS = ("received", "delivered", "deferred", "deferrals", "bounced", "expired", "rejected",
              "bytes_received", "senders", "recipients")  # fmt: skip
CONTRACT_KEYS = (*COUNT_KEYS, "lines_read", "lines_parsed", "lines_quarantined", "lines_other")
CLI = [sys.executable, "-m", "analysis"]
TABLES = ("messages", "deliveries", "rejections", "quarantine")

# Queue ID 1A2B3C is used twice (removed, then reused); BBBB1 spans two files; NOQUEUE and other noise.
PART1 = """\
Nov 22 10:00:00 mx1 postfix/smtpd[10]: connect from a.example[192.0.2.1]
Nov 22 10:00:01 mx1 postfix/smtpd[10]: 1A2B3C: client=a.example[192.0.2.1]:40000, sasl_method=PLAIN, sasl_username=acme-mailer
Nov 22 10:00:01 mx1 postfix/cleanup[11]: 1A2B3C: message-id=<m1@news.acme.example>
Nov 22 10:00:02 mx1 postfix/qmgr[12]: 1A2B3C: from=<news@news.acme.example>, size=1000, nrcpt=2 (queue active)
Nov 22 10:00:03 mx1 postfix/smtp[13]: 1A2B3C: to=<bob@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.2]:25, delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 2.0.0 OK)
Nov 22 10:00:03 mx1 postfix/smtp[13]: 1A2B3C: to=<amy@yahoo.com>, relay=mx.yahoo.com[1.2.3.4]:25, delay=2, delays=0.1/0/1/0.9, dsn=4.7.0, status=deferred (host mx.yahoo.com[1.2.3.4] said: 421 4.7.0 [TSS04] try later (in reply to MAIL FROM command))
opendkim[5]: not a syslog line at all
Nov 22 10:00:04 mx1 opendkim[5]: 1A2B3C: DKIM-Signature field added
Nov 22 10:10:03 mx1 postfix/qmgr[12]: 1A2B3C: from=<news@news.acme.example>, size=1000, nrcpt=2 (queue active)
Nov 22 10:10:04 mx1 postfix/smtp[13]: 1A2B3C: to=<amy@yahoo.com>, relay=mx.yahoo.com[1.2.3.4]:25, delay=603, delays=600/0/1/2, dsn=2.0.0, status=sent (250 ok)
Nov 22 10:10:04 mx1 postfix/qmgr[12]: 1A2B3C: removed
Nov 22 10:20:00 mx1 postfix/smtpd[10]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <x@other.example>: Relay access denied; from=<s@evil.example> to=<x@other.example> proto=ESMTP helo=<evil>
Nov 22 10:30:01 mx1 postfix/smtpd[10]: 1A2B3C: client=b.example[192.0.2.2]:40001, sasl_method=PLAIN, sasl_username=globex-app
Nov 22 10:30:02 mx1 postfix/qmgr[12]: 1A2B3C: from=<app@globex.example>, size=500, nrcpt=1 (queue active)
Nov 22 10:30:03 mx1 postfix/smtp[13]: 1A2B3C: to=<carl@outlook.com>, relay=a.mail.protection.outlook.com[52.1.1.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host a.mail.protection.outlook.com[52.1.1.1] said: 550 5.1.1 RESOLVER.ADR.RecipNotFound (in reply to RCPT TO command))
Nov 22 10:30:03 mx1 postfix/qmgr[12]: 1A2B3C: removed
Nov 22 23:59:58 mx1 postfix/smtpd[10]: BBBB1: client=c.example[192.0.2.3]
Nov 22 23:59:59 mx1 postfix/qmgr[12]: BBBB1: from=<x@initech.example>, size=42, nrcpt=1 (queue active)
"""
PART2 = """\
Nov 23 00:00:01 mx1 postfix-out/smtp[13]: BBBB1: to=<dan@gmx.de>, relay=mx00.gmx.net[212.227.15.9]:25, delay=3, delays=0/0/1/2, dsn=2.0.0, status=sent (250 ok)
Nov 23 00:00:01 mx1 postfix/smtp[13]: BBBB1: to=<dan@gmx.de>, relay=mx00.gmx.net[212.227.15.9]:25, delay=3, delays=0/0/1/2, dsn=2.0.0, status=sent (250 ok)
Nov 23 00:00:02 mx1 postfix/qmgr[12]: BBBB1: removed
"""


def _ingest(db: Path, *paths: Path | str, **opts: object) -> list:  # type: ignore[type-arg]
    con = connect(db)
    try:
        return Ingestor(con, IngestOptions(**opts)).ingest([str(p) for p in paths])  # type: ignore[arg-type]
    finally:
        con.close()


def _digest(db: Path) -> dict[str, str]:
    """A content hash per table, independent of row order and of file_id numbering."""
    con = duckdb.connect(str(db), read_only=True)
    out = {}
    for t in TABLES:
        cols = [c[0] for c in con.execute(f"DESCRIBE {t}").fetchall() if c[0] not in ("file_id",)]
        rows = con.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()
        out[t] = hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()
    con.close()
    return out


def _q(db: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_correlation_reuse_and_cross_file(tmp_path: Path) -> None:
    a, b = tmp_path / "mail.log.1", tmp_path / "mail.log"
    a.write_text(PART1)
    b.write_text(PART2)
    db = tmp_path / "x.duckdb"
    # Given newest first: the rotated set is still read in time order.
    s = _ingest(db, b, a, year=2026)
    assert [x.display for x in s] == [str(a), str(b)]
    msgs = _q(
        db,
        "SELECT qid, instance, sasl_username, sender_domain, size, nrcpt, message_id FROM messages ORDER BY first_seen",
    )
    assert msgs == [
        ("1A2B3C", "postfix", "acme-mailer", "news.acme.example", 1000, 2, "<m1@news.acme.example>"),
        ("1A2B3C", "postfix", "globex-app", "globex.example", 500, 1, None),
        ("BBBB1", "postfix", None, "initech.example", 42, 1, None),
        ("BBBB1", "postfix-out", None, None, None, None, None),
    ]
    # Every delivery belongs to the life it happened in.
    per_msg = _q(
        db,
        "SELECT m.sasl_username, d.recipient, d.status FROM deliveries d JOIN messages m USING (message_key) "
        "ORDER BY d.ts, d.line_no",
    )
    assert per_msg[:4] == [
        ("acme-mailer", "bob@gmail.com", "sent"),
        ("acme-mailer", "amy@yahoo.com", "deferred"),
        ("acme-mailer", "amy@yahoo.com", "sent"),
        ("globex-app", "carl@outlook.com", "bounced"),
    ]
    outcomes = dict(
        _q(
            db,
            "SELECT recipient || '/' || CAST(attempts AS VARCHAR), final_status FROM recipient_outcomes WHERE instance = 'postfix'",
        )
    )
    assert outcomes == {
        "bob@gmail.com/1": "sent",
        "amy@yahoo.com/2": "sent",
        "carl@outlook.com/1": "bounced",
        "dan@gmx.de/1": "sent",
    }
    assert _q(db, "SELECT COUNT(*), COUNT(DISTINCT message_key) FROM messages") == [(4, 4)]
    assert _q(
        db, "SELECT COUNT(*) FROM rejections WHERE qid IS NULL AND recipient_domain = 'other.example'"
    ) == [(1,)]
    assert _q(db, "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason") == [("no syslog header", 1)]
    t = totals(duckdb.connect(str(db), read_only=True))
    assert (t["received"], t["delivered"], t["deferred"], t["deferrals"], t["bounced"], t["rejected"]) == (
        3,
        4,
        1,
        1,
        1,
        1,
    )
    assert t["lines_read"] == t["lines_parsed"] + t["lines_quarantined"] + t["lines_other"] == 21
    assert t["bytes_received"] == 1542


def test_idempotent_and_order_independent(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(PART1)
    b.write_text(PART2)
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    _ingest(one, a, b, year=2026)
    first = _digest(one)
    s = _ingest(one, a, b, year=2026)
    assert [x.status for x in s] == ["unchanged", "unchanged"]
    assert _digest(one) == first
    # The newer file first, in separate runs: the cross-file message is rebuilt to the same result.
    _ingest(two, b, year=2026)
    _ingest(two, a, year=2026)
    assert _digest(two) == first


def test_resume_after_append_and_partial_last_line(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    full = PART1 + PART2
    cut = full.index("Nov 22 10:30:02")
    log.write_text(full[: cut + 20])  # ends mid-line: that line is held back
    db = tmp_path / "x.duckdb"
    s = _ingest(db, log, year=2026)[0]
    assert s.held_back and s.lines_read == full[:cut].count("\n")
    log.write_text(full)
    s2 = _ingest(db, log, year=2026)[0]
    assert s2.status == "resumed" and s2.lines_read == full.count("\n") - s.lines_read
    clean = tmp_path / "clean.duckdb"
    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / "mail.log").write_text(full)
    _ingest(clean, tmp_path / "whole" / "mail.log", year=2026)
    assert _digest(db) == _digest(clean)


def test_a_log_grown_many_times_resumes_each_time(tmp_path: Path) -> None:
    # A log tailed by a scheduled ingest grows by a few lines between runs: each run resumes, and the
    # result equals one ingest of the whole (the third run was once refused as "rewritten").
    log = tmp_path / "mail.log"
    full = PART1 + PART2
    lines = full.splitlines(keepends=True)
    db = tmp_path / "x.duckdb"
    statuses = []
    for upto in (5, 9, 12, 16, len(lines)):
        log.write_text("".join(lines[:upto]))
        statuses.append(_ingest(db, log, year=2026)[0].status)
    assert statuses == ["ingested"] + ["resumed"] * 4
    clean = tmp_path / "clean.duckdb"
    (tmp_path / "whole").mkdir()
    (tmp_path / "whole" / "mail.log").write_text(full)
    _ingest(clean, tmp_path / "whole" / "mail.log", year=2026)
    assert _digest(db) == _digest(clean)


def test_rewritten_file_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(PART1)
    db = tmp_path / "x.duckdb"
    _ingest(db, log, year=2026)
    log.write_text(PART1.replace("bob@gmail.com", "rob@gmail.com") + PART2)
    s = _ingest(db, log, year=2026)[0]
    assert s.status in ("failed", "ingested")
    if s.status == "failed":
        assert "differs" in (s.error or "")


@pytest.mark.parametrize(
    ("suffix", "opener"),
    [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open), (".zst", None)],
)
def test_compressed_inputs_are_the_same_content(tmp_path: Path, suffix: str, opener: object) -> None:
    plain = tmp_path / "mail.log"
    plain.write_text(PART1 + PART2)
    comp = tmp_path / f"mail.log.1{suffix}"
    if opener is None:
        zstd = pytest.importorskip("zstandard")
        comp.write_bytes(zstd.ZstdCompressor().compress(plain.read_bytes()))
    else:
        with opener(comp, "wb") as f:  # type: ignore[operator]
            f.write(plain.read_bytes())
    db = tmp_path / "x.duckdb"
    s = _ingest(db, comp, year=2026)[0]
    assert s.status == "ingested" and s.lines_read == 21
    # Rotation decompressed it back to plain text (or the reverse): recognised by content.
    assert _ingest(db, plain, year=2026)[0].status == "unchanged"


def test_stdin_and_cli_contract(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run(
        [*CLI, "ingest", "-", "--db", str(db), "--year", "2026"],
        input=(PART1 + PART2).encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert b"lines read 21" in p.stdout
    p = subprocess.run(
        [*CLI, "totals", "--db", str(db), "--json"], capture_output=True, env=env, timeout=120, text=True
    )
    import json

    t = json.loads(p.stdout)
    for key in CONTRACT_KEYS:
        assert isinstance(t[key], int), key
    p = subprocess.run(
        [*CLI, "totals", "--db", str(db), "--json", "--since", "2026-11-23"],
        capture_output=True,
        env=env,
        timeout=120,
        text=True,
    )
    assert json.loads(p.stdout)["delivered"] == 2
    p = subprocess.run(
        [*CLI, "quarantine", "--db", str(db)], capture_output=True, env=env, timeout=120, text=True
    )
    assert "no syslog header" in p.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ingest", "/nonexistent/file.log"], "no such file"),
        (["ingest", "{bad_gz}"], "cannot decompress"),
        (["ingest", "{ok}", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["totals", "--since", "yesterday-ish"], "not an ISO 8601"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    bad_gz = tmp_path / "bad.log.gz"
    bad_gz.write_bytes(gzip.compress(PART1.encode())[:60])
    ok = tmp_path / "ok.log"
    ok.write_text(PART1)
    db = tmp_path / "x.duckdb"
    _ingest(db, ok, year=2026)
    before = _digest(db)
    argv = [a.format(bad_gz=bad_gz, ok=ok) for a in args]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run([*CLI, *argv, "--db", str(db)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert _digest(db) == before


def test_locked_database_waits_then_fails_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    log = tmp_path / "a.log"
    log.write_text(PART1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"ok"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DELIVERABILITY_LOCK_WAIT": "1.5"}
        p = subprocess.run(
            [*CLI, "ingest", str(log), "--db", str(db)], capture_output=True, text=True, env=env, timeout=120
        )
    finally:
        holder.kill()
        holder.wait()
    assert p.returncode == 3
    assert "locked by another process" in p.stderr and "Traceback" not in p.stderr


TRUTH_KEYS = (*COUNT_KEYS, "lines_read", "lines_other")


@pytest.mark.parametrize(
    "opts",
    [
        {"style": "traditional", "reuse_ids": 0.05},
        {"style": "rfc3339", "long_ids": True},
        {
            "style": "traditional",
            "truncated": 0.02,
            "instances": (("postfix", 0.5), ("postfix-out", 0.3), ("postfix/submission", 0.2)),
        },
    ],
)
def test_totals_equal_generator_truth(tmp_path: Path, opts: dict) -> None:  # type: ignore[type-arg]
    log = tmp_path / "gen.log"
    truth = generate(log, lines=20_000, seed=11, **opts).to_dict()
    db = tmp_path / "x.duckdb"
    s = _ingest(db, log, year=2026)[0]
    t = totals(duckdb.connect(str(db), read_only=True))
    for k in TRUTH_KEYS:
        assert t[k] == truth[k], k
    assert t["messages"] == truth["messages"]
    assert t["delivery_attempts"] == truth["deliveries"]
    assert s.lines_parsed + s.lines_quarantined + s.lines_other == s.lines_read
    assert _q(db, "SELECT COUNT(*) = COUNT(DISTINCT message_key) FROM messages") == [(True,)]


def test_kill_9_mid_ingest_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    generate(log, lines=150_000, seed=5)
    db, clean = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    small = tmp_path / "first.log"
    small.write_text(PART1)
    _ingest(db, small, year=2026)  # something committed before the crash must survive it
    proc = subprocess.Popen(
        [*CLI, "ingest", str(log), "--db", str(db), "--year", "2026"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2.5)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = _ingest(db, log, year=2026)[0]
    assert s.status in (("ingested", "resumed") if killed else ("unchanged",))
    _ingest(clean, small, year=2026)
    _ingest(clean, log, year=2026)
    assert _digest(db) == _digest(clean)


def test_commit_steps_equal_one_transaction(tmp_path: Path) -> None:
    """A file committed in many small steps (the ingest going on from memory after each) stores exactly
    what one transaction stores, and the steps leave nothing in pending_events but the open messages."""
    log = tmp_path / "steps.log"
    generate(log, lines=60_000, seed=11)
    one, steps = tmp_path / "one.duckdb", tmp_path / "steps.duckdb"
    _ingest(one, log, year=2026)
    summary = _ingest(steps, log, year=2026, chunk_bytes=128 * 1024, commit_bytes=512 * 1024)[0]
    assert _digest(steps) == _digest(one)
    # The per-file summary counts the rows the file stored, open messages included.
    for table, counted in (
        ("messages", summary.messages),
        ("deliveries", summary.deliveries),
        ("rejections", summary.rejections),
    ):
        assert _q(steps, f"SELECT COUNT(*) FROM {table}") == [(counted,)], table


@pytest.mark.parametrize("per_unit", [1, 2, 3])
def test_chunks_correlated_together_store_what_one_by_one_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_unit: int
) -> None:
    """Parsed chunks are correlated CORRELATE_CHUNKS at a time: any grouping stores the same rows and counts
    the same lines (quarantined and other lines included) as one chunk per unit."""
    from analysis.ingest import loader

    log = tmp_path / "units.log"
    generate(log, lines=20_000, seed=3, truncated=0.02)
    with log.open("a") as f:
        f.write("\x00\x01 binary junk\nnot a syslog line\n")
    one, units = tmp_path / "one.duckdb", tmp_path / "units.duckdb"
    monkeypatch.setattr(loader, "CORRELATE_CHUNKS", 1)
    want = _ingest(one, log, year=2026, chunk_bytes=64 * 1024, commit_bytes=512 * 1024)[0]
    monkeypatch.setattr(loader, "CORRELATE_CHUNKS", per_unit)
    got = _ingest(units, log, year=2026, chunk_bytes=64 * 1024, commit_bytes=512 * 1024)[0]
    assert got.as_dict() == want.as_dict() and got.kinds == want.kinds
    assert got.lines_quarantined > 0 and got.lines_other > 0
    assert _digest(units) == _digest(one)
    files = "SELECT bytes_read, lines_read, lines_parsed, lines_quarantined, lines_other, tail_hash FROM ingest_files"
    assert _q(units, files) == _q(one, files)


def test_a_crash_after_the_last_commit_step_is_finished_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit step can fall on the end of the file: a crash before the final commit leaves it 'partial'
    with every byte read. The rerun reads nothing new but must still write the open messages and mark it
    done (it once reported 'unchanged' and left them in pending_events for good)."""
    from analysis.ingest import loader

    log = tmp_path / "f.log"
    generate(log, lines=20_000, seed=9)
    clean = tmp_path / "clean.duckdb"
    _ingest(clean, log, year=2026)
    db = tmp_path / "crashed.duckdb"
    checkpoint = loader.Ingestor._checkpoint

    def crash_at_the_end(self: loader.Ingestor, *args: object, final: bool, **kwargs: object) -> None:
        if final:
            raise RuntimeError("crash before the final commit")
        checkpoint(self, *args, final=final, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(loader.Ingestor, "_checkpoint", crash_at_the_end)
        with pytest.raises(RuntimeError, match="final commit"):
            _ingest(db, log, year=2026, chunk_bytes=64 * 1024, commit_bytes=1)  # a step after every chunk
    assert _q(db, "SELECT status, bytes_read FROM ingest_files") == [("partial", log.stat().st_size)]
    s = _ingest(db, log, year=2026)[0]
    assert (s.status, s.lines_read) == ("resumed", 0)
    assert _q(db, "SELECT status FROM ingest_files") == [("done",)]
    assert _q(db, "SELECT COUNT(*) FROM pending_events") == _q(clean, "SELECT COUNT(*) FROM pending_events")
    assert _digest(db) == _digest(clean)
    assert _ingest(db, log, year=2026)[0].status == "unchanged"


def test_kill_9_between_commit_steps_then_rerun_equals_clean_run(tmp_path: Path) -> None:
    """Crash after some small commit steps (seen: the file's row says 'partial'): the rerun resumes from
    pending_events and ends where a clean run ends."""
    log = tmp_path / "big.log"
    generate(log, lines=150_000, seed=6)
    clean = tmp_path / "clean.duckdb"
    _ingest(clean, log, year=2026)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DELIVERABILITY_COMMIT_BYTES": str(1024 * 1024)}
    lo, hi = 0.3, 8.0  # seconds: a kill before `lo` came before the first step, after `hi` too late
    for attempt in range(8):
        delay = (lo + hi) / 2
        db = tmp_path / f"killed{attempt}.duckdb"
        proc = subprocess.Popen(
            [*CLI, "ingest", str(log), "--db", str(db), "--year", "2026"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        status = _q(db, "SELECT status FROM ingest_files") if db.exists() else []
        if status == [("partial",)]:
            break
        if status == [("done",)]:
            hi = delay
        else:
            lo = delay
    else:
        pytest.skip("no kill landed between two commit steps on this machine")
    s = _ingest(db, log, year=2026)[0]
    assert s.status == "resumed"
    assert _digest(db) == _digest(clean)


_line = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.sampled_from(PART1.splitlines()).flatmap(lambda s: st.integers(0, len(s)).map(lambda i: s[:i])),
    st.sampled_from(PART1.splitlines()),
    st.just("x" * 100_000),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_line, max_size=30), st.binary(max_size=200))
def test_fuzz_nothing_lost_nothing_raises(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], raw: bytes
) -> None:
    d = tmp_path_factory.mktemp("fuzz")
    log = d / "f.log"
    payload = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n" + raw + b"\n"
    log.write_bytes(payload)
    db = d / "x.duckdb"
    s = _ingest(db, log, year=2026)[0]
    assert s.status == "ingested"
    assert s.lines_read == payload.count(b"\n")
    assert s.lines_parsed + s.lines_quarantined + s.lines_other == s.lines_read
    got = _q(db, "SELECT lines_read, lines_parsed + lines_quarantined + lines_other FROM ingest_files")
    assert got == [(s.lines_read, s.lines_read)]
    assert _q(db, "SELECT COUNT(*) FROM quarantine")[0][0] == s.lines_quarantined


def test_year_rollover_across_parallel_chunks_and_mtime_rule(tmp_path: Path) -> None:
    lines = [f"Dec 31 23:{m:02d}:00 mx1 postfix/qmgr[1]: A{m:05X}: removed" for m in range(60)]
    lines += [f"Jan  1 00:{m:02d}:00 mx1 postfix/qmgr[1]: B{m:05X}: removed" for m in range(60)]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    # mtime in January 2027: the last line is in 2027, so the first is in 2026.
    jan = time.mktime((2027, 1, 2, 0, 0, 0, 0, 0, 0))
    os.utime(log, (jan, jan))
    db = tmp_path / "x.duckdb"
    con = connect(db)
    try:
        Ingestor(con, IngestOptions(chunk_bytes=512)).ingest([str(log)])
    finally:
        con.close()
    years = _q(db, "SELECT year(first_seen), COUNT(*) FROM messages GROUP BY 1 ORDER BY 1")
    assert years == [(2026, 60), (2027, 60)]
    assert _q(db, "SELECT year_rule FROM ingest_files") == [("year=2027;last_month=1;tz=UTC",)]


def test_export_hive_partitioned_parquet_round_trips(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text(PART1)
    b.write_text(PART2)
    db = tmp_path / "x.duckdb"
    _ingest(db, a, b, year=2026)
    lake = tmp_path / "lake"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run(
        [*CLI, "export", "--db", str(db), "--out", str(lake)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    days = sorted(d.name for d in (lake / "deliveries").iterdir())
    assert days == ["day=2026-11-22", "day=2026-11-23"]
    assert not list(lake.glob(".*"))  # no temporary directories left behind
    con = duckdb.connect()
    for table in ("messages", "deliveries", "rejections", "quarantine", "ingest_files"):
        n = con.execute(
            f"SELECT COUNT(*) FROM read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)"
        ).fetchall()[0][0]
        assert n == _q(db, f"SELECT COUNT(*) FROM {table}")[0][0], table
        types = {
            r[1]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet('{lake}/{table}/*/*.parquet')"
            ).fetchall()
        }
        assert not {t for t in types if t.startswith(("HUGEINT", "UNION", "MAP"))}, (table, types)
    # A second export replaces the lake atomically (same rows, no duplicates).
    subprocess.run(
        [*CLI, "export", "--db", str(db), "--out", str(lake)],
        capture_output=True,
        env=env,
        timeout=120,
        check=True,
    )
    n = con.execute(f"SELECT COUNT(*) FROM read_parquet('{lake}/deliveries/*/*.parquet')").fetchall()[0][0]
    assert n == _q(db, "SELECT COUNT(*) FROM deliveries")[0][0]


def test_format_override_and_inventory_relink(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    db = tmp_path / "x.duckdb"
    eml = tmp_path / "report.eml"
    eml.write_text("From: a@b.example\nSubject: hi\n\nnot a log\n")
    p = subprocess.run(
        [*CLI, "ingest", str(eml), "--db", str(db), "--format", "postfix", "--year", "2026"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "[postfix]" in p.stdout and "quarantined 4" in p.stdout
    p = subprocess.run(
        [*CLI, "ingest", str(eml), "--db", str(db), "--format", "nonsense"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 2
    # Messages ingested before the inventory get their accounts when it is loaded.
    log = tmp_path / "a.log"
    log.write_text(PART1)
    _ingest(db, log, year=2026)
    assert _q(db, "SELECT COUNT(*) FROM messages WHERE account IS NOT NULL") == [(0,)]
    inv = ROOT / "data" / "inventory.toml"
    if not inv.exists():
        pytest.skip("data/inventory.toml not present")
    p = subprocess.run(
        [*CLI, "inventory", "load", "--inventory", str(inv), "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    got = dict(_q(db, "SELECT sasl_username, account FROM messages WHERE sasl_username IS NOT NULL"))
    assert got == {"acme-mailer": "acme", "globex-app": "globex"}


def test_upstream_link_survives_a_message_carried_across_files(tmp_path: Path) -> None:
    # X hands the message to the second instance ("queued as 3AAAAAAAAAA1"), which defers it; its retry and
    # delivery are in the next file, two hours later: the carried message keeps its upstream link.
    a = tmp_path / "mail.log.1"
    a.write_text(
        "Nov 22 10:00:00 mx1 postfix/smtpd[1]: 1AAAA1: client=a.example[192.0.2.1]\n"
        "Nov 22 10:00:01 mx1 postfix/qmgr[2]: 1AAAA1: from=<s@acme.example>, size=10, nrcpt=1 (queue active)\n"
        "Nov 22 10:00:02 mx1 postfix-out/smtpd[3]: 3AAAAAAAAAA1: client=localhost[127.0.0.1]\n"
        "Nov 22 10:00:02 mx1 postfix/smtp[4]: 1AAAA1: to=<r@b.example>, relay=127.0.0.1[127.0.0.1]:10025, delay=1, "
        "delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3AAAAAAAAAA1)\n"
        "Nov 22 10:00:02 mx1 postfix/qmgr[2]: 1AAAA1: removed\n"
        "Nov 22 10:00:03 mx1 postfix-out/qmgr[5]: 3AAAAAAAAAA1: from=<s@acme.example>, size=10, nrcpt=1 (queue active)\n"
        "Nov 22 10:00:04 mx1 postfix-out/smtp[6]: 3AAAAAAAAAA1: to=<r@b.example>, relay=mx.b.example[192.0.2.9]:25, "
        "delay=2, delays=0/0/1/1, dsn=4.4.1, status=deferred (connect to mx.b.example[192.0.2.9]:25: Connection refused)\n"
    )
    b = tmp_path / "mail.log"
    b.write_text(
        "Nov 22 12:00:04 mx1 postfix-out/smtp[6]: 3AAAAAAAAAA1: to=<r@b.example>, relay=mx.b.example[192.0.2.9]:25, "
        "delay=7202, delays=7200/0/1/1, dsn=2.0.0, status=sent (250 ok)\n"
        "Nov 22 12:00:04 mx1 postfix-out/qmgr[5]: 3AAAAAAAAAA1: removed\n"
    )
    db = tmp_path / "x.duckdb"
    _ingest(db, a, year=2026)
    _ingest(db, b, year=2026)
    rows = _q(db, "SELECT qid, upstream_key IS NOT NULL FROM messages ORDER BY qid")
    assert rows == [("1AAAA1", False), ("3AAAAAAAAAA1", True)]
    assert _q(db, "SELECT final_status FROM recipient_outcomes WHERE instance = 'postfix-out'") == [("sent",)]


@pytest.mark.parametrize("split", ["one file", "two files"])
def test_upstream_link_from_a_message_written_hours_after_its_hop(tmp_path: Path, split: str) -> None:
    # 1BBBB1 hands one recipient to the second instance at 10:00 ("queued as 3BBBBBBBBBB1", delivered and
    # removed at once) and defers the other until 12:00: its "queued as" delivery is written two hours
    # after the message it created, which by then is long stored.
    early = (
        "Nov 22 10:00:00 mx1 postfix/smtpd[1]: 1BBBB1: client=a.example[192.0.2.1]\n"
        "Nov 22 10:00:01 mx1 postfix/qmgr[2]: 1BBBB1: from=<s@acme.example>, size=10, nrcpt=2 (queue active)\n"
        "Nov 22 10:00:02 mx1 postfix-out/smtpd[3]: 3BBBBBBBBBB1: client=localhost[127.0.0.1]\n"
        "Nov 22 10:00:02 mx1 postfix/smtp[4]: 1BBBB1: to=<r@b.example>, relay=127.0.0.1[127.0.0.1]:10025, delay=1, "
        "delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3BBBBBBBBBB1)\n"
        "Nov 22 10:00:03 mx1 postfix/smtp[4]: 1BBBB1: to=<q@c.example>, relay=mx.c.example[192.0.2.8]:25, delay=2, "
        "delays=0/0/1/1, dsn=4.4.1, status=deferred (connect to mx.c.example[192.0.2.8]:25: Connection refused)\n"
        "Nov 22 10:00:03 mx1 postfix-out/qmgr[5]: 3BBBBBBBBBB1: from=<s@acme.example>, size=10, nrcpt=1 (queue active)\n"
        "Nov 22 10:00:04 mx1 postfix-out/smtp[6]: 3BBBBBBBBBB1: to=<r@b.example>, relay=mx.b.example[192.0.2.9]:25, "
        "delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 ok)\n"
        "Nov 22 10:00:04 mx1 postfix-out/qmgr[5]: 3BBBBBBBBBB1: removed\n"
    )
    late = "".join(
        f"Nov 22 11:{m:02d}:00 mx1 postfix/anvil[9]: statistics: max connection rate 1/60s\n" for m in range(60)
    ) + (
        "Nov 22 12:00:03 mx1 postfix/smtp[4]: 1BBBB1: to=<q@c.example>, relay=mx.c.example[192.0.2.8]:25, "
        "delay=7202, delays=7200/0/1/1, dsn=2.0.0, status=sent (250 ok)\n"
        "Nov 22 12:00:03 mx1 postfix/qmgr[2]: 1BBBB1: removed\n"
    )
    db = tmp_path / "x.duckdb"
    if split == "one file":
        log = tmp_path / "mail.log"
        log.write_text(early + late)
        # Small chunks and steps: the second instance's message is stored steps before the first's.
        _ingest(db, log, year=2026, chunk_bytes=1024, commit_bytes=2048)
    else:
        (tmp_path / "mail.log.1").write_text(early)
        (tmp_path / "mail.log").write_text(late)
        _ingest(db, tmp_path / "mail.log.1", year=2026)
        _ingest(db, tmp_path / "mail.log", year=2026)
    rows = _q(db, "SELECT qid, upstream_key FROM messages ORDER BY qid")
    assert [q for q, _ in rows] == ["1BBBB1", "3BBBBBBBBBB1"]
    assert rows[0][1] is None and rows[1][1] is not None and rows[1][1].startswith("mx1/postfix/1BBBB1/")


@pytest.mark.parametrize("where", ["advance", "build"])
def test_a_failure_on_the_correlating_thread_rolls_back_and_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Correlation (advance, then build) runs on its own thread: a failure in either reaches the caller,
    rolls the file back and leaves no correlating thread behind."""
    import threading

    from analysis.ingest import correlate

    log = tmp_path / "f.log"
    generate(log, lines=20_000, seed=2)
    db = tmp_path / "f.duckdb"
    calls = {"n": 0}
    owner, name = (correlate.Correlator, "advance") if where == "advance" else (correlate, "build")
    original = getattr(owner, name)

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError(f"boom in {where}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    with pytest.raises(RuntimeError, match=f"boom in {where}"):
        _ingest(db, log, year=2026, chunk_bytes=64 * 1024, commit_bytes=10**9)
    assert not any(t.name == "correlate" for t in threading.enumerate())
    assert _q(db, "SELECT COUNT(*) FROM messages") == [(0,)]
    assert _q(db, "SELECT COUNT(*) FROM ingest_files") == [(0,)]
