"""Golden metric tests: a small hand-built store, every expected number worked out by hand below.

The fixture (two days, two sender domains, 13 recipients, 5 refusals, 4 complaints):

  M1 acme.example/alice/acct-a, 2026-11-20 10:05
     r1@gmail.com   sent                                   -> delivered            (complaint: R1@... )
     r2@gmail.com   bounced hard 5.1.1                     -> hard bounce          (complaint ignored: not delivered)
     r3@outlook.com deferred 10:05, sent 11:30             -> delivered, deferred
     r4@outlook.com bounced soft 5.7.1                     -> soft bounce
  M2 acme.example/alice/acct-a, 2026-11-20 23:50
     r5@gmail.com   deferred 23:50, deferred 00:20, sent 01:00 (11-21) -> delivered, deferred, dated 11-20
     r6@yahoo.com   bounced, severity unknown              -> soft bounce (not known permanent)
  M3 beta.example/bob/acct-b, 2026-11-21 08:00, message expired
     r7@gmail.com   deferred 08:00, deferred 09:00         -> expired, deferred
     r8@gmail.com   deferred 08:00, expired 10:00          -> expired, deferred
     r9@yahoo.com   sent 08:01                             -> delivered
     r10@yahoo.com  deliverable (address verification)     -> not an attempt
  M4 beta.example/bob/acct-b, 2026-11-21 09:00
     r11@gmail.com  deferred 09:00                         -> pending, deferred
     r12@gmail.com  sent 09:00                             -> delivered
     r1@gmail.com   sent 09:01                             -> delivered  (complaint without recipient ->
                                                              first delivered recipient of M4 = r1)
  (no message) qid ZZZ r13@gmail.com sent 09:30 (11-21)   -> delivered, sender unknown

  Refusals: J1 11-20 12:00 reject from x@acme.example to gmail (google); J2 11-21 09:10 reject from
  y@beta.example to yahoo; J3 11-21 09:20 milter-reject of M4 (beta.example); J4 warning, J5 discard
  (neither counts).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from analysis.errors import InputError, WorkbenchError
from analysis.metrics import (
    COUNT_COLUMNS,
    DIMENSIONS,
    RATES,
    Filters,
    add_rates,
    cache_recipients,
    latency,
    parse_where,
    rates,
    summary,
    top_replies,
    volume_series,
    worst_senders,
)
from analysis.metrics.cache import refresh_recipient_facts, stored_is_fresh
from analysis.metrics.replies import EXAMPLE_MAX_CHARS, mask_addresses
from analysis.stats import wilson_interval
from analysis.store import connect
from analysis.store.db import write_transaction

UTC = dt.UTC


def ts(day: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, hh, mm, tzinfo=UTC)


# fmt: off
MESSAGES = [
    # message_key, qid, first_seen, sender_domain, sasl_username, account, client_ip, expired_at
    ("h/postfix/M1/1", "M1", ts(20, 10, 0), "acme.example", "alice", "acct-a", "192.0.2.10", None),
    ("h/postfix/M2/2", "M2", ts(20, 23, 45), "acme.example", "alice", "acct-a", "192.0.2.10", None),
    ("h/postfix/M3/3", "M3", ts(21, 7, 59), "beta.example", "bob", "acct-b", "192.0.2.20", ts(21, 10, 0)),
    ("h/postfix/M4/4", "M4", ts(21, 8, 59), "beta.example", "bob", "acct-b", "192.0.2.20", None),
]
GOOGLE = ("google", "gmail-smtp-in.l.google.com", "142.250.1.27")
MICROSOFT = ("microsoft", "outlook-com.olc.protection.outlook.com", "52.101.0.1")
YAHOO = ("yahoo", "mta5.am0.yahoodns.net", "67.195.204.1")
UNKNOWN_USER = "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"
TRY_LATER = "421 4.7.0 Try again later, closing connection."
OK = "250 2.0.0 OK"
M1, M2, M3, M4 = (m[0] for m in MESSAGES)
DELIVERIES = [
    # message_key, qid, recipient, ts, status, severity, reason, dsn, reply, delay, provider/relay
    (M1, "M1", "r1@gmail.com", ts(20, 10, 5), "sent", None, None, "2.0.0", OK, 1.0, GOOGLE),
    (M1, "M1", "r2@gmail.com", ts(20, 10, 5), "bounced", "hard", "userunknown", "5.1.1",
     UNKNOWN_USER.format(r="r2@gmail.com"), 1.5, GOOGLE),
    (M1, "M1", "r3@outlook.com", ts(20, 10, 5), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 2.0, MICROSOFT),
    (M1, "M1", "r3@outlook.com", ts(20, 11, 30), "sent", None, None, "2.0.0", OK, 5400.0, MICROSOFT),
    (M1, "M1", "r4@outlook.com", ts(20, 10, 6), "bounced", "soft", "blocked", "5.7.1",
     "550 5.7.1 Service unavailable, Client host [192.0.2.10] blocked using Spamhaus", 1.2, MICROSOFT),
    (M2, "M2", "r5@gmail.com", ts(20, 23, 50), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 3.0, GOOGLE),
    (M2, "M2", "r5@gmail.com", ts(21, 0, 20), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 1800.0, GOOGLE),
    (M2, "M2", "r5@gmail.com", ts(21, 1, 0), "sent", None, None, "2.0.0", OK, 4200.0, GOOGLE),
    (M2, "M2", "r6@yahoo.com", ts(20, 23, 55), "bounced", None, None, "5.1.1",
     UNKNOWN_USER.format(r="r6@yahoo.com"), 2.5, YAHOO),
    (M3, "M3", "r7@gmail.com", ts(21, 8, 0), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 1.0, GOOGLE),
    (M3, "M3", "r7@gmail.com", ts(21, 9, 0), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 3600.0, GOOGLE),
    (M3, "M3", "r8@gmail.com", ts(21, 8, 0), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 1.0, GOOGLE),
    (M3, "M3", "r8@gmail.com", ts(21, 10, 0), "expired", "soft", "expired", "4.4.7", TRY_LATER, 7200.0, GOOGLE),
    (M3, "M3", "r9@yahoo.com", ts(21, 8, 1), "sent", None, None, "2.0.0", "250 ok", 2.0, YAHOO),
    (M3, "M3", "r10@yahoo.com", ts(21, 8, 2), "deliverable", None, None, "2.0.0", "250 ok", 0.5, YAHOO),
    (M4, "M4", "r11@gmail.com", ts(21, 9, 0), "deferred", "soft", "blocked", "4.7.0", TRY_LATER, 1.0, GOOGLE),
    (M4, "M4", "r12@gmail.com", ts(21, 9, 0), "sent", None, None, "2.0.0", OK, 3.0, GOOGLE),
    (M4, "M4", "r1@gmail.com", ts(21, 9, 1), "sent", None, None, "2.0.0", OK, 4.0, GOOGLE),
    (None, "ZZZ", "r13@gmail.com", ts(21, 9, 30), "sent", None, None, "2.0.0", OK, 6.0, GOOGLE),
]
REJECTIONS = [
    # ts, action, message_key, sender, client_ip, recipient_domain, provider, dsn, reply
    (ts(20, 12, 0), "reject", None, "x@acme.example", "192.0.2.10", "gmail.com", "google", "5.7.1",
     "554 5.7.1 <r@gmail.com>: Relay access denied"),
    (ts(21, 9, 10), "reject", None, "y@beta.example", "192.0.2.20", "yahoo.com", "yahoo", "5.7.1",
     "554 5.7.1 <s@yahoo.com>: Relay access denied"),
    (ts(21, 9, 20), "milter-reject", M4, "y@beta.example", None, None, None, "5.7.1", "5.7.1 Spam message rejected"),
    (ts(21, 9, 30), "warning", None, "y@beta.example", "192.0.2.20", "yahoo.com", "yahoo", None, "header X"),
    (ts(21, 9, 40), "discard", None, "y@beta.example", "192.0.2.20", "yahoo.com", "yahoo", None, "discarded"),
]
COMPLAINTS = [
    # message_key, original_rcpt_to, feedback_type
    (M1, "R1@gmail.com", "abuse"),  # names r1, in another case
    (M1, "r2@gmail.com", "abuse"),  # r2 bounced: not a delivered recipient, not counted
    (M4, None, "abuse"),  # redacted: goes to M4's first delivered recipient
    (None, "r13@gmail.com", "abuse"),  # unmatched: no send owns it
]
# fmt: on
COMPLAINTS_DDL = """
CREATE TABLE IF NOT EXISTS complaints (
    complaint_id VARCHAR PRIMARY KEY, file_id BIGINT NOT NULL, record_no BIGINT NOT NULL,
    feedback_type VARCHAR NOT NULL, report_variant VARCHAR NOT NULL, source VARCHAR NOT NULL,
    original_rcpt_to VARCHAR, rcpt_domain VARCHAR, arrival_date TIMESTAMPTZ, source_ip VARCHAR,
    provider VARCHAR, message_key VARCHAR)
