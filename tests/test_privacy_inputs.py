"""Inputs that plant one person's address in every table a real ingest writes (shared by the privacy tests).

Postfix lines (delivered, bounced, deferred-and-still-queued, orig_to, NOQUEUE reject, SASL login with the
address as username, one malformed line that is quarantined), an ARF complaint and SES events. Decoys
that must NOT match: the same local part in another case, and the address as a prefix of a longer domain.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.metrics.cache import refresh_recipient_facts
from analysis.store import connect

LOCAL = "Planted.Person+x"
DOMAIN = "plant-test.example"
ADDRESS = f"{LOCAL}@{DOMAIN}"
LOGGED = f"{LOCAL}@PLANT-Test.example"  # as a client may send it: domain case varies
QUOTED = '"john q doe"@quoted.example'
DECOYS = (f"{LOCAL.lower()}@{DOMAIN}", f"{LOCAL}@{DOMAIN}.net")
SASL_USER = f"{LOCAL}@{DOMAIN}"

POSTFIX = f"""\
Nov 22 10:00:01 mx1 postfix/smtpd[10]: AAA01: client=a.example[192.0.2.1]:40000, sasl_method=PLAIN, sasl_username={SASL_USER}
Nov 22 10:00:01 mx1 postfix/cleanup[11]: AAA01: message-id=<m1@news.acme.example>
Nov 22 10:00:02 mx1 postfix/qmgr[12]: AAA01: from=<news@news.acme.example>, size=1000, nrcpt=3 (queue active)
Nov 22 10:00:03 mx1 postfix/smtp[13]: AAA01: to=<{LOGGED}>, relay=mx.plant-test.example[198.51.100.7]:25, delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 2.0.0 OK)
Nov 22 10:00:03 mx1 postfix/smtp[13]: AAA01: to=<{DECOYS[0]}>, relay=mx.plant-test.example[198.51.100.7]:25, delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 2.0.0 OK)
Nov 22 10:00:03 mx1 postfix/smtp[13]: AAA01: to=<{QUOTED}>, relay=mx.quoted.example[198.51.100.8]:25, delay=2, delays=0.1/0/1/0.9, dsn=5.1.1, status=bounced (host mx.quoted.example[198.51.100.8] said: 550 5.1.1 <{QUOTED}>: user unknown (in reply to RCPT TO command))
Nov 22 10:00:04 mx1 postfix/qmgr[12]: AAA01: removed
Nov 22 10:05:01 mx1 postfix/smtpd[10]: BBB02: client=b.example[192.0.2.2]:40001
Nov 22 10:05:02 mx1 postfix/qmgr[12]: BBB02: from=<app@globex.example>, size=500, nrcpt=1 (queue active)
Nov 22 10:05:03 mx1 postfix/smtp[13]: BBB02: to=<alias@globex.example>, orig_to=<{ADDRESS}>, relay=mx.globex.example[198.51.100.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.globex.example[198.51.100.9] said: 550 5.1.1 <{ADDRESS}>: Recipient address rejected (in reply to RCPT TO command))
Nov 22 10:05:03 mx1 postfix/qmgr[12]: BBB02: removed
Nov 22 10:10:00 mx1 postfix/smtpd[10]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <{ADDRESS}>: Relay access denied; from=<s@evil.example> to=<{ADDRESS}> proto=ESMTP helo=<evil>
Nov 22 10:20:01 mx1 postfix/smtpd[10]: CCC03: client=c.example[192.0.2.3]:40002
Nov 22 10:20:02 mx1 postfix/qmgr[12]: CCC03: from=<{ADDRESS}>, size=42, nrcpt=1 (queue active)
Nov 22 10:20:03 mx1 postfix/smtp[13]: CCC03: to=<{DECOYS[1]}>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.plant-test.example.net[198.51.100.10]:25: Connection refused)
Nov 22 10:30:00 mx1 postfix/smtp[13]: DDD04: to=<{ADDRESS}>, relay=mx.plant-test.example[198.51.100.7]:25, delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 2.0.0 OK
Nov 22 10:31:00 mx1 postfix/smtp[13]: EEE05: to=<{ADDRESS}>, relay=mx.plant-test.example[198.51.100.7]:25, delay=2, dela
"""

ARF = f"""\
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: fbl@globex.example
Subject: FW: offers
Date: Sun, 22 Nov 2026 11:12:00 +0000
Message-ID: <arf-planted-1@mta1.mail.yahoo.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

