"""Table-driven tests of the Postfix line parser, plus the public grok corpus as an independent check."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis.ingest.postfix import EVENT_KINDS, YearState, parse_lines

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
H = "Nov 22 04:50:57 mx1"

# (line, expected kind, expected fields). kind "other" = another program; "quarantine:<reason>" = refused.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (f"{H} postfix/smtpd[1]: 4104E3D: client=foo.example[192.0.2.5]:5555, sasl_method=PLAIN, sasl_username=acme-mailer",
     "client", {"qid": "4104E3D", "client_host": "foo.example", "client_ip": "192.0.2.5", "client_port": 5555,
                "sasl_method": "PLAIN", "sasl_username": "acme-mailer", "daemon": "smtpd", "instance": "postfix"}),
    (f"{H} postfix/smtpd[1]: 4104E3D: client=unknown[2001:db8::5]", "client", {"client_ip": "2001:db8::5", "client_host": "unknown"}),
    (f"{H} postfix/submission/smtpd[1]: 3Pt2mN2VXxznjll: client=a[192.0.2.1], sasl_method=LOGIN, sasl_username=u@x.example",
     "client", {"qid": "3Pt2mN2VXxznjll", "service": "submission", "daemon": "smtpd", "sasl_username": "u@x.example"}),
    (f"{H} postfix/smtps/smtpd[1]: 4104E3D: client=a[192.0.2.1]", "client", {"service": "smtps"}),
    (f"{H} postfix/smtp-25/smtpd[1]: 4104E3D: client=a[192.0.2.1]", "client", {"service": "smtp-25"}),
    (f"{H} postfix-out/smtpd[1]: 4104E3D: client=a[192.0.2.1]", "client", {"instance": "postfix-out"}),
    (f"{H} postfix-198.51.100.7/smtpd[1]: 4104E3D: client=a[192.0.2.1]", "client", {"instance": "postfix-198.51.100.7"}),
    (f"{H} mta-out/qmgr[1]: 4104E3D: removed", "removed", {"instance": "mta-out", "daemon": "qmgr"}),
    (f"{H} postfix/pickup[1]: 66BB3D: uid=1000 from=<alice>", "pickup", {"uid": 1000, "sender": "alice"}),
    (f"{H} postfix/cleanup[1]: 4104E3D: message-id=<abc@foo.example>", "message_id", {"message_id": "<abc@foo.example>"}),
    (f"{H} postfix/cleanup[1]: 4104E3D: message-id=<>", "message_id", {"message_id": "<>"}),
    (f"{H} postfix/cleanup[1]: 4104E3D: message-id=malformed id here", "message_id", {"message_id": "malformed id here"}),
    (f"{H} postfix/qmgr[1]: 4104E3D: from=<news@news.acme.example>, size=1234, nrcpt=2 (queue active)",
     "queued", {"sender": "news@news.acme.example", "size": 1234, "nrcpt": 2}),
    (f"{H} postfix/qmgr[1]: 4104E3D: from=<>, size=9, nrcpt=1 (queue active)", "queued", {"sender": ""}),
    (f'{H} postfix/qmgr[1]: 4104E3D: from=<"odd>name"@x.example>, size=9, nrcpt=1 (queue active)', "queued",
     {"sender": '"odd>name"@x.example'}),
    (f"{H} postfix/qmgr[1]: 585BC3F: from=<a@b.example>, status=expired, returned to sender", "expired",
     {"sender": "a@b.example", "status": "expired"}),
    (f"{H} postfix/qmgr[1]: 4104E3D: removed", "removed", {}),
    (f"{H} postfix/postsuper[1]: 4104E3D: removed", "removed", {"daemon": "postsuper"}),
    (f"{H} postfix/postsuper[1]: 4104E3D: placed on hold", "hold", {}),
    (f"{H} postfix/postsuper[1]: 4104E3D: released from hold", "release", {}),
    (f"{H} postfix/postsuper[1]: 4104E3D: requeued", "requeue", {}),
    (f"{H} postfix/smtp[1]: 4104E3D: to=<bob@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.2]:25, delay=1.9, "
     "delays=0.05/0/1.1/0.71, dsn=5.1.1, status=bounced (host gmail-smtp-in.l.google.com[142.250.1.2] said: 550-5.1.1 "
     "The email account that you tried to reach does not exist. (in reply to RCPT TO command))",
     "delivery", {"recipient": "bob@gmail.com", "relay_host": "gmail-smtp-in.l.google.com", "relay_ip": "142.250.1.2",
                  "relay_port": 25, "delay": 1.9, "delay_a": 0.05, "delay_b": 0.0, "delay_c": 1.1, "delay_d": 0.71,
                  "dsn": "5.1.1", "status": "bounced", "reply_code": 550, "smtp_stage": "RCPT TO",
                  "reply": "host gmail-smtp-in.l.google.com[142.250.1.2] said: 550-5.1.1 The email account that you "
                           "tried to reach does not exist. (in reply to RCPT TO command)"}),
    (f'{H} postfix/smtp[1]: 4104E3D: to=<"john smith"@yahoo.com>, orig_to=<js@x.example>, relay=mx.yahoo.com[1.2.3.4]:25, '
     "conn_use=2, delay=1.9, delays=0.05/0/1.1/0.71, dsn=4.7.0, status=deferred (host mx.yahoo.com[1.2.3.4] said: 421 "
     "4.7.0 [TSS04] Messages from 1.2.3.4 temporarily deferred due to user complaints (in reply to MAIL FROM command))",
     "delivery", {"recipient": '"john smith"@yahoo.com', "orig_to": "js@x.example", "conn_use": 2, "status": "deferred",
                  "reply_code": 421, "smtp_stage": "MAIL FROM"}),
    (f'{H} postfix/smtp[1]: 4104E3D: to=<"a>b, c"@x.example>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred '
     "(connect to x.example[192.0.2.9]:25: Connection refused)",
     "delivery", {"recipient": '"a>b, c"@x.example', "relay": "none", "relay_host": None, "smtp_stage": "CONNECT",
                  "reply": "connect to x.example[192.0.2.9]:25: Connection refused"}),
    (f"{H} postfix/smtp[1]: 4104E3D: to=<x@outlook.com>, relay=a.mail.protection.outlook.com[2a01:111::1]:25, delay=3.6, "
     "delays=0.08/0.02/0.85/0.14, tls=dane, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 153053D)",
     "delivery", {"relay_ip": "2a01:111::1", "status": "sent", "reply_code": 250, "next_qid": "153053D"}),
    (f"{H} postfix/local[1]: 2A22C263F6: to=user@hostname.example.com, orig_to=root@localhost, relay=local, delay=0.07, "
     'delays=0.04/0/0/0.03, dsn=2.0.0, status=sent (delivered to command: procmail -a "$EXTENSION")',
     "delivery", {"recipient": "user@hostname.example.com", "orig_to": "root@localhost", "relay": "local",
                  "reply": 'delivered to command: procmail -a "$EXTENSION"'}),
    (f"{H} postfix/lmtp[1]: AD6E41CDC05C: to=<admin@example.com>, relay=sub1.example.com[private/dovecot-lmtp], "
     "delay=0.15, delays=0.04/0/0.02/0.08, dsn=2.0.0, status=sent (250 2.0.0 <admin@example.com> qYyyBMsl9FRuZQAAA15QOA Saved)",
     "delivery", {"daemon": "lmtp", "relay_host": "sub1.example.com", "relay_ip": "private/dovecot-lmtp", "relay_port": None}),
    (f"{H} postfix/virtual[1]: B657F2DB195D: to=<postmaster@example.com>, relay=virtual, delay=0.52, delays=0.51/0.01/0/0, "
     "dsn=2.0.0, status=sent (delivered to maildir)", "delivery", {"daemon": "virtual", "relay": "virtual"}),
    (f"{H} postfix/pipe[1]: B657F2DB195D: to=<a@example.com>, relay=dovecot, delay=5.1, delays=4.4/0.02/0/0.61, dsn=5.1.1, "
     "status=bounced (user unknown)", "delivery", {"daemon": "pipe", "status": "bounced", "reply": "user unknown"}),
    (f"{H} postfix/error[1]: 2A22C263F7: to=<a@b.example>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, "
     "status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)",
     "delivery", {"daemon": "error", "delay": 63495.0, "smtp_stage": "RCPT TO"}),
    (f"{H} postfix/discard[1]: 2A22C263F8: to=<a@b.example>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, "
     "status=sent (b.example)", "delivery", {"daemon": "discard"}),
    (f"{H} postfix/smtp[1]: 2A22C263F8: to=<a@b.example>, relay=none, delay=1, delays=1/0/0/0, dsn=5.4.6, "
     "status=bounced (mail for b.example loops back to myself (nested (parens) here))", "delivery",
     {"reply": "mail for b.example loops back to myself (nested (parens) here)"}),
    (f"{H} postfix/smtp[1]: 3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, "
     "status=undeliverable-but-not-cached (User unknown in virtual alias table)", "delivery",
     {"status": "undeliverable-but-not-cached"}),
    (f"{H} postfix/smtp[1]: 3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=4.0.0, "
     "status=SOFTBOUNCE (host said: 550 no)", "delivery", {"status": "softbounce"}),
    (f"{H} postfix/smtp[1]: 3E29030F8637E: to=<a@b.example>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, "
     "status=deliverable (delivers to maildir)", "delivery", {"status": "deliverable"}),
    (f"{H} postfix/smtp[1]: 3E29030F8637E: to=<a@b.example>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.7, "
     "status=expired, returned to sender (connect to b.example[192.0.2.1]:25: Connection refused)", "delivery",
     {"status": "expired"}),
    (f"{H} postfix/bounce[1]: 4104E3D: sender non-delivery notification: 77CC3D", "notification", {"ndr_qid": "77CC3D"}),
    (f"{H} postfix/bounce[1]: 4104E3D: sender delay notification: 77CC3E", "notification", {"ndr_qid": "77CC3E"}),
    (f"{H} postfix/bounce[1]: 4104E3D: sender delivery status notification: 77CC3F", "notification", {"ndr_qid": "77CC3F"}),
    (f"{H} postfix/bounce[1]: 482E4404AC8: postmaster non-delivery notification: 47335405A44", "notification", {}),
    (f"{H} postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0.113.9]: 554 5.7.1 <a@b.example>: Relay access "
     "denied; from=<s@evil.example> to=<a@b.example> proto=ESMTP helo=<evil>",
     "reject", {"qid": None, "action": "reject", "smtp_stage": "RCPT", "client_ip": "203.0.113.9", "reply_code": 554,
                "dsn": "5.7.1", "sender": "s@evil.example", "recipient": "a@b.example", "proto": "ESMTP", "helo": "evil",
                "reply": "554 5.7.1 <a@b.example>: Relay access denied"}),
    (f"{H} postfix/postscreen[1]: NOQUEUE: reject: RCPT from [27.157.200.233]:4984: 550 5.7.1 Service unavailable; client "
     "[27.157.200.233] blocked using zen.spamhaus.org; from=<h@qhhn.com>, to=<u@example.com>, proto=ESMTP, helo=<qhhn.com>",
     "reject", {"daemon": "postscreen", "client_ip": "27.157.200.233", "client_port": 4984, "sender": "h@qhhn.com",
                "reply": "550 5.7.1 Service unavailable; client [27.157.200.233] blocked using zen.spamhaus.org"}),
    (f"{H} postfix/smtpd[1]: NOQUEUE: reject_warning: RCPT from example.com[93.184.216.34]: 553 5.7.1 <s@example.com>: "
     "Sender address rejected: not owned by user ph123; from=<s@example.com> to=<r@example.com> proto=ESMTP helo=<example.com>",
     "reject", {"action": "reject_warning"}),
    (f"{H} postfix/smtpd[1]: NOQUEUE: reject: CONNECT from [1.2.3.4]:1337: too many connections", "reject",
     {"smtp_stage": "CONNECT", "reply": "too many connections", "sender": None}),
    (f"{H} postfix/smtpd[1]: 4104E3D: reject: RCPT from a[192.0.2.1]: 550 5.1.1 <x@y>: Recipient address rejected: "
     "User unknown; from=<s@x> to=<x@y> proto=ESMTP helo=<a>", "reject", {"qid": "4104E3D", "action": "reject"}),
    (f"{H} postfix/smtpd[1]: NOQUEUE: milter-reject: RCPT from m.example.com[8.8.8.8]: 451 4.7.1 Greylisting in action, "
     "please come back later; from=<s@example.com> to=<e@example.org> proto=ESMTP helo=<m.example.com>",
     "reject", {"action": "milter-reject", "reply_code": 451}),
    (f"{H} postfix/cleanup[1]: 55AAE3D: reject: header Subject: buy now from foo[1.2.3.4]; from=<a@b> to=<c@d> "
     "proto=ESMTP helo=<foo>: 5.7.1 message content rejected", "cleanup_action",
     {"action": "reject", "smtp_stage": "header", "client_ip": "1.2.3.4", "dsn": "5.7.1", "reply": "5.7.1 message content rejected"}),
    (f"{H} postfix/cleanup[1]: 55AAE3D: hold: header X-Hold: yes from local; from=<a@b> to=<c@d>", "cleanup_action",
     {"action": "hold", "client_ip": None}),
    (f"{H} postfix/cleanup[1]: 55AAE3D: warning: header Subject: hi from foo[1.2.3.4]; from=<a@b> to=<c@d> proto=ESMTP helo=<foo>",
     "cleanup_action", {"action": "warning"}),
    (f"{H} postfix/cleanup[1]: 4104E3F: milter-reject: END-OF-MESSAGE from h.example[61.238.241.86]: 5.7.1 Blocked by "
     "SpamAssassin; from=<w@c.com> to=<v@example.com> proto=ESMTP helo=<e.com>", "cleanup_action",
     {"action": "milter-reject", "smtp_stage": "END-OF-MESSAGE", "reply": "5.7.1 Blocked by SpamAssassin", "dsn": "5.7.1"}),
    (f"{H} postfix/smtpd[1]: connect from foo.example[192.0.2.5]", "info", {}),
    (f"{H} postfix/smtp[1]: 4104E3D: host mx.example[192.0.2.1] said: 450 4.2.0 try later (in reply to RCPT TO command)", "info", {}),
    (f"{H} postfix/anvil[1]: statistics: max connection rate 1/60s for (smtpd:61.238.241.86) at Oct 26 18:13:50", "info", {}),
    (f"{H} postfix/master[1]: daemon started -- version 3.7.11, configuration /etc/postfix", "info", {}),
    (f"{H} postfix[1]: fatal: bad configuration", "info", {}),
    (f"{H} opendkim[55]: 4104E3D: DKIM-Signature field added", "other", {}),
    (f"{H} amavis[7]: (07123-01) Passed CLEAN", "other", {}),
    (f"{H} dovecot: imap-login: Login: user=<x>", "other", {}),
    ("2026-11-22T04:51:07.123456+01:00 mx2 postfix/smtpd[5]: 3Pt2mN2VXxznjlm: client=unknown[2001:db8::5]", "client",
     {"ts": dt.datetime(2026, 11, 22, 3, 51, 7, 123456, tzinfo=dt.UTC), "host": "mx2"}),
    ("2026-11-22T04:51:07Z mx2 postfix/qmgr[5]: 3Pt2mN2VXxznjlm: removed", "removed",
     {"ts": dt.datetime(2026, 11, 22, 4, 51, 7, tzinfo=dt.UTC)}),
    ("<22>Nov  2 04:50:57 mx1 postfix/qmgr[1]: ABCDE1: removed", "removed",
     {"ts": dt.datetime(2026, 11, 2, 4, 50, 57, tzinfo=dt.UTC)}),
    ("Nov 2 04:50:57 mx1 postfix/qmgr[1]: ABCDE1: removed", "removed", {}),
    (f"{H} postfix/smtp[1]: 3Pt2mN2VXxznjll: to=<y@gmx.de>, relay=mx00.gmx.net[212.227.15.9]:25, delay=3",
     "quarantine:truncated delivery line (no status=)", {}),
    (f"{H} postfix/smtpd[1]: 4104E3D: client=", "quarantine:malformed smtpd client= line", {}),
    ("garbage line without header", "quarantine:no syslog header", {}),
    ("", "quarantine:empty line", {}),
    ("Feb 30 04:50:57 mx1 postfix/qmgr[1]: ABCDE1: removed", "quarantine:invalid timestamp", {}),
    ("Nov 22 25:50:57 mx1 postfix/qmgr[1]: ABCDE1: removed", "quarantine:invalid timestamp", {}),
]


def _parse_one(line: str) -> tuple[str, dict[str, Any]]:
    r = parse_lines(pl.Series([line]), first_line_no=1, year=YearState(2026))
    assert r.lines_read == 1
    assert r.lines_parsed + r.lines_quarantined + r.lines_other == 1
    if r.lines_other:
        return "other", {}
    if r.lines_quarantined:
        return "quarantine:" + r.quarantine.get_column("reason")[0], {}
    if r.events.height == 0:
        assert r.kinds == {"info": 1}
        return "info", {}
    return r.events.get_column("kind")[0], r.events.row(0, named=True)


@pytest.mark.parametrize(("line", "kind", "fields"), CASES, ids=[f"{i:02d}-{c[1]}" for i, c in enumerate(CASES)])
def test_line_shapes(line: str, kind: str, fields: dict[str, Any]) -> None:
    got_kind, row = _parse_one(line)
    assert got_kind == kind
    for k, v in fields.items():
        assert row[k] == v, k


def test_traditional_timestamp_and_timezone() -> None:
    line = "Mar 29 01:30:00 mx1 postfix/qmgr[1]: ABCDE1: removed"
    r = parse_lines(pl.Series([line]), first_line_no=1, year=YearState(2026, tz="Europe/Berlin"))
    assert r.events.get_column("ts")[0] == dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)


def test_year_rollover_dec_to_jan_carries_across_chunks() -> None:
    state = YearState(2025)
    a = parse_lines(pl.Series(["Dec 31 23:59:59 h postfix/qmgr[1]: AAAAA1: removed"]), first_line_no=1, year=state)
    # A small backwards step (reordered lines) is not a rollover; Dec -> Jan is, even across chunks.
    b = parse_lines(
        pl.Series(["Dec 31 23:59:58 h postfix/qmgr[1]: AAAAA2: removed", "Jan  1 00:00:01 h postfix/qmgr[1]: AAAAA3: removed"]),
        first_line_no=2,
        year=state,
    )
    years = [a.events.get_column("ts")[0].year, *[t.year for t in b.events.get_column("ts")]]
    assert years == [2025, 2025, 2026]
    assert state.year == 2026 and state.last_month == 1


def test_line_numbers_and_buckets_add_up() -> None:
    lines = [c[0] for c in CASES]
    r = parse_lines(pl.Series(lines), first_line_no=101, year=YearState(2026))
    assert r.lines_read == len(lines)
    assert r.lines_parsed + r.lines_quarantined + r.lines_other == len(lines)
    nos = sorted(r.events.get_column("line_no").to_list() + r.quarantine.get_column("line_no").to_list())
    assert nos == sorted(set(nos)) and nos[0] >= 101 and nos[-1] <= 100 + len(lines)
    assert sum(r.kinds.values()) == r.lines_parsed
    assert set(r.kinds) <= {*EVENT_KINDS, "info"}
    assert set(r.events.get_column("kind")) <= set(EVENT_KINDS)


# --- the public grok corpus (bodies without syslog header, with the fields a parser should extract) ---

GROK_DAEMON = {
    "POSTFIX_SMTPD": "smtpd", "POSTFIX_SMTP": "smtp", "POSTFIX_CLEANUP": "cleanup", "POSTFIX_QMGR": "qmgr",
    "POSTFIX_PICKUP": "pickup", "POSTFIX_BOUNCE": "bounce", "POSTFIX_LMTP": "lmtp", "POSTFIX_LOCAL": "local",
    "POSTFIX_PIPE": "pipe", "POSTFIX_ERROR": "error", "POSTFIX_POSTSCREEN": "postscreen", "POSTFIX_ANVIL": "anvil",
    "POSTFIX_DISCARD": "discard", "POSTFIX_VIRTUAL": "virtual", "POSTFIX_POSTSUPER": "postsuper",
    "POSTFIX_SCACHE": "scache", "POSTFIX_MASTER": "master", "POSTFIX_TLSMGR": "tlsmgr", "POSTFIX_DNSBLOG": "dnsblog",
    "POSTFIX_TLSPROXY": "tlsproxy", "POSTFIX_SENDMAIL": "sendmail", "POSTFIX_POSTDROP": "postdrop",
    "POSTFIX_TRIVIAL_REWRITE": "trivial-rewrite", "POSTFIX_VERIFY": "verify", "POSTFIX_POSTMAP": "postmap",
}
# grok field -> our event column
GROK_FIELDS = {
    "postfix_queueid": "qid", "postfix_status": "status", "postfix_relay_ip": "relay_ip",
    "postfix_relay_hostname": "relay_host", "postfix_relay_port": "relay_port",
}


def _grok_cases() -> list[tuple[str, str, dict[str, Any]]]:
    yaml = pytest.importorskip("yaml")
    root = CORPORA / "postfix-grok"
    if not root.is_dir():
        return []
    out = []
    for f in sorted(root.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        m = re.match(r"\^%\{(POSTFIX_[A-Z_]+)\}\$", doc.get("pattern", ""))
        if not m or m.group(1) not in GROK_DAEMON or not isinstance(doc.get("data"), str):
            continue
        out.append((f.name, f"{H} postfix/{GROK_DAEMON[m.group(1)]}[99]: {doc['data']}", doc.get("results") or {}))
    return out


def test_grok_corpus_every_body_parses_and_fields_agree() -> None:
    cases = _grok_cases()
    if not cases:
        pytest.skip("../shared/corpora/postfix-grok not present")
    lines = pl.Series([c[1] for c in cases])
    r = parse_lines(lines, first_line_no=1, year=YearState(2026))
    assert r.lines_other == 0
    # Every real body is understood except the ones whose own text is cut off (no status= after to=).
    bad = r.quarantine.join(pl.DataFrame({"line_no": range(1, len(cases) + 1), "name": [c[0] for c in cases]}), on="line_no")
    assert set(bad.get_column("reason")) <= {"truncated delivery line (no status=)"}, bad.rows()
    events = {row["line_no"]: row for row in r.events.iter_rows(named=True)}
    checked = 0
    for i, (name, _line, results) in enumerate(cases, start=1):
        row = events.get(i)
        if row is None:
            continue
        for grok, ours in GROK_FIELDS.items():
            if grok in results and row.get(ours) is not None:
                want = results[grok]
                assert str(row[ours]) == str(want), (name, ours)
                checked += 1
        if row["kind"] == "reject" and "postfix_client_ip" in results:
            assert row["client_ip"] == results["postfix_client_ip"], name
            checked += 1
    assert checked >= 40