"""


def build_store(path: Path, *, with_complaints: bool) -> Path:
    """The fixture database at `path`, created through the real schema and filled by SQL."""
    con = connect(path)
    for key, qid, first, domain, sasl, account, client_ip, expired in MESSAGES:
        con.execute(
            "INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, sender, "
            "sender_domain, sasl_username, account, client_ip, expired_at) "
            "VALUES (?, 'h', 'postfix', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, qid, first, first, f"{sasl}@{domain}", domain, sasl, account, client_ip, expired],
        )
    for line, (key, qid, rcpt, when, status, sev, reason, dsn, reply, delay, relay) in enumerate(
        DELIVERIES, 1
    ):
        provider, relay_host, relay_ip = relay
        con.execute(
            "INSERT INTO deliveries (file_id, line_no, message_key, ts, host, instance, daemon, qid, recipient, "
            "recipient_domain, relay_host, relay_ip, delay, delay_a, delay_b, delay_c, delay_d, dsn, status, "
            "reply, provider, reason, severity) "
            "VALUES (1, ?, ?, ?, 'h', 'postfix', 'smtp', ?, ?, ?, ?, ?, ?, 0.1, ?, 0.3, ?, ?, ?, ?, ?, ?, ?)",
            [
                line,
                key,
                when,
                qid,
                rcpt,
                rcpt.split("@")[1],
                relay_host,
                relay_ip,
                delay,
                delay / 10,
                delay / 100,
                dsn,
                status,
                reply,
                provider,
                reason,
                sev,
            ],
        )
    for line, (when, action, key, sender, ip, rdomain, provider, dsn, reply) in enumerate(REJECTIONS, 1):
        con.execute(
            "INSERT INTO rejections (file_id, line_no, ts, host, instance, daemon, action, message_key, sender, "
            "client_ip, recipient_domain, provider, dsn, reply) "
            "VALUES (2, ?, ?, 'h', 'postfix', 'smtpd', ?, ?, ?, ?, ?, ?, ?, ?)",
            [line, when, action, key, sender, ip, rdomain, provider, dsn, reply],
        )
    if with_complaints:
        con.execute(COMPLAINTS_DDL)
        for i, (key, rcpt, ftype) in enumerate(COMPLAINTS, 1):
            con.execute(
                "INSERT INTO complaints (complaint_id, file_id, record_no, feedback_type, report_variant, "
                "source, original_rcpt_to, message_key) VALUES (?, 3, ?, ?, 'arf', 'arf', ?, ?)",
                [f"c{i}", i, ftype, rcpt, key],
            )
    else:
        con.execute("DROP TABLE IF EXISTS complaints")
    con.close()
    return path


def open_store(
    factory: pytest.TempPathFactory, *, with_complaints: bool
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a fresh fixture store (for module-scoped fixtures here and elsewhere)."""
    con = connect(
        build_store(factory.mktemp("metrics") / "fixture.duckdb", with_complaints=with_complaints),
        read_only=True,
    )
    yield con
    con.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    yield from open_store(tmp_path_factory, with_complaints=True)


