"""Table-driven classification tests over real reply texts (tests/data/classify/replies.txt)."""

from __future__ import annotations

import pytest

from analysis.classify import REASONS, default_rules, parse_rules
from analysis.classify.engine import extract_dsn, extract_reply_code
from test_classify_support import bare, load_replies

REPLIES = load_replies()


def test_table_is_large_and_uses_known_reasons() -> None:
    assert len(REPLIES) >= 300
    assert {r[0] for r in REPLIES} <= REASONS
    assert len({r[4] for r in REPLIES}) == len(REPLIES), "duplicate reply texts in the table"


@pytest.mark.parametrize(("reason", "severity", "status", "domain", "text"), REPLIES, ids=range(len(REPLIES)))
def test_reply_table(
    reason: str, severity: str | None, status: str | None, domain: str | None, text: str
) -> None:
    got = bare(text, status=status, recipient_domain=domain)
    assert (got.reason, got.severity) == (reason, severity), f"rule {got.rule} on {text!r}"


def test_every_rule_is_exercised_by_the_table() -> None:
    """A rule no real text reaches is dead weight or a typo in its regex."""
    fired = {
        bare(text, status=status, recipient_domain=domain).rule for _r, _s, status, domain, text in REPLIES
    }
    unused = [r.id for r in default_rules().rules if r.id not in fired]
    assert len(unused) <= len(default_rules().rules) // 4, f"rules no text reaches: {unused}"


@pytest.mark.parametrize(
    ("kwargs", "reason", "severity"),
    [
        # status decides outright
        ({"status": "sent", "reply": "550 5.1.1 user unknown"}, "delivered", None),
        ({"status": "expired", "reply": None}, "expired", "soft"),
        # dsn= field wins over the absence of a code in the text
        ({"status": "bounced", "dsn": "5.1.1", "reply": "Recipient not welcome here"}, "userunknown", "hard"),
        ({"status": "deferred", "dsn": "4.2.2", "reply": "try later"}, "mailboxfull", "soft"),
        # Postfix's synthetic x.0.0 gives way to the code in the text
        (
            {"status": "bounced", "dsn": "5.0.0", "reply": "host x[192.0.2.1] said: 550 5.1.1 nope"},
            "userunknown",
            "hard",
        ),
        # a temporary failure is never hard, whatever the reason
        ({"status": "deferred", "dsn": "4.1.1", "reply": "450 4.1.1 User unknown"}, "userunknown", "soft"),
        ({"status": None, "reply_code": 550, "reply": "User unknown"}, "userunknown", "hard"),
        ({"status": None, "reply_code": 450, "reply": "User unknown"}, "userunknown", "soft"),
        # notaccept is hard only with 5xx
        ({"status": None, "reply": "554 5.3.2 System not accepting network messages"}, "notaccept", "hard"),
        ({"status": None, "reply": "421 4.3.2 System not accepting network messages"}, "notaccept", "soft"),
        # a 5xx refusal at connect/HELO in words no rule knows: the client was refused
        (
            {"status": "bounced", "reply": "host mx[192.0.2.1] refused to talk to me: 554 go away"},
            "blocked",
            "soft",
        ),
        ({"status": "bounced", "smtp_stage": "EHLO", "reply": "550 go away"}, "blocked", "soft"),
        ({"status": "bounced", "smtp_stage": "RCPT", "reply": "550 go away"}, "undefined", "soft"),
        ({"status": "deferred", "smtp_stage": "CONNECT", "reply": "421 go away"}, "undefined", "soft"),
        # nothing at all → nothing
        ({"status": None, "reply": None}, None, None),
        ({"status": None, "reply": ""}, None, None),
        # unknown wording falls back to the status code, then the class
        ({"status": "bounced", "reply": "550 5.2.4 whatever"}, "filtered", "soft"),
        ({"status": "bounced", "reply": "550 frobnicated"}, "undefined", "soft"),
        ({"status": "deferred", "reply": "frobnicated"}, "undefined", "soft"),
    ],
)
def test_status_code_and_severity_logic(
    kwargs: dict[str, object], reason: str | None, severity: str | None
) -> None:
    given = dict(kwargs)
    got = bare(given.pop("reply"), **given)  # type: ignore[arg-type]
    assert (got.reason, got.severity) == (reason, severity)


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("host x[192.0.2.1] said: 550 5.1.1 nope (in reply to RCPT TO command)", "rcpt to"),
        ("host x[192.0.2.1] said: 554 5.7.1 spam (in reply to end of DATA command)", "end of data"),
        ("host x[192.0.2.1] refused to talk to me: 554 5.7.1 go away", "connect"),
        ("lost connection with x[192.0.2.1] while receiving the initial server greeting", "connect"),
        ("lost connection with x[192.0.2.1] while sending MAIL FROM", "mail from"),
        ("conversation with x[192.0.2.1] timed out while performing the EHLO handshake", "ehlo"),
        ("550 5.1.1 nope", None),
    ],
)
def test_stage_extraction(text: str, stage: str | None) -> None:
    from analysis.classify.engine import extract_stage

    assert extract_stage(text) == stage


