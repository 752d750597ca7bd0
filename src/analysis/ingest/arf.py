"""Feedback-loop complaints: ARF (RFC 5965, RFC 6591 auth-failure) and Microsoft JMRP messages.

A report is one mail message. Files hold one message (.eml, a Maildir entry) or many (mbox); each message
is a record. A message that is well-formed MIME but not a complaint is a record to quarantine; a message
whose MIME structure is broken is refused whole, because its fields cannot be trusted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email
import email.policy
import email.utils
import ipaddress
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from analysis.errors import InputError

# Defects after which the parts of a multipart message are not what the sender meant.
_FATAL_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
)
_FEEDBACK_TYPES = frozenset({"abuse", "fraud", "other", "virus", "not-spam", "auth-failure", "opt-out"})
_IP_IN_RECEIVED = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]|\(([0-9]{1,3}(?:\.[0-9]{1,3}){3})\)")
_MSFT_ARRIVAL = re.compile(r"(\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2})")
# Mailbox providers that run feedback loops, by the report's sender or user agent.
_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("yahoo", "yahoo"),
    ("aol", "yahoo"),
    ("hotmail", "microsoft"),
    ("outlook", "microsoft"),
    ("microsoft", "microsoft"),
    ("jmrp", "microsoft"),
    ("returnpath", "validity"),
    ("senderscore", "validity"),
    ("comcast", "comcast"),
    ("rackspace", "rackspace"),
    ("mail.ru", "mailru"),
    ("yandex", "yandex"),
    ("amazonses", "amazonses"),
    ("icloud", "apple"),
    ("apple", "apple"),
)


class NotAComplaint(ValueError):
    """A readable message that carries no feedback report: the record goes to quarantine."""


@dataclass
class Complaint:
    """One complaint as reported; times are aware UTC datetimes."""

    feedback_type: str
    variant: str  # arf | jmrp
    user_agent: str | None = None
    version: str | None = None
    arrival_date: dt.datetime | None = None
    received_at: dt.datetime | None = None
    source_ip: str | None = None
    reporting_mta: str | None = None
    original_mail_from: str | None = None
    original_rcpt_to: str | None = None
    rcpt_all: list[str] = field(default_factory=list)
    reported_domain: str | None = None
    message_id: str | None = None
    auth_results: str | None = None
    auth_failure: str | None = None
    incidents: int | None = None
    provider: str | None = None
    subject: str | None = None

    @property
    def rcpt_domain(self) -> str | None:
        if not self.original_rcpt_to or "@" not in self.original_rcpt_to:
            return None
        return self.original_rcpt_to.rsplit("@", 1)[1].lower()


def split_mbox(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(record number, message bytes) for each message of an mbox; a plain message is record 1."""
    if not data.startswith(b"From "):
        yield 1, data
        return
    starts = (
        [0]
        + [m.end() - 5 for m in re.finditer(rb"\n\nFrom ", data)]
        + [m.end() - 5 for m in re.finditer(rb"\r\n\r\nFrom ", data)]
    )
    starts = sorted(set(starts))
    for no, (a, b) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True), start=1):
        chunk = data[a:b]
        chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""  # drop the "From " separator line
        # mboxrd/mboxo quoting of body lines that began with "From "
        chunk = re.sub(rb"(?m)^>(>*From )", rb"\1", chunk)
        yield no, chunk


