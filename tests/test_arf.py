"""Complaints: ARF/JMRP parsing on the public Sisimai samples and on reports built here, mbox/Maildir
splitting, store writes, and linking complaints to the sends they are about."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analysis.errors import InputError
from analysis.ingest import arf
from analysis.ingest.detect import detect_format
from analysis.ingest.evidence import LoadResult, link_complaints, load_evidence_file
from analysis.store import connect

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
ARF_DIR = CORPORA / "arf"
UTC = dt.UTC
needs_corpus = pytest.mark.skipif(not ARF_DIR.is_dir(), reason=f"public ARF samples not found at {ARF_DIR}")


def T(*a: int) -> dt.datetime:
    return dt.datetime(*a, tzinfo=UTC)


# file -> expected fields (a subset each; None means the report does not carry it)
SAMPLES: dict[str, dict[str, Any]] = {
    "arf-01.eml": dict(
        feedback_type="abuse",
        variant="arf",
        user_agent="SMP-FBL",
        version="1.0",
        source_ip="192.0.2.89",
        reported_domain="example.ed.jp",
        original_rcpt_to="redacted@example.net",  # no Original-Rcpt-To: the original's To: (redacted)
        arrival_date=T(2009, 4, 29, 0, 0, 0),
        original_mail_from="support@example.ed.jp",
    ),
    "arf-02.eml": dict(
        feedback_type="abuse",
        user_agent="Yahoo!-Mail-Feedback/1.0",
        provider="yahoo",
        original_mail_from="shironeko@example.com",
        original_rcpt_to="this-local-part-does-not-exist-on-yahoo@yahoo.com",
        arrival_date=T(2013, 4, 30, 7, 45, 50),  # "Thu, 29 Apr 2013 23:45:50 PST"
        message_id="000000000000000000000000.smtp@example.com",
    ),
    "arf-11.eml": dict(feedback_type="abuse", message_id="ffffffffffffffffffffffffff0000000000@example.net"),
    "arf-12.eml": dict(feedback_type="opt-out", user_agent="ARF-Agent/1.0"),
    "arf-14.eml": dict(
        feedback_type="abuse",
        provider="yahoo",
        original_rcpt_to="kijitora@y.example.com",
        reported_domain="amazonses.com",
        arrival_date=T(2017, 4, 29, 23, 34, 45),
        message_id="2222222222222222-00000000-eeee-eeee-ffff-222222222222-111111@email.amazonses.com",
    ),
    "arf-15.eml": dict(
        feedback_type="abuse",
        provider="validity",
        source_ip="192.0.2.222",
        original_mail_from="kijitora@example.net",
        arrival_date=T(2015, 4, 29, 23, 34, 45),
    ),
    "arf-16.eml": dict(
        source_ip="192.0.2.1",
        original_rcpt_to="kijitora@example.com",
        rcpt_count=7,
        reported_domain="example.com",
        original_mail_from="neko@example.jp",
    ),
    "arf-17.eml": dict(
        user_agent="abusix-py/0.1",
        source_ip="192.0.2.3",
        original_rcpt_to="kijitora@example.com",
        message_id="EEEEEEEE-0000-0000-0000-EEEEEEEE2222@example.net",
    ),
    # RFC 6591 authentication failure reports
    "arf-18.eml": dict(
        feedback_type="auth-failure",
        auth_failure="dmarc",
        source_ip="192.0.2.222",
        auth_results="dmarc=fail (p=none; dis=none) header.from=example.org",
        message_id="000000002.2222222.1500000000022@example.net",
    ),
    "arf-19.eml": dict(
        feedback_type="auth-failure",
        user_agent="NtesDmarcReporter/1.0",
        source_ip="203.0.113.2",
        arrival_date=T(2015, 4, 29, 14, 34, 45),
    ),  # +0900 converted to UTC
    "arf-20.eml": dict(
        feedback_type="auth-failure",
        auth_failure="dmarc",
        user_agent="OpenDMARC-Filter/1.3.0",
        message_id="000000000eee@example.net",
    ),
    # Microsoft JMRP: no Feedback-Type line, no feedback-report part
    "arf-22.eml": dict(
        feedback_type="abuse",
        variant="jmrp",
        provider="microsoft",
        user_agent=None,
        original_rcpt_to="kijitora@example.com",
        source_ip="192.0.2.222",  # from the JMRP subject "complaint about message from 192.0.2.222"
        original_mail_from="sironeko@example.com",
        arrival_date=T(2016, 4, 29, 23, 34, 45),
        message_id="0000000000fffffffff0000000000000@example.com",
    ),
    "arf-24.eml": dict(
        variant="jmrp", original_mail_from="sironeko@example.com"
    ),  # display name looks like an address
    "arf-25.eml": dict(
        feedback_type="abuse",
        source_ip="10.0.0.1",
        original_rcpt_to="hashed@example.com",
        arrival_date=T(2020, 10, 31, 18, 2, 57),
    ),
}


def fields(c: arf.Complaint, keys: list[str]) -> dict[str, Any]:
    return {k: (len(c.rcpt_all) if k == "rcpt_count" else getattr(c, k)) for k in keys}


@needs_corpus
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_public_samples(name: str) -> None:
    expected = SAMPLES[name]
    c = arf.parse_message((ARF_DIR / name).read_bytes())
    assert fields(c, list(expected)) == expected


@needs_corpus
def test_every_public_sample_is_accounted_for() -> None:
    """Each of the 17 samples is a complaint, except the Apple unsubscribe notice (quarantined)."""
    outcome = {}
    for p in sorted(ARF_DIR.glob("*.eml")):
        assert detect_format(p.read_bytes()[:65536], p.name) == "arf"
        try:
            outcome[p.name] = arf.parse_message(p.read_bytes()).variant
        except arf.NotAComplaint:
            outcome[p.name] = "quarantine"
    assert len(outcome) == 17
    assert outcome.pop("arf-26.eml") == "quarantine"
    assert sorted(k for k, v in outcome.items() if v == "jmrp") == ["arf-22.eml", "arf-23.eml", "arf-24.eml"]
    assert set(outcome.values()) == {"arf", "jmrp"}


def build_arf(
    *,
    rcpt: str = "alice@gmail.com",
    message_id: str | None = "<msg-1@news.acme.example>",
    source_ip: str = "192.0.2.10",
    arrival: str = "Sun, 22 Nov 2026 04:50:57 +0000",
    feedback_type: str | None = "abuse",
    headers_only: bool = False,
    extra_fields: str = "",
) -> bytes:
    """A feedback report as RFC 5965 §3 lays it out, for the demo relay."""
    msg = EmailMessage()
    msg["From"] = "feedbackloop@yahoo.com"
    msg["To"] = "fbl@news.acme.example"
    msg["Subject"] = "FW: Newsletter"
    msg["Date"] = "Sun, 22 Nov 2026 05:10:00 +0000"
    msg.set_type("multipart/report")
    msg.set_param("report-type", "feedback-report")
    text = EmailMessage()
    text.set_content("This is an email abuse report.")
    report = (
        (f"Feedback-Type: {feedback_type}\r\n" if feedback_type else "")
        + "User-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n"
        + "Original-Mail-From: <bounce@news.acme.example>\r\n"
        + f"Original-Rcpt-To: <{rcpt}>\r\nArrival-Date: {arrival}\r\n"
        + f"Source-IP: {source_ip}\r\nReporting-MTA: dns; mta1.yahoo.com\r\nIncidents: 2\r\n"
        + "Reported-Domain: news.acme.example\r\n"
        + extra_fields
    )
    original = "From: News <news@news.acme.example>\r\nTo: <" + rcpt + ">\r\nSubject: Newsletter\r\n"
    if message_id:
        original += f"Message-ID: {message_id}\r\n"
    boundary = "=_arf_boundary"
    msg.set_boundary(boundary)
    third_type = "text/rfc822-headers" if headers_only else "message/rfc822"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n{report}\r\n"
        f"--{boundary}\r\nContent-Type: {third_type}\r\n\r\n{original}\r\nHello\r\n"
        f"--{boundary}--\r\n"
    )
    head = msg.as_bytes().split(b"\n\n", 1)[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head + b"\r\n\r\n" + body.encode()


BUILT: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {},
        dict(
            feedback_type="abuse",
            original_rcpt_to="alice@gmail.com",
            rcpt_domain="gmail.com",
            message_id="msg-1@news.acme.example",
            source_ip="192.0.2.10",
            incidents=2,
            reporting_mta="mta1.yahoo.com",
            arrival_date=T(2026, 11, 22, 4, 50, 57),
            received_at=T(2026, 11, 22, 5, 10),
            subject="Newsletter",
            provider="yahoo",
        ),
    ),
    (dict(headers_only=True), dict(message_id="msg-1@news.acme.example")),
    (dict(message_id="unbracketed@news.acme.example"), dict(message_id="unbracketed@news.acme.example")),
    (dict(feedback_type="Not-Spam"), dict(feedback_type="not-spam")),
    (dict(feedback_type="something-new"), dict(feedback_type="other")),
    (dict(source_ip="not-an-ip"), dict(source_ip=None)),
    (dict(arrival="garbage"), dict(arrival_date=None)),
    (dict(extra_fields="Auth-Failure: spf\r\n"), dict(auth_failure="spf")),
]


@pytest.mark.parametrize(("kwargs", "expected"), BUILT)
def test_built_reports(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    c = arf.parse_message(build_arf(**kwargs))
    assert fields(c, list(expected)) == expected


def test_feedback_report_without_type_is_not_a_complaint() -> None:
    with pytest.raises(arf.NotAComplaint, match="without a Feedback-Type"):
        arf.parse_message(build_arf(feedback_type=None))


def test_mbox_split_and_unquote() -> None:
    one = build_arf(rcpt="a@gmail.com").replace(b"\r\n", b"\n")
    two = build_arf(rcpt="b@yahoo.com").replace(b"\r\n", b"\n")
    mbox = (
        b"From MAILER-DAEMON Sun Nov 22 05:10:00 2026\n"
        + one
        + b"\n"
        + b"From MAILER-DAEMON Sun Nov 22 05:11:00 2026\n"
        + two.replace(b"Hello\n", b">From the desk\n")
        + b"\n"
    )
    parts = list(arf.split_mbox(mbox))
    assert [n for n, _ in parts] == [1, 2]
    assert [p[:6] for _, p in parts] == [b"From: "] * 2  # the "From " separator lines are dropped
    crlf = list(arf.split_mbox(mbox.replace(b"\n", b"\r\n")))
    assert [p.replace(b"\r\n", b"\n") for _, p in crlf] == [p for _, p in parts]
    assert [arf.parse_message(p).original_rcpt_to for _, p in parts] == ["a@gmail.com", "b@yahoo.com"]
    assert b"\nFrom the desk\n" in parts[1][1]


def test_maildir_listing(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "2.host").write_bytes(b"x")
    (tmp_path / "cur" / "1.host:2,S").write_bytes(b"x")
    (tmp_path / "tmp" / "3.host").write_bytes(b"x")  # still being written: not a message yet
    assert [p.name for p in arf.maildir_files(tmp_path)] == ["1.host:2,S", "2.host"]


# --- store + linking --------------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = connect(tmp_path / "x.duckdb")
    yield c
    c.close()


def ingest(con: duckdb.DuckDBPyConnection, file_id: int, data: bytes, name: str = "r.eml") -> LoadResult:
    return load_evidence_file(con, file_id, data, "arf", name=name)


def add_send(
    con: duckdb.DuckDBPyConnection,
    key: str,
    qid: str,
    message_id: str | None,
    rcpt: str,
    ts: dt.datetime,
    status: str = "sent",
    line_no: int = 1,
) -> None:
    con.execute(
        "INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, message_id, sender, "
        "sender_domain) VALUES (?, 'relay1', 'postfix', ?, ?, ?, ?, 'news@news.acme.example', 'news.acme.example')",
        [key, qid, ts - dt.timedelta(seconds=2), ts, message_id],
    )
    con.execute(
        "INSERT INTO deliveries (file_id, line_no, message_key, ts, host, instance, daemon, qid, recipient, "
        "recipient_domain, status) VALUES (900, ?, ?, ?, 'relay1', 'postfix', 'smtp', ?, ?, ?, ?)",
        [line_no, key, ts, qid, rcpt, rcpt.split("@")[1], status],
    )


def test_store_and_link(con: duckdb.DuckDBPyConnection) -> None:
    t0 = T(2026, 11, 22, 4, 50, 55)
    # the send the first report names by Message-ID (Postfix logs it with angle brackets)
    add_send(
        con, "relay1/postfix/AAA/1", "AAA", "<msg-1@news.acme.example>", "alice@gmail.com", t0, line_no=1
    )
    # a send with another Message-ID, to the recipient of report 2, from our relay IP
    add_send(con, "relay1/postfix/BBB/1", "BBB", "<other@news.acme.example>", "bob@yahoo.com", t0, line_no=2)
    # report 3: same idea but the complaint's Source-IP is not ours
    add_send(con, "relay1/postfix/CCC/1", "CCC", None, "carol@outlook.com", t0, line_no=3)
    # a send to dave far outside the window: must not match
    add_send(con, "relay1/postfix/DDD/1", "DDD", None, "dave@aol.com", t0 - dt.timedelta(days=30), line_no=4)
    # the inventory helper's table (migration 020); created here when this checkout lacks it
    con.execute(
        "CREATE TABLE IF NOT EXISTS inventory_relay_ips (ip VARCHAR PRIMARY KEY, ip_version INTEGER NOT NULL)"
    )
    con.execute("INSERT INTO inventory_relay_ips (ip, ip_version) VALUES ('192.0.2.10', 4)")

    reports = [
        build_arf(rcpt="alice@gmail.com"),
        build_arf(rcpt="bob@yahoo.com", message_id="<unknown@elsewhere.example>"),
        build_arf(rcpt="carol@outlook.com", message_id=None, source_ip="203.0.113.9"),
        build_arf(rcpt="dave@aol.com", message_id=None),
    ]
    for i, data in enumerate(reports, start=1):
        res = ingest(con, i, data)
        assert (res.records_read, res.records_parsed, res.tables["complaints"]) == (1, 1, 1)
    counts = link_complaints(con)
    assert counts == {"message_id": 1, "rcpt_time_ip": 1, "rcpt_time": 1, "unmatched": 1}
    linked = con.execute(
        "SELECT original_rcpt_to, message_key, match_method FROM complaints ORDER BY original_rcpt_to"
    ).fetchall()
    assert linked == [
        ("alice@gmail.com", "relay1/postfix/AAA/1", "message_id"),
        ("bob@yahoo.com", "relay1/postfix/BBB/1", "rcpt_time_ip"),
        ("carol@outlook.com", "relay1/postfix/CCC/1", "rcpt_time"),
        ("dave@aol.com", None, None),
    ]
    # re-linking is stable, and a send that appears later is picked up
    add_send(con, "relay1/postfix/EEE/1", "EEE", None, "dave@aol.com", T(2026, 11, 22, 4, 0, 0), line_no=5)
    assert link_complaints(con) == {"message_id": 1, "rcpt_time_ip": 2, "rcpt_time": 1, "unmatched": 0}


def test_link_prefers_the_life_that_delivered_to_the_complainer(con: duckdb.DuckDBPyConnection) -> None:
    """A content filter re-queues mail under a new queue ID with the same Message-ID."""
    t0 = T(2026, 11, 22, 4, 50, 0)
    con.execute(
        "INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, message_id) VALUES "
        "('r/postfix/PRE/1', 'r', 'postfix', 'PRE', ?, ?, '<msg-1@news.acme.example>')",
        [t0, t0],
    )
    add_send(
        con,
        "r/postfix/POST/1",
        "POST",
        "<msg-1@news.acme.example>",
        "alice@gmail.com",
        t0 + dt.timedelta(minutes=5),
    )
    ingest(con, 1, build_arf())
    link_complaints(con)
    assert con.execute("SELECT message_key FROM complaints").fetchone() == ("r/postfix/POST/1",)


def test_link_prefers_the_submission_over_the_filter_hop(con: duckdb.DuckDBPyConnection) -> None:
    """Both lives delivered to the complainer (relay -> content filter -> final hop): the complaint is held
    against the submission, which carries the SASL user and account."""
    t0 = T(2026, 11, 22, 4, 50, 0)
    add_send(con, "r/postfix/SUB/1", "SUB", "<msg-1@news.acme.example>", "alice@gmail.com", t0, line_no=1)
    add_send(
        con,
        "o/postfix-out/HOP/1",
        "HOP",
        "<msg-1@news.acme.example>",
        "alice@gmail.com",
        T(2026, 11, 22, 4, 50, 57),
        line_no=2,
    )
    con.execute(
        "UPDATE messages SET upstream_key = 'r/postfix/SUB/1' WHERE message_key = 'o/postfix-out/HOP/1'"
    )
    ingest(con, 1, build_arf())  # its Arrival-Date (04:50:57) is closer to the hop
    link_complaints(con)
    assert con.execute("SELECT message_key FROM complaints").fetchone() == ("r/postfix/SUB/1",)


def test_link_without_inventory_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP TABLE IF EXISTS inventory_relay_ips")
    add_send(con, "k/1", "Q1", None, "alice@gmail.com", T(2026, 11, 22, 4, 50, 0))
    ingest(con, 1, build_arf(message_id=None))
    assert link_complaints(con)["rcpt_time"] == 1


def test_mbox_file_quarantines_bad_messages(con: duckdb.DuckDBPyConnection) -> None:
    good = build_arf().replace(b"\r\n", b"\n")
    not_arf = b"From: someone@example.org\nSubject: hi\n\njust text\n"
    broken = b"Content-Type: multipart/report; report-type=feedback-report\nSubject: x\n\nno boundary\n"
    mbox = b"".join(b"From x Sun Nov 22 05:10:00 2026\n" + m + b"\n" for m in (good, not_arf, broken))
    res = ingest(con, 5, mbox, "fbl.mbox")
    assert (res.records_read, res.records_parsed, res.records_quarantined) == (3, 1, 2)
    reasons = con.execute("SELECT line_no, reason FROM quarantine ORDER BY line_no").fetchall()
    assert reasons[0][0] == 2 and "not a feedback report" in reasons[0][1]
    assert reasons[1][0] == 3 and "wrong MIME structure" in reasons[1][1]
    # the same mbox passed again (grown or re-read) adds no complaint twice
    again = ingest(con, 6, mbox, "fbl.mbox")
    assert again.tables["complaints"] == 0


def test_single_message_with_broken_mime_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    broken = b"Content-Type: multipart/report; report-type=feedback-report\nSubject: x\n\nno boundary\n"
    with pytest.raises(InputError, match=r"r\.eml: wrong MIME structure"):
        ingest(con, 1, broken)
    assert con.execute("SELECT COUNT(*) FROM complaints").fetchone() == (0,)


@needs_corpus
def test_public_samples_into_store(con: duckdb.DuckDBPyConnection) -> None:
    for i, p in enumerate(sorted(ARF_DIR.glob("*.eml")), start=1):
        ingest(con, i, p.read_bytes(), p.name)
    row = con.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (report_variant = 'jmrp'), COUNT(*) FILTER (feedback_type = 'auth-failure') "
        "FROM complaints"
    ).fetchone()
    assert row == (16, 3, 3)
    assert con.execute("SELECT COUNT(*) FROM quarantine").fetchone() == (1,)
    assert link_complaints(con)["unmatched"] == 16


def test_same_report_in_two_mailboxes_is_one_complaint(con: duckdb.DuckDBPyConnection) -> None:
    report = build_arf()
    ingest(con, 1, report, "copy.eml")
    other = build_arf(rcpt="zed@yahoo.com").replace(b"\r\n", b"\n")
    mbox = b"".join(
        b"From x Sun Nov 22 05:1%d:00 2026\n" % i + m + b"\n"
        for i, m in enumerate((other, report.replace(b"\r\n", b"\n")))
    )
    res = ingest(con, 2, mbox, "inbox.mbox")  # the copy is the mbox's second message
    assert (res.records_parsed, res.tables["complaints"], res.tables["complaint_duplicates"]) == (2, 1, 1)
    assert con.execute(
        "SELECT COUNT(*) FILTER (original_rcpt_to = 'alice@gmail.com'), MIN(file_id) FROM complaints"
    ).fetchone() == (1, 1)


ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LOG = ROOT / "data" / "samples" / "postfix-real.log"


@pytest.mark.skipif(not SAMPLE_LOG.is_file(), reason="captured Postfix sample log not in this checkout")
def test_complaints_link_to_a_real_postfix_log(tmp_path: Path) -> None:
    """Through the real CLI: the captured relay log, the inventory, then feedback reports about sends
    picked from what the log produced (so a re-capture of the log does not break it)."""
    from click.testing import CliRunner

    from analysis.cli import main

    db = str(tmp_path / "real.duckdb")
    runner = CliRunner()

    def run(*args: str) -> None:
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output

    run("ingest", "--db", db, str(SAMPLE_LOG))
    run("inventory", "load", "--db", db, "--inventory", str(ROOT / "data" / "inventory.toml"))
    con = duckdb.connect(db, read_only=True)
    try:
        # delivered recipients whose message has a Message-ID and is the only life with it
        sends = con.execute(
            "SELECT d.recipient, m.message_id, d.ts, d.message_key FROM deliveries d "
            "JOIN messages m USING (message_key) WHERE d.status = 'sent' AND m.message_id LIKE '<%@%>' "
            "AND (SELECT COUNT(*) FROM messages m2 WHERE m2.message_id = m.message_id) = 1 "
            "AND (SELECT COUNT(*) FROM deliveries d2 WHERE d2.recipient = d.recipient) = 1 "
            "ORDER BY d.ts, d.recipient LIMIT 2"
        ).fetchall()
    finally:
        con.close()
    assert len(sends) == 2, "the sample log should hold delivered mail"
    (r1, mid1, ts1, key1), (r2, _, ts2, key2) = sends
    when = "%a, %d %b %Y %H:%M:%S +0000"
    reports = tmp_path / "fbl"
    reports.mkdir()
    (reports / "by-id.eml").write_bytes(build_arf(rcpt=r1, message_id=mid1, arrival=ts1.strftime(when)))
    # headers stripped of their Message-ID, sent from one of the inventory's relay IPs
    (reports / "by-rcpt.eml").write_bytes(
        build_arf(rcpt=r2, message_id=None, arrival=ts2.strftime(when), source_ip="192.0.2.10")
    )
    run("ingest", "--db", db, str(reports))
    con = duckdb.connect(db, read_only=True)
    try:
        linked = dict(
            (r, (k, m))
            for r, k, m in con.execute(
                "SELECT original_rcpt_to, message_key, match_method FROM complaints"
            ).fetchall()
        )
    finally:
        con.close()
    assert linked == {r1: (key1, "message_id"), r2: (key2, "rcpt_time_ip")}


def test_demo_samples_ingest(tmp_path: Path) -> None:
    """The demo feedback-loop files load: 4 complaints (one JMRP) and 1 quarantined mail; they name sends of
    the captured log (linking itself is checked above, independent of which capture is checked in)."""
    from click.testing import CliRunner

    from analysis.cli import main

    db = str(tmp_path / "demo.duckdb")
    result = CliRunner().invoke(main, ["ingest", "--db", db, str(ROOT / "data" / "samples" / "arf")])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(db, read_only=True)
    try:
        row = con.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (report_variant = 'jmrp') FROM complaints"
        ).fetchone()
        quarantined = con.execute(
            "SELECT COUNT(*) FROM quarantine q JOIN ingest_files f USING (file_id) WHERE f.format = 'arf'"
        ).fetchone()
    finally:
        con.close()
    assert row == (4, 1)
    assert quarantined == (1,)  # the plain "please stop" mail in the mbox


SISIMAI_SCRIPT = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my $v = Sisimai->make($ARGV[0], 'delivered' => 1);
my @out = map { { recipient => $_->recipient->address, reason => $_->reason, feedbacktype => $_->feedbacktype,
                  messageid => $_->messageid, rhost => $_->rhost } } @{ $v || [] };
print JSON::PP->new->canonical->encode(\@out), "\n";
"""
# Where we differ from Sisimai 4.25 on purpose:
# - no Source-IP field: we take the IP of the original's topmost Received header (the receiver's view of
#   the sender); Sisimai leaves it empty.
# - no recipient anywhere: Sisimai invents undisclosed-recipient-in-headers@libsisimai.org.invalid; we keep NULL.
EXPLAINED = {
    "arf-02.eml": {"source_ip"},
    "arf-14.eml": {"source_ip"},
    "arf-11.eml": {"recipients", "source_ip"},
    "arf-12.eml": {"recipients", "source_ip"},
    "arf-15.eml": {"recipients"},
}


