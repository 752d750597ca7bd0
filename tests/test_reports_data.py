"""A small deliverability database for report tests, built with SQL inserts into the real schema.

Known shape, so tests can check what a report says: two days of traffic from three sender domains to
three providers; `bounce.example` hard-bounces 15 % (a breach at the lower bound), `tiny.example` bounces
1 of 3 (must not be flagged: below min volume), one reply text carries HTML/JS payloads that must show
as text in reports.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analysis.store import connect

XSS_SCRIPT = "<script>window.__xss='script'</script>"
XSS_IMG = "<img src=x onerror=\"window.__xss='img'\">"
PLANTED_REPLY = f"550 5.1.1 {XSS_SCRIPT} user unknown {XSS_IMG}"
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
PROVIDERS = {"gmail.com": "gmail", "outlook.com": "microsoft", "yahoo.com": "yahoo"}
# sender domain -> (recipients, hard bounce share, deferral share)
SENDERS = {"good.example": (400, 0.01, 0.05), "bounce.example": (300, 0.15, 0.10), "tiny.example": (3, 1 / 3, 0.0)}
REPLIES = {
    "sent": "250 2.0.0 OK 1700000000 abc123 - gsmtp",
    "hard": "550 5.1.1 The email account that you tried to reach does not exist",
    "soft": "452 4.2.2 The email account that you tried to reach is over quota",
    "defer": "421 4.7.28 Our system has detected an unusual rate of unsolicited mail",
}


MESSAGE_COLUMNS = ("message_key", "host", "instance", "qid", "first_seen", "last_seen", "origin", "sender",
                   "sender_domain", "sasl_username", "client_ip", "account")
DELIVERY_COLUMNS = ("file_id", "line_no", "message_key", "ts", "host", "instance", "daemon", "qid", "recipient",
                    "recipient_domain", "relay_host", "relay_ip", "delay", "delay_a", "delay_b", "delay_c",
                    "delay_d", "dsn", "status", "reply", "reply_code", "provider", "reason", "severity")
REJECTION_COLUMNS = ("file_id", "line_no", "ts", "host", "instance", "daemon", "action", "smtp_stage",
                     "client_ip", "reply_code", "dsn", "reply", "sender", "recipient", "recipient_domain",
                     "provider", "reason", "severity")


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    frame = pl.DataFrame(rows, schema=list(columns), orient="row", infer_schema_length=None)
    con.register("frame", frame)
    con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM frame")
    con.unregister("frame")


def build_db(path: Path, *, seed: int = 7) -> Path:
    """Write the database and return its path."""
    rng = random.Random(seed)
    con = connect(path)
    messages, deliveries, rejections = [], [], []
    line = 0
    for sender_domain, (n_rcpt, hard_share, defer_share) in SENDERS.items():
        for i in range(n_rcpt):
            key = f"mx1/postfix/Q{sender_domain[:2].upper()}{i:05d}/{i}"
            qid = f"Q{sender_domain[:2].upper()}{i:05d}"
            t0 = START + dt.timedelta(minutes=(i * 7919) % (2 * 24 * 60))
            rcpt_domain = list(PROVIDERS)[i % 3]
            rcpt = f"user{i}@{rcpt_domain}"
            messages.append((key, "mx1", "postfix", qid, t0, t0 + dt.timedelta(minutes=5), "smtpd",
                             f"news@{sender_domain}", sender_domain, f"sasl-{sender_domain}", "192.0.2.10",
                             f"acct-{sender_domain.split('.')[0]}"))
            hard = i < round(n_rcpt * hard_share)
            deferred = not hard and rng.random() < defer_share
            attempts = []
            if deferred:
                attempts.append((t0 + dt.timedelta(seconds=5), "deferred", "4.7.28", 421, REPLIES["defer"],
                                 "blocked", "soft"))
            if hard:
                reply = PLANTED_REPLY if (sender_domain == "bounce.example" and i == 0) else REPLIES["hard"]
                attempts.append((t0 + dt.timedelta(seconds=3), "bounced", "5.1.1", 550, reply,
                                 "userunknown", "hard"))
            else:
                attempts.append((t0 + dt.timedelta(seconds=600 if deferred else 2), "sent", "2.0.0", 250,
                                 REPLIES["sent"], None, None))
            for ts, status, dsn, code, reply, reason, severity in attempts:
                line += 1
                delay = (ts - t0).total_seconds() + rng.random()
                deliveries.append((1, line, key, ts, "mx1", "postfix", "smtp", qid, rcpt, rcpt_domain,
                                   f"mx.{rcpt_domain}", "198.51.100.5", delay, 0.1, 0.2, 0.3, delay - 0.6,
                                   dsn, status, reply, code, PROVIDERS[rcpt_domain], reason, severity))
    for j in range(12):
        line += 1
        rejections.append((1, line, START + dt.timedelta(hours=j * 3), "mx1", "postfix", "smtpd", "reject",
                           "RCPT", "203.0.113.9", 554, "5.7.1",
                           "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
                           "spam@good.example", f"x{j}@gmail.com", "gmail.com", "gmail", "blocked", "hard"))
    _insert(con, "messages", MESSAGE_COLUMNS, messages)
    _insert(con, "deliveries", DELIVERY_COLUMNS, deliveries)
    _insert(con, "rejections", REJECTION_COLUMNS, rejections)
    con.close()
    return path


def test_build_db_has_the_promised_shape(tmp_path: Path) -> None:
    db = build_db(tmp_path / "r.duckdb")
    con = connect(db, read_only=True)
    per_domain = dict(
        con.execute(
            "SELECT sender_domain, count(*) FROM recipient_outcomes WHERE final_status = 'bounced' GROUP BY 1"
        ).fetchall()
    )
    assert per_domain == {"good.example": 4, "bounce.example": 45, "tiny.example": 1}
    assert con.execute("SELECT count(*) FROM rejections").fetchone() == (12,)
    assert con.execute("SELECT count(*) FROM deliveries WHERE reply LIKE '%<script>%'").fetchone() == (1,)


def test_metrics_see_the_breach_and_gate_the_tiny_sender(tmp_path: Path) -> None:
    metrics = pytest.importorskip("analysis.metrics")
    con = connect(build_db(tmp_path / "r.duckdb"), read_only=True)
    df = metrics.rates(con, ["sender_domain"])
    rows = {r["sender_domain"]: r for r in df.iter_rows(named=True)}
    assert any("hard_bounce_rate>=10%" in f for f in rows["bounce.example"]["flags"])
    assert rows["tiny.example"]["gated"] and rows["tiny.example"]["flags"] == []
    assert rows["good.example"]["flags"] == []
