"""The `deliverability classify` contract and `deliverability reclassify` on a real DuckDB store."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.commands.classify import classify_lines
from analysis.store import connect
from test_classify_support import GROK, grok_lines

LINE = re.compile(r"^([a-z]*)\t(hard|soft|)\t([245]\.[0-9]{1,3}\.[0-9]{1,3}|)\t([a-z.-]*)$")


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], input=stdin, capture_output=True, timeout=120
    )


def classify(lines: list[str] | bytes) -> list[str]:
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    proc = run_cli("classify", stdin=data)
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode().split("\n")
    assert out[-1] == ""
    return out[:-1]


INPUT = [
    # full syslog line, nested parentheses, IPv6 relay
    "Nov 22 04:50:57 relay1 postfix/smtp[2231]: 4E74613FE76: to=<redacted@gmail.com>, "
    "relay=gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, "
    "dsn=5.7.1, status=bounced (host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 "
    "[2607:4100:3:25:100::2      12] Our system has detected that this 550-5.7.1 message is likely "
    "unsolicited mail. qc12si8475009pab.211 - gsmtp (in reply to end of DATA command))",
    "",
    "550 5.1.1 <someone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
    # RFC 3339 header, business domain hosted by Microsoft 365, deferred
    "2026-11-22T04:50:57.123456+00:00 relay1 postfix-out/smtp[77]: 3Pt2mN2VXxznjll: to=<a@acme.example>, "
    "relay=acme-example.mail.protection.outlook.com[52.101.68.0]:25, delay=0.4, delays=0/0/0.2/0.2, "
    "dsn=4.7.650, status=deferred (host acme-example.mail.protection.outlook.com[52.101.68.0] said: 451 4.7.650 "
    "The mail server [192.0.2.5] has been temporarily rate limited due to IP reputation. (S775) "
    "(in reply to MAIL FROM command))",
    "7EE668039: to=<admin@example.com>, relay=127.0.0.1[127.0.0.1]:2525, delay=3.6, "
    "delays=0.2/0.02/0.04/3.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 153053D)",
    "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x@yahoo.com>: Relay access denied; "
    "from=<a@b.example> to=<x@yahoo.com> proto=ESMTP helo=<h>",
    # truncated line: no closing parenthesis
    "2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, "
    "status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sen",
    "   ",
    "421-4.7.28 Gmail has detected an unusual rate of mail originating from your IP address",
    "ABC123: to=<x@comcast.net>, relay=none, delay=432000, delays=432000/0/0/0, dsn=4.4.7, status=expired, returned to sender",
    "random words without any code",
]
EXPECTED = [
    "spamdetected\tsoft\t5.7.1\tgoogle",
    "\t\t\t",
    "userunknown\thard\t5.1.1\t",
    "badreputation\tsoft\t4.7.650\tmicrosoft",
    "delivered\t\t2.0.0\tother",
    "norelaying\tsoft\t5.7.1\tyahoo",
    "networkerror\tsoft\t4.4.2\tyahoo",
    "\t\t\t",
    "blocked\tsoft\t4.7.28\t",
    "expired\tsoft\t4.4.7\tcomcast",
    "undefined\tsoft\t\t",
]


@pytest.fixture(scope="module")
def batch() -> tuple[list[str], list[str]]:
    """One real CLI run over the contract input, the same reversed, and the grok corpus lines."""
    grok = grok_lines() if GROK.is_dir() else []
    lines = INPUT + list(reversed(INPUT)) + grok
    return lines, classify(lines)


def test_classify_contract(batch: tuple[list[str], list[str]]) -> None:
    _lines, out = batch
    assert out[: len(INPUT)] == EXPECTED
    assert out[len(INPUT) : 2 * len(INPUT)] == list(reversed(EXPECTED))


def test_same_count_and_order_with_awkward_bytes() -> None:
    raw = b"550 5.1.1 User unknown\r\n\xff\xfe broken \xc3 utf-8 550 5.2.2 mailbox full\n\nlast line without newline"
    out = classify(raw)
    assert len(out) == 4
    assert all(LINE.match(line) for line in out), out
    assert out[0].startswith("userunknown\thard\t5.1.1") and out[1].startswith("mailboxfull\tsoft\t5.2.2")
    assert out[2] == "\t\t\t"
    # a form feed or U+2028 inside a reply does not split the line
    assert classify_lines(["550 5.1.1 a\x0cb", "x\u2028y"]) == [
        "userunknown\thard\t5.1.1\t",
        "undefined\tsoft\t\t",
    ]


def test_empty_input_gives_empty_output() -> None:
    assert classify(b"") == []


@pytest.mark.skipif(not GROK.is_dir(), reason="../shared/corpora/postfix-grok is absent")
def test_grok_corpus_lines(batch: tuple[list[str], list[str]]) -> None:
    all_lines, all_out = batch
    lines, out = all_lines[2 * len(INPUT) :], all_out[2 * len(INPUT) :]
    assert len(lines) >= 10
    assert len(out) == len(lines)
    for line, verdict in zip(lines, out, strict=True):
        assert LINE.match(verdict), (line, verdict)
        reason, severity, dsn, _provider = verdict.split("\t")
        given = re.search(r"\bdsn=([0-9.]+)", line)
        if given:
            assert dsn == given.group(1), line
        status = re.search(r"\bstatus=([a-z-]+)", line)
        if status and status.group(1) == "sent":
            assert (reason, severity) == ("delivered", "")
        elif status and status.group(1) == "deferred":
            assert severity == "soft" and reason not in ("", "delivered"), line
        elif status and status.group(1) == "bounced":
            assert severity in ("hard", "soft") and reason not in ("", "delivered", "undefined"), line


def _store(path: Path) -> None:
    con = connect(path)
    try:
        con.execute(
            """
            INSERT INTO deliveries (file_id, line_no, ts, host, instance, daemon, qid, recipient_domain, relay_host,
                                    dsn, status, reply, reply_code, smtp_stage, provider, reason, severity)
            VALUES
              (1, 1, '2026-11-22 00:00:00+00', 'h', 'postfix', 'smtp', 'Q1', 'gmail.com', 'aspmx.l.google.com',
               '5.1.1', 'bounced', '550-5.1.1 The email account that you tried to reach does not exist.', 550,
               'RCPT TO', 'google', 'userunknown', 'hard'),
              (1, 2, '2026-11-22 00:00:01+00', 'h', 'postfix', 'smtp', 'Q2', 'acme.example',
               'acme-example.mail.protection.outlook.com', '5.7.1', 'bounced',
               '550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 550,
               'RCPT TO', NULL, 'securityerror', 'soft'),
              (1, 3, '2026-11-22 00:00:02+00', 'h', 'postfix', 'smtp', 'Q3', 'example.org', NULL,
               '2.0.0', 'sent', '250 2.0.0 Ok: queued as 153053D', 250, NULL, NULL, NULL, NULL)
            """
        )
        con.execute(
            """
            INSERT INTO rejections (file_id, line_no, ts, host, instance, daemon, action, smtp_stage, reply_code,
                                    dsn, reply, recipient_domain, provider, reason, severity)
            VALUES (1, 4, '2026-11-22 00:00:03+00', 'h', 'postfix', 'smtpd', 'reject', 'RCPT', 554, '5.7.1',
                    '<x@yahoo.com>: Relay access denied', 'yahoo.com', 'other', 'blocked', 'soft')
            """
        )
    finally:
        con.close()


def test_reclassify_updates_changed_rows_only(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    _store(db)
    res = CliRunner().invoke(main, ["reclassify", "--db", str(db)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "table\treason\tchanged"
    assert sorted(lines[1:-1]) == [
        "deliveries\tblocked\t1",
        "deliveries\tdelivered\t1",
        "rejections\tnorelaying\t1",
    ]
    assert lines[-1] == "total\t\t3"
    con = connect(db, read_only=True)
    try:
        rows = con.execute(
            "SELECT line_no, provider, reason, severity FROM deliveries ORDER BY line_no"
        ).fetchall()
        rej = con.execute("SELECT provider, reason, severity FROM rejections").fetchall()
    finally:
        con.close()
    assert rows == [
        (1, "google", "userunknown", "hard"),
        (2, "microsoft", "blocked", "soft"),
        (3, "other", "delivered", None),
    ]
    assert rej == [("yahoo", "norelaying", "soft")]
    again = CliRunner().invoke(main, ["reclassify", "--db", str(db)])
    assert again.output.splitlines() == ["table\treason\tchanged", "total\t\t0"]


def test_help_texts() -> None:
    for cmd in ("classify", "reclassify"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


def test_reclassify_after_a_rule_change_counts_per_new_reason(tmp_path: Path) -> None:
    """A new first rule moves exactly the rows it matches; the transaction leaves the rest alone."""
    from importlib import resources

    from analysis.classify import parse_rules
    from analysis.classify.reclassify import reclassify

    db = tmp_path / "d.duckdb"
    _store(db)
    base = resources.files("analysis.classify").joinpath("rules.toml").read_text(encoding="utf-8")
    changed = parse_rules(
        '[[rule]]\nid = "relay-is-policy"\nreason = "policyviolation"\ntext = "relay access"\n\n' + base
    )
    con = connect(db)
    try:
        reclassify(con)  # settle to the packaged rules first
        counts = reclassify(con, changed)
        rows = con.execute("SELECT reason FROM rejections").fetchall()
    finally:
        con.close()
    assert counts.rows() == [("rejections", "policyviolation", 1)]
    assert rows == [("policyviolation",)]


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "postfix-real.log"


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/samples/postfix-real.log is absent")
def test_ingest_and_reclassify_agree(tmp_path: Path) -> None:
    """Ingest classifies with the same rules, so reclassifying a fresh database changes nothing."""
    db = tmp_path / "d.duckdb"
    res = CliRunner().invoke(main, ["ingest", "--db", str(db), str(SAMPLE)])
    assert res.exit_code == 0, res.output
    again = CliRunner().invoke(main, ["reclassify", "--db", str(db)])
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == ["table\treason\tchanged", "total\t\t0"]
    con = connect(db, read_only=True)
    try:
        unclassified = con.execute(
            "SELECT count(*) FROM deliveries WHERE status <> 'sent' AND (reason IS NULL OR severity IS NULL)"
        ).fetchone()
    finally:
        con.close()
    assert unclassified == (0,)