@pytest.fixture(scope="module")
def store_without_complaints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    yield from open_store(tmp_path_factory, with_complaints=False)


def rows_by(df: pl.DataFrame, key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in df.iter_rows(named=True)}


BY_SENDER = {
    #                attempted deliv bounced hard soft deferred expired pending rejected submitted complained
    "acme.example": (6, 3, 3, 1, 2, 2, 0, 0, 1, 7, 1),
    "beta.example": (6, 3, 0, 0, 0, 3, 2, 1, 2, 8, 1),
    None: (1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0),
}


def test_counts_by_sender_domain(store: duckdb.DuckDBPyConnection) -> None:
    df = rates(store, ["sender_domain"], min_volume=5)
    got = {k: tuple(r[c] for c in COUNT_COLUMNS) for k, r in rows_by(df, "sender_domain").items()}
    assert got == BY_SENDER
    assert df["sender_domain"].to_list() == ["acme.example", "beta.example", None]  # sorted, nulls last


def test_outcomes_partition_the_attempted(store: duckdb.DuckDBPyConnection) -> None:
    for dim in DIMENSIONS:
        df = rates(store, [dim])
        total = df["delivered"] + df["bounced"] + df["expired"] + df["pending"]
        assert (total == df["attempted"]).all(), dim
        assert (df["hard_bounced"] + df["soft_bounced"] == df["bounced"]).all(), dim
        assert int(df["attempted"].sum()) == 13, dim


