"""Debian's `pflogsumm` (1.1.5) as an oracle: run it on a log, read its "Grand Totals" into a dict.

How pflogsumm 1.1.5 counts (read from /usr/sbin/pflogsumm, the main `while(<>)` loop):

Which lines it reads
  - A line must start with a traditional (`Nov 22 05:31:51 HOST `) or RFC 3339 timestamp followed by
    a host; anything else is skipped.
  - The syslog tag must match `^(postfix|NAME)(/(smtps|submission))?/DAEMON` where NAME is
    `--syslog-name` (default `postfix`), or be `postfix[-script]`. So **non-default instances are
    dropped entirely** (`postfix-out/smtpd`, `postfix-198.51.100.7/...`) unless named with
    `--syslog-name`, which then counts that one name *in addition to* `postfix`. A service prefix
    other than smtps/submission (`postfix/smtp-25/smtpd`) makes the daemon "smtp-25/smtpd", which is
    not "smtpd": such `client=` lines are **not counted as received** (delivery lines of e.g.
    `postfix/relay/smtp` still count, because delivery lines are matched by text, not daemon).
  - The queue ID is the first `: TOKEN` after the daemon: `NOQUEUE`, a short or long queue ID, or
    words such as `warning`.

received
  Lines from daemon smtpd or postscreen matching `[pid]: QID: client=`, plus pickup lines with
  `: uid=` or `: sender=`. One per line: a message is counted once per client=/pickup line.
  Bounce-generated notifications (NDRs, delay notices) have neither, so they are not "received".
delivered
  Delivery lines `to=<R>, [orig_to=<..>, ]relay=.., [conn_use=.., ]delay=.., [delays=.., ][dsn=.., ]
  status=sent` — **one per recipient line**, from any daemon (smtp, relay/smtp, lmtp, local, virtual,
  pipe, discard, error...), NDR deliveries included — except those whose remaining text contains
  "forwarded as", which count as **forwarded** instead. `to=` without angle brackets is not matched.
deferred / deferrals
  deferrals = number of such delivery lines with `status=deferred`; deferred = number of distinct
  queue IDs that had at least one. The key is the bare queue ID, so two lives of a reused short
  queue ID count once.
bounced
  Delivery lines with `status=bounced` (one per recipient line).
expired
  **Not counted at all.** qmgr's `QID: from=<s>, status=expired, returned to sender` matches neither
  the `from=<..>, size=` nor the `to=<..>` pattern, and a delivery line with `status=expired` (or
  deliverable / undeliverable / SOFTBOUNCE) falls through to an ignored branch.
rejected / reject warnings / held / discarded
  smtpd or postscreen lines `QID|NOQUEUE: reject: ...` → rejected, `reject_warning:` → reject
  warnings, `hold:` → held, `discard:` → discarded; and cleanup lines
  `QID: (reject|milter-reject|warning|hold|discard): (header|body|END-OF-MESSAGE) ...` → rejected
  (reject and milter-reject) / reject warnings / held / discarded. An smtpd `milter-reject:` (e.g.
  `NOQUEUE: milter-reject: RCPT from ...`) is **not** counted. Admin holds (postsuper -h) are not
  counted. The percentage printed after rejected/discarded is n / (delivered + rejected + discarded).
bytes received
  Sum of `size=` from the first qmgr `from=<s>, size=N` line of each queue ID, only if that queue ID
  was "received" (client=/pickup line seen earlier in the input). Later qmgr lines of the same queue
  ID (retries) are ignored — and so is the whole second life of a reused queue ID.
bytes delivered
  For each `status=sent` line, the size recorded for its queue ID (0 if the qmgr line was not seen).
senders / sending hosts/domains
  Distinct envelope senders (domain part lower-cased; `<>` counts as the sender "from=<>") among
  received messages, taken from the same first qmgr line; the domain is the sender's domain, or for a
  null sender the client host name shortened to its last two labels (or "from=<>" for pickup).
recipients / recipient hosts/domains
  Distinct recipient addresses (domain part lower-cased) and their domains, over `status=sent`
  lines only (not deferred or bounced recipients).

Output units: counts above 512 Ki are printed divided by 1024 with a `k` suffix (by 1024² with `m`
above 512 Mi), truncated to an integer. `parse_grand_totals` multiplies them back, so such values are
lower bounds within one unit; `abbreviated_fields` names them. Equality checks should use fields
that are not abbreviated (the message counts in our samples are far below 512 Ki).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

PFLOGSUMM = os.environ.get("PFLOGSUMM", "/usr/sbin/pflogsumm")

# Label as printed by pflogsumm → our key.
FIELDS: dict[str, str] = {
    "received": "received",
    "delivered": "delivered",
    "forwarded": "forwarded",
    "deferred": "deferred",
    "bounced": "bounced",
    "rejected": "rejected",
    "reject warnings": "reject_warnings",
    "held": "held",
    "discarded": "discarded",
    "bytes received": "bytes_received",
    "bytes delivered": "bytes_delivered",
    "senders": "senders",
    "sending hosts/domains": "sending_domains",
    "recipients": "recipients",
    "recipient hosts/domains": "recipient_domains",
}
UNITS = {" ": 1, "": 1, "k": 1024, "m": 1024 * 1024}

_LINE = re.compile(
    r"^\s*(?P<n>\d+)(?P<unit>[km ]?)\s+(?P<label>[a-z][a-z /]*?)"
    r"(?:\s+\((?:(?P<dn>\d+)(?P<dunit>[km ]?)\s+deferrals|\d+%)\))?\s*$"
)
# A syslog line's tag: traditional or RFC 3339 timestamp, host, then NAME[/...][PID]:
_TAG = re.compile(
    rb"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z))"
    rb" \S+ (?P<tag>[^\s\[:]+)"
)


class PflogsummError(RuntimeError):
    """pflogsumm is missing, failed, or printed something we cannot read."""


def available() -> bool:
    return Path(PFLOGSUMM).exists() or shutil.which("pflogsumm") is not None


def run_pflogsumm(log: Path, *, syslog_name: str | None = None, timeout: float = 300) -> str:
    """pflogsumm's full report for `log` (C locale, so numbers and sorting are stable)."""
    if not available():
        raise PflogsummError(f"{PFLOGSUMM} not found (Debian package pflogsumm)")
    argv = [PFLOGSUMM if Path(PFLOGSUMM).exists() else "pflogsumm"]
    if syslog_name:
        argv.append(f"--syslog-name={syslog_name}")
    argv.append(str(log))
    env = dict(os.environ, LC_ALL="C", LANG="C")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise PflogsummError(f"pflogsumm exited {proc.returncode}: {proc.stderr.strip()[:300]}")
    return proc.stdout


