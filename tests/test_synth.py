"""The synthetic Postfix log generator: deterministic, and its ground truth is what it really wrote.

The truth is recounted here from the text with plain regexes that follow pflogsumm's definitions, not
with the generator's code and not with the ingest parser; pflogsumm itself is the third opinion.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.errors import InputError
from analysis.synth import Mix, Options, Truth, generate
from analysis.synth.postfix import DEFAULT_START, LONG_ALPHABET

# Slow message rate and a short queue lifetime, so that a few thousand lines hold retries and expiries.
SMALL = {"rate": 0.05, "queue_lifetime": 2 * 3600}

LINE = re.compile(
    r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d) "
    r"(?P<host>\S+) (?P<prog>[^\[:\s]+)(?:\[\d+\])?: (?P<rest>.*)$"
)
QID_REST = re.compile(r"^(?P<qid>[0-9A-Za-z]+): (?P<body>.*)$")
SIZE = re.compile(r"^from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=")
STATUS = re.compile(r"^to=<(?P<rcpt>[^>]*)>, .*?status=(?P<status>\w+) ")


def _write(lines: int, seed: int = 0, **overrides: Any) -> tuple[str, Truth]:
    buf = io.StringIO()
    truth = generate(buf, lines=lines, seed=seed, **overrides)
    return buf.getvalue(), truth


def recount(text: str) -> dict[str, int]:
    """pflogsumm's totals, per queue life, from the text alone."""
    c: Counter[str] = Counter()
    received_lives: set[tuple[str, str, str]] = set()
    life_no: dict[tuple[str, str, str], int] = {}
    sized: set[tuple[str, str, str, int]] = set()
    deferred: set[tuple[str, str, str, int]] = set()
    senders: set[str] = set()
    recipients: set[str] = set()
    lives = 0
    for line in text.splitlines():
        c["lines_read"] += 1
        m = LINE.match(line)
        if m is None:
            continue
        prog, rest = m["prog"], m["rest"]
        if not prog.startswith("postfix"):
            c["lines_other"] += 1
            continue
        instance, daemon = prog.split("/")[0], prog.rsplit("/", 1)[-1]
        if "NOQUEUE: reject: " in rest and daemon in ("smtpd", "postscreen"):
            c["rejected"] += 1
            continue
        q = QID_REST.match(rest)
        if q is None:
            continue
        key = (m["host"], instance, q["qid"])
        body = q["body"]
        if (daemon == "smtpd" and body.startswith("client=")) or (
            daemon == "pickup" and body.startswith("uid=")
        ):
            c["received"] += 1
            life_no[key] = life_no.get(key, 0) + 1
            received_lives.add(key)
            lives += 1
        elif daemon == "cleanup" and re.match(r"(milter-)?reject: ", body):
            c["rejected"] += 1
        elif daemon == "cleanup" and body.startswith("message-id=") and key not in received_lives:
            life_no[key] = life_no.get(key, 0) + 1  # a bounce notification's first line
            lives += 1
        elif daemon == "qmgr" and (s := SIZE.match(body)):
            life = (*key, life_no.get(key, 0))
            if key in received_lives and life not in sized:
                sized.add(life)
                c["bytes_received"] += int(s["size"])
                senders.add(s["sender"])
        elif daemon == "qmgr" and body.startswith("from=<") and "status=expired, returned to sender" in body:
            c["expired"] += 1
        elif daemon == "qmgr" and body == "removed":
            received_lives.discard(key)
        elif st := STATUS.match(body):
            c["deliveries"] += 1
            if st["status"] == "sent":
                c["delivered"] += 1
                recipients.add(st["rcpt"])
            elif st["status"] == "deferred":
                c["deferrals"] += 1
                deferred.add((*key, life_no.get(key, 0)))
            elif st["status"] == "bounced":
                c["bounced"] += 1
    c["deferred"] = len(deferred)
    c["senders"] = len(senders)
    c["recipients"] = len(recipients)
    c["messages"] = lives
    return dict(c)


CASES = [
    pytest.param({}, id="defaults"),
    pytest.param({"style": "rfc3339"}, id="rfc3339"),
    pytest.param({"reuse_ids": 0.3, "hosts": ("relay1", "relay2")}, id="reuse-two-hosts"),
    pytest.param({"long_ids": True, "truncated": 0.05}, id="long-ids-truncated"),
    pytest.param({"instances": (("postfix", 1.0),), "mix": Mix(defer=0.3, expire=0.3)}, id="deferral-heavy"),
]


