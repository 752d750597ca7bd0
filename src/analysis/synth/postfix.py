"""Streaming generator of realistic Postfix logs of any size, with the exact ground truth it wrote.

Why: benchmarks need 10M+ line logs, and tests need logs whose totals are known independently of the
parser under test. The generator simulates a relay: SASL accounts submit mail, the queue manager
delivers it to real-looking provider MX hosts, some recipients bounce or are blocked, some are deferred
and retried (qmgr logs from/size/nrcpt again on every retry) until they are sent or the message
expires; bounces and expiries produce non-delivery notifications with a null sender; smtpd and
postscreen reject at RCPT, cleanup rejects on headers; a content filter adds a second hop; other
programs (opendkim, amavis, dovecot, policyd-spf, cron) interleave. Lines of concurrent messages
overlap in time because every line is scheduled on a calendar of seconds and written in time order.

Speed: the whole timeline of a message is computed when it arrives and its lines are put into
per-second buckets; a bucket is written with one join under a timestamp formatted once per second.
Effects on the ground truth ride along with each line and are applied when the line is written, so
cutting the log at exactly N lines still gives exact counts.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import gzip
import heapq
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from analysis.errors import InputError
from analysis.synth import pools

Style = Literal["traditional", "rfc3339"]

DEFAULT_START = dt.datetime(2026, 11, 20, 0, 0, 0, tzinfo=dt.UTC)
# Bumped whenever the same seed and options would give different bytes (cached benchmark logs check it).
GENERATOR_VERSION = 2

# Effect codes carried by each scheduled line (applied to the Truth when the line is written).
_NONE = 0
_RECEIVED = 1  # smtpd client= or pickup line; always the first line of a queue life
_RECEIVED_REUSED = 2  # same, for a life that reuses an earlier life's short queue ID
_NEWLIFE = 3  # first line of a life that was not received (bounce notifications)
_SIZE = 4  # first qmgr from=/size= line of a received life; key = (size, sender)
_SENT = 5  # status=sent; key = recipient
_DEFER = 6  # status=deferred; key = life number
_BOUNCED = 7  # status=bounced
_EXPIRED = 8  # qmgr status=expired, returned to sender
_REJECTED = 9  # NOQUEUE reject (smtpd, postscreen) or cleanup reject; key = kind
_OTHER = 10  # a line of another program
_TRUNC = 11  # a truncated copy of a Postfix line

LONG_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"  # 52 chars, no vowels
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Share of the day's traffic per hour (UTC), a business-day curve.
HOURLY = (
    0.35,
    0.3,
    0.28,
    0.28,
    0.35,
    0.5,
    0.8,
    1.2,
    1.6,
    1.7,
    1.7,
    1.6,
    1.5,
    1.6,
    1.7,
    1.6,
    1.5,
    1.3,
    1.1,
    1.0,
    0.9,
    0.8,
    0.6,
    0.45,
)
# Tokens whose presence makes a line count in pflogsumm-style totals; truncated copies end before them.
_KEY_TOKENS = ("client=", "uid=", "size=", "status=", "reject", "message-id=", "removed", "sender non-")


@dataclass(frozen=True)
class Mix:
    """Tunable proportions of what happens. Rates are per message unless said otherwise."""

    invalid_rcpt: float = 0.02  # share of a normal account's recipients that do not exist (5.1.1)
    block: float = 0.01  # per delivery: blocked by policy (5.7.x, Spamhaus, S3150, 5.7.515)
    defer: float = 0.05  # per delivery: deferred at the first attempt (4.x.x, timeouts)
    expire: float = 0.08  # share of deferred deliveries that never succeed and expire
    noqueue: float = 0.05  # NOQUEUE reject sessions (smtpd, postscreen) per message
    cleanup_reject: float = 0.004  # messages rejected by cleanup header checks or a milter
    content_filter: float = 0.1  # messages that pass an amavis-style content filter (second hop)
    multi_rcpt: float = 0.15  # messages with more than one recipient
    pickup: float = 0.01  # locally submitted messages (cron mail via pickup)
    noise: float = 0.3  # unrelated lines (other programs, warnings, anvil, scanners) per message
    bad_factor: float = 12.0  # how much worse the bad accounts' invalid/block/defer rates are


@dataclass(frozen=True)
class Options:
    """Everything besides size, seed and start that shapes the log."""

    style: Style = "traditional"
    hosts: tuple[str, ...] = ("relay1",)
    # syslog_name of each Postfix instance and its share of the traffic
    instances: tuple[tuple[str, float], ...] = (("postfix", 0.8), ("postfix-out", 0.2))
    accounts: int = 40
    bad_accounts: int = 2
    reuse_ids: float = 0.0  # chance that a new message reuses a short queue ID freed earlier
    long_ids: bool = False  # enable_long_queue_ids style IDs (never reused)
    truncated: float = 0.0  # chance that a Postfix line is followed by a truncated copy of itself
    rate: float = 2.0  # messages per second on average (follows a daily curve)
    queue_lifetime: int = 86_400  # maximal_queue_lifetime, seconds
    min_backoff: int = 300
    max_backoff: int = 4000
    business_domains: int = 300
    mix: Mix = field(default_factory=Mix)

    def validate(self) -> None:
        """Raise InputError on values that cannot produce a log."""
        if self.style not in ("traditional", "rfc3339"):
            raise InputError(f"style must be traditional or rfc3339, not {self.style!r}")
        if not self.hosts or not self.instances:
            raise InputError("at least one host and one instance are needed")
        if any(w < 0 for _, w in self.instances) or sum(w for _, w in self.instances) <= 0:
            raise InputError("instance weights must be non-negative and not all zero")
        if self.accounts < 1 or not 0 <= self.bad_accounts <= self.accounts:
            raise InputError("need at least one account, and no more bad accounts than accounts")
        for name in ("reuse_ids", "truncated"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be between 0 and 1")
        if self.long_ids and self.reuse_ids > 0:
            raise InputError("long queue IDs are never reused: use reuse_ids=0 with long_ids")
        if self.rate <= 0 or self.queue_lifetime < 60 or not 0 < self.min_backoff <= self.max_backoff:
            raise InputError("rate must be > 0, queue_lifetime >= 60 s, 0 < min_backoff <= max_backoff")
        for f in dataclasses.fields(self.mix):
            value = getattr(self.mix, f.name)
            if value < 0 or (f.name != "bad_factor" and f.name not in ("noqueue", "noise") and value > 1):
                raise InputError(f"mix {f.name}={value} is out of range")


@dataclass
class Truth:
    """Ground truth of a generated log, with the totals contract's names and pflogsumm's definitions.

    received: smtpd client= plus pickup lines (content-filter reinjection counts again, as in pflogsumm);
    delivered: status=sent lines; deferred: distinct messages with at least one status=deferred line;
    deferrals: status=deferred lines; bounced: status=bounced lines; expired: messages expired by qmgr;
    rejected: NOQUEUE rejects (smtpd, postscreen) plus cleanup rejects; bytes_received: the first qmgr
    size= of each received message; senders: distinct envelope senders of received messages;
    recipients: distinct recipients of status=sent lines; lines_other: lines of other programs;
    messages: queue lives (a reused queue ID is two); deliveries: delivery-agent status lines.
    """

    received: int = 0
    delivered: int = 0
    deferred: int = 0
    deferrals: int = 0
    bounced: int = 0
    expired: int = 0
    rejected: int = 0
    bytes_received: int = 0
    senders: int = 0
    recipients: int = 0
    lines_read: int = 0
    lines_other: int = 0
    lines_truncated: int = 0
    messages: int = 0
    deliveries: int = 0
    reused_queue_ids: int = 0
    rejected_by: dict[str, int] = field(default_factory=dict)
    first_timestamp: str = ""
    last_timestamp: str = ""
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what `FILE.truth.json` holds)."""
        return dataclasses.asdict(self)

    def write(self, path: Path) -> None:
        """Write as JSON, to a temp name then rename."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)


def truth_path(log_path: Path) -> Path:
    """Where the CLI writes the truth of a log: FILE.truth.json beside FILE."""
    return log_path.with_name(log_path.name + ".truth.json")


def generate(
    out: TextIO | Path | str,
    *,
    lines: int,
    seed: int = 0,
    start: dt.datetime = DEFAULT_START,
    options: Options | None = None,
    **overrides: Any,
) -> Truth:
    """Write exactly `lines` lines of Postfix log to `out` (a text stream or a path; .gz is compressed).

    `overrides` replace fields of `options` (e.g. style="rfc3339", reuse_ids=0.05). The same seed and
    options always give the same bytes.
    """
    opts = options or Options()
    if overrides:
        try:
            opts = dataclasses.replace(opts, **overrides)
        except TypeError as exc:
            raise InputError(f"unknown option: {exc}") from None
    opts.validate()
    if lines < 0:
        raise InputError("lines must be >= 0")
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    gen = _Generator(opts, seed, start, lines)
    if isinstance(out, (str, Path)):
        path = Path(out)
        stream: TextIO
        if path.suffix == ".gz":
            stream = gzip.open(path, "wt", encoding="utf-8", newline="\n", compresslevel=3)  # noqa: SIM115
        else:
            stream = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)  # noqa: SIM115
        with stream:
            gen.run(stream, lines)
    else:
        gen.run(out, lines)
    return gen.truth


# --- internals ------------------------------------------------------------------------------------


def _fmt_delay(x: float) -> str:
    """Postfix's compact delay format: 0, 0.37, 1.2, 41."""
    if x < 0.005:
        return "0"
    if x < 1:
        return f"{x:.2f}".rstrip("0")
    if x < 10:
        return f"{x:.1f}"
    return str(int(x))


