#!/usr/bin/env python3
"""Issue 7's multi-day abuse scenario, made by a real Postfix on loopback (the harness's parts).

Why: the abuse signals must fire on the lines Postfix really writes (`client=unknown[127.0.0.41]`,
RCPT-time rejects, NDRs, queue-ID reuse, ...), not only on lines our own synthetic writer imagines.

One private Postfix ("postfix", relay1.example, SASL submission on 127.0.0.1) relays to smtp-sink
receivers that accept, answer 550 5.1.1 (user unknown), refuse at RCPT naming a DNS blocklist, or
refuse at DATA for policy. Traffic comes in phases, one per (day, hour): a phase's SMTP sessions are
injected, the queue is drained, and a mark logged with postlog(1) through postlogd ends the phase. Client sockets are bound to 127.0.0.N, so
Postfix logs each account's own client IPs. Afterwards every phase's lines are moved onto the phase's
day and hour (only the traditional "Mmm dd HH:MM:SS" prefix is rewritten; every other byte is as Postfix
wrote it) and written as one log in time order, with the scenario's inventory and a JSON description.

Accounts (inventory account ← SASL username), DAYS days from START, mail at 10:00 each day:
- acme ← acme-mailer: a newsletter to a fixed list (2 % of it, and one stale address sent to every day,
  unknown users) from 127.0.0.11;
- globex ← globex-app: receipts to its customers from 127.0.0.21 and .22;
- initech ← initech: office mail from 127.0.0.31;
- bulkblast ← blast-sender (spammer): bought lists every day (all new recipients) from 127.0.0.41:
  ~20 % refused naming Spamhaus or for policy, ~8 % unknown users, two spam-trap hits a day;
- umbrella ← umbrella-crm: a few messages a day from 127.0.0.51 until, at 03:00 on the last day, its
  credentials are used from STOLEN_IPS never-seen addresses (127.0.1.x) for a burst to random recipients,
  40 % of them unknown users, 30 % at Gmail, which defers them with 421 4.7.28 (unusual rate) until
  the phase's first attempts are over, half of it with an envelope sender not verified for the account;
- tiny ← tinyshop: three messages on the last day, one to an unknown user.

Run as root (~20 s on 2 cores):

    python scripts/abuse_scenario.py --out DIR   # DIR/maillog, inventory.toml, scenario.json, capture.log
    deliverability inventory load --inventory DIR/inventory.toml --db DIR/abuse.duckdb
    deliverability ingest DIR/maillog --db DIR/abuse.duckdb --year 2026
    deliverability abuse rank --db DIR/abuse.duckdb --since 2026-11-14 --until 2026-11-15
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postfix_harness as H  # scripts/ is not a package

YEAR = 2026
START = dt.datetime(YEAR, 11, 9, tzinfo=dt.UTC)  # a Monday
DAYS = 6
DAY_HOUR = 10  # every day's ordinary mail
NIGHT_HOUR = 3  # the last night's abuse burst
WINDOW = (START + dt.timedelta(days=DAYS - 1), START + dt.timedelta(days=DAYS))  # the last day
STOLEN_IPS = tuple(f"127.0.1.{i}" for i in range(1, 31))
QUEUE_LIFETIME_S = 60
POSTLOG = "/usr/sbin/postlog"
MARK_TAG = "abuse-scenario"  # not a Postfix program name: the ingest counts these lines as "other"
REQUIRED_BINARIES = (*H.REQUIRED_BINARIES, POSTLOG)
TIME_LIMIT_S = 240.0

# Recipient fates: ACCEPT by domain; the others by per-address transport entries.
UNKNOWN, BLOCKED, POLICY, RATE_LIMITED = "unknown", H.BLOCKLISTED, H.DATA_REJECT, H.RATE_LIMITED
SINKS = (H.ACCEPT, H.HARD_GOOGLE, H.HARD_GENERIC, H.BLOCKLISTED, H.DATA_REJECT, H.RATE_LIMITED)
CONSUMER_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "orange.fr", "web.de", "icloud.com")
TRAP_DOMAIN = "trap.example"
TRAP_ADDRESS = "pristine.trap@orange.fr"  # an address trap at an ordinary provider
FOREIGN_SENDER = "billing@secure-invoices.test"  # half of the stolen-credential burst claims this sender


@dataclasses.dataclass(frozen=True)
class Sender:
    """An inventory account, the SASL login it submits with and its usual client IPs."""

    account_id: str
    login: H.Account
    ips: tuple[str, ...]


def _login(user: str, domain: str, local: str, mailer: str) -> H.Account:
    return H.Account(user, f"{user}-pw-{len(user) * 7919 % 10007}", domain, (f"{local}@{domain}",),
                     f"app.{domain}", mailer)


ACME = Sender("acme", _login("acme-mailer", "news.acme.example", "newsletter", "AcmeMailer/4.2"),
              ("127.0.0.11",))
GLOBEX = Sender("globex", _login("globex-app", "globex.example", "no-reply", "GlobexNotify/1.8"),
                ("127.0.0.21", "127.0.0.22"))
INITECH = Sender("initech", _login("initech", "initech.example", "peter.gibbons", "Thunderbird/115.4"),
                 ("127.0.0.31",))
SPAMMER = Sender("bulkblast", _login("blast-sender", "mail.bulkblast.example", "deals", "BlastPro/9"),
                 ("127.0.0.41",))
VICTIM = Sender("umbrella", _login("umbrella-crm", "umbrella.example", "crm", "UmbrellaCRM/3.1"),
                ("127.0.0.51",))
TINY = Sender("tiny", _login("tinyshop", "tinyshop.example", "orders", "WooCommerce/8"), ("127.0.0.61",))
SENDERS = (ACME, GLOBEX, INITECH, SPAMMER, VICTIM, TINY)
BAD = (SPAMMER.account_id, VICTIM.account_id)
CLEAN = (ACME.account_id, GLOBEX.account_id, INITECH.account_id)


@dataclasses.dataclass(frozen=True)
class Session:
    """One SMTP submission session: who logs in, from which client IP, and the mail it sends."""

    sender: Sender
    source: str
    mails: tuple[H.Mail, ...]


@dataclasses.dataclass(frozen=True)
class Phase:
    """Sessions whose log lines are moved to start at `at`."""

    at: dt.datetime
    sessions: tuple[Session, ...]


@dataclasses.dataclass
class Plan:
    """Every phase in time order and the receiver fate of every recipient that is not simply accepted."""

    phases: list[Phase]
    fates: dict[str, str]
    expected: dict[str, object]


class Recipients:
    """Synthetic recipient addresses with fates (a fixed list per account, or fresh bought addresses)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fates: dict[str, str] = {}
        self.made = 0

    def fresh(self, weights: Sequence[tuple[str, float]] = ()) -> str:
        """A never-used address; its fate drawn from `weights` ((fate, share), the rest accepted).

        Rate limiting (421 4.7.28) is Gmail's answer, so those addresses are at gmail.com.
        """
        rng = self.rng
        self.made += 1
        roll, fate = rng.random(), None
        for name, share in weights:
            if roll < share:
                fate = name
                break
            roll -= share
        domain = "gmail.com" if fate == RATE_LIMITED else rng.choice(CONSUMER_DOMAINS)
        addr = f"{rng.choice(H.FIRST)}.{rng.choice(H.LAST)}{self.made}{rng.randrange(100)}@{domain}"
        if fate:
            self.fates[addr] = self._route(fate, domain)
        return addr

    def pool(self, size: int, unknown_share: float) -> list[str]:
        return [self.fresh(((UNKNOWN, unknown_share),)) for _ in range(size)]

    def unknown(self) -> str:
        return self.fresh(((UNKNOWN, 1.0),))

    @staticmethod
    def _route(fate: str, domain: str) -> str:
        if fate == UNKNOWN:
            return H.HARD_GOOGLE if domain == "gmail.com" else H.HARD_GENERIC
        return fate


