"""ESP exports: each documented example payload maps to the expected canonical event, and the store
writes put ESP mail into the same messages/deliveries/complaints as Postfix mail."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analysis.errors import InputError
from analysis.ingest import esp
from analysis.ingest.detect import detect_format
from analysis.ingest.evidence import LoadResult, load_evidence_file
from analysis.store import connect
from test_dmarc import zipped

DATA = Path(__file__).parent / "data" / "esp"
FIXTURES = {
    "ses_notifications.jsonl": "ses",
    "ses_events.jsonl": "ses",
    "sendgrid_events.json": "sendgrid",
    "mailgun_events.jsonl": "mailgun",
    "postmark_webhooks.jsonl": "postmark",
}


def events_of(name: str) -> dict[int, list[esp.EspEvent]]:
    data = (DATA / name).read_bytes()
    out: dict[int, list[esp.EspEvent]] = {}
    for no, parsed in esp.parse_records(data, FIXTURES[name], name):
        assert not isinstance(parsed, esp.BadRecord), parsed
        out[no] = parsed
    return out


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_detect_format(name: str) -> None:
    data = (DATA / name).read_bytes()
    assert detect_format(data[:65536], name) == FIXTURES[name]
    # content decides, not the name
    assert detect_format(data[:65536], "export.txt") == FIXTURES[name]


T = dt.datetime
UTC = dt.UTC
# (fixture, record, event index) -> expected canonical fields
CASES: list[tuple[str, int, int, dict[str, Any]]] = [
    # SES notification inside its SNS envelope: permanent bounce with a DSN
    (
        "ses_notifications.jsonl",
        1,
        0,
        dict(
            kind="bounce",
            status="bounced",
            severity="hard",
            reason=None,
            recipient="jane@example.com",
            dsn="5.1.1",
            reply_code=550,
            bounce_type="Permanent",
            bounce_subtype="General",
            esp_message_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            smtp_message_id="custom-message-ID",
            sender="john@example.com",
            client_ip="127.0.3.0",
            caller="IAM_user_or_role_name",
            remote_mta_ip="127.0.2.0",
            event_time=T(2016, 1, 27, 14, 59, 44, 101000, tzinfo=UTC),
        ),
    ),
    (
        "ses_notifications.jsonl",
        2,
        0,
        dict(
            kind="complaint",
            status=None,
            recipient="richard@example.com",
            feedback_type="abuse",
            user_agent="AnyCompany Feedback Loop (V0.01)",
            arrival_date=T(2016, 1, 27, 14, 59, 38, 237000, tzinfo=UTC),
        ),
    ),
    (
        "ses_notifications.jsonl",
        3,
        0,
        dict(
            kind="delivery",
            status="sent",
            recipient="jane@example.com",
            reply_code=250,
            remote_mta_ip="127.0.2.0",
        ),
    ),
    (
        "ses_events.jsonl",
        1,
        0,
        dict(kind="send", status=None, event_type="Send", recipient="recipient@example.com"),
    ),
    (
        "ses_events.jsonl",
        2,
        0,
        dict(kind="delivery", status="sent", dsn="2.6.0", reply_code=250, delay=11.893),
    ),
    (
        "ses_events.jsonl",
        3,
        0,
        dict(
            kind="bounce",
            status="bounced",
            severity="hard",
            dsn="5.1.1",
            sender="sender@example.com",
            reporting_mta="mta.example.com",
            remote_mta=None,
        ),
    ),
    (
        "ses_events.jsonl",
        4,
        0,
        dict(kind="bounce", status="bounced", severity="soft", reason="mailboxfull", bounce_type="Transient"),
    ),
    (
        "ses_events.jsonl",
        5,
        0,
        dict(
            status="bounced", severity="hard", reason="suppressed", bounce_subtype="OnAccountSuppressionList"
        ),
    ),
    (
        "ses_events.jsonl",
        6,
        0,
        dict(status="bounced", severity="soft", reason="undefined", bounce_type="Undetermined"),
    ),
    (
        "ses_events.jsonl",
        7,
        0,
        dict(kind="complaint", feedback_type="abuse", recipient="recipient@example.com"),
    ),
    (
        "ses_events.jsonl",
        8,
        0,
        dict(kind="dropped", status="dropped", reason="virusdetected", diagnostic="Bad content"),
    ),
    (
        "ses_events.jsonl",
        9,
        0,
        dict(
            kind="deferral",
            status="deferred",
            severity="soft",
            reason="networkerror",
            dsn="4.4.1",
            reply_code=421,
        ),
    ),
    (
        "ses_events.jsonl",
        10,
        0,
        dict(kind="open", status=None, event_time=T(2017, 8, 9, 22, 0, 41, 123000, tzinfo=UTC)),
    ),
    # SendGrid: the message id is the sg_message_id prefix before ".filter"
    ("sendgrid_events.json", 1, 0, dict(kind="send", esp_message_id="14c5d75ce93.dfd.64b469")),
    ("sendgrid_events.json", 2, 0, dict(kind="deferral", status="deferred", reply_code=400)),
    (
        "sendgrid_events.json",
        3,
        0,
        dict(
            kind="delivery", status="sent", ip="168.1.1.1", event_time=T(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
        ),
    ),
    ("sendgrid_events.json", 4, 0, dict(kind="open", status=None, ip=None)),
    (
        "sendgrid_events.json",
        6,
        0,
        dict(
            kind="bounce",
            status="bounced",
            severity="hard",
            reason="userunknown",
            dsn="5.0.0",
            reply_code=500,
        ),
    ),
    (
        "sendgrid_events.json",
        7,
        0,
        dict(status="bounced", severity="soft", reason="blocked", bounce_type="blocked"),
    ),
    ("sendgrid_events.json", 8, 0, dict(kind="dropped", status="dropped", reason="suppressed")),
    (
        "sendgrid_events.json",
        9,
        0,
        dict(kind="complaint", feedback_type="abuse", recipient="example@test.com"),
    ),
    ("sendgrid_events.json", 11, 0, dict(kind="unsubscribe", status=None)),
    # Mailgun: webhook bodies (event-data) and events-API items alike
    (
        "mailgun_events.jsonl",
        1,
        0,
        dict(
            kind="delivery",
            status="sent",
            esp_message_id="20130503182626.18666.16540@sandbox.mailgun.org",
            ip="209.61.154.250",
            remote_mta="smtp-in.example.com",
            reply_code=250,
            sender="bob@sandbox.mailgun.org",
        ),
    ),
    (
        "mailgun_events.jsonl",
        2,
        0,
        dict(kind="dropped", status="dropped", reason="suppressed", reply_code=None),
    ),
    (
        "mailgun_events.jsonl",
        3,
        0,
        dict(kind="bounce", status="bounced", severity="hard", dsn="5.1.1", reply_code=550),
    ),
    (
        "mailgun_events.jsonl",
        4,
        0,
        dict(kind="deferral", status="deferred", severity="soft", dsn="4.2.2", reply_code=452),
    ),
    ("mailgun_events.jsonl", 5, 0, dict(kind="complaint", ip="173.193.210.33")),
    ("mailgun_events.jsonl", 6, 0, dict(kind="send", status=None)),
    (
        "mailgun_events.jsonl",
        7,
        0,
        dict(
            kind="open",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.31 (KHTML, like Gecko) Chrome/26.0.1410.43 Safari/537.31",
        ),
    ),
    # Postmark: TypeCode decides
    (
        "postmark_webhooks.jsonl",
        1,
        0,
        dict(kind="delivery", status="sent", event_time=T(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)),
    ),
    (
        "postmark_webhooks.jsonl",
        2,
        0,
        dict(status="bounced", severity="hard", reason="userunknown", bounce_subtype="1"),
    ),
    (
        "postmark_webhooks.jsonl",
        3,
        0,
        dict(kind="deferral", status="deferred", severity="soft", dsn="4.4.2", reply_code=421),
    ),
    (
        "postmark_webhooks.jsonl",
        4,
        0,
        dict(status="bounced", severity="soft", reason=None, bounce_type="SoftBounce"),
    ),
    ("postmark_webhooks.jsonl", 5, 0, dict(status="bounced", severity="soft", reason="blocked", dsn="5.7.1")),
    ("postmark_webhooks.jsonl", 6, 0, dict(kind="complaint", status=None, recipient="john@example.com")),
    ("postmark_webhooks.jsonl", 9, 0, dict(kind="unsubscribe", recipient="bounced-address@wildbit.com")),
]


@pytest.mark.parametrize(("name", "record", "index", "expected"), CASES)
def test_canonical_fields(name: str, record: int, index: int, expected: dict[str, Any]) -> None:
    ev = events_of(name)[record][index]
    got = {k: getattr(ev, k) for k in expected}
    assert got == expected


def test_every_fixture_record_parses() -> None:
    counts = {name: len(events_of(name)) for name in FIXTURES}
    assert counts == {
        "ses_notifications.jsonl": 3,
        "ses_events.jsonl": 10,
        "sendgrid_events.json": 11,
        "mailgun_events.jsonl": 7,
        "postmark_webhooks.jsonl": 9,
    }


@pytest.mark.parametrize(
    ("text", "dsn", "code"),
    [
        ("smtp; 550 5.1.1 <jane@example.com>... User unknown", "5.1.1", 550),
        ("250 ok:  Message 64111812 accepted", None, 250),
        ("421-4.7.28 rate limited", "4.7.28", 421),
        ("Bad content", None, None),
        ("version 1.2.3.4 of x", None, None),
    ],
)
def test_smtp_codes(text: str, dsn: str | None, code: int | None) -> None:
    assert esp.smtp_codes(text) == (dsn, code)


def test_bad_records_are_quarantined_not_fatal() -> None:
    lines = [
        json.dumps(
            {
                "event": "delivered",
                "timestamp": 1513299569,
                "email": "a@example.com",
                "sg_message_id": "m1.filter1",
            }
        ),
        "{not json",
        json.dumps({"email": "b@example.com"}),  # no event
        json.dumps(["nested", "array"]),
        json.dumps({"event": "delivered", "timestamp": "yesterday", "sg_message_id": "m2"}),
    ]
    out = list(esp.parse_records("\n".join(lines).encode(), "sendgrid", "x.jsonl"))
    kinds = [(no, type(p).__name__) for no, p in out]
    assert kinds == [
        (1, "list"),
        (2, "BadRecord"),
        (3, "BadRecord"),
        (4, "BadRecord"),
        (5, "BadRecord"),
        (6, "BadRecord"),
    ]
    reasons = [p.reason for _, p in out if isinstance(p, esp.BadRecord)]
    assert reasons[0].startswith("invalid JSON")
    assert "lacks event" in reasons[1]
    assert "not an object" in reasons[2]


def test_whole_file_errors() -> None:
    with pytest.raises(InputError, match="invalid UTF-8 at byte 1"):
        list(esp.split_records(b"[\xff]", "x.json"))
    with pytest.raises(InputError, match="empty file"):
        list(esp.split_records(b"  \n", "x.json"))
    with pytest.raises(InputError, match="invalid JSON array"):
        list(esp.split_records(b'[{"a": 1},', "x.json"))


# --- store writes -------------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    c = connect(tmp_path / "x.duckdb")
    yield c
    c.close()


def load(con: duckdb.DuckDBPyConnection, file_id: int, name: str, data: bytes | None = None) -> LoadResult:
    raw = (DATA / name).read_bytes() if data is None else data
    return load_evidence_file(con, file_id, raw, FIXTURES[name], name=name)


def test_store_rows_per_fixture(con: duckdb.DuckDBPyConnection) -> None:
    for file_id, name in enumerate(sorted(FIXTURES), start=1):
        res = load(con, file_id, name)
        assert res.records_read == res.records_parsed + res.records_quarantined
        assert res.records_quarantined == 0
    by_source = dict(
        con.execute("SELECT source, COUNT(*) FROM deliveries GROUP BY source ORDER BY source").fetchall()
    )
    # delivery outcomes only: sends, opens, clicks, complaints and unsubscribes are esp_events, not deliveries
    assert by_source == {"mailgun": 4, "postmark": 5, "sendgrid": 5, "ses": 9}
    statuses = con.execute(
        "SELECT source, status, severity, COUNT(*) FROM deliveries GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert ("ses", "bounced", "hard", 3) in statuses
    assert ("sendgrid", "bounced", "soft", 1) in statuses
    assert ("postmark", "deferred", "soft", 1) in statuses
    row = con.execute(
        "SELECT host, instance, daemon, qid, message_key, recipient_domain, dsn, reply_code, reply, provider, reason "
        "FROM deliveries "
        "WHERE source = 'ses' AND recipient = 'jane@example.com' AND status = 'bounced'"
    ).fetchone()
    assert row == (
        "ses",
        "ses",
        "esp",
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "ses/00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "example.com",
        "5.1.1",
        550,
        "smtp; 550 5.1.1 <jane@example.com>... User unknown",
        "other",
        "userunknown",  # SES said only "General": the classifier read the reply
    )
    # an explicit ESP verdict is kept even where the reply text alone would say otherwise
    kept = con.execute(
        "SELECT reason, severity FROM deliveries WHERE source = 'ses' AND recipient = 'suppressed@example.com'"
    ).fetchone()
    assert kept == ("suppressed", "hard")
    # every delivery has its message, and the message carries the SMTP Message-ID and submitter
    orphans = con.execute(
        "SELECT COUNT(*) FROM deliveries d LEFT JOIN messages m USING (message_key) WHERE m.message_key IS NULL"
    ).fetchone()
    assert orphans == (0,)
    msg = con.execute(
        "SELECT message_id, sender, sender_domain, client_ip, sasl_username, origin, nrcpt FROM messages "
        "WHERE message_key = 'ses/00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000'"
    ).fetchone()
    assert msg == (
        "custom-message-ID",
        "john@example.com",
        "example.com",
        "127.0.3.0",
        "IAM_user_or_role_name",
        "esp",
        2,
    )
    complaints = con.execute(
        "SELECT source, original_rcpt_to, message_key, match_method, feedback_type FROM complaints ORDER BY source"
    ).fetchall()
    assert [c[0] for c in complaints] == ["mailgun", "postmark", "sendgrid", "ses", "ses"]
    assert all(c[2] and c[2].startswith(c[0] + "/") and c[3] == "message_id" for c in complaints)
    # the final-outcome view works across sources
    outcomes = dict(
        con.execute(
            "SELECT final_status, COUNT(*) FROM recipient_outcomes WHERE source = 'sendgrid' GROUP BY final_status"
        ).fetchall()
    )
    assert outcomes == {"sent": 1, "bounced": 2, "dropped": 1}


def test_messages_merge_across_files(con: duckdb.DuckDBPyConnection) -> None:
    lines = (DATA / "ses_events.jsonl").read_bytes().splitlines(keepends=True)
    load(con, 1, "ses_events.jsonl", lines[0])  # Send in one export
    load(con, 2, "ses_events.jsonl", lines[1])  # Delivery days later in the next
    row = con.execute(
        "SELECT COUNT(*), MIN(first_seen), MAX(last_seen) FROM messages WHERE host = 'ses'"
    ).fetchone()
    assert row == (
        1,
        dt.datetime(2016, 10, 14, 5, 2, 16, 645000, tzinfo=UTC),
        dt.datetime(2016, 10, 19, 23, 21, 4, 133000, tzinfo=UTC),
    )


def test_resent_webhook_events_are_stored_once(con: duckdb.DuckDBPyConnection) -> None:
    first = load(con, 1, "sendgrid_events.json")
    # the webhook re-posts the first three events in a new body (at-least-once delivery)
    body = json.loads((DATA / "sendgrid_events.json").read_text())[:3]
    again = load(con, 2, "sendgrid_events.json", json.dumps(body).encode())
    assert first.tables["esp_events"] == 11
    assert (first.first_ts, first.last_ts) == (
        T(2017, 12, 15, 0, 59, 29, tzinfo=UTC),
        T(2017, 12, 15, 0, 59, 34, tzinfo=UTC),
    )
    assert again.records_parsed == 3
    assert again.tables["esp_events"] == 0
    assert again.tables["esp_duplicate_events"] == 3
    assert con.execute("SELECT COUNT(*) FROM deliveries").fetchone() == (5,)


def test_quarantine_and_refusal_in_store(con: duckdb.DuckDBPyConnection) -> None:
    good = json.dumps(
        {
            "RecordType": "Delivery",
            "MessageID": "m-1",
            "Recipient": "a@example.com",
            "DeliveredAt": "2024-01-02T03:04:05Z",
        }
    )
    bad = json.dumps(
        {
            "RecordType": "Bounce",
            "MessageID": "m-2",
            "Email": "b@example.com",
            "BouncedAt": "2024-01-02T03:04:05Z",
            "TypeCode": "one",
        }
    )
    res = load(con, 7, "postmark_webhooks.jsonl", f"{good}\n{bad}\n".encode())
    assert (res.records_read, res.records_parsed, res.records_quarantined) == (2, 1, 1)
    q = con.execute("SELECT file_id, line_no, reason FROM quarantine").fetchall()
    assert q == [(7, 2, "postmark: Postmark bounce without an integer TypeCode")]
    with pytest.raises(InputError):
        load(con, 8, "postmark_webhooks.jsonl", b"\xff\xfe garbage")
    assert con.execute("SELECT COUNT(*) FROM esp_events WHERE file_id = 8").fetchone() == (0,)


def _gzip_named(inner: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename=inner, mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


DETECT: list[tuple[bytes, str, str]] = [
    (
        b"Nov 22 04:50:57 relay1 postfix/smtp[123]: 136771601F1: to=<a@gmail.com>, status=sent",
        "mail.log",
        "postfix",
    ),
    (
        b"2026-11-22T04:50:57.123456+00:00 relay1 postfix/qmgr[9]: 136771601F1: removed",
        "mail.log.1",
        "postfix",
    ),
    (b"Nov 22 04:50:57 relay1 postfix/smtpd[1]: connect from x", "export.json", "postfix"),
    (b"", "empty.log", "postfix"),
    (b"<22>Nov 22 04:50:57 relay1 postfix/qmgr[9]: 136771601F1: removed", "oddly-named.xml", "postfix"),
    (b"<html><body>not a report</body></html>", "page.html", "postfix"),
    (
        b"From MAILER-DAEMON Sun Nov 22 05:10:00 2026\nReceived: from x\nContent-Type: multipart/report; "
        b"report-type=feedback-report;\n",
        "fbl",
        "arf",
    ),
    (
        b"Return-Path: <>\nReceived: from mx\nFrom: staff@hotmail.com\nSubject: complaint\n\n",
        "1700000000.M1P2.host:2,S",
        "arf",
    ),
    (
        b"Received: from mx\nFrom: noreply-dmarc-support@google.com\nSubject: Report domain: news.acme.example "
        b"Submitter: google.com Report-ID: 123\n",
        "msg.eml",
        "dmarc",
    ),
    (b"\xef\xbb\xbf<?xml version='1.0'?><feedback>", "r.txt", "dmarc"),
    (
        zipped("google.com!news.acme.example!1795305600!1795391999.xml", b"<feedback/>"),
        "attachment.bin",
        "dmarc",
    ),
    (_gzip_named("report.xml", b"<feedback/>")[:40], "x.gz", "dmarc"),
    (_gzip_named("ses-events.jsonl", b"{}")[:40], "export.gz", "ses"),
    (b'[{"unknown": 1}]', "postmark-bounces.json", "postmark"),
    (b'{"Type" : "Notification", "Message" : "{\\"notificationType\\":\\"Bounce\\"}"}', "sns.txt", "ses"),
]


@pytest.mark.parametrize(("head", "name", "fmt"), DETECT, ids=[f"{d[1]}->{d[2]}" for d in DETECT])
def test_detect_table(head: bytes, name: str, fmt: str) -> None:
    assert detect_format(head, name) == fmt


def test_rates_work_on_esp_rows(con: duckdb.DuckDBPyConnection) -> None:
    """The metrics layer counts ESP recipients like relay ones: the integration this mapping exists for."""
    from analysis.metrics import count_recipients

    for file_id, name in enumerate(sorted(FIXTURES), start=1):
        load(con, file_id, name)
    row = count_recipients(con, []).row(0, named=True)
    # delivered: SES recipient@ (events), SendGrid example@, Mailgun alice@, Postmark john@ (jane@'s SES
    # delivery is followed by a bounce, so her final outcome is the bounce)
    assert row["delivered"] == 4
    # hard: SES jane@, recipient@ (000001), suppressed@; SendGrid bounce@; Mailgun nobody@; Postmark john@
    assert row["hard_bounced"] == 6
    # complaints about delivered recipients: SES recipient@, SendGrid example@, Postmark john@
    assert row["complained"] == 3


SISIMAI_SCRIPT = r"""
use strict; use warnings; use Sisimai; use JSON::PP;
my $v = Sisimai->make($ARGV[0], 'delivered' => 1);
my @out = map { { recipient => $_->recipient->address, reason => $_->reason, softbounce => $_->softbounce,
                  feedbacktype => $_->feedbacktype, messageid => $_->messageid } } @{ $v || [] };
