#!/usr/bin/env python3
"""Run a real, private Postfix on loopback and capture the log it writes.

Why: parsers tested only against hand-written lines learn our assumptions, not Postfix's. This harness
makes Postfix 3.7 produce every shape we care about (SASL submission, pickup, relay-access and
postscreen rejects, cleanup header actions, hard/soft/DATA rejects from receivers, a dead host whose
mail expires, the smtp/relay/lmtp/local/pipe/error/discard agents, a second instance with a
non-default syslog name, "queued as" next-hop links) and keeps the exact bytes Postfix wrote.

Layout of one run (a fresh temp dir; every socket on 127.0.0.1):

    SASL apps ──submission──┐
    sendmail (pickup) ──────┤
    inbound / spam ──port25─┤        botnet ──► postscreen (denylists everyone)
                            ▼
                      "postfix"  (relay1.example, short queue IDs)
                       │   │  transport_maps
            Microsoft  │   ├──► smtp-sink receivers: accept / 550 at RCPT (x2) / 451 then accept /
            domains    │   │    reject DATA / reject end of DATA / LMTP store / a port nobody listens on
                       │   └──► local (aliases → /dev/null), pipe (bounce processor), error, discard
                       ▼
                      "postfix-out" (out1.example, long queue IDs) ──► the same receivers;
                                  mail for our own domains (NDRs) goes back to "postfix" port 25

Both instances append to one `maillog_file` (postlogd opens it O_APPEND and writes a line per write),
so lines interleave exactly as they happened, as in a syslog file. No syslog daemon is involved.
Nothing can leave the machine: every domain is routed by transport_maps, default_transport is
`error`, and DNS is off for the SMTP client.

scripts/abuse_scenario.py reuses the parts (instance settings, SASL, receivers, injector) for issue 7's
multi-day abuse scenario.

Run as root (Postfix must start its master and switch to the `postfix` user):

    python scripts/postfix_harness.py --out data/samples/postfix-real.log            # ~2 minutes
    python scripts/postfix_harness.py --out /tmp/short.log --scenario short          # ~20 seconds
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import pwd
import random
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import partial
from pathlib import Path

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"
SENDMAIL = "/usr/sbin/sendmail"
SMTP_SINK = "/usr/sbin/smtp-sink"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"
REQUIRED_BINARIES = (POSTFIX, POSTCONF, POSTQUEUE, POSTSUPER, SENDMAIL, SMTP_SINK, SASLPASSWD2)

LOOPBACK = "127.0.0.1"
MAIN_HOSTNAME = "relay1.example"
OUT_HOSTNAME = "out1.example"
# Documentation prefix: the "application servers" allowed to relay without SASL. 127.0.0.1 is
# deliberately NOT in it, so unauthenticated relay attempts from loopback are refused.
MAIN_MYNETWORKS = "192.0.2.0/28"


class HarnessError(RuntimeError):
    """The harness could not set up or finish a run; the message says which step and why."""


# --------------------------------------------------------------------------------------------------
# Who sends, who receives
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Account:
    """A SASL user of the relay and the envelope senders it may use (smtpd_sender_login_maps)."""

    username: str
    password: str
    domain: str
    senders: tuple[str, ...]
    helo: str
    mailer: str


ACCOUNTS: tuple[Account, ...] = (
    Account(
        "acme-mailer", "acme-pw-7Hq2", "news.acme.example",
        ("newsletter@news.acme.example", "offers@news.acme.example"),
        "app1.acme.example", "AcmeMailer/4.2",
    ),
    Account(
        "globex-app", "globex-pw-K9x1", "globex.example",
        ("no-reply@globex.example", "billing@globex.example"),
        "web-03.globex.example", "GlobexNotify/1.8",
    ),
    Account(
        "initech", "initech-pw-M3v5", "initech.example",
        ("peter.gibbons@initech.example", "bill.lumbergh@initech.example", "milton@initech.example"),
        "ws-114.initech.example", "Thunderbird/115.4",
    ),
)

# Recipient fates. Provider-like names are fine as RECIPIENT domains: transport_maps send every one of
# them to a loopback smtp-sink, and default_transport is `error`, so nothing can leave the machine.
ACCEPT, HARD_GOOGLE, HARD_GENERIC, GREYLIST, DATA_REJECT, EOD_REJECT, DEAD, LMTP = (
    "accept", "hard_google", "hard_generic", "greylist", "data_reject", "eod_reject", "dead", "lmtp",
)
SINK_FATES = (ACCEPT, HARD_GOOGLE, HARD_GENERIC, GREYLIST, DATA_REJECT, EOD_REJECT, LMTP)
# Receivers used by scripts/abuse_scenario.py, not by `plan`: one refuses every RCPT naming a DNS
# blocklist, one defers every RCPT as Gmail does for an unusual rate (421 4.7.28) until lifted.
BLOCKLISTED, RATE_LIMITED = "blocklisted", "rate_limited"
# Fates handled inside Postfix by its error(8) and discard(8) agents (nexthop text is their reply).
RETIRED, SUPPRESSED = "retired", "suppressed"
AGENT_NEXTHOP = {
    RETIRED: "error:5.1.2 this domain no longer accepts mail",
    SUPPRESSED: "discard:recipient is on the suppression list",
}
DOMAIN_FATES: dict[str, str] = {
    "gmail.com": ACCEPT, "googlemail.com": ACCEPT, "yahoo.com": ACCEPT, "aol.com": ACCEPT,
    "icloud.com": ACCEPT, "comcast.net": ACCEPT, "orange.fr": ACCEPT, "contoso.example": ACCEPT,
    "outlook.com": ACCEPT, "hotmail.com": ACCEPT, "live.com": GREYLIST, "msn.com": DEAD,
    "gmx.de": GREYLIST, "web.de": GREYLIST,
    "fabrikam.example": DEAD,
    "retired-brand.example": RETIRED,
    "donotmail.example": SUPPRESSED,
}
# Handed by "postfix" to "postfix-out" (a separate outbound pool, as relays do for Microsoft).
OUT_POOL_DOMAINS = ("outlook.com", "hotmail.com", "live.com", "msn.com")
# Customer domains "postfix" relays inbound mail for (and where NDRs to our senders go), each with
# its own delivery agent: acme's bounces feed a pipe(8) "bounce processor", initech's mail store
# speaks LMTP, globex gets plain SMTP through the `relay` transport.
RELAY_DOMAINS = ("news.acme.example", "globex.example", "initech.example")
BOUNCE_PROCESSOR = "bounceproc"
LOCAL_ALIASES = {"root": "/dev/null", "cron": "/dev/null", "postmaster": "root", "backup": "/dev/null"}
VIRTUAL_ALIASES: dict[str, tuple[str, ...]] = {
    "sales@initech.example": ("bill.lumbergh@initech.example", "peter.gibbons@initech.example"),
    "support@globex.example": ("helpdesk@globex.example",),
    "abuse@news.acme.example": ("postmaster@news.acme.example",),
}

# Fixed recipients that exercise each receiver (per-address transport entries; domains by DOMAIN_FATES).
COVERAGE_FATES: dict[str, str] = {
    "no.such.user@gmail.com": HARD_GOOGLE,
    "old.account@yahoo.com": HARD_GENERIC,
    "ghost.account@hotmail.com": HARD_GENERIC,  # bounced by postfix-out, not by postfix
    "strict.policy@aol.com": DATA_REJECT,
    "spam.trap@comcast.net": EOD_REJECT,
    "kunde@gmx.de": GREYLIST,
    "jan.novak@live.com": GREYLIST,  # deferred by postfix-out, which pflogsumm does not read
    "accounts@fabrikam.example": DEAD,
    "old.friend@msn.com": DEAD,  # expires in postfix-out, where pflogsumm cannot see it
}
COVERAGE_RECIPIENTS = (*COVERAGE_FATES, '"john smith"@contoso.example', "support@globex.example",
                       "former.customer@donotmail.example")
# Local scripts (sendmail → pickup): a bare local name (local(8) via aliases) and a retired domain
# (smtpd refuses that at RCPT time, so only pickup mail reaches the error(8) agent).
COVERAGE_PICKUP = ("root", "info@retired-brand.example")

FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
         "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "wendy", "yusuf")
LAST = ("smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "martin", "lee", "walker")

HEADER_CHECKS = r"""# cleanup header_checks of the "postfix" instance
/^Subject:.*FREE CRYPTO/            REJECT 5.7.1 Message content rejected
/^Subject:.*\[review\]/             HOLD manual review of flagged subject
/^X-Mailer: LegacyMailer/           WARN legacy mailer in use
/^Subject:.*\[discard-test\]/       DISCARD test traffic
"""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """How much traffic of each kind to inject, and whether to wait for dead-host mail to expire."""

    name: str
    seed: int
    acme_messages: int
    globex_messages: int
    initech_messages: int
    pickup_messages: int
    inbound_messages: int
    relay_attempts: int
    postscreen_attempts: int
    unknown_relay_recipients: int
    auth_failures: int
    sender_mismatches: int
    unauth_submissions: int
    non_fqdn_senders: int
    header_rejects: int
    header_holds: int
    header_warns: int
    header_discards: int
    null_senders: int
    wait_for_expiry: bool
    queue_lifetime_s: int
    pause_s: float  # mean pause between sessions, spreads the traffic over time
    greylist_s: float  # greylisting ends this long after injection starts (or when it ends, if sooner)
    time_limit_s: float


SCENARIOS: dict[str, Scenario] = {
    "full": Scenario(
        name="full", seed=20261122, acme_messages=170, globex_messages=90, initech_messages=40,
        pickup_messages=20, inbound_messages=24, relay_attempts=12, postscreen_attempts=6,
        unknown_relay_recipients=4,
        auth_failures=4, sender_mismatches=3, unauth_submissions=3, non_fqdn_senders=3,
        header_rejects=3, header_holds=3, header_warns=5, header_discards=2, null_senders=3,
        wait_for_expiry=True, queue_lifetime_s=60, pause_s=0.35, greylist_s=25.0, time_limit_s=420.0,
    ),
    "short": Scenario(
        name="short", seed=7, acme_messages=12, globex_messages=8, initech_messages=5,
        pickup_messages=3, inbound_messages=3, relay_attempts=2, postscreen_attempts=1,
        unknown_relay_recipients=1,
        auth_failures=1, sender_mismatches=1, unauth_submissions=1, non_fqdn_senders=1,
        header_rejects=1, header_holds=2, header_warns=1, header_discards=1, null_senders=1,
        wait_for_expiry=False, queue_lifetime_s=60, pause_s=0.05, greylist_s=1e9, time_limit_s=60.0,
    ),
}


@dataclasses.dataclass
class RunResult:
    """What one run did; `log` is the captured file."""

    scenario: str
    log: Path
    lines: int
    bytes: int
    seconds: float
    ports: dict[str, int]
    injected: dict[str, int]


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def preflight() -> None:
    """Raise HarnessError unless we can run Postfix here (root, binaries, the postfix user)."""
    if os.geteuid() != 0:
        raise HarnessError("the Postfix harness must run as root (Postfix's master needs it)")
    missing = [b for b in REQUIRED_BINARIES if not Path(b).exists()]
    if missing:
        raise HarnessError(f"missing binaries: {', '.join(missing)} (run scripts/install-system-deps.sh)")
    try:
        pwd.getpwnam("postfix")
    except KeyError as exc:
        raise HarnessError("no 'postfix' user: is the Debian postfix package installed?") from exc


def free_ports(count: int) -> list[int]:
    """Distinct ports that are free on 127.0.0.1 right now (held open together so they differ)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def check_traversable(path: Path) -> None:
    """Postfix daemons run as user postfix: every parent of the work dir must let others through."""
    for parent in path.parents:
        if not parent.stat().st_mode & 0o001:
            raise HarnessError(f"{parent} is not searchable by the postfix user; use another --workdir")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise HarnessError(f"nothing listens on {LOOPBACK}:{port} after {timeout:.0f}s")