def _grand_totals_block(text: str) -> list[str]:
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Grand Totals")
    except StopIteration as exc:
        raise PflogsummError("no 'Grand Totals' section in pflogsumm output") from exc
    block: list[str] = []
    for line in lines[start + 2:]:  # skip the title and its underline
        if line.strip().endswith("Summary") or line.startswith("smtpd"):
            break
        block.append(line)
    return block


def _parse(text: str) -> tuple[dict[str, int], set[str]]:
    totals: dict[str, int] = {}
    abbreviated: set[str] = set()
    for line in _grand_totals_block(text):
        m = _LINE.match(line)
        if not m or m.group("label").strip() not in FIELDS:
            continue
        key = FIELDS[m.group("label").strip()]
        totals[key] = int(m.group("n")) * UNITS[m.group("unit")]
        if m.group("unit") in ("k", "m"):
            abbreviated.add(key)
        if key == "deferred":
            dn = m.group("dn")
            totals["deferrals"] = int(dn) * UNITS[m.group("dunit") or ""] if dn else 0
            if m.group("dunit") in ("k", "m"):
                abbreviated.add("deferrals")
    missing = sorted(set(FIELDS.values()) - set(totals))
    if missing:
        raise PflogsummError(f"Grand Totals lacks {', '.join(missing)}")
    return totals, abbreviated


def parse_grand_totals(text: str) -> dict[str, int]:
    """The Grand Totals of a pflogsumm report: keys are FIELDS' values plus "deferrals"."""
    return _parse(text)[0]


def abbreviated_fields(text: str) -> set[str]:
    """Keys whose value pflogsumm printed in k/m units (so parse_grand_totals gives a lower bound)."""
    return _parse(text)[1]


def pflogsumm_totals(log: Path, *, syslog_name: str | None = None) -> dict[str, int]:
    """Run pflogsumm on `log` and return its Grand Totals."""
    return parse_grand_totals(run_pflogsumm(log, syslog_name=syslog_name))


def syslog_instance(line: bytes) -> str | None:
    """The Postfix instance name of a log line (`postfix`, `postfix-out`, ...), None if not Postfix."""
    m = _TAG.match(line)
    if not m:
        return None
    name = m.group("tag").split(b"/", 1)[0].decode("ascii", "replace")
    if name == "postfix-script":  # bare tag of the default instance's start/stop script
        return "postfix"
    return name if name == "postfix" or name.startswith("postfix-") else None


def instances(lines: Iterable[bytes]) -> set[str]:
    """Every Postfix instance name that occurs in `lines`."""
    return {name for line in lines if (name := syslog_instance(line)) is not None}


def filter_instances(src: Path, dst: Path, keep: Iterable[str] = ("postfix",)) -> int:
    """Copy `src` to `dst` without the lines of Postfix instances not in `keep`; return lines kept.

    Lines that are not Postfix at all are kept: pflogsumm and our ingest both skip them anyway.
    """
    wanted = set(keep)
    kept = 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        for line in fin:
            name = syslog_instance(line)
            if name is None or name in wanted:
                fout.write(line)
                kept += 1
    return kept