def _sisimai_available() -> bool:
    import shutil
    import subprocess

    if shutil.which("perl") is None:
        return False
    return subprocess.run(["perl", "-MSisimai", "-e", "1"], capture_output=True).returncode == 0


@pytest.mark.sisimai
@needs_corpus
@pytest.mark.skipif(not _sisimai_available(), reason="Debian libsisimai-perl (Sisimai) not installed")
def test_agrees_with_sisimai(tmp_path: Path) -> None:
    """Sisimai as an independent reader of the same 17 reports: type, Message-ID, recipients, source IP."""
    import json
    import subprocess

    script = tmp_path / "sisimai.pl"
    script.write_text(SISIMAI_SCRIPT)
    disagreements: dict[str, set[str]] = {}
    for path in sorted(ARF_DIR.glob("*.eml")):
        out = subprocess.run(["perl", str(script), str(path)], capture_output=True, text=True, check=True)
        theirs = json.loads(out.stdout.strip().splitlines()[-1])
        try:
            c = arf.parse_message(path.read_bytes())
        except arf.NotAComplaint:
            assert all(t["reason"] != "feedback" for t in theirs), path.name
            continue
        assert theirs and all(t["reason"] == "feedback" for t in theirs), path.name
        first = theirs[0]
        placeholder = "undisclosed-recipient-in-headers@libsisimai.org.invalid"
        fields = {
            "feedback_type": (c.feedback_type, first["feedbacktype"]),
            "message_id": (c.message_id, first["messageid"] or None),
            "recipients": (
                c.rcpt_all,
                [t["recipient"] for t in theirs if t["recipient"] != placeholder] or [placeholder],
            ),
            "source_ip": (c.source_ip, first["rhost"] or None),
        }
        differ = {k for k, (mine, other) in fields.items() if mine != other}
        if differ:
            disagreements[path.name] = differ
    assert disagreements == EXPLAINED


def test_compressed_mailbox(con: duckdb.DuckDBPyConnection) -> None:
    import gzip

    mbox = b"From x Sun Nov 22 05:10:00 2026\n" + build_arf().replace(b"\r\n", b"\n") + b"\n"
    res = ingest(con, 1, gzip.compress(mbox), "fbl.mbox.gz")
    assert (res.records_read, res.records_parsed, res.tables["complaints"]) == (1, 1, 1)