def _b52(value: int, width: int, alphabet: str = LONG_ALPHABET) -> str:
    base = len(alphabet)
    digits = []
    while value:
        value, rem = divmod(value, base)
        digits.append(alphabet[rem])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


@dataclass
class _Account:
    user: str
    domain: str
    senders: list[str]
    clients: list[str]
    helo: str
    submission: bool
    bad: bool
    relay: tuple[str, str]
    book: pools.ReplyBook


@dataclass
class _Queue:
    """One Postfix instance on one host: its queue-ID space, its processes and their PIDs."""

    host: str
    myhostname: str
    ip: str
    name: str
    prefixes: dict[str, list[str]]
    inode: int
    dkim_pid: int
    freed: list[tuple[int, str]] = field(default_factory=list)  # (removed at, queue id)


@dataclass
class _Rcpt:
    addr: str
    domain: pools.Domain
    final: int  # _SENT, _BOUNCED, _EXPIRED
    n_defer: int
    defer: tuple[str, str]
    bounce: tuple[str, str]
    net: bool  # deferrals are network failures (relay=none)


_SERVICES = {
    "smtpd": 10,
    "submission/smtpd": 8,
    "smtp": 16,
    "cleanup": 5,
    "qmgr": 1,
    "pickup": 1,
    "bounce": 3,
    "local": 2,
    "postscreen": 1,
    "anvil": 1,
    "scache": 1,
    "master": 1,
}