def test_provider_specific_rule_needs_the_provider() -> None:
    text = "421 4.7.0 Try again later, closing connection. (EHLO) a1si123.9 - gsmtp"
    google = bare(
        text, status="deferred", relay_host="gmail-smtp-in.l.google.com", recipient_domain="example.org"
    )
    other = bare(text, status="deferred", relay_host="mx.example.org", recipient_domain="example.org")
    assert (google.provider, google.reason, google.rule) == ("google", "blocked", "google-try-later-closing")
    assert other.provider == "other" and other.rule != "google-try-later-closing"


@pytest.mark.parametrize(
    ("text", "code", "dsn"),
    [
        ("550 5.1.1 <a@b.c>: Recipient address rejected", 550, "5.1.1"),
        ("host mx.example.org[192.0.2.1] said: 452-4.2.2 over quota", 452, "4.2.2"),
        ("host x[192.0.2.1] refused to talk to me: 554 5.7.1 go away", 554, "5.7.1"),
        ("553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", 553, "5.7.1"),
        ("Host or domain name not found. Name service error", None, None),
        ("421 4.7.0 [TSS04] Messages from 192.0.2.25 deferred - 4.16.55.1", 421, "4.7.0"),
        ("connect to 10.4.4.1[10.4.4.1]:25: Connection refused", None, None),
    ],
)
def test_code_and_dsn_extraction(text: str, code: int | None, dsn: str | None) -> None:
    from analysis.classify import normalize_reply

    norm = normalize_reply(text)
    assert extract_reply_code(norm) == code
    assert extract_dsn(norm) == dsn


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('[[rule]]\nid = "x"\nreason = "nonsense"\ntext = "a"\n', "unknown reason"),
        ('[[rule]]\nid = "x"\nreason = "blocked"\n', "needs at least one"),
        ('[[rule]]\nid = "x"\nreason = "blocked"\ntext = "a"\ncolour = "red"\n', "unknown keys"),
        ('[[rule]]\nid = "x"\nreason = "blocked"\ncode = "6xx"\n', "bad code"),
        ('[[rule]]\nid = "x"\nreason = "blocked"\nstage = ["LUNCH"]\n', "unknown stage"),
        (
            '[[rule]]\nid = "x"\nreason = "blocked"\ntext = "a"\n[[rule]]\nid = "x"\nreason = "blocked"\ntext = "b"\n',
            "duplicate",
        ),
        ('[status]\n"5.1.1" = "gone"\n', "unknown reasons"),
    ],
)
def test_rule_table_validation(doc: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(doc)


def test_changed_rule_table_changes_the_verdict() -> None:
    """The engine follows whatever table it is given (what reclassify relies on)."""
    rules = parse_rules('[[rule]]\nid = "all-spam"\nreason = "spamdetected"\ntext = "unknown"\n')
    got = bare("550 5.1.1 User unknown", status="bounced", rules=rules)
    assert (got.reason, got.severity, got.rule) == ("spamdetected", "soft", "all-spam")
