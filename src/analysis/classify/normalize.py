"""Mask the variable parts of an SMTP reply so that equal meanings group together.

One ordered list of (pattern, replacement) steps drives both the pure-Python function and the polars
expression, so the two cannot drift apart. The patterns keep to the syntax shared by Python's `re` and
Rust's `regex` (no look-around, explicit ASCII classes); replacements use `${n}` group references,
translated for `re`. SMTP reply codes (2xx/4xx/5xx) and enhanced status codes (x.y.z) survive masking
because the classifier reads them from the normalised text.
"""

from __future__ import annotations

import re

import polars as pl

# Characters that may not touch a number for it to count as a free-standing number.
_WORDISH = "A-Za-z0-9_."
_NUMBER = (
    rf"(^|[^{_WORDISH}])"  # left context, re-emitted
    r"([0-9]{4,}|[0136-9][0-9]{2}|[0-9]{1,2})"  # not a 2xx/4xx/5xx reply code
    rf"($|[^{_WORDISH}])"  # right context, re-emitted
)

STEPS: tuple[tuple[str, str], ...] = (
    # whitespace runs to one space first, so that the patterns below see single spaces (a lone space is
    # left alone: matching every space costs a third of the whole)
    (r"[\t\r\n\f\v][ \t\r\n\f\v]*| [ \t\r\n\f\v]+", " "),
    # multi-line replies joined by Postfix repeat "550-5.7.1 " inside sentences: keep only the first
    (r"([A-Za-z0-9,.;'\")\]]) [245][0-9]{2}-[245]\.[0-9]{1,3}\.[0-9]{1,3} ", "${1} "),
    # e-mail addresses, with or without angle brackets, and the empty sender <>
    (r"<?[^ \t\r\n<>@()\[\]\",;]+@[^ \t\r\n<>@()\[\]\",;:]+>?|<>", "<addr>"),
    # ISO-8601 timestamps (before IPv6: their hh:mm:ss looks like one)
    (
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?",
        "<time>",
    ),
    # Postfix's host[ip]:port notation
    (r"[A-Za-z0-9._-]+\[[0-9A-Fa-f:.]+\](?::[0-9]+)?", "<host>"),
    # IPv4, IPv6 (at least three groups)
    (r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b|\b[0-9A-Fa-f]{1,4}(?:::?[0-9A-Fa-f]{1,4}){2,7}(?:::)?", "<ip>"),
    # URL query strings
    (r"(https?://[^ \t\r\n?]+)\?[^ \t\r\n)\]]*", "${1}?<q>"),
    # "RFC 5322" → "RFC5322": an RFC number is meaning, not a variable
    (r"\b([Rr][Ff][Cc]) ([0-9]{3,4})\b", "${1}${2}"),
    # Exchange Online's internal server names ([AM0PR01MB1234.eurprd01.prod.outlook.com]) and other
    # bracketed domain names (Gmail quotes the SPF domain): one meaning, many spellings
    (r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.prod\.outlook\.com\b", "<host>"),
    (r"\[[a-z0-9-]+(?:\.[a-z0-9-]+)+\]", "[<domain>]"),
    # numbered server names (mta661.mail.gq1.yahoo.com, atlas959.aol.mail.ne1.yahoo.com)
    (r"\b[A-Za-z-]*[0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+\.[a-z]{2,}\b", "<host>"),
    # long letter/digit tokens (session IDs, base64 fragments) of ten or more characters; short ones
    # such as S3150, TSS04, CS01 are provider reason codes the rules read
    (r"\b(?:[A-Za-z0-9]{9,}[0-9][A-Za-z0-9]*|[A-Za-z0-9]*[0-9][A-Za-z0-9]{9,})\b", "<id>"),
    # identifiers, before numbers so that an all-digit queue ID masks like its hex siblings: hex queue
    # IDs and hashes, long mixed letter/digit tokens (Gmail's session IDs, Exchange server names)
    (
        r"\b(?:[0-9A-F]{6,}|[0-9a-f]{8,}|[A-Za-z]+[0-9][A-Za-z0-9]{5,}|[0-9]+[A-Za-z][A-Za-z0-9]{5,})\b",
        "<id>",
    ),
    # Gmail's "<id>.356 - gsmtp": the suffix is part of the session ID
    (r"<id>\.[0-9]+", "<id>"),
    # free-standing numbers (twice: a match consumes the separator its neighbour needs)
    (_NUMBER, "${1}#${3}"),
    (_NUMBER, "${1}#${3}"),
)

# Replies are cut to this many characters first: real ones stay well under it (Gmail's longest run to
# ~700), and Python's backtracking `re` would take quadratic time on a hostile 100 kB line.
MAX_CHARS = 2048

_GROUP_REF = re.compile(r"\$\{([0-9]+)\}")
_COMPILED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), _GROUP_REF.sub(r"\\g<\1>", r)) for p, r in STEPS
)


def normalize_reply(text: str | None) -> str | None:
    """The reply with addresses, IDs, IPs, numbers and hex tokens masked; None stays None."""
    if text is None:
        return None
    text = text[:MAX_CHARS]
    for pattern, repl in _COMPILED:
        text = pattern.sub(repl, text)
    return text.strip(" ")


def normalize_reply_expr(col: pl.Expr) -> pl.Expr:
    """The same masking as `normalize_reply`, as a vectorised polars expression."""
    expr = col.str.slice(0, MAX_CHARS)
    for pattern, repl in STEPS:
        expr = expr.str.replace_all(pattern, repl)
    return expr.str.strip_chars(" ")
