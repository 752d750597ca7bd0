"""The vectorised API equals the scalar one; the polars normaliser equals the Python one."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.classify import classify_frame, classify_reply, normalize_reply, normalize_reply_expr
from test_classify_support import GROK, bare, grok_lines, load_replies

REPLIES = load_replies()

TRICKY = [
    None,
    "",
    "   ",
    "\t550\t5.1.1\r\nUser   unknown\n",
    "550-5.7.1 a 550-5.7.1 b 550 5.7.1 c",
    "1 2 3 4 5 6 7 8 9 10 11 12 123 1234 12345",
    "250 2.0.0 Ok: queued as 7EE668039 at 2026-11-22T04:50:57.123456+00:00",
    "ünïcødé 12 ß 45 — ≥ 5.7.1",
    '<> <a@b> a@b.c <"q r"@x.y> (x@y.z) [1.2.3.4] [::1] 2001:db8::1 fe80::1:2:3',
    "http://x.example/p?a=1&b=2) https://y.example/?q=<a@b.c>",
    "AS(201806281) S3150 TSS04 HM08 RFC 5322 RFC5321 rfc 822 DEADBEEF deadbeefcafe 0xFF",
    "host mx[10.0.0.1]:25 said: 4.4.1 4.16.55.1 1.2.3 5.7.606",
    "x" * 5000 + " 550 5.1.1",
    "550 5.1.1 " + "é" * 2100 + "<a@b.c>",
    "a" * 100_000,
    "1.2." * 25_000,
]


def _texts() -> list[str | None]:
    texts: list[str | None] = [r[4] for r in REPLIES] + TRICKY
    if GROK.is_dir():
        texts += grok_lines()
    return texts


def test_normalize_expr_equals_function_on_table() -> None:
    texts = _texts()
    got = (
        pl.DataFrame({"t": texts}, schema={"t": pl.String})
        .select(normalize_reply_expr(pl.col("t")))["t"]
        .to_list()
    )
    want = [normalize_reply(t) for t in texts]
    diffs = [(t, g, w) for t, g, w in zip(texts, got, want, strict=True) if g != w]
    assert not diffs, diffs[:3]


_ALPHABET = st.sampled_from([*"0123456789.:-@<>[]()#/?&= \t\nabcdefABCDEFxyzRFC_é", "550", "4.7.1", "said: "])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_ALPHABET, max_size=40).map("".join), min_size=1, max_size=20))
def test_normalize_expr_equals_function_on_random_text(texts: list[str]) -> None:
    got = pl.DataFrame({"t": texts}).select(normalize_reply_expr(pl.col("t")))["t"].to_list()
    assert got == [normalize_reply(t) for t in texts]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("550 5.1.1 <someone@example.org>: User unknown", "550 5.1.1 <addr>: User unknown"),
        ("host mx.example.org[192.0.2.1] said: 452 4.2.2 full", "host <host> said: 452 4.2.2 full"),
        ("250 2.0.0 Ok: queued as 153053D", "250 2.0.0 Ok: queued as <id>"),
        ("Greylisted for 300 seconds", "Greylisted for # seconds"),
        ("from 192.0.2.25 - 4.16.55.1;", "from <ip> - <ip>;"),
        ("550-5.7.1 this 550-5.7.1 message", "550-5.7.1 this message"),
        ("see RFC 5322 section 3.6.2", "see RFC5322 section 3.6.2"),
        ("block list (S3150) at 2024-05-01T10:11:12.123Z", "block list (S3150) at <time>"),
        ("qc12si8475009pab.211 - gsmtp", "<id> - gsmtp"),
        ("mailbox unavailable. [AM0PR01MB1234.eurprd01.prod.outlook.com]", "mailbox unavailable. [<host>]"),
        ("SPF [summitshop.com] with ip", "SPF [<domain>] with ip"),
        ("Not a valid recipient - atlas959.aol.mail.ne1.yahoo.com", "Not a valid recipient - <host>"),
        ("[YocLQjthRm7v.eurprd075.prod.outlook.com] (S3150)", "[<host>] (S3150)"),
    ],
)
def test_normalize_examples(text: str, want: str) -> None:
    assert normalize_reply(text) == want


def test_hostile_lengths_stay_fast() -> None:
    """A 100 kB reply (untrusted input) is cut before Python's backtracking regexes see it."""
    import time

    from analysis.classify.normalize import MAX_CHARS

    start = time.process_time()
    for text in ("a" * 100_000, "x.y-" * 25_000, "1.2." * 25_000, "<" * 100_000 + "@"):
        norm = normalize_reply(text)
        assert norm is not None and len(norm) <= MAX_CHARS + 16
        bare_verdict = bare(text, status="bounced")
        assert bare_verdict.reason is not None
    assert time.process_time() - start < 5


