"""Turn one input line of `deliverability classify` into classifier inputs.

A line is a Postfix delivery `status=` line, an smtpd `NOQUEUE: reject:` line, or a bare reply text.
This is a deliberately small local parser (the ingest parser is the lead's); it reads only what the
classifier needs: to=, relay=, dsn=, status= and the parenthesised text, which may nest parentheses or
be cut off by a truncated line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STATUS = re.compile(r"\bstatus=([A-Za-z-]+)")
_TO = re.compile(r"\bto=(?:<([^>]*)>|([^,\s]+))")
_RELAY = re.compile(r"\brelay=([^,\s\[]+)")
_DSN = re.compile(r"\bdsn=([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")
_REJECT = re.compile(
    r"\breject: (?P<stage>[A-Z-]+(?: [A-Z]+)?) from [^\[\s]*\[[^\]]*\](?::[0-9]+)?: (?P<text>.*?)"
    r"(?:; from=<[^>]*>.*)?$"
)
_SAID_HOST = re.compile(r"\bhost ([A-Za-z0-9._-]+)\[[^\]]*\] (?:said|refused to talk to me)")
_REJECT_STAGES = {"RCPT": "rcpt to", "MAIL": "mail from", "DATA": "data", "CONNECT": "connect"}


@dataclass(frozen=True)
class LineInput:
    """Classifier inputs found on one line (None where the line does not say)."""

    status: str | None = None
    dsn: str | None = None
    reply: str | None = None
    smtp_stage: str | None = None
    relay_host: str | None = None
    recipient_domain: str | None = None


def parenthesised(text: str, start: int) -> str | None:
    """The text inside the parenthesis opening at or after `start`, balancing nested ones.

    A truncated line (no closing parenthesis) yields everything after the opening one.
    """
    open_at = text.find("(", start)
    if open_at < 0 or text[start:open_at].strip():
        return None
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return text[open_at + 1 :]


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().strip(">").lower() or None


def _relay_from_text(text: str | None) -> str | None:
    m = _SAID_HOST.search(text or "")
    return m.group(1) if m else None


def parse_line(line: str) -> LineInput | None:
    """Classifier inputs for one line; None for a blank line."""
    line = line.strip()
    if not line:
        return None
    to = _TO.search(line)
    domain = _domain((to.group(1) if to.group(1) is not None else to.group(2)) if to else None)
    status = _STATUS.search(line)
    if status is not None:
        relay = _RELAY.search(line)
        relay_host = relay.group(1) if relay else None
        if relay_host in ("none", "local", "virtual"):
            relay_host = None
        dsn = _DSN.search(line)
        reply = parenthesised(line, status.end())
        return LineInput(
            status=status.group(1).lower(),
            dsn=dsn.group(1) if dsn else None,
            reply=reply,
            relay_host=relay_host or _relay_from_text(reply),
            recipient_domain=domain,
        )
    reject = _REJECT.search(line)
    if reject is not None:
        stage = _REJECT_STAGES.get(reject.group("stage").split()[0])
        return LineInput(reply=reject.group("text"), smtp_stage=stage, recipient_domain=domain)
    return LineInput(reply=line, relay_host=_relay_from_text(line))