def test_rates_and_wilson_bounds(store: duckdb.DuckDBPyConnection) -> None:
    acme = rows_by(rates(store, ["sender_domain"], min_volume=5), "sender_domain")["acme.example"]
    assert acme["hard_bounce_rate"] == pytest.approx(1 / 6)
    # Wilson 95 % for 1/6, worked by hand: centre 0.29678, half-width 0.26673.
    assert acme["hard_bounce_rate_low"] == pytest.approx(0.0301, abs=1e-4)
    assert acme["hard_bounce_rate_high"] == pytest.approx(0.5635, abs=1e-4)
    assert acme["soft_bounce_rate"] == pytest.approx(2 / 6)
    assert acme["delivery_rate"] == pytest.approx(3 / 6)
    assert acme["deferral_rate"] == pytest.approx(2 / 6)
    assert acme["expired_rate"] == 0.0 and acme["expired_rate_low"] == 0.0
    assert acme["rejection_rate"] == pytest.approx(1 / 7)  # 1 refusal among 6 attempted + 1 refused
    assert acme["complaint_rate"] == pytest.approx(1 / 3)  # 1 complaint per 3 delivered
    assert acme["gated"] is False
    for rate in RATES:
        assert acme[f"{rate}_low"] <= acme[rate] <= acme[f"{rate}_high"]


def test_higher_confidence_widens(store: duckdb.DuckDBPyConnection) -> None:
    narrow = rates(store, [], confidence=0.9).row(0, named=True)
    wide = rates(store, [], confidence=0.99).row(0, named=True)
    assert wide["delivery_rate_low"] < narrow["delivery_rate_low"]
    assert wide["delivery_rate_high"] > narrow["delivery_rate_high"]
    k, n = narrow["delivered"], narrow["attempted"]
    assert (k, n) == (7, 13)
    assert (wide["delivery_rate_low"], wide["delivery_rate_high"]) == pytest.approx(
        wilson_interval(7, 13, 0.99)
    )