def make_plan(seed: int = 7) -> Plan:
    """The whole scenario, deterministic for a seed (addresses and fates are known before Postfix starts)."""
    rng = random.Random(seed)
    rc = Recipients(rng)
    pools = {ACME: rc.pool(160, 0.02), GLOBEX: rc.pool(60, 0.0), INITECH: rc.pool(25, 0.0),
             VICTIM: rc.pool(30, 0.0)}
    stale = rc.unknown()  # on acme's list for good: every issue bounces once (well under the thresholds)

    def mail(s: Sender, rcpts: list[str], subject: str, sender: str = "") -> H.Mail:
        sender = sender or s.login.senders[0]
        return H.Mail(sender, rcpts, subject, rng.randint(600, 2500), s.login.mailer, sender)

    def sessions(s: Sender, mails: list[H.Mail], per: int, ips: Sequence[str] = ()) -> list[Session]:
        """`per` messages a session, from the sender's usual IPs (or each of `ips` in turn)."""
        out = []
        for n, i in enumerate(range(0, len(mails), per)):
            src = ips[n % len(ips)] if ips else rng.choice(s.ips)
            out.append(Session(s, src, tuple(mails[i:i + per])))
        return out

    phases: list[Phase] = []
    trap_hits = 0
    for day in range(DAYS):
        at = START + dt.timedelta(days=day, hours=DAY_HOUR)
        last = day == DAYS - 1
        todo: list[Session] = []
        issue = [mail(ACME, rng.sample(pools[ACME], 4), f"Acme deals #{day}") for _ in range(28 + rng.randint(-3, 3))]
        issue[0].recipients[0] = stale
        todo += sessions(ACME, issue, 10)
        todo += sessions(GLOBEX, [mail(GLOBEX, [rng.choice(pools[GLOBEX])], "Your receipt")
                                  for _ in range(16 + rng.randint(-2, 2))], 4)
        todo += sessions(INITECH, [mail(INITECH, rng.sample(pools[INITECH], rng.randint(1, 2)), "Re: TPS reports")
                                   for _ in range(8 + rng.randint(-2, 2))], 1)
        spam = [mail(SPAMMER, [rc.fresh(((BLOCKED, 0.12), (POLICY, 0.08), (UNKNOWN, 0.08))) for _ in range(4)],
                     "You have been selected!!!") for _ in range(30)]
        for j, m in enumerate(rng.sample(spam, 2)):  # two trap hits a day: the address, a trap-domain one
            m.recipients[0] = TRAP_ADDRESS if j == 0 else f"info{day}@{TRAP_DOMAIN}"
            trap_hits += 1
        todo += sessions(SPAMMER, spam, 10)
        todo += sessions(VICTIM, [mail(VICTIM, [rng.choice(pools[VICTIM])], "Your appointment")
                                  for _ in range(6 + rng.randint(-1, 1))], 2)
        if last:
            shop = [rc.fresh(), rc.unknown(), rc.fresh()]
            todo += sessions(TINY, [mail(TINY, [r], "Your order") for r in shop], 1)
            burst = [mail(VICTIM, [rc.fresh(((UNKNOWN, 0.4), (RATE_LIMITED, 0.3))) for _ in range(2)],
                          "Invoice overdue", FOREIGN_SENDER if i % 2 else "") for i in range(90)]
            phases.append(Phase(START + dt.timedelta(days=day, hours=NIGHT_HOUR),
                                tuple(sessions(VICTIM, burst, 3, STOLEN_IPS))))
        rng.shuffle(todo)
        phases.append(Phase(at, tuple(todo)))
    expected: dict[str, object] = {
        "bad": list(BAD), "clean": list(CLEAN), "tiny": TINY.account_id,
        "spammer": SPAMMER.account_id, "victim": VICTIM.account_id,
        "window": [WINDOW[0].isoformat(), WINDOW[1].isoformat()], "year": YEAR,
        "stolen_ips": list(STOLEN_IPS), "foreign_sender_domain": FOREIGN_SENDER.split("@")[1],
        "rate_limited_recipients": sum(rc.fates.get(r) == RATE_LIMITED for p in phases for s in p.sessions
                                       for m in s.mails for r in m.recipients), "trap_hits_last_day": 2, "trap_hits": trap_hits,
        "sasl_users": {s.login.username: s.account_id for s in SENDERS},
    }
    return Plan(phases, rc.fates, expected)