print JSON::PP->new->canonical->encode(\@out), "\n";
"""


def _sisimai_available() -> bool:
    import shutil
    import subprocess

    if shutil.which("perl") is None:
        return False
    return subprocess.run(["perl", "-MSisimai", "-MJSON", "-e", "1"], capture_output=True).returncode == 0


def _as_sns_mail(record: dict[str, Any]) -> str:
    """How SES notifications reach a mailbox subscribed to the SNS topic: Sisimai reads them from there
    (event-publishing records are given the notificationType name they share)."""
    inner = dict(record)
    inner["notificationType"] = inner.pop("eventType", inner.get("notificationType"))
    envelope = {"Type": "Notification", "MessageId": "0000-sns", "Message": json.dumps(inner)}
    return (
        "From: no-reply@sns.amazonaws.com\nTo: bounces@example.com\nSubject: AWS Notification Message\n"
        f"x-amz-sns-message-id: 0000-sns\nContent-Type: text/plain; charset=UTF-8\n\n{json.dumps(envelope)}\n--\n"
    )


@pytest.mark.sisimai
@pytest.mark.skipif(not _sisimai_available(), reason="Debian libsisimai-perl (Sisimai) not installed")
def test_ses_verdicts_agree_with_sisimai(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Sisimai 4.25 reads SES bounce and complaint notifications too: same recipient, reason, hard/soft."""
    import subprocess

    script = tmp_path / "sisimai.pl"
    script.write_text(SISIMAI_SCRIPT)
    ours: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for file_id, name in enumerate(("ses_notifications.jsonl", "ses_events.jsonl"), start=1):
        load(con, file_id, name)
    for rcpt, reason, severity in con.execute(
        "SELECT recipient, reason, severity FROM deliveries WHERE source = 'ses' AND status = 'bounced'"
    ).fetchall():
        ours[(rcpt, "bounce")] = (reason, severity)
    for (rcpt,) in con.execute("SELECT original_rcpt_to FROM complaints WHERE source = 'ses'").fetchall():
        ours[(rcpt, "complaint")] = ("feedback", None)
    theirs: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for name in ("ses_notifications.jsonl", "ses_events.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            rec = json.loads(line)
            rec = json.loads(rec["Message"]) if rec.get("Type") == "Notification" else rec
            if (rec.get("eventType") or rec.get("notificationType")) not in ("Bounce", "Complaint"):
                continue
            mail = tmp_path / "sns.eml"
            mail.write_text(_as_sns_mail(rec))
            out = subprocess.run(["perl", str(script), str(mail)], capture_output=True, text=True, check=True)
            for t in json.loads(out.stdout.strip().splitlines()[-1]):
                kind = "complaint" if t["reason"] == "feedback" else "bounce"
                theirs[(t["recipient"], kind)] = (t["reason"], {0: "hard", 1: "soft"}.get(t["softbounce"]))
    assert set(theirs) == set(ours) and len(ours) == 7
    differ = {r: (ours[r], theirs[r]) for r in ours if ours[r] != theirs[r]}
    # Sisimai 4.25 predates the "suppressed" reason (Sisimai 5) and calls an account-level suppression a
    # soft "onhold"; SES files it as a Permanent bounce, and we keep SES's word.
    assert differ == {("suppressed@example.com", "bounce"): (("suppressed", "hard"), ("onhold", "soft"))}
