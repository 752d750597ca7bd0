"""The real-Postfix harness (scripts/postfix_harness.py) and the log it captured (data/samples).

The `postfix` test runs the harness's short scenario for real (root, Debian postfix + smtp-sink) and
checks that Postfix wrote every shape the ingest relies on. The other tests need no Postfix: they pin
the routing tables the harness generates and the committed capture.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS_PATH = ROOT / "scripts" / "postfix_harness.py"
SAMPLE = ROOT / "data" / "samples" / "postfix-real.log"


def load_harness() -> ModuleType:
    """Import scripts/postfix_harness.py (scripts/ is not a package)."""
    name = "postfix_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HARNESS_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


harness = load_harness()


def postfix_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to start a private Postfix"
    missing = [b for b in harness.REQUIRED_BINARIES if not Path(b).exists()]
    if missing:
        return f"missing {', '.join(missing)} (Debian postfix / sasl2-bin)"
    return None


# (what, regex over the whole log) — every shape the short scenario must make Postfix write.
SHAPES: list[tuple[str, str]] = [
    ("SASL submission client line", r"postfix/submission/smtpd\[\d+\]: [0-9A-F]+: client=localhost\[127\.0\.0\.1\], "
                                    r"sasl_method=PLAIN, sasl_username=acme-mailer\n"),
    ("second SASL account", r"sasl_username=globex-app\n"),
    ("third SASL account", r"sasl_username=initech\n"),
    ("SASL failure", r"SASL (PLAIN|LOGIN) authentication failed: .*sasl_username=\w"),
    ("port-25 client line without SASL", r"postfix/smtpd\[\d+\]: [0-9A-F]+: client=localhost\[127\.0\.0\.1\]\n"),
    ("pickup", r"postfix/pickup\[\d+\]: [0-9A-F]+: uid=0 from=<[^>]+>"),
    ("cleanup message-id", r"postfix/cleanup\[\d+\]: [0-9A-F]+: message-id=<[^>]+>"),
    ("qmgr from/size/nrcpt", r"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, size=\d+, nrcpt=\d+ \(queue active\)"),
    ("status=sent", r"status=sent \(250 2\.0\.0 Ok\)"),
    ("hard bounce at RCPT", r"dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 .*"
                            r"\(in reply to RCPT TO command\)\)"),
    ("reject at DATA", r"status=bounced \(.*550 5\.7\.1 .*\(in reply to DATA command\)\)"),
    ("reject at end of DATA", r"status=bounced \(.*554 5\.7\.1 .*\(in reply to end of DATA command\)\)"),
    ("greylisting deferral", r"dsn=4\.7\.1, status=deferred \(host .* said: 451 4\.7\.1 Greylisted"),
    ("dead host deferral", r"relay=none, .*status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: "
                           r"Connection refused\)"),
    ("NDR link", r"postfix/bounce\[\d+\]: [0-9A-F]+: sender non-delivery notification: [0-9A-F]+"),
    ("null sender", r"qmgr\[\d+\]: [0-9A-Za-z]+: from=<>, size="),
    ("relay access denied", r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 554 5\.7\.1 <[^>]+>: "
                            r"Relay access denied; from=<[^>]+> to=<[^>]+> proto=ESMTP helo=<[^>]+>"),
    ("unknown relay recipient", r"NOQUEUE: reject: RCPT .*User unknown in relay recipient table"),
    ("sender login mismatch", r"NOQUEUE: reject: RCPT .*Sender address rejected: not owned by user initech"),
    ("non-FQDN sender", r"NOQUEUE: reject: RCPT .*need fully-qualified address"),
    ("cleanup header reject", r"cleanup\[\d+\]: [0-9A-F]+: reject: header Subject: FREE CRYPTO"),
    ("cleanup header hold", r"cleanup\[\d+\]: [0-9A-F]+: hold: header Subject: \[review\]"),
    ("cleanup header warning", r"cleanup\[\d+\]: [0-9A-F]+: warning: header X-Mailer: LegacyMailer"),
    ("cleanup header discard", r"cleanup\[\d+\]: [0-9A-F]+: discard: header Subject: \[discard-test\]"),
    ("released from hold", r"postsuper\[\d+\]: [0-9A-F]+: released from hold"),
    ("virtual alias orig_to", r"to=<bill\.lumbergh@initech\.example>, orig_to=<sales@initech\.example>"),
    ("quoted local part", r'to=<"john smith"@contoso\.example>, relay='),
    ("relay transport tag", r"postfix/relay/smtp\[\d+\]: "),
    ("connection reuse", r", conn_use=\d+, delay="),  # smtp_connection_cache_destinations
    ("postscreen reject", r"postfix/postscreen\[\d+\]: NOQUEUE: reject: RCPT from \[127\.0\.0\.1\]:\d+: 550 5\.3\.2 "
                          r"Service currently unavailable; from=<[^>]+>, to=<[^>]+>, proto=ESMTP, helo=<[^>]+>"),
    ("lmtp agent", r"postfix/lmtp\[\d+\]: [0-9A-F]+: to=<[^>]+@initech\.example>, .*status=sent \(250 2\.2\.0 Ok\)"),
    ("local agent", r"postfix/local\[\d+\]: [0-9A-F]+: to=<root@relay1\.example>, orig_to=<root>, relay=local, "
                    r".*status=sent \(delivered to file: /dev/null\)"),
    ("pipe agent", r"postfix/pipe\[\d+\]: [0-9A-F]+: to=<[^>]+@news\.acme\.example>, (orig_to=<[^>]+>, )?relay=bounceproc, "
                   r".*status=sent \(delivered via bounceproc service\)"),
    ("error agent", r"postfix/error\[\d+\]: [0-9A-F]+: to=<info@retired-brand\.example>, relay=none, "
                    r".*dsn=5\.1\.2, status=bounced \(this domain no longer accepts mail\)"),
    ("discard agent", r"postfix/discard\[\d+\]: [0-9A-F]+: to=<[^>]+@donotmail\.example>, relay=none, "
                      r".*status=sent \(recipient is on the suppression list\)"),
    ("second instance", r" out1 postfix-out/smtpd\[\d+\]: [0-9A-Za-z]{12,}: client=localhost"),
    ("second instance delivery", r"postfix-out/smtp\[\d+\]: [0-9A-Za-z]{12,}: to=<[^>]+>, relay="),
    ("next-hop link", r"status=sent \(250 2\.0\.0 Ok: queued as [0-9A-Za-z]{12,}\)"),
    ("start line", r"postfix/postfix-script\[\d+\]: starting the Postfix mail system"),
]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    reason = postfix_skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("harness") / "short.log"
    # The work dir stays in the system temp dir: pytest's own is 0700 and Postfix runs as `postfix`.
    result = harness.run("short", out)
    return result, out.read_text()


@pytest.mark.postfix
@pytest.mark.slow
@pytest.mark.parametrize(("what", "pattern"), SHAPES, ids=[s[0] for s in SHAPES])
def test_short_run_writes_shape(short_run: tuple[Any, str], what: str, pattern: str) -> None:
    _, text = short_run
    assert re.search(pattern, text), f"no {what} in the captured log"


@pytest.mark.postfix
@pytest.mark.slow
def test_short_run_is_short_and_links_hops(short_run: tuple[Any, str]) -> None:
    result, text = short_run
    assert result.seconds <= 60
    assert text.endswith("\n") and "\x00" not in text
    # Each "queued as" ID one instance was given is a message the other instance then logged:
    # postfix → postfix-out for the Microsoft pool, postfix-out → postfix for NDRs to our senders.
    def ids(instance: str) -> set[str]:
        return set(re.findall(rf" {instance}/[\w/]+\[\d+\]: ([0-9A-Za-z]+): ", text))

    def links(instance: str) -> set[str]:
        return set(re.findall(rf" {instance}/[\w/]+\[\d+\]: .*status=sent \(250 2\.0\.0 Ok: queued as (\w+)\)",
                              text))

    assert links("postfix") and links("postfix") <= ids("postfix-out")
    assert links("postfix-out") <= ids("postfix")


ROUTES = [
    # (instance, recipient domain or address, expected nexthop: "SERVICE:PORTNAME" or literal prefix)
    ("main", "gmail.com", "smtp:accept"),
    ("main", "outlook.com", "smtp:out_smtpd"),
    ("main", "live.com", "smtp:out_smtpd"),
    ("main", "gmx.de", "smtp:greylist"),
    ("main", "fabrikam.example", "smtp:dead"),
    ("main", "no.such.user@gmail.com", "smtp:hard_google"),
    ("main", "strict.policy@aol.com", "smtp:data_reject"),
    ("main", "spam.trap@comcast.net", "smtp:eod_reject"),
    ("main", "globex.example", "relay:accept"),
    ("main", "retired-brand.example", "=error:5.1.2 "),
    ("main", "donotmail.example", "=discard:"),
    ("main", "news.acme.example", "=bounceproc:"),
    ("main", "initech.example", "=lmtp:inet:127.0.0.1:"),
    ("out", "outlook.com", "smtp:accept"),
    ("out", "live.com", "smtp:greylist"),
    ("out", "ghost.account@hotmail.com", "smtp:hard_generic"),
    ("out", "news.acme.example", "smtp:main_smtpd"),
    ("out", "relay1.example", "smtp:main_smtpd"),
]


@pytest.mark.parametrize(("instance", "key", "expected"), ROUTES)
def test_transport_tables_route_every_fate_to_loopback(instance: str, key: str, expected: str) -> None:
    ports = {name: 20000 + i for i, name in enumerate(harness.PORT_NAMES)}
    per_address = {a: f for a, f in harness.COVERAGE_FATES.items()
                   if harness.DOMAIN_FATES[a.split("@")[1]] != f}
    make = harness.out_transport if instance == "out" else harness.main_transport
    routes = dict(line.split("\t", 1) for line in make(ports, per_address).splitlines())
    if expected.startswith("="):
        assert routes[key].startswith(expected[1:])
    else:
        service, port = expected.split(":")
        assert routes[key] == f"{service}:[127.0.0.1]:{ports[port]}"
    # Nothing may leave the machine: every route is loopback or an in-Postfix agent.
    assert all(re.match(r"(smtp|relay):\[127\.0\.0\.1\]:\d+$|lmtp:inet:127\.0\.0\.1:\d+$|error:|discard:|bounceproc:$", v)
               for v in routes.values()), routes
    if instance == "main":
        assert harness.MAIN_HOSTNAME not in routes  # local(8), through the aliases


SAMPLE_SHAPES = [
    *SHAPES,
    ("expiry", r"qmgr\[\d+\]: [0-9A-F]+: from=<[^>]+>, status=expired, returned to sender"),
    ("delay notice", r"postfix/bounce\[\d+\]: [0-9A-F]+: sender delay notification: [0-9A-F]+"),
    ("qmgr removed", r"qmgr\[\d+\]: [0-9A-F]+: removed"),
    ("postsuper delete", r"postsuper\[\d+\]: [0-9A-F]+: removed"),
    ("reload", r"postfix/master\[\d+\]: reload -- version"),
    # Not asked of every run: postfix-script logs this through postlog(1) and kills master at once, so
    # postlogd sometimes goes down before it has written the line (seen once in seven short runs on this machine).
    ("stop line", r"postfix/postfix-script\[\d+\]: stopping the Postfix mail system"),
]


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/samples/postfix-real.log not captured yet")
@pytest.mark.parametrize(("what", "pattern"), SAMPLE_SHAPES, ids=[s[0] for s in SAMPLE_SHAPES])
def test_committed_sample_has_shape(what: str, pattern: str) -> None:
    assert re.search(pattern, SAMPLE.read_text()), f"no {what} in {SAMPLE.name}"


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/samples/postfix-real.log not captured yet")
def test_committed_sample_is_small_and_synthetic() -> None:
    data = SAMPLE.read_bytes()
    assert 100_000 < len(data) <= 2 * 1024 * 1024
    # Only harness-made sender domains: every envelope sender is ours or an example/test name.
    senders = set(re.findall(rb"from=<([^>]*)>", data))
    foreign = {s for s in senders if b"@" in s and not s.rsplit(b"@", 1)[1].endswith((b".example", b".test"))}
    assert not foreign
    # Every message appears in a few hundred: count distinct (instance, queue ID) pairs.
    qids = set(re.findall(rb" (postfix(?:-out)?)/\S+\[\d+\]: ([0-9A-Za-z]{10,}): ", data))
    assert len(qids) >= 300


def test_work_dir_must_be_searchable_by_postfix(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "work").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(harness.HarnessError, match="not searchable by the postfix user"):
        harness.check_traversable(private / "work")
    public = Path(tempfile.mkdtemp())  # the system temp dir: what run() uses by default
    try:
        harness.check_traversable(public)
    finally:
        public.rmdir()


@pytest.mark.skipif(postfix_skip_reason() is not None, reason=str(postfix_skip_reason()))
def test_cli_reports_setup_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert harness.main_cli(["--out", str(tmp_path / "x.log"), "--scenario", "short",
                             "--workdir", str(private)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("postfix_harness: ") and "searchable" in err[0]
    assert not (tmp_path / "x.log").exists() and not list(private.iterdir())