# --------------------------------------------------------------------------------------------------
# Moving each phase's lines onto its day
# --------------------------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
STAMP = re.compile(rb"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) ")


def _parse_stamp(m: re.Match[bytes], year: int) -> dt.datetime:
    month = MONTHS.index(m.group(1).decode()) + 1
    return dt.datetime(year, month, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))


def _format_stamp(t: dt.datetime) -> bytes:
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S} ".encode()


def shift_segment(data: bytes, at: dt.datetime, year: int) -> bytes:
    """Rewrite each line's "Mmm dd HH:MM:SS " so the earliest stamp is at `at`, keeping the gaps.

    The earliest, not the first: each Postfix process stamps its own lines before postlogd writes them,
    so a line can trail its predecessor by a second. Lines without a traditional stamp are kept as they
    are. `year` is the year the log was written in (only differences matter; a stamp more than 180 days
    before the previous one has crossed New Year).
    """
    lines = data.splitlines(keepends=True)
    stamps: list[tuple[int, re.Match[bytes], dt.datetime]] = []
    for i, line in enumerate(lines):
        m = STAMP.match(line)
        if not m:
            continue
        t = _parse_stamp(m, year)
        if stamps and t < stamps[-1][2] - dt.timedelta(days=180):
            year += 1
            t = _parse_stamp(m, year)
        stamps.append((i, m, t))
    if stamps:
        first = min(t for _, _, t in stamps)
        for i, m, t in stamps:
            lines[i] = _format_stamp(at.replace(tzinfo=None) + (t - first)) + lines[i][m.end():]
    return b"".join(lines)