@pytest.mark.parametrize("overrides", CASES)
def test_truth_equals_an_independent_recount(overrides: dict[str, Any]) -> None:
    text, truth = _write(12_000, seed=7, **{**SMALL, **overrides})
    got = recount(text)
    want = truth.to_dict()
    for name in (
        "received",
        "delivered",
        "deferred",
        "deferrals",
        "bounced",
        "expired",
        "rejected",
        "bytes_received",
        "senders",
        "recipients",
        "lines_read",
        "lines_other",
        "messages",
        "deliveries",
    ):
        assert got.get(name, 0) == want[name], name
    assert truth.lines_read == 12_000 == text.count("\n")
    # Every kind of event occurs, so the comparison above is not vacuous.
    for name in ("received", "delivered", "deferred", "bounced", "expired", "rejected", "lines_other"):
        assert want[name] > 0, name


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, ta = _write(5_000, seed=11, **SMALL)
    b, tb = _write(5_000, seed=11, **SMALL)
    c, _ = _write(5_000, seed=12, **SMALL)
    assert a == b and ta == tb
    assert a != c


def test_styles_share_one_event_stream() -> None:
    trad, t1 = _write(3_000, seed=5)
    rfc, t2 = _write(3_000, seed=5, style="rfc3339")
    strip_trad = [line[16:] for line in trad.splitlines()]
    strip_rfc = [line.split(" ", 1)[1] for line in rfc.splitlines()]
    assert strip_trad == strip_rfc
    assert t1.delivered == t2.delivered
    assert re.match(r"^Nov 20 00:00:\d\d relay1 ", trad)
    assert all(re.match(r"^2026-11-20T\d\d:\d\d:\d\d\.\d{6}\+00:00 ", line) for line in rfc.splitlines())


def test_traditional_day_is_space_padded_and_year_rolls_over() -> None:
    import datetime as dt

    start = dt.datetime(2026, 12, 31, 23, 59, 0, tzinfo=dt.UTC)
    text, truth = _write(2_000, seed=1, start=start, rate=5.0)
    days = {line[:6] for line in text.splitlines()}
    assert days == {"Dec 31", "Jan  1"}
    assert truth.first_timestamp.startswith("2026-12-31") and truth.last_timestamp.startswith("2027-01-01")


def _share(text: str, needle: str) -> float:
    lines = text.splitlines()
    return sum(needle in line for line in lines) / len(lines)


MIX_EFFECTS = [
    # (low options, high options, what grows)
    pytest.param(
        {"mix": Mix(defer=0.01)},
        {"mix": Mix(defer=0.4)},
        lambda t, tr: tr.deferrals / tr.deliveries,
        id="defer",
    ),
    pytest.param(
        {"mix": Mix(invalid_rcpt=0.0)},
        {"mix": Mix(invalid_rcpt=0.3)},
        lambda t, tr: _share(t, "5.1.1"),
        id="invalid_rcpt",
    ),
    pytest.param(
        {"mix": Mix(block=0.0)}, {"mix": Mix(block=0.2)}, lambda t, tr: _share(t, "dsn=5.7."), id="block"
    ),
    pytest.param(
        {"mix": Mix(noqueue=0.0)},
        {"mix": Mix(noqueue=1.0)},
        lambda t, tr: tr.rejected / tr.received,
        id="noqueue",
    ),
    pytest.param(
        {"mix": Mix(content_filter=0.0)},
        {"mix": Mix(content_filter=0.6)},
        lambda t, tr: _share(t, "relay=127.0.0.1[127.0.0.1]:10024"),
        id="content_filter",
    ),
    pytest.param(
        {"mix": Mix(multi_rcpt=0.0)},
        {"mix": Mix(multi_rcpt=0.8)},
        lambda t, tr: tr.deliveries / tr.received,
        id="multi_rcpt",
    ),
    pytest.param(
        {"mix": Mix(noise=0.05)}, {"mix": Mix(noise=1.0)}, lambda t, tr: _share(t, "dovecot: "), id="noise"
    ),
    pytest.param(
        {"mix": Mix(pickup=0.0)}, {"mix": Mix(pickup=0.3)}, lambda t, tr: _share(t, "/pickup["), id="pickup"
    ),
    pytest.param(
        {"bad_accounts": 0},
        {"bad_accounts": 3, "accounts": 6},
        lambda t, tr: tr.bounced / tr.deliveries,
        id="bad_accounts",
    ),
    pytest.param(
        {"truncated": 0.0},
        {"truncated": 0.1},
        lambda t, tr: tr.lines_truncated / tr.lines_read,
        id="truncated",
    ),
]