def run_cmd(argv: Sequence[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(list(argv), input=stdin, capture_output=True, env=env, timeout=60, check=False)
    if proc.returncode != 0:
        said = (proc.stderr + proc.stdout).decode(errors="replace").strip().splitlines()
        raise HarnessError(f"{' '.join(argv[:4])} failed ({proc.returncode}): {said[-1] if said else ''}")
    return proc.stdout.decode(errors="replace")


def main_cf_text(settings: dict[str, str]) -> str:
    return "".join(f"{k} = {v}\n" for k, v in settings.items())


# --------------------------------------------------------------------------------------------------
# Receivers
# --------------------------------------------------------------------------------------------------

SINK_FLAGS: dict[str, list[str]] = {
    ACCEPT: [],
    HARD_GOOGLE: ["-f", "rcpt", "-B",
                  "550 5.1.1 The email account that you tried to reach does not exist. Please try "
                  "double-checking the recipient's email address for typos or unnecessary spaces."],
    HARD_GENERIC: ["-f", "rcpt", "-B", "550 5.1.1 Recipient address rejected: User unknown in virtual "
                   "mailbox table"],
    GREYLIST: ["-r", "rcpt", "-b", "451 4.7.1 Greylisted, please try again later"],
    DATA_REJECT: ["-f", "data", "-B", "550 5.7.1 Message refused by local policy (IP reputation)"],
    EOD_REJECT: ["-f", ".", "-B", "554 5.7.1 Message content rejected as spam (score 9.2)"],
    LMTP: ["-L"],
    BLOCKLISTED: ["-f", "rcpt", "-B", "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "
                  "zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"],
    RATE_LIMITED: ["-r", "rcpt", "-b", "421 4.7.28 Our system has detected an unusual rate of unsolicited mail "
                   "originating from your IP address. To protect our users from spam, mail sent from your IP "
                   "address has been temporarily rate limited."],
}
SINK_GREETING = {
    ACCEPT: "mx.receiver.test", HARD_GOOGLE: "mx.google-like.test", HARD_GENERIC: "mx.mailbox.test",
    GREYLIST: "mx.greylist.test", DATA_REJECT: "mx.policy.test", EOD_REJECT: "mx.filter.test",
    LMTP: "store.initech.example", BLOCKLISTED: "mx.blocklist-user.test", RATE_LIMITED: "mx.ratelimit.test",
}


class Sinks:
    """The smtp-sink processes we started, by fate; stops only those (by our own Popen handles)."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, fate: str, flags_of: str | None = None) -> None:
        flags = SINK_FLAGS[flags_of or fate]
        argv = [SMTP_SINK, "-u", "postfix", "-h", SINK_GREETING[fate], *flags,
                f"{LOOPBACK}:{self.ports[fate]}", "64"]
        self.procs[fate] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.ports[fate])

    def stop(self, fate: str) -> None:
        proc = self.procs.pop(fate, None)
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for fate in list(self.procs):
            self.stop(fate)


# --------------------------------------------------------------------------------------------------
# Postfix instances
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Instance:
    """One private Postfix: its config dir, queue and how to drive it."""

    name: str
    root: Path
    maillog: Path

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    def postfix(self, *args: str) -> str:
        return run_cmd([POSTFIX, "-c", str(self.etc), *args])

    def queue_entries(self) -> list[dict[str, object]]:
        """`postqueue -j`: one JSON object per queued message (queue_name, queue_id, recipients)."""
        out = run_cmd([POSTQUEUE, "-c", str(self.etc), "-j"])
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self) -> None:
        run_cmd([POSTQUEUE, "-c", str(self.etc), "-f"])

    def postsuper(self, flag: str, queue_id: str) -> None:
        run_cmd([POSTSUPER, "-c", str(self.etc), flag, queue_id])

    def master_pid(self) -> int | None:
        pid_file = self.queue / "pid" / "master.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        pid = self.master_pid()
        if pid is None:
            return
        with contextlib.suppress(HarnessError):
            self.postfix("stop")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(HarnessError):
                self.postfix("abort")


MASTER_BASE = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
local     unix  -       n       n       -       -       local
relay     unix  -       -       n       -       -       smtp
  -o syslog_name={syslog_name}/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def common_settings(inst: Instance, queue_lifetime_s: int, workdir: Path) -> dict[str, str]:
    life = f"{queue_lifetime_s}s"
    return {
        "compatibility_level": "3.6",
        "queue_directory": str(inst.queue),
        "data_directory": str(inst.root / "data"),
        "maillog_file": str(inst.maillog),
        "maillog_file_prefixes": str(workdir),
        "inet_interfaces": LOOPBACK,
        "inet_protocols": "ipv4",
        "mydestination": "",
        "local_recipient_maps": "",
        "alias_maps": "",
        "alias_database": "",
        "biff": "no",
        "append_dot_mydomain": "no",
        "readme_directory": "no",
        # Nothing may leave loopback: unknown domains bounce, and no DNS is consulted.
        "default_transport": "error:5.3.5 no route outside the test harness",
        "relay_transport": "error:5.3.5 no route outside the test harness",
        "local_transport": "error:5.1.1 local delivery is disabled",
        "smtp_dns_support_level": "disabled",
        "smtp_tls_security_level": "none",
        "smtpd_tls_security_level": "none",
        # Short queue timers so deferred → expired happens within a couple of minutes.
        "queue_run_delay": "10s",
        "minimal_backoff_time": "10s",
        "maximal_backoff_time": "20s",
        "maximal_queue_lifetime": life,
        "bounce_queue_lifetime": life,
        "smtp_connect_timeout": "5s",
        "smtpd_helo_required": "yes",
    }


def _nexthop(fate: str, ports: dict[str, int]) -> str:
    return AGENT_NEXTHOP.get(fate) or f"smtp:[{LOOPBACK}]:{ports[fate]}"


def main_transport(ports: dict[str, int], per_address: dict[str, str]) -> str:
    """texthash transport_maps of "postfix". Per-address keys win over domain keys in Postfix."""
    lines = [f"{a}\t{_nexthop(f, ports)}" for a, f in sorted(per_address.items())
             if a.split("@")[1] not in OUT_POOL_DOMAINS]
    for domain, fate in DOMAIN_FATES.items():
        hop = f"smtp:[{LOOPBACK}]:{ports['out_smtpd']}" if domain in OUT_POOL_DOMAINS else _nexthop(fate, ports)
        lines.append(f"{domain}\t{hop}")
    lines += [
        f"news.acme.example\t{BOUNCE_PROCESSOR}:",
        f"globex.example\trelay:[{LOOPBACK}]:{ports[ACCEPT]}",
        f"initech.example\tlmtp:inet:{LOOPBACK}:{ports[LMTP]}",
    ]  # MAIN_HOSTNAME is in mydestination: local(8) delivers it through LOCAL_ALIASES
    return "\n".join(lines) + "\n"


def out_transport(ports: dict[str, int], per_address: dict[str, str]) -> str:
    """texthash transport_maps of "postfix-out": receivers, and mail for our own domains back to postfix."""
    lines = [f"{a}\t{_nexthop(f, ports)}" for a, f in sorted(per_address.items())
             if a.split("@")[1] in OUT_POOL_DOMAINS]
    lines += [f"{d}\t{_nexthop(f, ports)}" for d, f in DOMAIN_FATES.items()]
    lines += [f"{d}\tsmtp:[{LOOPBACK}]:{ports['main_smtpd']}" for d in (*RELAY_DOMAINS, MAIN_HOSTNAME)]
    return "\n".join(lines) + "\n"


def seconds_delay_template(etc: Path) -> str:
    """Postfix's own delay template, restated in seconds.

    With timers of seconds the built-in text ("$delay_warning_time_hours hour(s)") rounds to zero and
    bounce(8) logs three warnings per notice; those would be artefacts of the harness, not of a relay.
    """
    text = run_cmd([POSTCONF, "-c", str(etc), "-t", "/dev/null"])  # built-ins, not bounce_template_file
    start = text.find("delay_template = <<EOF")
    end = text.find("\nEOF\n", start)
    if start < 0 or end < 0:
        raise HarnessError("no delay_template in `postconf -t` output")
    out = text[start:end + len("\nEOF\n")]
    for unit in ("delay_warning_time_hours", "maximal_queue_lifetime_days"):
        name = unit.rsplit("_", 1)[0]
        word = "hour(s)" if unit.endswith("hours") else "day(s)"
        out = out.replace(f"${unit} {word}", f"${name}_seconds second(s)")
    if "_seconds second(s)" not in out:
        raise HarnessError("unexpected `postconf -t delay_template` output")
    return out


def sasl_realms() -> list[str]:
    """Realms Cyrus may use for a bare username (it takes a host name when smtpd_sasl_local_domain is empty)."""
    return sorted({MAIN_HOSTNAME, socket.gethostname(), socket.getfqdn()})


def write_main_instance(inst: Instance, scenario: Scenario, workdir: Path, ports: dict[str, int],
                        per_address: dict[str, str], relay_recipients: Sequence[str]) -> None:
    etc = inst.etc
    settings = common_settings(inst, scenario.queue_lifetime_s, workdir)
    settings.update({
        "myhostname": MAIN_HOSTNAME,
        "mydestination": MAIN_HOSTNAME,
        "local_transport": "local",
        "alias_maps": f"texthash:{etc}/aliases",
        "mail_spool_directory": str(inst.root / "mail"),
        "mynetworks": MAIN_MYNETWORKS,
        "relay_domains": ", ".join(RELAY_DOMAINS),
        "relay_recipient_maps": f"texthash:{etc}/relay_recipients",
        "transport_maps": f"texthash:{etc}/transport",
        "virtual_alias_maps": f"texthash:{etc}/virtual",
        "header_checks": f"regexp:{etc}/header_checks",
        "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
        "smtpd_sender_restrictions": "reject_non_fqdn_sender",
        **sasl_settings(etc),
        "smtpd_sender_login_maps": f"texthash:{etc}/sender_logins",
        # Keep connections to receivers open between messages (conn_use=N in the log), as relays do
        # for big providers, not only under a backlog. Postfix matches the bare host, no [] or port.
        "smtp_connection_cache_destinations": LOOPBACK,
        "delay_warning_time": "30s" if scenario.wait_for_expiry else "0h",
        "bounce_template_file": str(etc / "bounce.cf"),
    })
    (etc / "main.cf").write_text(main_cf_text(settings))
    (etc / "bounce.cf").write_text(seconds_delay_template(etc))
    (etc / "master.cf").write_text(
        f"{LOOPBACK}:{ports['main_smtpd']} inet n - n - - smtpd\n"
        f"{LOOPBACK}:{ports['submission']} inet n - n - - smtpd\n"
        "  -o syslog_name=postfix/submission\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
        "  -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
        "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
        # A second MX-style listener behind postscreen whose access list blocks everyone: the
        # "botnet" clients sent there get postscreen's own NOQUEUE rejects.
        f"{LOOPBACK}:{ports['postscreen']} inet n - n - 1 postscreen\n"
        "  -o postscreen_access_list=static:reject\n"
        "  -o postscreen_blacklist_action=enforce\n"
        "  -o postscreen_greet_wait=1s\n"
        "smtpd     pass  -       -       n       -       -       smtpd\n"
        f"{BOUNCE_PROCESSOR} unix - n n - - pipe\n"
        "  flags=R user=nobody argv=/bin/true\n"
        + MASTER_BASE.replace("{syslog_name}", "postfix")
    )
    (etc / "aliases").write_text("".join(f"{k}\t{v}\n" for k, v in LOCAL_ALIASES.items()))  # texthash: no colon
    spool = inst.root / "mail"  # should an alias ever miss, local(8) writes here, never to /var/mail
    spool.mkdir()
    spool.chmod(0o1777)
    (etc / "transport").write_text(main_transport(ports, per_address))
    (etc / "virtual").write_text("".join(f"{k}\t{', '.join(v)}\n" for k, v in VIRTUAL_ALIASES.items()))
    (etc / "relay_recipients").write_text("".join(f"{r}\tOK\n" for r in sorted(set(relay_recipients))))
    (etc / "header_checks").write_text(HEADER_CHECKS)
    (etc / "sender_logins").write_text(
        "".join(f"@{a.domain}\t{a.username}\n" for a in ACCOUNTS))
    write_sasldb(etc, ACCOUNTS)


def sasl_settings(etc: Path) -> dict[str, str]:
    """main.cf lines for Cyrus SASL from etc/sasl (enabled per listener with -o smtpd_sasl_auth_enable=yes)."""
    return {
        "smtpd_sasl_type": "cyrus",
        "smtpd_sasl_path": "smtpd",
        # Upstream reads smtpd.conf from cyrus_sasl_config_path; Debian's build from $config_directory/sasl.
        "cyrus_sasl_config_path": str(etc / "sasl"),
        "smtpd_sasl_local_domain": "",
        "smtpd_sasl_auth_enable": "no",
    }


def write_sasldb(etc: Path, accounts: Sequence[Account]) -> None:
    """etc/sasl/smtpd.conf and a sasldb with every account's password (PLAIN/LOGIN)."""
    sasl = etc / "sasl"
    sasl.mkdir()
    db = sasl / "sasldb2"
    (sasl / "smtpd.conf").write_text(
        f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: {db}\n")
    for acct in accounts:
        for realm in sasl_realms():
            run_cmd([SASLPASSWD2, "-f", str(db), "-c", "-p", "-u", realm, acct.username],
                    stdin=acct.password.encode())
    shutil.chown(db, user="root", group="postfix")  # `postfix check` wants root-owned config files
    db.chmod(0o640)


def write_out_instance(inst: Instance, scenario: Scenario, workdir: Path, ports: dict[str, int],
                       per_address: dict[str, str]) -> None:
    settings = common_settings(inst, scenario.queue_lifetime_s, workdir)
    settings.update({
        "syslog_name": "postfix-out",
        "myhostname": OUT_HOSTNAME,
        "mynetworks": f"{LOOPBACK}/32",
        "relay_domains": "",
        "enable_long_queue_ids": "yes",
        "transport_maps": f"texthash:{inst.etc}/transport",
    })
    (inst.etc / "main.cf").write_text(main_cf_text(settings))
    (inst.etc / "master.cf").write_text(
        f"{LOOPBACK}:{ports['out_smtpd']} inet n - n - - smtpd\n"
        + MASTER_BASE.replace("{syslog_name}", "postfix-out"))
    (inst.etc / "transport").write_text(out_transport(ports, per_address))


def prepare_instance(root: Path, name: str, maillog: Path) -> Instance:
    inst = Instance(name=name, root=root, maillog=maillog)
    for sub in ("etc", "queue", "data"):
        (root / sub).mkdir(parents=True)
    shutil.chown(root / "data", user="postfix")
    return inst


# --------------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    size: int
    mailer: str
    header_from: str


class Traffic:
    """Deterministic (seeded) recipients and messages; sending is done by `Injector`."""

    def __init__(self, scenario: Scenario) -> None:
        self.rng = random.Random(scenario.seed)
        self.per_address: dict[str, str] = {
            a: f for a, f in COVERAGE_FATES.items() if DOMAIN_FATES[a.split("@")[1]] != f}
        self.pool: list[str] = self._make_pool()

    def _make_pool(self) -> list[str]:
        rng = self.rng
        pool: list[str] = []
        weights = {"gmail.com": 30, "yahoo.com": 10, "outlook.com": 10, "hotmail.com": 8, "live.com": 3,
                   "aol.com": 3, "icloud.com": 5, "comcast.net": 3, "orange.fr": 3, "googlemail.com": 2,
                   "gmx.de": 4, "web.de": 3, "contoso.example": 4, "fabrikam.example": 3,
                   "retired-brand.example": 1, "msn.com": 1}
        for domain, weight in weights.items():
            for _ in range(weight * 3):
                local = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randrange(1, 999)}"
                addr = f"{local}@{domain}"
                if DOMAIN_FATES[domain] == ACCEPT:
                    roll = rng.random()
                    if roll < 0.06:
                        self.per_address[addr] = HARD_GOOGLE if domain.startswith("g") else HARD_GENERIC
                    elif roll < 0.08:
                        self.per_address[addr] = DATA_REJECT
                    elif roll < 0.10:
                        self.per_address[addr] = EOD_REJECT
                pool.append(addr)
        return pool

    def recipients(self, low: int, high: int) -> list[str]:
        return self.rng.sample(self.pool, self.rng.randint(low, high))

    def mail(self, sender: str, recipients: list[str], subject: str, size: int, mailer: str,
             header_from: str | None = None) -> Mail:
        return Mail(sender, recipients, subject, size, mailer, header_from or sender)

    def size(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


def render(mail: Mail, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["From"] = mail.header_from
    msg["To"] = ", ".join(mail.recipients[:3])
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(datetime.datetime.now(datetime.UTC))
    domain = mail.header_from.rsplit("@", 1)[-1] or "relay1.example"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["X-Mailer"] = mail.mailer
    words = ("deliverability", "invoice", "meeting", "newsletter", "offer", "report", "update", "welcome")
    body: list[str] = []
    length = 0
    while length < mail.size:  # sizes vary, so qmgr's size= and pflogsumm's bytes mean something
        body.append(" ".join(rng.choice(words) for _ in range(12)))
        length += len(body[-1]) + 1
    msg.set_content("\n".join(body) + "\n")
    return msg.as_bytes()


class Injector:
    """Speaks SMTP to the instances and runs `sendmail`; counts what the servers answered."""

    def __init__(self, ports: dict[str, int], main: Instance, rng: random.Random) -> None:
        self.ports = ports
        self.main = main
        self.rng = rng
        self.counts: dict[str, int] = {}

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @contextlib.contextmanager
    def session(self, port: int, helo: str, source: str | None = None) -> Iterator[smtplib.SMTP]:
        """An EHLO'd session; `source` binds the client to another loopback address (127.0.0.N) so
        Postfix logs that client IP."""
        smtp = smtplib.SMTP(LOOPBACK, port, local_hostname=helo, timeout=30,
                            source_address=(source, 0) if source else None)
        try:
            smtp.ehlo(helo)
            yield smtp
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()

    def transact(self, smtp: smtplib.SMTP, mail: Mail) -> None:
        """One MAIL/RCPT/DATA transaction; rejects are expected and counted, never raised."""
        code, _ = smtp.mail(mail.sender or "<>")
        if code >= 400:
            self.bump("mail_from_rejected")
            smtp.rset()
            return
        accepted = 0
        for rcpt in mail.recipients:
            code, _ = smtp.rcpt(rcpt)
            if code < 400:
                accepted += 1
            else:
                self.bump("rcpt_rejected")
        if not accepted:
            smtp.rset()
            return
        try:
            smtp.data(render(mail, self.rng))
            self.bump("accepted_smtp")
        except smtplib.SMTPDataError:
            self.bump("data_rejected")

    def submit(self, account: Account, mails: Sequence[Mail], password: str | None = None,
               source: str | None = None) -> None:
        with self.session(self.ports["submission"], account.helo, source) as smtp:
            try:
                smtp.login(account.username, password or account.password)
            except smtplib.SMTPAuthenticationError:
                self.bump("auth_failed")
                return
            for mail in mails:
                self.transact(smtp, mail)

    def submit_unauthenticated(self, mails: Sequence[Mail], helo: str) -> None:
        with self.session(self.ports["submission"], helo) as smtp:
            for mail in mails:
                self.transact(smtp, mail)

    def port25(self, mails: Sequence[Mail], helo: str) -> None:
        with self.session(self.ports["main_smtpd"], helo) as smtp:
            for mail in mails:
                self.transact(smtp, mail)

    def postscreen(self, mails: Sequence[Mail], helo: str) -> None:
        """A blocked client: postscreen's dummy SMTP engine answers, rejects RCPT, may hang up."""
        try:
            with self.session(self.ports["postscreen"], helo) as smtp:
                for mail in mails:
                    self.transact(smtp, mail)
        except (smtplib.SMTPException, OSError):
            self.bump("postscreen_dropped")

    def sendmail(self, mail: Mail) -> None:
        env = dict(os.environ, MAIL_CONFIG=str(self.main.etc))
        argv = [SENDMAIL, "-C", str(self.main.etc), "-f", mail.sender or "<>", "-i", "--", *mail.recipients]
        run_cmd(argv, stdin=render(mail, self.rng), env=env)
        self.bump("accepted_pickup")


def plan(scenario: Scenario, traffic: Traffic, inj: Injector) -> list[Callable[[], None]]:
    """The sessions to run, shuffled with a seeded RNG so kinds of traffic interleave over time."""
    rng = traffic.rng
    acme, globex, initech = ACCOUNTS
    steps: list[Callable[[], None]] = []

    def batches(n: int, size: int) -> list[int]:
        return [min(size, n - i) for i in range(0, n, size)]

    for count in batches(scenario.acme_messages, 10):
        mails = [traffic.mail(rng.choice(acme.senders), traffic.recipients(1, 2),
                              f"Acme weekly deals #{rng.randrange(100, 999)}", traffic.size(6000, 30000),
                              acme.mailer, "Acme News <newsletter@news.acme.example>")
                 for _ in range(count)]
        steps.append(partial(inj.submit, acme, mails))
    for count in batches(scenario.globex_messages, 6):
        mails = [traffic.mail(rng.choice(globex.senders), traffic.recipients(1, 1),
                              rng.choice(("Your receipt", "Password reset", "Your invoice is ready")),
                              traffic.size(1500, 5000), globex.mailer) for _ in range(count)]
        steps.append(partial(inj.submit, globex, mails))
    # One message per receiver behaviour, so even the short scenario shows every outcome.
    for target in COVERAGE_RECIPIENTS:
        mail = traffic.mail(globex.senders[1], [target], "Your invoice is ready", traffic.size(1500, 4000),
                            globex.mailer)
        steps.append(partial(inj.submit, globex, [mail]))
    initech_extra = ['"john smith"@contoso.example', "sales@initech.example"]
    for i in range(scenario.initech_messages):
        rcpts = traffic.recipients(1, 3)
        if i < len(initech_extra):
            rcpts = [initech_extra[i], *rcpts[:1]]
        mail = traffic.mail(rng.choice(initech.senders), rcpts, "Re: TPS reports", traffic.size(800, 12000),
                            initech.mailer)
        steps.append(partial(inj.submit, initech, [mail]))
    # Content hitting the cleanup header_checks (REJECT / HOLD / WARN / DISCARD).
    for n, subject, mailer in (
        (scenario.header_rejects, "FREE CRYPTO for our valued customers", acme.mailer),
        (scenario.header_holds, "[review] Quarterly statement", globex.mailer),
        (scenario.header_warns, "Order shipped", "LegacyMailer 0.9"),
        (scenario.header_discards, "[discard-test] ignore me", globex.mailer),
    ):
        for _ in range(n):
            mail = traffic.mail(globex.senders[0] if "review" in subject or "discard" in subject
                                else acme.senders[0], traffic.recipients(1, 1), subject, 2000, mailer)
            account = globex if mail.sender.endswith("globex.example") else acme
            steps.append(partial(inj.submit, account, [mail]))
    # Null-sender mail: an auto-responder over submission, and a bounce-like message via sendmail.
    for i in range(scenario.null_senders):
        mail = traffic.mail("", traffic.recipients(1, 1), "Auto-Reply: out of office", 900, globex.mailer,
                            "no-reply@globex.example")
        steps.append(partial(inj.submit, globex, [mail]) if i % 2 == 0 else partial(inj.sendmail, mail))
    # Local cron and scripts submitting with sendmail (pickup).
    for target in COVERAGE_PICKUP:
        steps.append(partial(inj.sendmail, traffic.mail("backup@initech.example", [target], "backup report", 1200,
                                                        "cron")))
    for _ in range(scenario.pickup_messages):
        sender = rng.choice(("cron@relay1.example", "root@relay1.example", "backup@initech.example"))
        rcpt = rng.choice((["ops@contoso.example"], traffic.recipients(1, 1)))
        mail = traffic.mail(sender, rcpt, "Cron <root@relay1> /usr/local/bin/report", traffic.size(300, 3000),
                            "cron")
        steps.append(partial(inj.sendmail, mail))
    # Inbound mail for the customer domains on port 25, incl. virtual aliases (orig_to).
    # The first three reach the three inbound agents (lmtp, pipe, relay) even in the short scenario.
    inbound_rcpts = ["sales@initech.example", "abuse@news.acme.example", "support@globex.example",
                     "peter.gibbons@initech.example", "billing@globex.example"]
    for i in range(scenario.inbound_messages):
        mail = traffic.mail(f"{rng.choice(FIRST)}@{rng.choice(('customers.test', 'contoso.example'))}",
                            [inbound_rcpts[i % len(inbound_rcpts)]], "Question about my order",
                            traffic.size(900, 4000), "Apple Mail (2.3731)")
        steps.append(partial(inj.port25, [mail], "mail-ot1-f52.google.test"))
    for i in range(scenario.unknown_relay_recipients):
        mail = traffic.mail("someone@contoso.example", [f"former.employee{i}@initech.example"], "hello", 500, "x")
        steps.append(partial(inj.port25, [mail], "mail.contoso.example"))
    # A botnet at the postscreen listener (denylisted, rejected by postscreen itself).
    for i in range(scenario.postscreen_attempts):
        mail = traffic.mail(f"bulk{i}@botnet-sender.test", ["peter.gibbons@initech.example"], "Re: invoice", 800,
                            "x")
        steps.append(partial(inj.postscreen, [mail], f"host-{i}.dyn.botnet.test"))
    # Unauthenticated relay attempts from "the internet" (127.0.0.1 is not in mynetworks).
    for i in range(scenario.relay_attempts):
        mail = traffic.mail(f"promo{i}@spam-sender.test", traffic.recipients(1, 2), "You won", 700, "x")
        steps.append(partial(inj.port25, [mail], "dsl-187-45.broadband.test"))
    for i in range(scenario.non_fqdn_senders):
        mail = traffic.mail(f"admin{i}", ["peter.gibbons@initech.example"], "hi", 300, "x")
        steps.append(partial(inj.port25, [mail], "localhost.localdomain"))
    # Submission without SASL, SASL with a wrong password, and an account using another's domain.
    for _ in range(scenario.unauth_submissions):
        mail = traffic.mail(initech.senders[0], traffic.recipients(1, 1), "test", 500, initech.mailer)
        steps.append(partial(inj.submit_unauthenticated, [mail], initech.helo))
    for i in range(scenario.auth_failures):
        acct = ACCOUNTS[i % len(ACCOUNTS)]
        steps.append(partial(inj.submit, acct, [], password="wrong-password"))
    for _ in range(scenario.sender_mismatches):
        mail = traffic.mail("ceo@globex.example", traffic.recipients(1, 1), "Urgent wire transfer", 1200,
                            initech.mailer)
        steps.append(partial(inj.submit, initech, [mail]))
    rng.shuffle(steps)
    return steps


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------

PORT_NAMES = ("main_smtpd", "submission", "out_smtpd", "postscreen", *SINK_FATES, DEAD)


def _recipient_domain(entry: dict[str, object]) -> set[str]:
    rcpts = entry.get("recipients")
    out: set[str] = set()
    if isinstance(rcpts, list):
        for r in rcpts:
            if isinstance(r, dict):
                out.add(str(r.get("address", "")).rsplit("@", 1)[-1].lower())
    return out


def settled(instances: Sequence[Instance], *, allow_dead: bool) -> bool:
    """True when only held mail (and, if allowed, mail for the dead host) is left in the queues."""
    for inst in instances:
        for entry in inst.queue_entries():
            if entry.get("queue_name") == "hold":
                continue
            if allow_dead and entry.get("queue_name") == "deferred" and _recipient_domain(entry) <= {
                d for d, f in DOMAIN_FATES.items() if f == DEAD
            }:
                continue
            return False
    return True


def wait_until(predicate: Callable[[], bool], deadline: float, what: str, interval: float = 1.0) -> None:
    while not predicate():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out waiting for {what}")
        time.sleep(interval)


def lift_deferrals(sinks: Sinks, instances: Sequence[Instance], fate: str = GREYLIST) -> None:
    """The receiver `fate` now accepts; flushing also makes qmgr forget destinations it thought dead."""
    sinks.stop(fate)
    sinks.start(fate, flags_of=ACCEPT)
    for inst in instances:
        inst.flush()


def run(scenario: Scenario | str, out: Path, *, workdir: Path | None = None, keep: bool = False,
        log: Callable[[str], None] = lambda s: None) -> RunResult:
    """Run one scenario end to end and copy the captured log to `out` (the temp dir goes unless `keep`)."""
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    preflight()
    work = Path(tempfile.mkdtemp(prefix="pfx-harness-", dir=workdir))
    try:
        work.chmod(0o755)
        check_traversable(work)
        return _run_in(work, sc, out, log)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _run_in(work: Path, sc: Scenario, out: Path, log: Callable[[str], None]) -> RunResult:
    started = time.monotonic()
    deadline = started + sc.time_limit_s
    maillog = work / "maillog"
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    traffic = Traffic(sc)
    relay_recipients = [s for a in ACCOUNTS for s in a.senders]
    relay_recipients += ["helpdesk@globex.example", "postmaster@news.acme.example", *VIRTUAL_ALIASES]
    main = prepare_instance(work / "main", "postfix", maillog)
    outi = prepare_instance(work / "out", "postfix-out", maillog)
    write_main_instance(main, sc, work, ports, traffic.per_address, relay_recipients)
    write_out_instance(outi, sc, work, ports, traffic.per_address)
    sinks = Sinks(ports)
    inj = Injector(ports, main, traffic.rng)
    try:
        for fate in SINK_FATES:
            sinks.start(fate)
        log(f"sinks up on {ports}")
        # `postfix start` returns once master has bound its listeners (master -w), so no probing:
        # a probe connection would only add "lost connection after CONNECT" lines to the log.
        outi.postfix("start")
        main.postfix("start")
        steps = plan(sc, traffic, inj)
        log(f"injecting {len(steps)} sessions")
        injecting_since = time.monotonic()
        greylisting = True
        for step in steps:
            step()
            time.sleep(traffic.rng.expovariate(1 / sc.pause_s) if sc.pause_s else 0)
            if greylisting and time.monotonic() - injecting_since >= sc.greylist_s:
                # Greylisting ends well inside the queue lifetime, so soft-rejected mail is delivered
                # (not expired): restart that receiver accepting, then flush both queues.
                lift_deferrals(sinks, (main, outi))
                greylisting = False
                log("greylisting lifted, queues flushed")
        log(f"injected: {inj.counts}")
        # Administrative actions on held mail: release one, delete one, leave the rest on hold.
        held = [e for e in main.queue_entries() if e.get("queue_name") == "hold"]
        if held:
            main.postsuper("-H", str(held[0]["queue_id"]))
        if len(held) > 2:
            main.postsuper("-d", str(held[1]["queue_id"]))
        if greylisting:
            time.sleep(1)
            lift_deferrals(sinks, (main, outi))
            log("greylisting lifted, queues flushed")
        if sc.wait_for_expiry:
            main.postfix("reload")  # as an operator would after a change; master logs it
        wait_until(lambda: settled((main, outi), allow_dead=not sc.wait_for_expiry), deadline,
                   "the queues to drain" + (" (dead-host mail to expire)" if sc.wait_for_expiry else ""))
        time.sleep(1.5)  # let the last delivery agents log and exit
    finally:
        main.stop()
        outi.stop()
        sinks.stop_all()
    out.parent.mkdir(parents=True, exist_ok=True)
    data = maillog.read_bytes() if maillog.exists() else b""
    if not data:
        raise HarnessError(f"Postfix wrote no log to {maillog} (check maillog_file_prefixes)")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return RunResult(scenario=sc.name, log=out, lines=data.count(b"\n"), bytes=len(data),
                     seconds=round(time.monotonic() - started, 1), ports=ports, injected=dict(inj.counts))


def main_cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="where to write the captured log")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="full",
                        help="full: a few hundred messages incl. expiry (~2 min); short: ~40 messages, <60 s")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, queues) for debugging")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="parent of the temp dir (default: the system temp dir); must be searchable by postfix")
    args = parser.parse_args(argv)
    try:
        result = run(args.scenario, args.out, workdir=args.workdir, keep=args.keep,
                     log=lambda s: print(s, file=sys.stderr))
    except HarnessError as exc:
        print(f"postfix_harness: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({**dataclasses.asdict(result), "log": str(result.log)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
