"""Write the multi-day abuse scenario: a Postfix log (traditional syslog, year 2026) and its inventory.

Run as a script to write them into a directory (`python tests/data/abuse/scenario.py OUTDIR [--scale K]`);
the tests import `write()` and build it in a temporary directory, so nothing large is committed.

Accounts (8 days, 2026-11-10 … 2026-11-17, business hours 08–17 UTC):
- clean1, clean2: steady newsletters to a fixed pool of recipients from 1–2 fixed client IPs, ~1 % bounces;
- spammer: steady volume to bought lists (mostly new recipients), spam-trap hits and 554 5.7.1 blocklist
  rejections every day;
- victim: small and steady until its credentials leak on the last day: 02:00–06:00 UTC bursts from 40
  never-seen client IPs to random recipients, 40 % of them unknown users;
- tiny: three messages on the last day, one of them hard-bounced.
Addresses are synthetic; client IPs are documentation ranges (RFC 5737).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

START = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
DAYS = 8
WINDOW = (dt.datetime(2026, 11, 17, tzinfo=dt.UTC), dt.datetime(2026, 11, 18, tzinfo=dt.UTC))
BAD = ("spammer", "victim")
CLEAN = ("clean1", "clean2")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MX = {
    "gmail.com": ("gmail-smtp-in.l.google.com", "198.18.0.26"),
    "yahoo.com": ("mta5.am0.yahoodns.net", "198.18.1.5"),
    "outlook.com": ("outlook-com.olc.protection.outlook.com", "198.18.2.7"),
    "web.de": ("mx-ha02.web.de", "198.18.3.9"),
    "trap.example": ("mx.trap.example", "198.18.9.9"),
}
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "web.de")
SENT = "250 2.0.0 Ok: queued as {q}"
UNKNOWN = "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table"
SPAM = "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"

INVENTORY = """
[relay]
ips = ["192.0.2.10"]
hostnames = ["relay1.example"]
envelope_domain = "bounces.relay.example"
{accounts}
[traps]
domains = ["trap.example"]
addresses = ["spamtrap@trap.example"]
"""
ACCOUNT = """
[[accounts]]
id = "{a}"
name = "{a}"
sasl_usernames = ["{a}-app"]