def assemble(log: bytes, offsets: Sequence[int], starts: Sequence[dt.datetime], year: int) -> bytes:
    """Split the captured log at `offsets` (one per phase after the first) and shift each part."""
    if len(offsets) != len(starts) - 1:
        raise H.HarnessError("one offset per phase boundary expected")
    bounds = [0, *offsets, len(log)]
    parts = [shift_segment(log[a:b], at, year) for a, b, at in zip(bounds[:-1], bounds[1:], starts, strict=True)]
    return b"".join(parts)


# --------------------------------------------------------------------------------------------------
# The Postfix instance and the run
# --------------------------------------------------------------------------------------------------

PORT_NAMES = ("submission", *SINKS)


def transport_table(ports: dict[str, int], fates: dict[str, str]) -> str:
    """Per-address fates, receiver domains to the accepting sink, NDRs to our senders discarded."""
    accept = f"smtp:[{H.LOOPBACK}]:{ports[H.ACCEPT]}"
    lines = [f"{a}\tsmtp:[{H.LOOPBACK}]:{ports[f]}" for a, f in sorted(fates.items())]
    lines += [f"{d}\t{accept}" for d in (*CONSUMER_DOMAINS, TRAP_DOMAIN)]
    ndr_domains = (*(s.login.domain for s in SENDERS), FOREIGN_SENDER.split("@")[1])
    lines += [f"{d}\tdiscard:bounce processor" for d in ndr_domains]
    return "\n".join(lines) + "\n"


def write_instance(inst: H.Instance, work: Path, ports: dict[str, int], fates: dict[str, str]) -> None:
    etc = inst.etc
    settings = H.common_settings(inst, QUEUE_LIFETIME_S, work)
    settings.update({
        "myhostname": H.MAIN_HOSTNAME,
        "mynetworks": H.MAIN_MYNETWORKS,
        "transport_maps": f"texthash:{etc}/transport",
        **H.sasl_settings(etc),
        "smtpd_peername_lookup": "no",  # client=unknown[127.0.0.N]: no PTR queries leave the machine
        "smtp_connection_cache_destinations": H.LOOPBACK,
    })
    (etc / "main.cf").write_text(H.main_cf_text(settings))
    (etc / "master.cf").write_text(
        f"{H.LOOPBACK}:{ports['submission']} inet n - n - - smtpd\n"
        "  -o syslog_name=postfix/submission\n"
        "  -o smtpd_sasl_auth_enable=yes\n"
        "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
        "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
        + H.MASTER_BASE.replace("{syslog_name}", "postfix"))
    (etc / "transport").write_text(transport_table(ports, fates))
    H.write_sasldb(etc, [s.login for s in SENDERS])


def inventory_toml() -> str:
    """The scenario's inventory: every account with its SASL username and domain, the traps."""
    accounts = "".join(
        f'\n[[accounts]]\nid = "{s.account_id}"\nname = "{s.account_id.title()}"\n'
        f'sasl_usernames = ["{s.login.username}"]\n\n[[accounts.domains]]\ndomain = "{s.login.domain}"\n'
        for s in SENDERS)
    return (
        "# Inventory of scripts/abuse_scenario.py (synthetic names; 127.0.0.1 is the relay).\n"
        '[relay]\nips = ["127.0.0.1"]\nhostnames = ["relay1.example"]\n'
        'envelope_domain = "bounces.relay.example"\n'
        f"{accounts}\n[traps]\ndomains = [\"{TRAP_DOMAIN}\"]\naddresses = [\"{TRAP_ADDRESS}\"]\n"
    )


@dataclasses.dataclass
class Built:
    """What `build` wrote and measured."""

    log: Path
    inventory: Path
    description: Path
    lines: int
    seconds: float
    injected: dict[str, int]


def build(out_dir: Path, *, seed: int = 7, workdir: Path | None = None, keep: bool = False,
          log: Callable[[str], None] = lambda s: None) -> Built:
    """Run the scenario through a private Postfix and write maillog, inventory.toml, scenario.json."""
    H.preflight()
    if not Path(POSTLOG).exists():
        raise H.HarnessError(f"missing {POSTLOG} (Debian postfix)")
    plan = make_plan(seed)
    work = Path(tempfile.mkdtemp(prefix="pfx-abuse-", dir=workdir))
    try:
        work.chmod(0o755)
        H.check_traversable(work)
        return _build_in(work, plan, out_dir, log)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _drained(inst: H.Instance) -> bool:
    return not inst.queue_entries()