def test_cohort_by_first_attempt_day(store: duckdb.DuckDBPyConnection) -> None:
    df = rates(store, ["day"])
    got = {
        r["day"].date().isoformat(): (r["attempted"], r["delivered"], r["rejected"], r["deferred"])
        for r in df.iter_rows(named=True)
    }
    # r5 is first tried on the 20th and delivered on the 21st: it belongs to the 20th.
    assert got == {"2026-11-20": (6, 3, 1, 2), "2026-11-21": (7, 4, 2, 3)}


def test_time_window_filter(store: duckdb.DuckDBPyConnection) -> None:
    f = Filters(since=ts(20, 11, 0), until=ts(21, 0, 0))
    row = rates(store, [], f).row(0, named=True)
    # r5 (23:50) and r6 (23:55) were first tried in the window; J1 (12:00) was refused in it.
    assert (row["attempted"], row["delivered"], row["soft_bounced"], row["rejected"]) == (2, 1, 1, 1)
    row = rates(store, [], Filters(since=ts(21, 0, 0))).row(0, named=True)
    assert (row["attempted"], row["delivered"], row["rejected"]) == (7, 4, 2)


def test_dimension_filter(store: duckdb.DuckDBPyConnection) -> None:
    row = rates(store, [], Filters(where={"provider": "google"})).row(0, named=True)
    # google: r1, r2, r5, r7, r8, r11, r12, r1 (M4), r13; refusal J1.
    assert (
        row["attempted"],
        row["delivered"],
        row["hard_bounced"],
        row["expired"],
        row["pending"],
        row["deferred"],
        row["rejected"],
    ) == (9, 5, 1, 2, 1, 4, 1)
    day = rates(store, ["sender_domain"], Filters(where={"day": "2026-11-21"}))
    assert rows_by(day, "sender_domain")["beta.example"]["attempted"] == 6
    assert set(day["sender_domain"].to_list()) == {"beta.example", None}


def test_rejections_unknown_by_relay(store: duckdb.DuckDBPyConnection) -> None:
    df = rates(store, ["relay_host"])
    assert df["rejected"].null_count() == df.height
    assert df["rejection_rate"].null_count() == df.height
    row = rates(store, [], Filters(where={"relay_ip": GOOGLE[2]})).row(0, named=True)
    assert row["attempted"] == 9 and row["rejected"] is None


def test_complaints_absent_table(store_without_complaints: duckdb.DuckDBPyConnection) -> None:
    df = rates(store_without_complaints, ["sender_domain"])
    assert df["complained"].to_list() == [0, 0, 0]
    assert rows_by(df, "sender_domain")["acme.example"]["complaint_rate"] == 0.0


def test_account_and_sasl_dimensions(store: duckdb.DuckDBPyConnection) -> None:
    acct = rows_by(rates(store, ["account", "sasl_username"]), "account")
    assert acct["acct-a"]["sasl_username"] == "alice" and acct["acct-a"]["attempted"] == 6
    # J1 has no message: its sender domain is known but not its account.
    assert acct["acct-a"]["rejected"] == 0
    assert acct["acct-b"]["rejected"] == 1  # J3, the milter reject of M4
    assert acct[None]["rejected"] == 2 and acct[None]["attempted"] == 1