[[accounts.domains]]
domain = "{a}.example"
"""


@dataclass
class _Log:
    rng: random.Random
    lines: list[tuple[float, int, str]]
    n: int = 0

    def put(self, t: dt.datetime, prog: str, text: str) -> None:
        stamp = f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"
        self.lines.append((t.timestamp(), len(self.lines), f"{stamp} relay1 postfix/{prog}: {text}"))

    def message(self, t: dt.datetime, account: str, ip: str, rcpt: str, outcome: str) -> None:
        self.n += 1
        q = f"{0xA0000000000 + self.n:011X}"
        dom = rcpt.rsplit("@", 1)[1]
        host, mxip = MX.get(dom, (f"mx.{dom}", "198.18.8.8"))
        pid = 1000 + self.n % 500
        self.put(
            t,
            f"submission/smtpd[{pid}]",
            f"{q}: client=host-{ip.replace('.', '-')}.example[{ip}], "
            f"sasl_method=PLAIN, sasl_username={account}-app",
        )
        self.put(
            t, "cleanup[2001]", f"{q}: message-id=<{self.n}.{self.rng.getrandbits(32):08x}@{account}.example>"
        )
        self.put(
            t,
            "qmgr[2002]",
            f"{q}: from=<news@{account}.example>, size={2000 + self.n % 3000}, nrcpt=1 (queue active)",
        )
        d = t + dt.timedelta(seconds=1)
        relay = f"relay={host}[{mxip}]:25, delay=0.9, delays=0.1/0/0.3/0.5"
        if outcome == "sent":
            status = f"dsn=2.0.0, status=sent ({SENT.format(q=q[::-1])})"
        elif outcome == "unknown":
            reply = UNKNOWN.format(r=rcpt)
            status = (
                f"dsn=5.1.1, status=bounced (host {host}[{mxip}] said: {reply} (in reply to RCPT TO command))"
            )
        else:
            status = (
                f"dsn=5.7.1, status=bounced (host {host}[{mxip}] said: {SPAM} (in reply to RCPT TO command))"
            )
        self.put(d, "smtp[3003]", f"{q}: to=<{rcpt}>, {relay}, {status}")
        self.put(d, "qmgr[2002]", f"{q}: removed")


def _pool(rng: random.Random, tag: str, size: int) -> list[str]:
    return [f"{tag}{i}.{rng.randrange(10**6)}@{DOMAINS[i % len(DOMAINS)]}" for i in range(size)]


def _fresh(rng: random.Random, tag: str) -> str:
    return f"{tag}.{rng.getrandbits(40):010x}@{rng.choice(DOMAINS)}"


def write(out_dir: Path, *, seed: int = 11, scale: int = 1) -> tuple[Path, Path]:
    """Write scenario.log and inventory.toml into `out_dir`; `scale` multiplies every volume (benchmarks)."""
    rng = random.Random(seed)
    log = _Log(rng, [])
    pools = {
        "clean1": _pool(rng, "c1r", 400 * scale),
        "clean2": _pool(rng, "c2r", 300 * scale),
        "victim": _pool(rng, "vr", 200 * scale),
    }
    ips = {
        "clean1": ["198.51.100.11"],
        "clean2": ["198.51.100.21", "198.51.100.22"],
        "spammer": ["198.51.100.30"],
        "victim": ["198.51.100.40"],
    }
    per_hour = {"clean1": 12, "clean2": 10, "spammer": 15, "victim": 8}
    for day in range(DAYS):
        base = START + dt.timedelta(days=day)
        for hour in range(8, 18):
            for account, rate in per_hour.items():
                for _ in range((rate + rng.randint(-2, 2)) * scale):
                    t = base + dt.timedelta(hours=hour, seconds=rng.randrange(3600))
                    ip = rng.choice(ips[account])
                    if account == "spammer":
                        x = rng.random()
                        if x < 0.03:
                            rcpt = rng.choice(
                                ["spamtrap@trap.example", f"t{rng.randrange(999)}@trap.example"]
                            )
                            log.message(t, account, ip, rcpt, "sent")
                        else:
                            outcome = "spam" if x < 0.15 else "unknown" if x < 0.22 else "sent"
                            log.message(t, account, ip, _fresh(rng, "s"), outcome)
                    else:
                        outcome = "unknown" if rng.random() < 0.01 else "sent"
                        log.message(t, account, ip, rng.choice(pools[account]), outcome)
    last = START + dt.timedelta(days=DAYS - 1)
    stolen = [f"203.0.113.{i}" for i in range(10, 50)]
    for hour in range(2, 6):
        for _ in range(120 * scale):
            t = last + dt.timedelta(hours=hour, seconds=rng.randrange(3600))
            outcome = "unknown" if rng.random() < 0.4 else "sent"
            log.message(t, "victim", rng.choice(stolen), _fresh(rng, "v"), outcome)
    for i, outcome in enumerate(("sent", "unknown", "sent")):
        log.message(
            last + dt.timedelta(hours=10, minutes=i), "tiny", "198.51.100.60", f"tiny{i}@gmail.com", outcome
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path, inv_path = out_dir / "scenario.log", out_dir / "inventory.toml"
    log_path.write_text("\n".join(x[2] for x in sorted(log.lines)) + "\n", encoding="utf-8")
    accounts = "".join(ACCOUNT.format(a=a) for a in (*CLEAN, *BAD, "tiny"))
    inv_path.write_text(INVENTORY.format(accounts=accounts), encoding="utf-8")
    return log_path, inv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    log, inv = write(args.out_dir, seed=args.seed, scale=args.scale)
    print(f"wrote {log} and {inv}")


if __name__ == "__main__":
    main()