class _Generator:
    def __init__(self, opts: Options, seed: int, start: dt.datetime, lines: int) -> None:
        self.o = opts
        self.mix = opts.mix
        self.seed = seed
        self.rng = random.Random(seed)
        self.us_rng = random.Random(seed ^ 0x5EED)  # sub-second stamps: styles share one event stream
        self.epoch = int(start.timestamp())
        self.start = start
        self.cal: dict[int, list[tuple[str, int, Any]]] = {}
        self.keys: list[int] = []
        self.life = 0
        self.truth = Truth(seed=seed, options=options_dict(opts, start))
        rng = self.rng
        self.domains, dweights = pools.build_domains(rng, opts.business_domains)
        self.queues, qweights = self._build_queues()
        self.queue_cum = list(_cumulative(qweights))
        self.accounts = self._build_accounts()
        self.by_domain = {a.domain: a for a in self.accounts}
        aw = [(1.0 / (k + 1) ** 1.1) * (3.0 if a.bad else 1.0) for k, a in enumerate(self.accounts)]
        self.acct_cum = list(_cumulative(aw))
        # about one distinct recipient per 25 lines, as on a relay serving many lists
        self._build_universe(dweights, min(max(lines // 25, 5_000), 400_000))
        self._build_delay_pools()
        self.tokens = [_token(rng, 12) for _ in range(512)]
        self.scanners = [
            f"{rng.choice((45, 80, 89, 103, 141, 185, 193, 194))}.{rng.randrange(1, 255)}."
            f"{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
            for _ in range(300)
        ]
        self.stage = 0  # noise/rejects/messages chooser
        self.kind_cum = list(_cumulative((1.0, self.mix.noqueue, self.mix.noise)))

    # --- setup ----------------------------------------------------------------------------------

    def _build_queues(self) -> tuple[list[_Queue], list[float]]:
        rng = self.rng
        queues = []
        weights = []
        for h_i, host in enumerate(self.o.hosts):
            for name, weight in self.o.instances:
                prefixes = {}
                for svc, n in _SERVICES.items():
                    pids = rng.sample(range(1000, 4_000_000), n)
                    prefixes[svc] = [f"{host} {name}/{svc}[{pid}]: " for pid in pids]
                queues.append(
                    _Queue(
                        host,
                        f"{host}.relay.example.net",
                        f"192.0.2.{10 + h_i}",
                        name,
                        prefixes,
                        inode=rng.randrange(0x1000, 0x40000),
                        dkim_pid=rng.randrange(400, 4000),
                    )
                )
                weights.append(weight / len(self.o.hosts))
        return queues, weights

    def _build_accounts(self) -> list[_Account]:
        rng = self.rng
        accounts = []
        used: set[str] = set()
        for k in range(self.o.accounts):
            while True:
                label = f"{rng.choice(pools.WORDS)}{rng.choice(pools.SUFFIXES)}"
                domain = f"{label}.{rng.choice(pools.TLDS)}"
                if domain not in used:
                    used.add(domain)
                    break
            bad = k >= self.o.accounts - self.o.bad_accounts and self.o.bad_accounts > 0
            style = rng.random()
            user = (
                f"{rng.choice(pools.SENDER_LOCALS)}@{domain}"
                if style < 0.4
                else f"{label}-app{rng.randrange(1, 9)}"
                if style < 0.8
                else f"u{10000 + k}"
            )
            locals_ = rng.sample(pools.SENDER_LOCALS, rng.randint(1, 4))
            senders = [f"{lp}@{domain}" for lp in locals_]
            if rng.random() < 0.2:  # VERP-style bounce addresses
                senders += [f"bounces+{rng.randrange(10**5, 10**6)}@{domain}" for _ in range(20)]
            if bad:  # sends for domains it does not own, and from many places (stolen credentials)
                senders += [
                    f"{rng.choice(pools.SENDER_LOCALS)}@{rng.choice(pools.WORDS)}-promo.com" for _ in range(6)
                ]
            n_clients = 40 if bad and k % 2 == 0 else rng.randint(1, 3)
            clients = []
            for _ in range(n_clients):
                ip = (
                    f"{rng.choice((198, 203, 185, 91))}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}."
                    f"{rng.randrange(2, 254)}"
                )
                host = "unknown" if rng.random() < 0.3 else f"app{rng.randrange(1, 20)}.{domain}"
                clients.append(f"{host}[{ip}]")
            host_kind = rng.random()
            if host_kind < 0.4:
                relay = (
                    domain.replace(".", "-") + ".mail.protection.outlook.com",
                    f"52.101.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}",
                )
                book = pools.BOOKS["m365"]
            elif host_kind < 0.7:
                relay = ("aspmx.l.google.com", f"142.250.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}")
                book = pools.BOOKS["workspace"]
            else:
                relay = (f"mx.{domain}", f"203.0.113.{rng.randrange(2, 254)}")
                book = pools.BOOKS["postfix"]
            accounts.append(
                _Account(
                    user,
                    domain,
                    senders,
                    clients,
                    f"app.{domain}",
                    submission=rng.random() < 0.8 or bad,
                    bad=bad,
                    relay=relay,
                    book=book,
                )
            )
        return accounts

    def _build_universe(self, dweights: list[float], size: int) -> None:
        """A finite population of recipients, so that the same people (and the same typos) recur."""
        rng = self.rng
        cum = list(_cumulative(dweights))
        total = cum[-1]
        self.valid: list[tuple[str, pools.Domain]] = []
        self.invalid: list[tuple[str, pools.Domain]] = []
        seen: set[str] = set()
        for _ in range(size):
            d = self.domains[bisect.bisect_right(cum, rng.random() * total)]
            pick = rng.random()
            first, last = rng.choice(pools.FIRST), rng.choice(pools.LAST)
            if pick < 0.4:
                local = f"{first}.{last}"
            elif pick < 0.7:
                local = f"{first}{last[0]}{rng.randrange(1, 99)}"
            elif pick < 0.85:
                local = f"{first}_{last}{rng.randrange(60, 99)}"
            elif pick < 0.93 and d.book is not pools.BOOKS["gmail"]:
                local = f"{rng.choice(pools.ROLE_LOCALS)}"
            else:
                local = f"{last}.{first}{rng.randrange(1, 9999)}"
            addr = f"{local}@{d.name}"
            if addr in seen:
                continue
            seen.add(addr)
            (self.invalid if rng.random() < 0.06 else self.valid).append((addr, d))

    def _build_delay_pools(self) -> None:
        rng = self.rng
        self.first_delays: list[tuple[str, int]] = []  # ("delay=.., delays=..", seconds) for attempt 1
        for _ in range(997):
            a, b = rng.uniform(0.01, 0.6), rng.choice((0.0, 0.0, 0.01, rng.uniform(0, 0.2)))
            c, d = rng.uniform(0.05, 1.6), rng.uniform(0.05, 2.5)
            total = a + b + c + d
            self.first_delays.append(
                (
                    f"delay={_fmt_delay(total)}, delays={_fmt_delay(a)}/{_fmt_delay(b)}/{_fmt_delay(c)}/"
                    f"{_fmt_delay(d)}",
                    int(c + d),
                )
            )
        self.retry_bcd: list[tuple[str, float]] = []
        for _ in range(251):
            b, c, d = rng.choice((0.0, 0.01, 0.02)), rng.uniform(0.1, 1.5), rng.uniform(0.1, 2.0)
            self.retry_bcd.append((f"{_fmt_delay(b)}/{_fmt_delay(c)}/{_fmt_delay(d)}", b + c + d))

    # --- scheduling -----------------------------------------------------------------------------

    def put(self, t: int, text: str, code: int = _NONE, key: Any = None) -> None:
        bucket = self.cal.get(t)
        if bucket is None:
            bucket = self.cal[t] = []
            heapq.heappush(self.keys, t)
        bucket.append((text, code, key))
        if self.o.truncated and code != _OTHER and self.rng.random() < self.o.truncated:
            bucket.append((self._truncate(text), _TRUNC, None))

    def _truncate(self, text: str) -> str:
        limit = len(text) - 1
        for token in _KEY_TOKENS:
            pos = text.find(token)
            if 0 <= pos < limit:
                limit = pos
        low = min(12, limit)
        return text[: self.rng.randint(low, limit)].rstrip("\n")

    def new_qid(self, q: _Queue, t: int) -> tuple[str, bool]:
        """A queue ID for a new life: maybe a freed short ID (reuse), else a fresh unique one."""
        self.life += 1
        rng = self.rng
        if self.o.reuse_ids and q.freed and q.freed[0][0] < t and rng.random() < self.o.reuse_ids:
            return heapq.heappop(q.freed)[1], True
        q.inode += rng.randint(1, 40)
        usec = rng.randrange(1_000_000)
        if self.o.long_ids:
            return f"{_b52(self.epoch + t, 6)}{_b52(usec, 4)}z{_b52(q.inode, 0, LONG_ALPHABET[:51])}", False
        return f"{usec:05X}{q.inode:X}", False

    def free_qid(self, q: _Queue, t: int, qid: str) -> None:
        if self.o.reuse_ids:
            heapq.heappush(q.freed, (t, qid))
            if len(q.freed) > 4096:
                heapq.heappop(q.freed)

    # --- the run loop -----------------------------------------------------------------------------

    def run(self, out: TextIO, lines: int) -> None:
        rng = self.rng
        o = self.o
        total_rate = o.rate * self.kind_cum[-1]
        spawners: tuple[Callable[[float], None], ...] = (self._message, self._noqueue, self._noise)
        next_arrival = rng.expovariate(total_rate)
        written = 0
        chunks: list[str] = []
        pending = 0
        traditional = o.style == "traditional"
        keys = self.keys
        cal = self.cal
        truth = self.truth
        senders: set[str] = set()
        recipients: set[str] = set()
        deferred: set[int] = set()
        rejected_by: dict[str, int] = {}
        counts = [0] * 12
        bytes_received = 0
        first_t: int | None = None
        last_t = 0
        while written < lines:
            na_sec = int(next_arrival)
            if not keys or na_sec <= keys[0]:
                hour = time.gmtime(self.epoch + na_sec).tm_hour
                spawners[bisect.bisect_right(self.kind_cum, rng.random() * self.kind_cum[-1])](next_arrival)
                next_arrival += rng.expovariate(total_rate * HOURLY[hour])
                continue
            t = heapq.heappop(keys)
            bucket = cal.pop(t)
            if written + len(bucket) > lines:
                bucket = bucket[: lines - written]
            written += len(bucket)
            if first_t is None:
                first_t = t
            last_t = t
            for _text, code, key in bucket:
                if code:
                    counts[code] += 1
                    if code == _SENT:
                        recipients.add(key)
                    elif code == _DEFER:
                        deferred.add(key)
                    elif code == _SIZE:
                        bytes_received += key[0]
                        senders.add(key[1])
                    elif code == _REJECTED:
                        rejected_by[key] = rejected_by.get(key, 0) + 1
            tm = time.gmtime(self.epoch + t)
            if traditional:
                ts = f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} "
                chunks.append(ts + ("\n" + ts).join([e[0] for e in bucket]) + "\n")
            else:
                base = (
                    f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:{tm.tm_min:02d}:"
                    f"{tm.tm_sec:02d}."
                )
                us = sorted([self.us_rng.randrange(1_000_000) for _ in bucket])
                chunks.append(
                    "".join([f"{base}{u:06d}+00:00 {e[0]}\n" for u, e in zip(us, bucket, strict=True)])
                )
            pending += len(bucket)
            if pending >= 20_000:
                out.write("".join(chunks))
                chunks.clear()
                pending = 0
        if chunks:
            out.write("".join(chunks))
        truth.lines_read = written
        truth.received = counts[_RECEIVED] + counts[_RECEIVED_REUSED]
        truth.reused_queue_ids = counts[_RECEIVED_REUSED]
        truth.messages = truth.received + counts[_NEWLIFE]
        truth.delivered = counts[_SENT]
        truth.deferrals = counts[_DEFER]
        truth.deferred = len(deferred)
        truth.bounced = counts[_BOUNCED]
        truth.expired = counts[_EXPIRED]
        truth.rejected = counts[_REJECTED]
        truth.rejected_by = dict(sorted(rejected_by.items()))
        truth.bytes_received = bytes_received
        truth.senders = len(senders)
        truth.recipients = len(recipients)
        truth.lines_other = counts[_OTHER]
        truth.lines_truncated = counts[_TRUNC]
        truth.deliveries = counts[_SENT] + counts[_DEFER] + counts[_BOUNCED]
        if first_t is not None:
            truth.first_timestamp = _iso(self.epoch + first_t)
            truth.last_timestamp = _iso(self.epoch + last_t)

    # --- sessions ---------------------------------------------------------------------------------

    def _pick_queue(self) -> _Queue:
        cum = self.queue_cum
        return self.queues[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def _pick_account(self) -> _Account:
        cum = self.acct_cum
        return self.accounts[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def _pick_rcpt(self, acct: _Account) -> tuple[str, pools.Domain, bool]:
        rng = self.rng
        p_invalid = self.mix.invalid_rcpt * (self.mix.bad_factor if acct.bad else 1.0)
        if rng.random() < p_invalid:
            addr, dom = rng.choice(self.invalid)
            return addr, dom, False
        addr, dom = rng.choice(self.valid)
        return addr, dom, True

    def _message(self, ta: float) -> None:
        rng = self.rng
        mix = self.mix
        q = self._pick_queue()
        t0 = int(ta)
        if rng.random() < mix.pickup:
            self._pickup(q, t0)
            return
        acct = self._pick_account()
        pfx = q.prefixes["submission/smtpd" if acct.submission else "smtpd"]
        sp = rng.choice(pfx)
        client = rng.choice(acct.clients)
        put = self.put
        put(t0, f"{sp}connect from {client}")
        if acct.submission:
            put(
                t0,
                f"{sp}Anonymous TLS connection established from {client}: TLSv1.3 with cipher "
                "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS "
                "(2048 bits) server-digest SHA256",
            )
        qid, reused = self.new_qid(q, t0)
        sasl = f", sasl_method=PLAIN, sasl_username={acct.user}" if acct.submission else ""
        put(t0, f"{sp}{qid}: client={client}{sasl}", _RECEIVED_REUSED if reused else _RECEIVED)
        life = self.life
        if rng.random() < mix.multi_rcpt:
            k = rng.randint(2, 5) if rng.random() < 0.8 else rng.randint(6, 25)
        else:
            k = 1
        picked = {}
        for _ in range(k):
            addr, dom, ok = self._pick_rcpt(acct)
            picked[addr] = (dom, ok)
        sender = rng.choice(acct.senders)
        sender_dom = sender.rsplit("@", 1)[1]
        mid = f"{self.tokens[rng.randrange(512)]}.{rng.getrandbits(40):x}@{acct.domain}"
        t1 = t0 + (1 if rng.random() < 0.3 else 0)
        cp = rng.choice(q.prefixes["cleanup"])
        put(t1, f"{cp}{qid}: message-id=<{mid}>")
        disconnect = (
            (
                f"{sp}disconnect from {client} ehlo=2 starttls=1 auth=1 mail=1 rcpt={len(picked)} "
                f"data=1 quit=1 commands={len(picked) + 7}"
            )
            if acct.submission
            else (
                f"{sp}disconnect from {client} ehlo=1 mail=1 rcpt={len(picked)} data=1 quit=1 "
                f"commands={len(picked) + 4}"
            )
        )
        first_rcpt = next(iter(picked))
        if rng.random() < mix.cleanup_reject * (mix.bad_factor if acct.bad else 1.0):
            if rng.random() < 0.7:
                subject = rng.choice(
                    (
                        "You have won!!! Claim your prize now",
                        "URGENT: verify your account",
                        "=?UTF-8?B?Q2hlYXAgcGlsbHMgb25saW5l?=",
                        "Invoice overdue - pay now",
                    )
                )
                text = (
                    f"{cp}{qid}: reject: header Subject: {subject} from {client}; from=<{sender}> "
                    f"to=<{first_rcpt}> proto=ESMTP helo=<{acct.helo}>: 5.7.1 Message content rejected"
                )
            else:
                text = (
                    f"{cp}{qid}: milter-reject: END-OF-MESSAGE from {client}: 5.7.1 Spam message "
                    f"rejected; from=<{sender}> to=<{first_rcpt}> proto=ESMTP helo=<{acct.helo}>"
                )
            put(t1, text, _REJECTED, "cleanup")
            put(t1, disconnect.replace(" data=1 ", " data=0/1 "))
            self.free_qid(q, t1, qid)
            return
        if acct.submission and rng.random() < 0.9:
            put(
                t1,
                f"{q.host} opendkim[{q.dkim_pid}]: {qid}: DKIM-Signature field "
                f"added (s=mail, d={sender_dom})",
                _OTHER,
            )
        size = min(int(rng.lognormvariate(9.9, 1.0)) + 600, 30_000_000)
        qp = q.prefixes["qmgr"][0]
        rcpts = [self._plan(acct, addr, dom, ok) for addr, (dom, ok) in picked.items()]
        if rng.random() < mix.content_filter:
            t2 = t1 + rng.randint(0, 2)
            put(
                t1,
                f"{qp}{qid}: from=<{sender}>, size={size}, nrcpt={len(rcpts)} (queue active)",
                _SIZE,
                (size, sender),
            )
            put(t1, disconnect)
            qid, size = self._hop(q, t2, qid, sender, size, mid, [r.addr for r in rcpts])
            t1 = t2
            life = self.life
        else:
            put(
                t1,
                f"{qp}{qid}: from=<{sender}>, size={size}, nrcpt={len(rcpts)} (queue active)",
                _SIZE,
                (size, sender),
            )
            put(t1, disconnect)
        self._deliver(q, qid, life, t1, t0, sender, size, mid, rcpts)

    def _plan(self, acct: _Account, addr: str, dom: pools.Domain, ok: bool) -> _Rcpt:
        rng = self.rng
        mix = self.mix
        book = dom.book
        factor = mix.bad_factor if acct.bad else 1.0
        net = False
        defer = pools.TIMEOUT_DEFER
        bounce = ("5.1.1", book.unknown)
        if not ok:
            return _Rcpt(addr, dom, _BOUNCED, 0, defer, bounce, net)
        r = rng.random()
        if r < mix.block * factor:
            return _Rcpt(addr, dom, _BOUNCED, 0, defer, rng.choice(book.blocks), net)
        if r < (mix.block + mix.defer) * factor:
            expire = rng.random() < mix.expire
            if expire or rng.random() < 0.25:
                net = True
                defer = rng.choice(
                    (pools.TIMEOUT_DEFER, pools.TIMEOUT_DEFER, pools.REFUSED_DEFER, pools.LOST_DEFER)
                )
            else:
                defer = rng.choice(book.defers)
            n_defer = 1_000_000 if expire else min(int(rng.expovariate(0.7)) + 1, 8)
            return _Rcpt(addr, dom, _EXPIRED if expire else _SENT, n_defer, defer, bounce, net)
        return _Rcpt(addr, dom, _SENT, 0, defer, bounce, net)

    def _reply(self, template: str, q: _Queue, h: str, hip: str, r: str, d: str, mid: str) -> str:
        rng = self.rng
        return template.format(
            h=h,
            hip=hip,
            r=r,
            rd=r.rsplit("@", 1)[-1],
            d=d,
            ip=q.ip,
            mid=mid,
            tok=self.tokens[rng.randrange(512)],
            n=rng.randrange(10**9, 2 * 10**9),
            n2=rng.randrange(10**5, 10**6),
            n3=rng.randrange(10, 999),
        )

    def _deliver(
        self,
        q: _Queue,
        qid: str,
        life: int,
        t_start: int,
        t_arrival: int,
        sender: str,
        size: int,
        mid: str,
        rcpts: list[_Rcpt],
    ) -> None:
        """All delivery rounds of one message: attempts, retries, bounce notice, expiry, removal."""
        rng = self.rng
        o = self.o
        put = self.put
        qp = q.prefixes["qmgr"][0]
        smtp = q.prefixes["smtp"]
        sender_dom = sender.rsplit("@", 1)[-1]
        pending = rcpts
        t = t_start
        rnd = 0
        while True:
            if rnd:
                put(t, f"{qp}{qid}: from=<{sender}>, size={size}, nrcpt={len(pending)} (queue active)")
            end = t
            still: list[_Rcpt] = []
            bounced = False
            conns: dict[str, tuple[str, str, str]] = {}
            for rc in pending:
                dom = rc.domain
                conn = conns.get(dom.name)
                if conn is None:
                    h, hip = rng.choice(dom.relays)
                    sp = rng.choice(smtp)
                    cu = rng.randint(2, 15) if rng.random() < 0.25 else 0
                    conn = conns[dom.name] = (h, hip, sp)
                    if not cu and not (rc.net and rc.n_defer > rnd):
                        put(
                            t,
                            f"{sp}Trusted TLS connection established to {h}[{hip}]:25: TLSv1.3 with "
                            "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
                            "server-signature ECDSA (P-256) server-digest SHA256",
                        )
                    use = f"conn_use={cu}, " if cu else ""
                else:
                    use = ""
                h, hip, sp = conn
                deferring = rc.n_defer > rnd
                a = t - t_arrival if rnd else rng.uniform(0.01, 0.5)
                if deferring and rc.net:
                    dsn, text = rc.defer
                    c = 30.0 if text.endswith("timed out") else rng.uniform(0.05, 3.0)
                    delays = f"delay={_fmt_delay(a + c)}, delays={_fmt_delay(a)}/0.01/{_fmt_delay(c)}/0"
                    dur = int(c)
                elif rnd:
                    bcd, extra = self.retry_bcd[rng.randrange(251)]
                    delays = f"delay={int(a + extra)}, delays={a}/{bcd}"
                    dur = int(extra)
                else:
                    delays, dur = self.first_delays[rng.randrange(997)]
                if deferring and rc.net:
                    line = (
                        f"{sp}{qid}: to=<{rc.addr}>, relay=none, {delays}, dsn={dsn}, status=deferred "
                        f"({text.format(h=h, hip=hip)})"
                    )
                else:
                    relay = f"relay={h}[{hip}]:25, {use}"
                    if deferring:
                        dsn, tmpl = rc.defer
                        status = "deferred"
                    elif rc.final == _SENT:
                        dsn, tmpl, status = "2.0.0", dom.book.sent, "sent"
                    else:
                        dsn, tmpl = rc.bounce
                        status = "bounced"
                    text = self._reply(tmpl, q, h, hip, rc.addr, sender_dom, mid)
                    line = f"{sp}{qid}: to=<{rc.addr}>, {relay}{delays}, dsn={dsn}, status={status} ({text})"
                tl = t + dur
                if deferring:
                    put(tl, line, _DEFER, life)
                    still.append(rc)
                elif rc.final == _SENT:
                    put(tl, line, _SENT, rc.addr)
                else:
                    put(tl, line, _BOUNCED)
                    bounced = True
                end = max(end, tl)
            expired = bool(still) and end - t_arrival > o.queue_lifetime
            if expired:
                put(end, f"{qp}{qid}: from=<{sender}>, status=expired, returned to sender", _EXPIRED)
            if bounced or expired:
                end = self._ndr(q, qid, end, sender)
            if not still or expired:
                put(end, f"{qp}{qid}: removed")
                self.free_qid(q, end, qid)
                return
            pending = still
            rnd += 1
            backoff = min(max(end - t_arrival, o.min_backoff), o.max_backoff)
            t = end + backoff + rng.randrange(0, 300)

    def _ndr(self, q: _Queue, orig: str, t: int, sender: str) -> int:
        """A non-delivery notification from the bounce daemon to the sender; returns its end time."""
        rng = self.rng
        put = self.put
        ndr, _ = self.new_qid(q, t)
        mid = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(self.epoch + t))}.{ndr}@{q.myhostname}"
        put(t, f"{rng.choice(q.prefixes['cleanup'])}{ndr}: message-id=<{mid}>", _NEWLIFE)
        put(t, f"{rng.choice(q.prefixes['bounce'])}{orig}: sender non-delivery notification: {ndr}")
        qp = q.prefixes["qmgr"][0]
        put(t, f"{qp}{ndr}: from=<>, size={rng.randint(2500, 9000)}, nrcpt=1 (queue active)")
        sender_dom = sender.rsplit("@", 1)[-1]
        acct = self.by_domain.get(sender_dom)
        if acct is not None:
            (h, hip), book = acct.relay, acct.book
        else:
            h, hip, book = f"mx.{sender_dom}", "203.0.113.250", pools.BOOKS["postfix"]
        delays, dur = self.first_delays[rng.randrange(997)]
        text = self._reply(book.sent, q, h, hip, sender, "", mid)
        tl = t + dur
        put(
            tl,
            f"{rng.choice(q.prefixes['smtp'])}{ndr}: to=<{sender}>, relay={h}[{hip}]:25, {delays}, "
            f"dsn=2.0.0, status=sent ({text})",
            _SENT,
            sender,
        )
        put(tl, f"{qp}{ndr}: removed")
        self.free_qid(q, tl, ndr)
        return t

    def _hop(
        self, q: _Queue, t: int, qid: str, sender: str, size: int, mid: str, rcpts: list[str]
    ) -> tuple[str, int]:
        """Content filter: deliver to amavis on 10024, which reinjects on 10025 as a new queue ID."""
        rng = self.rng
        put = self.put
        sp = rng.choice(q.prefixes["smtpd"])
        qid2, reused = self.new_qid(q, t)
        put(t, f"{sp}connect from localhost[127.0.0.1]")
        put(t, f"{sp}{qid2}: client=localhost[127.0.0.1]", _RECEIVED_REUSED if reused else _RECEIVED)
        put(t, f"{rng.choice(q.prefixes['cleanup'])}{qid2}: message-id=<{mid}>")
        put(
            t,
            f"{sp}disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt={len(rcpts)} data=1 quit=1 "
            f"commands={len(rcpts) + 4}",
        )
        amavis = (
            f"{q.host} amavis[{rng.randrange(20000, 40000)}]: ({rng.randrange(10000, 99999)}-"
            f"{rng.randrange(1, 20):02d}) Passed CLEAN {{RelayedOutbound}}, LOCAL [127.0.0.1]:"
            f"{rng.randrange(30000, 60000)} <{sender}> -> {','.join(f'<{r}>' for r in rcpts[:3])}, "
            f"Queue-ID: {qid}, Message-ID: <{mid}>, mail_id: {self.tokens[rng.randrange(512)]}, "
            f"Hits: {rng.uniform(-3, 4):.3f}, size: {size}, queued_as: {qid2}, "
            f"{rng.randrange(200, 3000)} ms"
        )
        put(t, amavis, _OTHER)
        sp2 = rng.choice(q.prefixes["smtp"])
        delays, _ = self.first_delays[rng.randrange(997)]
        for r in rcpts:
            put(
                t,
                f"{sp2}{qid}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:10024, {delays}, dsn=2.0.0, "
                f"status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as "
                f"{qid2})",
                _SENT,
                r,
            )
        qp = q.prefixes["qmgr"][0]
        size2 = size + rng.randint(400, 900)
        put(
            t,
            f"{qp}{qid2}: from=<{sender}>, size={size2}, nrcpt={len(rcpts)} (queue active)",
            _SIZE,
            (size2, sender),
        )
        put(t, f"{qp}{qid}: removed")
        self.free_qid(q, t, qid)
        return qid2, size2

    def _pickup(self, q: _Queue, t: int) -> None:
        """A cron mail: pickup, local delivery to an alias."""
        rng = self.rng
        put = self.put
        qid, reused = self.new_qid(q, t)
        put(
            t, f"{q.prefixes['pickup'][0]}{qid}: uid=0 from=<root>", _RECEIVED_REUSED if reused else _RECEIVED
        )
        put(
            t,
            f"{rng.choice(q.prefixes['cleanup'])}{qid}: message-id=<{time.strftime('%Y%m%d%H%M%S', time.gmtime(self.epoch + t))}."
            f"{qid}@{q.myhostname}>",
        )
        size = rng.randint(700, 4000)
        sender = f"root@{q.myhostname}"
        qp = q.prefixes["qmgr"][0]
        put(t, f"{qp}{qid}: from=<{sender}>, size={size}, nrcpt=1 (queue active)", _SIZE, (size, sender))
        rcpt = f"admin@{q.myhostname}"
        put(
            t,
            f"{rng.choice(q.prefixes['local'])}{qid}: to=<{rcpt}>, orig_to=<root>, relay=local, "
            "delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
            _SENT,
            rcpt,
        )
        put(t, f"{qp}{qid}: removed")
        self.free_qid(q, t, qid)

    def _noqueue(self, ta: float) -> None:
        """A session rejected before queueing: postscreen DNSBL, relay attempts, bad submissions."""
        rng = self.rng
        put = self.put
        q = self._pick_queue()
        t = int(ta)
        kind = rng.random()
        ip = rng.choice(self.scanners)
        rcpt, _ = rng.choice(self.valid)
        fake = f"{rng.choice(pools.FIRST)}@{rng.choice(pools.WORDS)}-mail.{rng.choice(pools.TLDS)}"
        helo = rng.choice(("User", "localhost", f"[{ip}]", "mail.example.com", "WIN-3KD9L0"))
        if kind < 0.35:
            pp = q.prefixes["postscreen"][0]
            port = rng.randrange(1024, 65535)
            put(t, f"{pp}CONNECT from [{ip}]:{port} to [{q.ip}]:25")
            put(t, f"{pp}DNSBL rank {rng.randint(2, 8)} for [{ip}]:{port}")
            for _ in range(rng.choice((1, 1, 1, 2))):
                put(
                    t + 1,
                    f"{pp}NOQUEUE: reject: RCPT from [{ip}]:{port}: 550 5.7.1 Service unavailable; "
                    f"client [{ip}] blocked using zen.spamhaus.org; from=<{fake}>, to=<{rcpt}>, "
                    f"proto=ESMTP, helo=<{helo}>",
                    _REJECTED,
                    "postscreen",
                )
            put(t + 1, f"{pp}DISCONNECT [{ip}]:{port}")
            return
        sp = rng.choice(q.prefixes["smtpd"])
        client = f"unknown[{ip}]"
        if kind < 0.6:
            reply, n = f"554 5.7.1 <{rcpt}>: Relay access denied", rng.choice((1, 1, 2, 3))
        elif kind < 0.75:
            reply, n = (
                (
                    f"554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; "
                    f"https://www.spamhaus.org/query/ip/{ip}"
                ),
                1,
            )
        else:
            acct = self._pick_account()
            sp = rng.choice(q.prefixes["submission/smtpd"])
            client = rng.choice(acct.clients)
            helo = acct.helo
            if acct.bad and rng.random() < 0.7:
                fake = rng.choice(acct.senders[-6:]) if len(acct.senders) > 6 else fake
                reply = f"553 5.7.1 <{fake}>: Sender address rejected: not owned by user {acct.user}"
            else:
                fake = rng.choice(acct.senders)
                local = rcpt.split("@", 1)[0]
                rcpt = f"{local}@{rng.choice(pools.TYPO_DOMAINS)}"
                reply = f"450 4.1.2 <{rcpt}>: Recipient address rejected: Domain not found"
            n = 1
        put(t, f"{sp}connect from {client}")
        for _ in range(n):
            put(
                t,
                f"{sp}NOQUEUE: reject: RCPT from {client}: {reply}; from=<{fake}> to=<{rcpt}> "
                f"proto=ESMTP helo=<{helo}>",
                _REJECTED,
                "smtpd",
            )
        put(
            t + rng.randint(0, 2),
            f"{sp}disconnect from {client} ehlo=1 mail=1 rcpt=0/{n} quit=1 commands=3/{3 + n}",
        )

    def _stamp(self, t: int) -> str:
        at = time.gmtime(self.epoch + t)
        return f"{MONTHS[at.tm_mon - 1]} {at.tm_mday:2d} {at.tm_hour:02d}:{at.tm_min:02d}:{at.tm_sec:02d}"

    def _noise(self, ta: float) -> None:
        """Lines that belong to no message: other programs, warnings, statistics, scanners."""
        rng = self.rng
        put = self.put
        q = self._pick_queue()
        t = int(ta)
        kind = rng.randrange(10)
        ip = rng.choice(self.scanners)
        host = q.host
        if kind == 0:
            acct = self._pick_account()
            put(
                t,
                f"{host} dovecot: imap-login: Login: user=<{acct.user}>, method=PLAIN, rip={ip}, "
                f"lip={q.ip}, mpid={rng.randrange(1000, 99999)}, TLS, session=<{self.tokens[rng.randrange(512)]}>",
                _OTHER,
            )
        elif kind == 1:
            put(
                t,
                f"{host} policyd-spf[{rng.randrange(1000, 99999)}]: prepend Received-SPF: Softfail "
                f"(mailfrom) identity=mailfrom; client-ip={ip}; helo=mail.example.com; "
                f"envelope-from=<{rng.choice(pools.FIRST)}@example.org>; receiver=<UNKNOWN>",
                _OTHER,
            )
        elif kind == 2:
            put(
                t,
                f"{host} CRON[{rng.randrange(1000, 99999)}]: (root) CMD (command -v debian-sa1 > /dev/null "
                "&& debian-sa1 1 1)",
                _OTHER,
            )
        elif kind == 3:
            stamp = self._stamp(t - rng.randrange(0, 600))
            ap = q.prefixes["anvil"][0]
            put(t, f"{ap}statistics: max connection rate {rng.randint(1, 9)}/60s for (smtp:{ip}) at {stamp}")
            put(t, f"{ap}statistics: max connection count {rng.randint(1, 5)} for (smtp:{ip}) at {stamp}")
            put(t, f"{ap}statistics: max cache size {rng.randint(1, 12)} at {stamp}")
        elif kind == 4:
            sp = rng.choice(q.prefixes["submission/smtpd"])
            put(t, f"{sp}connect from unknown[{ip}]")
            put(t, f"{sp}warning: unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6")
            put(t + 1, f"{sp}lost connection after AUTH from unknown[{ip}]")
            put(t + 1, f"{sp}disconnect from unknown[{ip}] ehlo=1 auth=0/1 commands=1/2")
        elif kind == 5:
            sp = rng.choice(q.prefixes["smtpd"])
            put(
                t,
                f"{sp}warning: hostname {rng.choice(pools.WORDS)}.example.com does not resolve to address "
                f"{ip}: Name or service not known",
            )
            put(t, f"{sp}connect from unknown[{ip}]")
            put(t, f"{sp}lost connection after CONNECT from unknown[{ip}]")
            put(t, f"{sp}disconnect from unknown[{ip}] commands=0/0")
        elif kind == 6:
            dom = rng.choice(self.domains)
            h, hip = rng.choice(dom.relays)
            put(t, f"{rng.choice(q.prefixes['smtp'])}connect to {h}[{hip}]:25: Connection refused")
        elif kind == 7:
            pp = q.prefixes["postscreen"][0]
            port = rng.randrange(1024, 65535)
            put(t, f"{pp}CONNECT from [{ip}]:{port} to [{q.ip}]:25")
            put(t, f"{pp}PASS OLD [{ip}]:{port}")
            put(t + 1, f"{pp}DISCONNECT [{ip}]:{port}")
        elif kind == 8:
            sc = q.prefixes["scache"][0]
            put(t, f"{sc}statistics: start interval {self._stamp(t - 300)}")
            put(
                t,
                f"{sc}statistics: domain lookup hits={rng.randint(0, 90)} miss={rng.randint(1, 40)} "
                f"success={rng.randint(0, 99)}%",
            )
        else:
            put(
                t,
                f"{host} dovecot: pop3-login: Disconnected (no auth attempts in 0 secs): user=<>, "
                f"rip={ip}, lip={q.ip}, TLS handshaking: Connection closed, "
                f"session=<{self.tokens[rng.randrange(512)]}>",
                _OTHER,
            )


def _cumulative(weights: Any) -> Any:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _token(rng: random.Random, n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def options_dict(opts: Options, start: dt.datetime) -> dict[str, Any]:
    """The options as stored in the truth JSON (to tell whether a cached log is still the one wanted)."""
    d = dataclasses.asdict(opts)
    d["start"] = start.isoformat()
    d["generator_version"] = GENERATOR_VERSION
    d["hosts"] = list(opts.hosts)
    d["instances"] = [[n, w] for n, w in opts.instances]
    return d


def read_truth(path: Path) -> dict[str, Any]:
    """Load a FILE.truth.json written by the CLI."""
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


__all__ = [
    "DEFAULT_START",
    "Mix",
    "Options",
    "Style",
    "Truth",
    "generate",
    "options_dict",
    "read_truth",
    "truth_path",
]