def test_gate_and_flags_on_the_interval() -> None:
    counts = pl.DataFrame(
        {
            "g": ["raw-over-5", "review", "pause", "small", "complaints"],
            "attempted": [1000, 1000, 1000, 50, 10000],
            "delivered": [940, 930, 850, 25, 10000],
            "hard_bounced": [60, 70, 150, 25, 0],
            "soft_bounced": [0, 0, 0, 0, 0],
            "deferred": [0, 0, 0, 0, 0],
            "expired": [0, 0, 0, 0, 0],
            "rejected": [0, 0, 0, 0, 0],
            "submitted": [1000, 1000, 1000, 50, 10000],
            "complained": [0, 0, 0, 0, 20],
        }
    )
    out = rows_by(add_rates(counts, confidence=0.95, min_volume=100), "g")
    # 60/1000 is 6 % raw, but its Wilson lower bound is 4.69 %: not a finding.
    assert out["raw-over-5"]["hard_bounce_rate_low"] == pytest.approx(0.0469, abs=1e-4)
    assert out["raw-over-5"]["flags"] == []
    assert out["review"]["flags"] == ["hard_bounce_rate>=5% (review)"]
    assert out["pause"]["flags"] == ["hard_bounce_rate>=5% (review)", "hard_bounce_rate>=10% (pause)"]
    assert out["small"]["gated"] is True and out["small"]["flags"] == []
    # 20 complaints per 10 000 delivered: lower bound 0.1295 %, over the 0.1 % line only.
    assert out["complaints"]["complaint_rate_low"] == pytest.approx(0.0012951, abs=1e-6)
    assert out["complaints"]["flags"] == ["complaint_rate>=0.1% (review)"]


def test_zero_denominator_is_null_and_gated(store: duckdb.DuckDBPyConnection) -> None:
    row = rates(store, [], Filters(since=ts(25, 0, 0))).row(0, named=True)
    assert row["attempted"] == 0 and row["gated"] is True and row["flags"] == []
    for rate in RATES:
        assert row[rate] is None and row[f"{rate}_low"] is None and row[f"{rate}_high"] is None