def _rows() -> list[dict[str, object]]:
    """Every table text under several input shapes: bare, with status/domain, with fields given, empty."""
    rows: list[dict[str, object]] = []
    relays = [
        None,
        "",
        "gmail-smtp-in.l.google.com",
        "acme-com.mail.protection.outlook.com",
        "mx.example.net",
    ]
    shapes = itertools.cycle(
        [
            {},
            {"dsn": "5.0.0"},
            {"reply_code": 550},
            {"smtp_stage": "RCPT TO"},
            {"dsn": "4.7.1", "reply_code": 450, "smtp_stage": "MAIL FROM"},
            {"dsn": ""},
            {"smtp_stage": "CONNECT", "reply_code": 554},
            {"smtp_stage": "  "},
            {"smtp_stage": "RCPT"},
            {"smtp_stage": "end of DATA"},
        ]
    )
    for i, (_reason, _sev, status, domain, text) in enumerate(REPLIES):
        shape = next(shapes)
        for st_ in {status, None}:
            rows.append(
                {
                    "status": st_,
                    "dsn": None,
                    "reply_code": None,
                    "reply": text,
                    "smtp_stage": None,
                    "relay_host": relays[i % len(relays)],
                    "recipient_domain": domain,
                }
                | shape
            )
    rows.append(
        dict.fromkeys(
            ["status", "dsn", "reply_code", "reply", "smtp_stage", "relay_host", "recipient_domain"]
        )
    )
    rows.append(
        {
            "status": "sent",
            "dsn": "2.0.0",
            "reply_code": None,
            "reply": "",
            "smtp_stage": "",
            "relay_host": "",
            "recipient_domain": "",
        }
    )
    return rows


def test_frame_equals_scalar_on_table() -> None:
    rows = _rows()
    df = pl.DataFrame(
        rows,
        schema={
            "status": pl.String,
            "dsn": pl.String,
            "reply_code": pl.Int64,
            "reply": pl.String,
            "smtp_stage": pl.String,
            "relay_host": pl.String,
            "recipient_domain": pl.String,
        },
    )
    out = classify_frame(df, with_dsn=True)
    assert out.height == df.height
    assert out.select(df.columns).equals(df), "input columns must come back unchanged and in order"
    for row, (provider, reason, severity, dsn) in zip(
        rows, out.select("provider", "reason", "severity", "dsn_effective").iter_rows(), strict=True
    ):
        want = classify_reply(**row)  # type: ignore[arg-type]
        assert (provider, reason, severity, dsn) == (want.provider, want.reason, want.severity, want.dsn), row


def test_frame_accepts_missing_columns_and_replaces_verdicts() -> None:
    df = pl.DataFrame(
        {"reply": ["550 5.1.1 User unknown", None], "reason": ["stale", "stale"], "extra": [1, 2]}
    )
    out = classify_frame(df)
    assert out.columns == ["reply", "reason", "extra", "provider", "severity"]
    assert out["reason"].to_list() == ["userunknown", None]
    assert out["extra"].to_list() == [1, 2]
    assert out["provider"].to_list() == [None, None]


def test_frame_on_empty_input() -> None:
    out = classify_frame(pl.DataFrame(schema={"status": pl.String, "reply": pl.String}))
    assert out.height == 0 and {"provider", "reason", "severity"} <= set(out.columns)


def test_engine_runs_once_per_distinct_masked_reply() -> None:
    """10,000 rows whose replies differ only in address, IP and queue ID cost three engine calls."""
    from analysis.classify.engine import classify_key

    templates = [
        "host mx{n}.example.org[192.0.2.{n}] said: 550 5.1.1 <user{n}@example.org>: User unknown",
        "host mx{n}.example.org[192.0.2.{n}] said: 452 4.2.2 <user{n}@example.org> mailbox full, id {n:08X}",
        "connect to mx{n}.example.org[192.0.2.{n}]:25: Connection refused",
    ]
    rows = 10_000
    df = pl.DataFrame(
        {
            "status": ["bounced"] * rows,
            "reply": [templates[i % 3].format(n=i % 250) for i in range(rows)],
            "recipient_domain": ["example.org"] * rows,
        }
    )
    classify_key.cache_clear()
    out = classify_frame(df)
    assert classify_key.cache_info().misses == 3
    assert out["reason"].value_counts().sort("reason").rows() == [
        ("mailboxfull", 3333),
        ("networkerror", 3333),
        ("userunknown", 3334),
    ]
