"""Tag-value lists ("v=DKIM1; k=rsa; p=...") shared by DKIM, DMARC, MTA-STS, TLS-RPT and BIMI records,
and picking the one TXT record of a kind out of an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analysis.dns.resolver import Answer

_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_RECORD = 8192  # longer TXT data is not a key or policy record: refuse to parse it


@dataclass
class TagList:
    tags: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_tags(text: str, *, lower_names: bool = True) -> TagList:
    """Split on ';', then on the first '='; whitespace around names and values is folding (RFC 6376 3.2)."""
    out = TagList()
    if len(text) > MAX_RECORD:
        out.errors.append(f"record longer than {MAX_RECORD} characters")
        return out
    for raw in text.split(";"):
        part = raw.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not _TAG.match(name):
            out.errors.append(f"not a tag=value pair: {part[:40]!r}")
            continue
        key = name.lower() if lower_names else name
        if key in out.tags:
            out.duplicates.append(key)
            continue
        out.tags[key] = re.sub(r"\s+", "", value) if key == "p" else value.strip()
        out.order.append(key)
    return out


def decode_txt(data: bytes) -> str:
    """TXT bytes to text without failing: invalid UTF-8 becomes U+FFFD, which later checks reject."""
    return data.decode("utf-8", errors="replace")


def select(answer: Answer, prefix: str) -> list[str]:
    """The joined TXT records that start with `prefix` (case-insensitive), e.g. 'v=DMARC1'."""
    pat = re.compile(re.escape(prefix) + r"\s*(;|$)", re.IGNORECASE)
    return [t for t in (decode_txt(b) for b in answer.txt_joined()) if pat.match(t)]