@pytest.mark.parametrize(("low", "high", "measure"), MIX_EFFECTS)
def test_mix_options_change_what_they_claim(low: dict[str, Any], high: dict[str, Any], measure: Any) -> None:
    t_low, tr_low = _write(8_000, seed=3, **{**SMALL, **low})
    t_high, tr_high = _write(8_000, seed=3, **{**SMALL, **high})
    assert measure(t_high, tr_high) > 1.5 * measure(t_low, tr_low) + 1e-4


def test_instances_hosts_and_accounts_appear_as_asked() -> None:
    text, _ = _write(
        6_000,
        seed=2,
        hosts=("mx-a", "mx-b"),
        instances=(("postfix", 1.0), ("postfix-out", 1.0)),
        accounts=5,
        bad_accounts=1,
    )
    hosts = Counter(m["host"] for line in text.splitlines() if (m := LINE.match(line)))
    assert set(hosts) == {"mx-a", "mx-b"}
    assert " postfix-out/qmgr[" in text and " postfix/qmgr[" in text
    assert " postfix/submission/smtpd[" in text or " postfix-out/submission/smtpd[" in text
    users = set(re.findall(r"sasl_username=(\S+)", text))
    assert 1 <= len(users) <= 5
    only, _ = _write(3_000, seed=2, instances=(("postfix", 1.0),))
    assert "postfix-out" not in only


def test_queue_id_reuse_really_happens_and_only_after_removal() -> None:
    text, truth = _write(15_000, seed=9, reuse_ids=0.5, **SMALL)
    assert truth.reused_queue_ids > 0
    removed: set[str] = set()
    alive: set[str] = set()
    reused = 0
    for line in text.splitlines():
        # a life ends with qmgr's "removed", or silently when cleanup rejects the message
        m = re.search(
            r" postfix(?:-out)?/[\w/]+\[\d+\]: ([0-9A-F]+): (client=|uid=|removed|reject: |milter-reject: )",
            line,
        )
        if not m:
            continue
        instance = line.split(" postfix", 1)[1].split("/", 1)[0]
        key = instance + m[1]
        if m[2] in ("removed", "reject: ", "milter-reject: "):
            alive.discard(key)
            removed.add(key)
        else:
            assert key not in alive, f"queue ID {m[1]} reused while its first life was alive"
            reused += key in removed
            alive.add(key)
    assert reused >= truth.reused_queue_ids > 0
    _, none = _write(15_000, seed=9, reuse_ids=0.0, **SMALL)
    assert none.reused_queue_ids == 0


def test_short_and_long_queue_ids_look_like_postfix() -> None:
    short, _ = _write(2_000, seed=4)
    qids = set(re.findall(r"\]: ([0-9A-Za-z]{8,}): (?:client|message-id|to|from)=", short))
    assert qids and all(re.fullmatch(r"[0-9A-F]{9,12}", q) for q in qids)
    long_text, _ = _write(2_000, seed=4, long_ids=True)
    qids = set(re.findall(r"\]: ([0-9A-Za-z]{8,}): (?:client|message-id|to|from)=", long_text))
    alphabet = re.escape(LONG_ALPHABET)
    assert qids and all(re.fullmatch(rf"[{alphabet}]{{10}}z[{alphabet[:-1]}]+", q) for q in qids)
    assert not any(set("aeiouAEIOU") & set(q) for q in qids)


def test_realistic_provider_shapes_are_present() -> None:
    text, _ = _write(40_000, seed=6, **{**SMALL, "mix": Mix(block=0.05, defer=0.15)})
    for needle in (
        "gmail-smtp-in.l.google.com[142.250.",
        ".mail.protection.outlook.com[",
        "mx-aol.mail.gm0.yahoodns.net",
        "550-5.1.1 The email account that you tried to reach does not exist",
        "[TSS04]",
        "(S3150)",
        "5.7.26",
        "5.7.515",
        "zen.spamhaus.org",
        "421-4.7.28",
        "452 4.2.2",
        "Connection timed out",
        "conn_use=",
        "orig_to=<root>",
        "sender non-delivery notification: ",
        "from=<>, size=",
        "status=expired, returned to sender",
        "Trusted TLS connection established",
        "250 2.0.0 Ok: queued as ",
        "postfix/postscreen[",
        "NOQUEUE: reject: RCPT from",
        ": reject: header Subject:",
        "opendkim[",
        "amavis[",
        "dovecot: ",
        "policyd-spf[",
        "statistics: max connection rate",
        "warning: ",
    ):
        assert needle in text, needle


