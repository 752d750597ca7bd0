"""Guess an input's format from its first bytes and its name.

Content wins over names (a DMARC report saved as `report.txt` is still XML), names break ties for
compressed heads the caller could not open (a `.zip` whose first member is `*.xml`), and anything
unrecognised is treated as a Postfix log, the relay's own text.
"""

from __future__ import annotations

import re
import struct

from analysis.ingest.safeio import sniff_compression

FORMATS = ("postfix", "arf", "dmarc", "ses", "sendgrid", "mailgun", "postmark")

# JSON keys that only one ESP uses; checked in this order (SES SNS envelopes quote the inner keys).
_JSON_MARKERS: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("ses", (b"notificationType", b'"eventType"', b"amazonses.com", b'"sesMessageId"')),
    ("sendgrid", (b'"sg_event_id"', b'"sg_message_id"', b'"smtp-id"')),
    ("mailgun", (b'"event-data"', b'"delivery-status"', b'"log-level"', b'"user-variables"')),
    ("postmark", (b'"RecordType"', b'"TypeCode"', b'"MessageStream"')),
)
_SYSLOG_LINE = re.compile(
    rb"^(?:<\d{1,3}>1? ?)?(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)"
)
_HEADER_LINE = re.compile(rb"^(?:From |[A-Za-z][A-Za-z0-9-]{1,60}:)", re.M)
_ARF_MARKERS = (b"feedback-report", b"x-hmxmroriginalrecipient", b"jmrp", b"feedback-type:")
_DMARC_MAIL_MARKERS = (b"report domain:", b"report-id:", b"dmarc aggregate", b"<feedback")
_DMARC_NAME = re.compile(r"![^!]*!\d{9,}!\d{9,}|\.xml(?:\.gz|\.zip)?$|\.zip$", re.I)


def _zip_first_name(head: bytes) -> str | None:
    """The first member's name from a zip local file header (offset 30), if the head holds it."""
    if len(head) < 30 or not head.startswith(b"PK\x03\x04"):
        return None
    name_len = struct.unpack("<H", head[26:28])[0]
    raw = head[30 : 30 + name_len]
    return raw.decode("utf-8", "replace") if len(raw) == name_len else None


def _gzip_name(head: bytes) -> str | None:
    """The FNAME field of a gzip header (flag bit 3), which compressors fill with the original name."""
    if len(head) < 10 or not head.startswith(b"\x1f\x8b") or not head[3] & 0x08:
        return None
    pos = 10
    if head[3] & 0x04:  # FEXTRA
        if len(head) < 12:
            return None
        pos += 2 + struct.unpack("<H", head[10:12])[0]
    end = head.find(b"\x00", pos)
    return head[pos:end].decode("latin-1") if end > pos else None


def _from_json(text: bytes) -> str | None:
    for fmt, markers in _JSON_MARKERS:
        if any(m in text for m in markers):
            return fmt
    return None


def _from_mail(text: bytes) -> str:
    lower = text.lower()
    if any(m in lower for m in _ARF_MARKERS):
        return "arf"
    if any(m in lower for m in _DMARC_MAIL_MARKERS):
        return "dmarc"
    # a mail attachment named like a DMARC report (google.com!example.com!1549929600!1550015999.zip)
    if re.search(rb"name=\"?[^\"\s]*![^\"\s]*!\d{9,}!\d{9,}", lower):
        return "dmarc"
    return "arf"


def _by_name(name: str) -> str | None:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if _DMARC_NAME.search(base):
        return "dmarc"
    if base.endswith((".eml", ".mbox", ".msg")):
        return "arf"
    for fmt in FORMATS[2:]:
        if fmt in base and base.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")):
            return fmt
    return None


def detect_format(head: bytes, name: str) -> str:
    """'postfix' | 'arf' | 'dmarc' | 'ses' | 'sendgrid' | 'mailgun' | 'postmark' from the first bytes
    (decompressed when the caller could) and the file name; Postfix is the fallback for text logs."""
    kind = sniff_compression(head)
    if kind is not None:
        inner = _zip_first_name(head) if kind == "zip" else _gzip_name(head) if kind == "gzip" else None
        return (inner and _by_name(inner)) or _by_name(name) or "postfix"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _SYSLOG_LINE.match(text):
        return "postfix"
    if text.startswith(b"<"):
        return "dmarc" if b"<feedback" in text or text.startswith(b"<?xml") else "postfix"
    if text.startswith((b"{", b"[")):
        return _from_json(text) or _by_name(name) or "postfix"
    if _HEADER_LINE.match(text) and re.search(
        rb"^(?:content-type|mime-version|received|from):", text, re.I | re.M
    ):
        # a syslog line never starts with "Header:" followed by mail headers; mail does
        return _from_mail(text)
    return _by_name(name) or "postfix"