def _only_deferred(inst: H.Instance) -> bool:
    return all(e.get("queue_name") == "deferred" for e in inst.queue_entries())


def mark(inst: H.Instance, maillog: Path, text: str, deadline: float) -> int:
    """Log `text` through postlogd and return the log's offset just after it.

    postlogd writes what it receives in order, so once the mark is in the file every line logged before
    it (the drained phase's deliveries and "removed" lines) is too: the offset is an exact phase boundary.
    """
    H.run_cmd([POSTLOG, "-c", str(inst.etc), "-t", MARK_TAG, text])
    needle = re.compile(rb" " + re.escape(f"{MARK_TAG}[".encode()) + rb"\d+\]: " + re.escape(text.encode()) + b"\n")
    give_up = min(deadline, time.monotonic() + 30)
    while True:
        found = needle.search(maillog.read_bytes())
        if found:
            return found.end()
        if time.monotonic() > give_up:
            raise H.HarnessError(f"postlogd did not write the mark {text!r} to {maillog}")
        time.sleep(0.05)


def _build_in(work: Path, plan: Plan, out_dir: Path, log: Callable[[str], None]) -> Built:
    started = time.monotonic()
    deadline = started + TIME_LIMIT_S
    maillog = work / "maillog"
    ports = dict(zip(PORT_NAMES, H.free_ports(len(PORT_NAMES)), strict=True))
    inst = H.prepare_instance(work / "main", "postfix", maillog)
    write_instance(inst, work, ports, plan.fates)
    sinks = H.Sinks(ports)
    inj = H.Injector(ports, inst, random.Random(1))
    offsets: list[int] = []
    year = dt.datetime.now().year  # Postfix stamps local time without a year
    try:
        for fate in SINKS:
            sinks.start(fate)
        inst.postfix("start")
        for i, phase in enumerate(plan.phases):
            for s in phase.sessions:
                inj.submit(s.sender.login, s.mails, source=s.source)
            if any(plan.fates.get(r) == RATE_LIMITED for s in phase.sessions for m in s.mails for r in m.recipients):
                # every message tried once (only deferred mail left), then the rate limit ends
                H.wait_until(lambda: _only_deferred(inst), deadline, f"phase {i}'s first attempts", interval=0.2)
                H.lift_deferrals(sinks, (inst,), RATE_LIMITED)
            H.wait_until(lambda: _drained(inst), deadline, f"phase {i} to drain", interval=0.2)
            if i < len(plan.phases) - 1:
                offsets.append(mark(inst, maillog, f"end of phase {i}", deadline))
            log(f"phase {i} ({phase.at:%Y-%m-%d %H:%M}): {len(phase.sessions)} sessions")
    finally:
        inst.stop()
        sinks.stop_all()
    data = maillog.read_bytes() if maillog.exists() else b""
    if not data:
        raise H.HarnessError(f"Postfix wrote no log to {maillog}")
    out = assemble(data, offsets, [p.at for p in plan.phases], year)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "maillog", out_dir / "inventory.toml", out_dir / "scenario.json")
    (out_dir / "capture.log").write_bytes(data)  # as Postfix wrote it, real dates (for checking the shift)
    paths[0].write_bytes(out)
    paths[1].write_text(inventory_toml(), encoding="utf-8")
    seconds = round(time.monotonic() - started, 1)
    desc = {**plan.expected, "seconds": seconds, "injected": inj.counts, "lines": out.count(b"\n"),
            "phases": [p.at.isoformat() for p in plan.phases], "marks": len(offsets)}
    paths[2].write_text(json.dumps(desc, indent=2) + "\n", encoding="utf-8")
    return Built(*paths, lines=out.count(b"\n"), seconds=seconds, injected=dict(inj.counts))


def main_cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="directory for maillog, inventory.toml, scenario.json")
    parser.add_argument("--seed", type=int, default=7, help="recipients, volumes and fates (default 7)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, queue) for debugging")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="parent of the temp dir (default: the system temp dir); must be searchable by postfix")
    args = parser.parse_args(argv)
    try:
        built = build(args.out, seed=args.seed, workdir=args.workdir, keep=args.keep,
                      log=lambda s: print(s, file=sys.stderr))
    except H.HarnessError as exc:
        print(f"abuse_scenario: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(built).items()},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main_cli())