def test_zero_lines_and_bad_options() -> None:
    text, truth = _write(0)
    assert text == "" and truth.lines_read == 0
    with pytest.raises(InputError):
        generate(io.StringIO(), lines=10, long_ids=True, reuse_ids=0.1)
    with pytest.raises(InputError):
        generate(io.StringIO(), lines=10, no_such_option=1)
    with pytest.raises(InputError):
        generate(io.StringIO(), lines=10, options=Options(mix=Mix(defer=2.0)))


def test_cli_writes_log_and_truth_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "p.log"
    result = CliRunner().invoke(
        main,
        [
            "synth",
            "postfix",
            "--lines",
            "3000",
            "--out",
            str(out),
            "--seed",
            "4",
            "--style",
            "rfc3339",
            "--reuse-ids",
            "0.2",
            "--mix",
            "defer=0.2",
            "--instances",
            "postfix=1",
        ],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "p.log.truth.json").read_text())
    assert truth["lines_read"] == 3000 == len(out.read_text().splitlines())
    assert truth["options"]["mix"]["defer"] == 0.2 and truth["options"]["style"] == "rfc3339"
    same = generate(
        io.StringIO(),
        lines=3000,
        seed=4,
        style="rfc3339",
        reuse_ids=0.2,
        start=DEFAULT_START,
        mix=Mix(defer=0.2),
        instances=(("postfix", 1.0),),
    )
    assert same.to_dict() == truth


@pytest.mark.parametrize(
    "args",
    [
        ["--mix", "nope=1"],
        ["--instances", "postfix=x"],
        ["--start", "yesterday"],
        ["--long-ids", "--reuse-ids", "0.1"],
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(
        main, ["synth", "postfix", "--lines", "10", "--out", str(tmp_path / "x.log"), *args]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def _pflogsumm_totals(path: Path) -> dict[str, int]:
    out = subprocess.run(
        ["pflogsumm", str(path)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    grand = out.split("Grand Totals", 1)[1].split("Per-Day", 1)[0]

    def number(label: str) -> int:
        m = re.search(rf"^\s*(\d+)([km]?)\s+{label}\b", grand, re.M)
        assert m, label
        return int(m[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[m[2]]

    deferrals = re.search(r"\((\d+)\s+deferrals\)", grand)
    return {
        "received": number("received"),
        "delivered": number("delivered"),
        "deferred": number("deferred"),
        "deferrals": int(deferrals[1]) if deferrals else 0,
        "bounced": number("bounced"),
        "rejected": number("rejected"),
        "senders": number("senders"),
        "recipients": number("recipients"),
    }


@pytest.mark.pflogsumm
def test_pflogsumm_agrees_on_a_default_instance_log(tmp_path: Path) -> None:
    if shutil.which("pflogsumm") is None:
        pytest.skip("pflogsumm (Debian package pflogsumm) is not installed")
    path = tmp_path / "default.log"
    truth = generate(path, lines=20_000, seed=21, instances=(("postfix", 1.0),), **SMALL)
    got = _pflogsumm_totals(path)
    want = {k: truth.to_dict()[k] for k in got}
    assert got == want
    assert truth.deferred > 0 and truth.bounced > 0 and truth.rejected > 0


def test_gz_output_holds_the_same_lines(tmp_path: Path) -> None:
    import gzip

    plain, truth = _write(2_000, seed=8)
    gz_truth = generate(tmp_path / "x.log.gz", lines=2_000, seed=8)
    with gzip.open(tmp_path / "x.log.gz", "rt", encoding="utf-8") as fh:
        assert fh.read() == plain
    assert gz_truth == truth


def test_cli_stdout_writes_no_truth_unless_asked(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", "postfix", "--lines", "50", "--out", "-", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout == _write(50, seed=3)[0]
    assert not list(tmp_path.iterdir())
    target = tmp_path / "t.json"
    result = CliRunner().invoke(
        main, ["synth", "postfix", "--lines", "50", "--out", "-", "--seed", "3", "--truth", str(target)]
    )
    assert result.exit_code == 0 and json.loads(target.read_text())["lines_read"] == 50
