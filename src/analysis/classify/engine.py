"""Decide a delivery attempt's bounce reason (Sisimai v5 names) and hard/soft from its reply.

The reply is normalised first (variable parts masked), and everything after that is a pure function of
(status, dsn, reply code, normalised text, stage, provider), cached: a relay's millions of replies
reduce to a few thousand distinct inputs, which is what makes `classify_frame` cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from analysis.classify.normalize import normalize_reply
from analysis.classify.providers import provider_for
from analysis.classify.rules import RuleSet, default_rules

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})
NOT_BOUNCES = frozenset({"delivered", "feedback", "vacation"})
DELIVERED_STATUSES = frozenset({"sent", "delivered", "deliverable"})
PERMANENT_STATUSES = frozenset({"bounced", "undeliverable", "undeliverable-but-not-cached"})
TEMPORARY_STATUSES = frozenset({"deferred", "softbounce", "expired"})
OUTCOME_STATUSES = DELIVERED_STATUSES | {"expired"}

DSN_PATTERN = r"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$"  # also used as a polars (Rust regex) pattern
_DSN = re.compile(DSN_PATTERN)
_DSN_AFTER_CODE = re.compile(r"\b[245][0-9]{2}[ -]#?([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9]|\.[0-9])")
_DSN_ANYWHERE = re.compile(r"(?<![0-9.])#?([245]\.[0-9]{1,3}\.[0-9]{1,3})(?![0-9]|\.[0-9])")
_CODE = re.compile(r"(?:^|said: |talk to me: )([245][0-9]{2})(?=[ -]|$)")
_STAGE = re.compile(r"\(in reply to (.+?) command\)", re.IGNORECASE)
_STAGE_WHILE = re.compile(
    r"(refused to talk to me|initial server greeting)|while (?:sending|performing the) (.+?)(?: handshake)?$",
    re.IGNORECASE,
)
# Stage names as Postfix's smtpd/cleanup logs them, mapped to the client-side names the rules use.
STAGE_ALIASES = {
    "rcpt": "rcpt to",
    "mail": "mail from",
    "end-of-message": "end of data",
    "message": "end of data",
}


@dataclass(frozen=True)
class Classification:
    """The verdict for one attempt; fields are None where unknown. `rule` names the deciding rule."""

    reason: str | None
    severity: str | None
    provider: str | None
    dsn: str | None
    rule: str | None = None


def extract_dsn(text: str | None) -> str | None:
    """The enhanced status code in a reply text (the one right after the reply code if there is one)."""
    if not text:
        return None
    m = _DSN_AFTER_CODE.search(text) or _DSN_ANYWHERE.search(text)
    return m.group(1) if m else None


def extract_reply_code(text: str | None) -> int | None:
    """The SMTP reply code that starts the reply (also after Postfix's `host X said:`)."""
    if not text:
        return None
    m = _CODE.search(text)
    return int(m.group(1)) if m else None


def extract_stage(text: str | None) -> str | None:
    """The SMTP stage a Postfix text names: `(in reply to RCPT TO command)` → `rcpt to`, a refused
    greeting → `connect`, `lost connection ... while sending MAIL FROM` → `mail from`."""
    if not text:
        return None
    m = _STAGE.search(text)
    if m:
        return m.group(1).lower()
    w = _STAGE_WHILE.search(text)
    if w is None:
        return None
    return "connect" if w.group(1) else w.group(2).lower()


def normalize_stage(stage: str | None) -> str | None:
    """Lower-case stage with smtpd's short names (RCPT, MAIL, END-OF-MESSAGE) mapped to the rules' names."""
    if not stage:
        return None
    low = stage.strip().lower()
    return STAGE_ALIASES.get(low, low) or None


def _effective_dsn(given: str | None, text: str) -> str | None:
    found = extract_dsn(text)
    if given and _DSN.match(given):
        # Postfix invents x.0.0 when the server gave no enhanced code; a code in the text is better.
        if found and given.endswith(".0.0") and found[0] == given[0]:
            return found
        return given
    return found


def _permanent(status: str | None, code: int | None, dsn: str | None) -> bool | None:
    if status in PERMANENT_STATUSES:
        return True
    if status in TEMPORARY_STATUSES:
        return False
    cls = str(code)[0] if code is not None else (dsn[0] if dsn else None)
    if cls == "5":
        return True
    if cls == "4":
        return False
    return None


def severity_for(reason: str | None, permanent: bool | None) -> str | None:
    """Hard for userunknown/hostunknown/hasmoved/notaccept unless known temporary; other failures soft.

    `permanent` is None when neither status nor code says (a bare text): like Sisimai, the reason decides.
    """
    if reason is None or reason in NOT_BOUNCES:
        return None
    if permanent is not False and (reason in HARD_REASONS or reason == "notaccept"):
        return "hard"
    return "soft"


def status_outcome(status: str, dsn: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Verdict of a delivered or expired attempt: the status decides and the reply text is not read."""
    given = dsn if dsn and _DSN.match(dsn) else None
    if status == "expired":
        return "expired", "soft", given, None
    return "delivered", None, given, None


@lru_cache(maxsize=131_072)
def classify_key(
    status: str | None,
    dsn: str | None,
    reply_code: int | None,
    text: str | None,
    smtp_stage: str | None,
    provider: str | None,
    rules: RuleSet | None = None,
) -> tuple[str | None, str | None, str | None, str | None]:
    """(reason, severity, dsn, rule id) from already-normalised inputs; the cached core."""
    ruleset = rules or default_rules()
    st = status.lower() if status else None
    if st in OUTCOME_STATUSES:
        return status_outcome(st, dsn)
    text = (text or "")[:4096]  # bounds the rules' regex time whatever the caller passes
    eff_dsn = _effective_dsn(dsn, text)
    code = reply_code if reply_code is not None else extract_reply_code(text)
    if st is None and not text and eff_dsn is None and code is None:
        return None, None, None, None
    stage = normalize_stage(smtp_stage) or extract_stage(text)
    reason = rule_id = None
    for rule in ruleset.rules:
        if rule.matches(text, eff_dsn, code, stage, provider):
            reason, rule_id = rule.reason, rule.id
            break
    permanent = _permanent(st, code, eff_dsn)
    if reason is None and eff_dsn is not None:
        reason = ruleset.by_status.get(eff_dsn)
    if reason is None:
        cls = eff_dsn[0] if eff_dsn else (str(code)[0] if code is not None else None)
        if cls is None and permanent is not None:
            cls = "5" if permanent else "4"
        reason = ruleset.by_class.get(cls or "", "undefined")
    if reason == "delivered" and st is not None:
        # A failed attempt quoting a 2.x.x code (e.g. a 250 that Postfix still deferred) is not a delivery.
        reason = "undefined"
    return reason, severity_for(reason, permanent), eff_dsn, rule_id


def classify_reply(
    *,
    dsn: str | None,
    reply_code: int | None,
    reply: str | None,
    smtp_stage: str | None,
    status: str | None,
    relay_host: str | None,
    recipient_domain: str | None,
    rules: RuleSet | None = None,
) -> Classification:
    """Reason, hard/soft, provider and effective DSN of one delivery attempt or rejection."""
    provider = provider_for(recipient_domain or None, relay_host or None)
    reason, severity, eff_dsn, rule_id = classify_key(
        status or None,
        dsn or None,
        reply_code,
        normalize_reply(reply) if reply else None,
        smtp_stage or None,
        provider,
        rules,
    )
    return Classification(reason, severity, provider, eff_dsn, rule_id)