An abuse report.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Mail-From: <news@news.acme.example>
Original-Rcpt-To: {LOGGED}
Arrival-Date: Sun, 22 Nov 2026 10:00:03 +0000
Source-IP: 192.0.2.10
Reported-Domain: news.acme.example

--b1
Content-Type: text/rfc822-headers

From: <news@news.acme.example>
To: {ADDRESS}
Subject: offers
Message-ID: <m1@news.acme.example>

--b1--
"""


def _ses(event_type: str, body_key: str, body: dict[str, object], n: int) -> str:
    mail = {
        "timestamp": "2026-11-22T12:00:01.100Z",
        "source": "Globex Orders <orders@globex.example>",
        "sourceIp": "192.0.2.10",
        "callerIdentity": "globex-app",
        "sendingAccountId": "111122223333",
        "messageId": f"0100018f3a1b2c3d-planted-{n:04d}",
        "destination": [ADDRESS],
        "commonHeaders": {"from": ["orders@globex.example"], "to": [ADDRESS], "subject": "Order"},
    }
    return json.dumps({"eventType": event_type, "mail": mail, body_key: body})


SES = (
    "\n".join(
        [
            _ses("Send", "send", {}, 1),
            _ses(
                "Bounce",
                "bounce",
                {
                    "bounceType": "Permanent",
                    "bounceSubType": "NoEmail",
                    "timestamp": "2026-11-22T12:00:03.400Z",
                    "reportingMTA": "dns; a8-30.smtp-out.amazonses.com",
                    "bouncedRecipients": [
                        {
                            "emailAddress": ADDRESS,
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": f"smtp; 550 5.1.1 <{ADDRESS}>: no such user",
                        }
                    ],
                },
                1,
            ),
            _ses(
                "Complaint",
                "complaint",
                {
                    "timestamp": "2026-11-22T13:00:00.000Z",
                    "complainedRecipients": [{"emailAddress": ADDRESS}],
                    "complaintFeedbackType": "abuse",
                    "userAgent": "Yahoo!-Mail-Feedback/2.0",
                    "feedbackId": "0100018f-planted",
                },
                1,
            ),
        ]
    )
    + "\n"
)


def write_inputs(directory: Path) -> list[Path]:
    """The three input files (Postfix log, ARF report, SES events) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "mail.log", directory / "fbl.eml", directory / "ses.jsonl"]
    for path, text in zip(paths, (POSTFIX, ARF, SES), strict=True):
        path.write_text(text, encoding="utf-8")
    return paths


def build_store(db: Path, inputs: Path, *, uncompressed: bool = True) -> None:
    """Ingest the inputs for real and store the metrics cache (so recipient_facts holds the address too).

    `uncompressed` forces plain storage, so the address's bytes are visibly in the file before an erasure
    (otherwise string compression could hide them and a byte check would prove nothing).
    """
    con = connect(db)
    try:
        if uncompressed:
            con.execute("PRAGMA force_compression = 'uncompressed'")
        Ingestor(con, IngestOptions(year=2026)).ingest([str(p) for p in write_inputs(inputs)])
        refresh_recipient_facts(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()


# The oracle's own idea of "mentions ADDRESS": exact local part, domain in any case, not the .net decoy.
ORACLE = re.compile(re.escape(LOCAL) + "@(?i:" + re.escape(DOMAIN) + r")(?!\.net)")
ORACLE_QUOTED = re.compile(re.escape('"john q doe"@') + "(?i:quoted\\.example)")


def rows_mentioning(db: Path, needle: re.Pattern[str]) -> dict[str, int]:
    """Oracle independent of the privacy package: rows per table with a text value matching `needle`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out: dict[str, int] = {}
        tables = [
            r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()
        ]
        for t in tables:
            n = sum(
                1
                for row in con.execute(f'SELECT * FROM "{t}"').fetchall()
                if any(isinstance(v, str) and needle.search(v) for v in row)
            )
            if n:
                out[t] = n
        return out
    finally:
        con.close()