@pytest.mark.parametrize(
    ("by", "message"),
    [
        (["sender"], "unknown dimension"),
        (["day", "day"], "twice"),
        (["sender_domain; DROP TABLE x"], "unknown"),
    ],
)
def test_dimension_validation(store: duckdb.DuckDBPyConnection, by: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        rates(store, by)


def test_filter_validation() -> None:
    with pytest.raises(InputError, match="unknown dimension"):
        Filters(where={"recipient": "a@b"})
    with pytest.raises(InputError, match="empty window"):
        Filters(since=ts(21, 0, 0), until=ts(20, 0, 0))
    with pytest.raises(InputError, match="DIM=VALUE"):
        parse_where(["provider"])
    assert parse_where(["provider=google", "day=2026-11-20"]) == {"provider": "google", "day": "2026-11-20"}
    naive = Filters(since=dt.datetime(2026, 11, 20, 10, 0))
    assert naive.since == ts(20, 10, 0)
    with pytest.raises(InputError, match="confidence"):
        rates(None, [], confidence=1.0)  # type: ignore[arg-type]


def test_values_are_parameters_not_sql(store: duckdb.DuckDBPyConnection) -> None:
    hostile = "x' OR '1'='1"
    row = rates(store, [], Filters(where={"sender_domain": hostile})).row(0, named=True)
    assert row["attempted"] == 0


def test_worst_senders(store: duckdb.DuckDBPyConnection) -> None:
    df = worst_senders(store, "sender_domain", min_volume=5)
    assert df["sender_domain"].to_list() == ["acme.example", "beta.example", None]  # None is gated (1 < 5)
    assert worst_senders(store, "sender_domain", min_volume=5, limit=1).height == 1


def test_latency_quantiles(store: duckdb.DuckDBPyConnection) -> None:
    overall = latency(store, []).row(0, named=True)
    # sent delays sorted: 1, 2, 3, 4, 6, 4200, 5400 (n = 7)
    assert overall["n"] == 7
    assert overall["delay_p50"] == pytest.approx(4.0)  # position 3
    assert overall["delay_p90"] == pytest.approx(4200 + 0.4 * 1200)  # position 5.4
    assert overall["delay_p99"] == pytest.approx(4200 + 0.94 * 1200)  # position 5.94
    assert overall["delay_b_p50"] == pytest.approx(0.4)  # delays b = delay / 10
    assert overall["delay_a_p90"] == pytest.approx(0.1)
    by_provider = rows_by(latency(store, ["provider"]), "provider")
    # google sent: 1, 3, 4, 6, 4200 -> p50 4, p90 at position 3.6 = 6 + 0.6 * 4194
    assert by_provider["google"]["n"] == 5
    assert by_provider["google"]["delay_p90"] == pytest.approx(2522.4)
    assert by_provider["microsoft"]["delay_p50"] == pytest.approx(5400.0)


def test_volume_series(store: duckdb.DuckDBPyConnection) -> None:
    df = volume_series(store, "day")
    got = {
        r["bucket"].date().isoformat(): (r["sent"], r["bounced"], r["deferred"], r["expired"], r["rejected"])
        for r in df.iter_rows(named=True)
    }
    assert got == {"2026-11-20": (2, 3, 2, 0, 1), "2026-11-21": (5, 0, 5, 1, 2)}
    hourly = volume_series(store, "hour", Filters(where={"sender_domain": "beta.example"}))
    assert int(hourly["sent"].sum()) == 3 and int(hourly["rejected"].sum()) == 2
    with pytest.raises(InputError, match="freq"):
        volume_series(store, "minute")


def test_top_replies(store: duckdb.DuckDBPyConnection) -> None:
    df = top_replies(store)
    assert df.columns == ["normalized_reply", "count", "reason", "severity", "dsn", "example"]
    first = df.row(0, named=True)
    # seven deferrals with one text lead: r3, r5 twice, r7 twice, r8, r11 (r8's expiry is not asked for)
    assert first["count"] == 7 and first["dsn"] == "4.7.0"
    assert int(top_replies(store, statuses=("expired",))["count"].sum()) == 1
    unknown = [r for r in df.iter_rows(named=True) if "5.1.1" in r["normalized_reply"]]
    assert len(unknown) == 1 and unknown[0]["count"] == 2  # r2 and r6, addresses masked apart
    assert unknown[0]["reason"] == "userunknown" and unknown[0]["severity"] == "hard"
    text = json.dumps(df.to_dicts())
    for local in ("r2@", "r6@", "<r@", "<s@"):
        assert local not in text
    assert "***@gmail.com" in unknown[0]["example"]
    only_rejected = top_replies(store, statuses=("rejected",))
    assert int(only_rejected["count"].sum()) == 3
    assert top_replies(store, limit=1).height == 1
    with pytest.raises(InputError, match="unknown status"):
        top_replies(store, statuses=("sent",))


def test_summary(store: duckdb.DuckDBPyConnection) -> None:
    s = summary(store, min_volume=5)
    json.dumps(s, allow_nan=False)
    assert s["messages"] == 4  # M1..M4 (r13 has no message)
    assert (s["attempted"], s["delivered"]) == (13, 7)
    assert s["rates"]["hard_bounce_rate"]["numerator"] == 1
    assert s["rates"]["hard_bounce_rate"]["denominator"] == 13
    assert s["top_provider"] == {"provider": "google", "attempted": 9}
    assert s["worst_sender_domain"]["sender_domain"] == "acme.example"
    assert s["p90_delay"] == pytest.approx(4680.0)
    assert s["window"]["first_attempt"].startswith("2026-11-20T10:05")
    # Only the overall complaint rate (2 of 7 delivered, Wilson low 8.2 %) is judged and breaches all three
    # complaint lines; acme's 1 of 3 delivered is under the minimum volume of 5.
    labels = [(b["dimension"], b["value"], b["label"]) for b in s["breaches"]]
    assert labels == [
        ("overall", None, "complaint_rate>=0.1% (review)"),
        ("overall", None, "complaint_rate>=0.3% (gmail limit)"),
        ("overall", None, "complaint_rate>=0.5% (pause)"),
    ]
    assert s["breaches"][0]["low"] == pytest.approx(wilson_interval(2, 7)[0])


def test_recipient_cache_gives_the_same_answers(tmp_path: Path) -> None:
    path = build_store(tmp_path / "cache.duckdb", with_complaints=True)
    live = connect(path, read_only=True)
    expected = {
        dims: rates(live, list(dims), min_volume=5) for dims in [(), ("sender_domain", "day"), ("relay_ip",)]
    }
    window = Filters(since=ts(20, 11, 0), until=ts(21, 0, 0))
    expected_window = rates(live, ["provider"], window)
    live.close()
    cached = connect(path, read_only=True)
    assert cache_recipients(cached) is True
    assert cache_recipients(cached) is True  # idempotent
    for dims, frame in expected.items():
        assert rates(cached, list(dims), min_volume=5).equals(frame), dims
    assert rates(cached, ["provider"], window).equals(expected_window)
    cached.close()
    writer = connect(path)
    assert cache_recipients(writer) is False  # a writer's data may change under a cache
    writer.close()


def test_stored_recipient_facts_are_used_only_while_fresh(tmp_path: Path) -> None:
    path = build_store(tmp_path / "stored.duckdb", with_complaints=True)
    reader = connect(path, read_only=True)
    live = rates(reader, ["sender_domain"], min_volume=5)
    with pytest.raises(WorkbenchError, match="writable"):
        refresh_recipient_facts(reader)
    reader.close()

    writer = connect(path)
    assert refresh_recipient_facts(writer) == 13
    writer.close()
    reader = connect(path, read_only=True)
    assert stored_is_fresh(reader)
    assert rates(reader, ["sender_domain"], min_volume=5).equals(live)
    reader.close()

    # A reclassification changes a severity: the stored facts are stale and must not be used. (Writers
    # write in write_transaction, which advances the store's write generation; tests/test_freshness.py
    # checks every writing path.)
    writer = connect(path)
    with write_transaction(writer):
        writer.execute("UPDATE deliveries SET severity = 'hard' WHERE recipient = 'r4@outlook.com'")
    writer.close()
    reader = connect(path, read_only=True)
    assert not stored_is_fresh(reader)
    acme = rows_by(rates(reader, ["sender_domain"]), "sender_domain")["acme.example"]
    assert (acme["hard_bounced"], acme["soft_bounced"]) == (2, 1)
    reader.close()


def test_outcomes_agree_with_the_store_view(store: duckdb.DuckDBPyConnection) -> None:
    # The store's recipient_outcomes view applies the same last-attempt rule independently.
    view = dict(
        store.sql(
            "SELECT final_status, COUNT(*) FROM recipient_outcomes "
            "WHERE final_status NOT IN ('deliverable', 'undeliverable', 'dropped') GROUP BY final_status"
        ).fetchall()
    )
    row = rates(store, []).row(0, named=True)
    assert view == {"sent": row["delivered"], "bounced": row["bounced"], "expired": row["expired"],
                    "pending": row["pending"]}  # fmt: skip


def test_hour_filter_takes_a_timestamp(store: duckdb.DuckDBPyConnection) -> None:
    row = rates(store, [], Filters(where={"hour": "2026-11-20T10:00"})).row(0, named=True)
    assert (row["attempted"], row["delivered"]) == (4, 2)  # r1..r4 of M1; r1 and r3 delivered


def test_filters_are_values() -> None:
    a = Filters(since=dt.datetime(2026, 11, 20), where={"provider": "google"})
    b = Filters(since=ts(20, 0, 0), where={"provider": "google"})
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(TypeError):
        a.where["provider"] = "yahoo"  # type: ignore[index]


def test_example_masking_is_bounded() -> None:
    assert mask_addresses("550 5.1.1 <john.doe+x@example.com>: no; cc bob@x.org") == (
        "550 5.1.1 <***@example.com>: no; cc ***@x.org"
    )
    hostile = "a" * 200_000  # no '@': a backtracking pattern would be quadratic on the whole text
    out = mask_addresses(hostile)
    assert len(out) == EXAMPLE_MAX_CHARS + 1 and out.endswith("…")