def maildir_files(folder: Path) -> list[Path]:
    """The message files of a Maildir (cur/ and new/), in a stable order; tmp/ holds unfinished writes."""
    out: list[Path] = []
    for sub in ("cur", "new"):
        d = folder / sub
        if d.is_dir():
            out.extend(sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")))
    return out


def _clean_addr(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    bracketed = [a.strip() for a in re.findall(r"<([^<>]*)>", text) if a.strip()]
    if bracketed:  # display names may themselves look like addresses
        return str(bracketed[-1])
    _, addr = email.utils.parseaddr(text)
    addr = (addr or text).strip().strip("<>").strip()
    return addr or None


def _clean_msgid(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(value.split())
    m = re.search(r"<([^<>\s]+)>", text)
    ident = m.group(1) if m else text.split()[0].strip("<>")
    return ident or None


def parse_date(value: str | None) -> dt.datetime | None:
    """RFC 5322 dates (with obsolete zone names such as PST); naive ones are taken as UTC."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        m = _MSFT_ARRIVAL.search(value)  # X-OriginalArrivalTime: 29 Apr 2016 23:34:45.0000 (UTC)
        if not m:
            return None
        try:
            when = dt.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S")
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _valid_ip(text: str | None) -> str | None:
    if not text:
        return None
    candidate = text.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _first_received_ip(headers: Message) -> str | None:
    """The sending IP as seen by the receiver: the topmost Received header that names one."""
    for value in headers.get_all("Received") or []:
        for m in _IP_IN_RECEIVED.finditer(str(value)):
            ip = _valid_ip(m.group(1) or m.group(2))
            if ip:
                return ip
    return None


def _fields(text: str) -> Message:
    """The `message/feedback-report` body is a header block: parse it as one."""
    return email.message_from_string(text.lstrip("\r\n") + "\n\n", policy=email.policy.compat32)


def _payload_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace")
    inner = part.get_payload()
    if isinstance(inner, list):  # message/* parts parse their body into sub-messages
        text = "".join(m.as_string() if isinstance(m, Message) else str(m) for m in inner)
    else:
        text = str(inner or "")
    # message/* parts may not be encoded (RFC 2046), but some reporters base64 them anyway
    cte = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    try:
        if cte == "base64":
            return base64.b64decode("".join(text.split()), validate=False).decode("utf-8", "replace")
        if cte == "quoted-printable":
            return quopri.decodestring(text.encode("utf-8", "replace")).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text
    return text


def _original_headers(part: Message) -> Message | None:
    """The original message (or its headers) from a message/rfc822 or text/rfc822-headers part."""
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0]
        return None
    if ctype in ("text/rfc822-headers", "text/rfc822-header"):
        return _fields(_payload_text(part))
    return None


def provider_hint(*hints: str | None) -> str | None:
    """The feedback-loop operator named by a user agent, a reporter address or a domain."""
    for hint in hints:
        if not hint:
            continue
        low = hint.lower()
        for needle, name in _PROVIDERS:
            if needle in low:
                return name
    return None


def parse_message(raw: bytes) -> Complaint:
    """One complaint from one message; NotAComplaint for readable non-reports, InputError for broken MIME."""
    if not raw.strip():
        raise NotAComplaint("empty message")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = list(msg.walk())
    except RecursionError:  # the parser recurses once per nested multipart
        raise InputError("wrong MIME structure: multiparts nested too deeply") from None
    fatal = [d for p in parts for d in p.defects if isinstance(d, _FATAL_DEFECTS)]
    if fatal:
        raise InputError(f"wrong MIME structure: {type(fatal[0]).__name__} in {msg.get_content_type()}")
    report_part: Message | None = None
    original: Message | None = None
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "message/feedback-report" and report_part is None:
            report_part = part
        elif original is None and part is not msg:
            original = _original_headers(part)
    if (
        msg.get_content_type() == "multipart/report"
        and report_part is None
        and str(msg.get_param("report-type") or "").lower() == "feedback-report"
    ):
        raise InputError(
            "wrong MIME structure: multipart/report with report-type=feedback-report lacks a "
            "message/feedback-report part"
        )
    if report_part is not None:
        return _from_arf(msg, _fields(_payload_text(report_part)), original)
    if original is not None and (original.get("X-HmXmrOriginalRecipient") or _is_jmrp(msg)):
        return _from_jmrp(msg, original)
    raise NotAComplaint(f"not a feedback report ({msg.get_content_type()} without message/feedback-report)")


def _is_jmrp(msg: Message) -> bool:
    sender = str(msg.get("From") or "").lower()
    return msg.get_content_type() == "multipart/mixed" and ("hotmail" in sender or "outlook" in sender)


def _from_arf(msg: Message, fb: Message, original: Message | None) -> Complaint:
    ftype = str(fb.get("Feedback-Type") or "").strip().lower()
    if not ftype:
        raise NotAComplaint("feedback report without a Feedback-Type field")
    if ftype not in _FEEDBACK_TYPES:
        ftype = "other"
    rcpts = [a for a in (_clean_addr(str(v)) for v in fb.get_all("Original-Rcpt-To") or []) if a]
    if not rcpts and original is not None:
        # no Original-Rcpt-To: the original's own header names the recipient (often redacted by the FBL)
        fallback = _clean_addr(str(original.get("X-HmXmrOriginalRecipient") or "")) or _single_to(original)
        rcpts = [fallback] if fallback else []
    incidents_text = str(fb.get("Incidents") or "").strip()
    ua = " ".join(str(fb.get("User-Agent") or "").split()) or None
    mta = str(fb.get("Reporting-MTA") or "").strip()
    if ";" in mta:
        mta = mta.split(";", 1)[1].strip()
    original_id = _clean_msgid(str(original.get("Message-ID") or "")) if original is not None else None
    return Complaint(
        feedback_type=ftype,
        variant="arf",
        user_agent=ua,
        version=str(fb.get("Version") or "").strip() or None,
        arrival_date=parse_date(str(fb.get("Arrival-Date") or fb.get("Received-Date") or ""))
        or (_original_arrival(original) if original is not None else None),
        received_at=parse_date(str(msg.get("Date") or "")),
        source_ip=_valid_ip(str(fb.get("Source-IP") or ""))
        or (_first_received_ip(original) if original is not None else None),
        reporting_mta=mta or None,
        original_mail_from=_clean_addr(str(fb.get("Original-Mail-From") or ""))
        or (_clean_addr(str(original.get("Return-Path") or "")) if original is not None else None),
        original_rcpt_to=rcpts[0] if rcpts else None,
        rcpt_all=rcpts,
        reported_domain=(str(fb.get("Reported-Domain") or "").strip().lower() or None),
        message_id=original_id or _clean_msgid(str(fb.get("Message-ID") or "")),
        auth_results=" ".join(str(fb.get("Authentication-Results") or "").split()) or None,
        auth_failure=str(fb.get("Auth-Failure") or "").strip().lower() or None,
        incidents=int(incidents_text) if incidents_text.isdigit() else None,
        provider=provider_hint(ua, str(msg.get("From") or "")),
        subject=str(original.get("Subject") or "") or None if original is not None else None,
    )


def _original_arrival(original: Message) -> dt.datetime | None:
    """When the receiver took the original message: its arrival stamp or topmost Received date."""
    stamp = parse_date(str(original.get("X-OriginalArrivalTime") or ""))
    if stamp is not None:
        return stamp
    for value in original.get_all("Received") or []:
        text = str(value)
        if ";" in text:
            when = parse_date(text.rsplit(";", 1)[1])
            if when is not None:
                return when
    return None


def _single_to(original: Message) -> str | None:
    """The original's To: address when it names exactly one recipient."""
    addrs = email.utils.getaddresses([" ".join(str(v).split()) for v in original.get_all("To") or []])
    found = [a for _, a in addrs if "@" in a]
    return found[0] if len(found) == 1 else None


def _from_jmrp(msg: Message, original: Message) -> Complaint:
    """Microsoft JMRP: no feedback-report part, the complaint is implied; fields come from the original."""
    rcpt = _clean_addr(str(original.get("X-HmXmrOriginalRecipient") or "")) or _clean_addr(
        str(original.get("To") or "")
    )
    return Complaint(
        feedback_type="abuse",
        variant="jmrp",
        user_agent=None,
        arrival_date=_original_arrival(original),
        received_at=parse_date(str(msg.get("Date") or "")),
        # Microsoft names the sending IP in the subject ("complaint about message from 192.0.2.1")
        source_ip=_valid_ip(str(msg.get("Subject") or "").rsplit(" ", 1)[-1]) or _first_received_ip(original),
        original_mail_from=_clean_addr(str(original.get("Return-Path") or ""))
        or _clean_addr(str(original.get("From") or "")),
        original_rcpt_to=rcpt,
        rcpt_all=[rcpt] if rcpt else [],
        message_id=_clean_msgid(str(original.get("Message-ID") or "")),
        auth_results=" ".join(str(original.get("Authentication-Results") or "").split()) or None,
        provider="microsoft",
        subject=str(original.get("Subject") or "") or None,
    )
