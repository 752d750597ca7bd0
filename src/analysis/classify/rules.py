"""Load the classification rules (`rules.toml`): ordered text/status/code/stage/provider conditions.

The rules are data so that tests iterate them and `deliverability reclassify` re-applies a changed table
without code changes; this module only validates and compiles them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

# Sisimai v5 reason names (before v5.6 merged ratelimited/emailtoolarge), plus the non-bounce outcomes.
REASONS = frozenset(
    {
        "authfailure", "badreputation", "blocked", "contenterror", "delivered", "exceedlimit", "expired",
        "feedback", "filtered", "hasmoved", "hostunknown", "mailboxfull", "mailererror", "mesgtoobig",
        "networkerror", "norelaying", "notaccept", "notcompliantrfc", "onhold", "policyviolation",
        "rejected", "requireptr", "securityerror", "spamdetected", "speeding", "suspend", "syntaxerror",
        "systemerror", "systemfull", "toomanyconn", "undefined", "userunknown", "vacation", "virusdetected",
    }
)  # fmt: skip
STAGES = frozenset(
    {"connect", "helo", "ehlo", "mail from", "rcpt to", "data", "end of data", "starttls", "auth", "bdat"}
)
_CODE_SPEC = re.compile(r"^(?:([245])xx|([245][0-9]{2})(?:-([245][0-9]{2}))?)$")


@dataclass(frozen=True)
class Rule:
    """One row of the table; every condition that is set must hold."""

    id: str
    reason: str
    text: re.Pattern[str] | None = None
    status: re.Pattern[str] | None = None
    code_range: tuple[int, int] | None = None
    stages: frozenset[str] | None = None
    providers: frozenset[str] | None = None

    def matches(
        self, text: str, status: str | None, code: int | None, stage: str | None, provider: str | None
    ) -> bool:
        """True when every condition of the rule holds for these inputs."""
        if self.providers is not None and provider not in self.providers:
            return False
        if self.stages is not None and (stage or "").lower() not in self.stages:
            return False
        if self.code_range is not None and (
            code is None or not self.code_range[0] <= code <= self.code_range[1]
        ):
            return False
        if self.status is not None and (status is None or self.status.fullmatch(status) is None):
            return False
        return self.text is None or self.text.search(text) is not None


@dataclass(frozen=True, eq=False)
class RuleSet:
    """Ordered rules, then the status-code and code-class fallbacks."""

    rules: tuple[Rule, ...]
    by_status: dict[str, str]
    by_class: dict[str, str]

    @property
    def providers_used(self) -> frozenset[str]:
        """Providers some rule conditions on: any other provider classifies like no provider."""
        return frozenset(p for r in self.rules if r.providers for p in r.providers)

    @property
    def stages_used(self) -> frozenset[str]:
        """SMTP stages some rule conditions on (lower case)."""
        return frozenset(s for r in self.rules if r.stages for s in r.stages)


def _code_range(spec: str, rule_id: str) -> tuple[int, int]:
    m = _CODE_SPEC.match(spec)
    if m is None:
        raise ValueError(f"rule {rule_id}: bad code {spec!r} (want 4xx, 550 or 500-599)")
    if m.group(1):
        base = int(m.group(1)) * 100
        return base, base + 99
    low = int(m.group(2))
    return low, int(m.group(3) or low)


def _rule(raw: dict[str, Any]) -> Rule:
    rule_id = str(raw.get("id", "?"))
    unknown = set(raw) - {"id", "reason", "text", "status", "code", "stage", "provider", "note"}
    if unknown:
        raise ValueError(f"rule {rule_id}: unknown keys {sorted(unknown)}")
    reason = raw.get("reason")
    if reason not in REASONS:
        raise ValueError(f"rule {rule_id}: unknown reason {reason!r}")
    if not ({"text", "status", "code", "stage"} & set(raw)):
        raise ValueError(f"rule {rule_id}: needs at least one of text/status/code/stage")
    stages = None
    if "stage" in raw:
        stages = frozenset(s.lower() for s in raw["stage"])
        if not stages <= STAGES:
            raise ValueError(f"rule {rule_id}: unknown stage in {sorted(stages)}")
    return Rule(
        id=rule_id,
        reason=reason,
        text=re.compile(raw["text"], re.IGNORECASE) if "text" in raw else None,
        status=re.compile(raw["status"]) if "status" in raw else None,
        code_range=_code_range(str(raw["code"]), rule_id) if "code" in raw else None,
        stages=stages,
        providers=frozenset(raw["provider"]) if "provider" in raw else None,
    )


def parse_rules(text: str) -> RuleSet:
    """Validate and compile a rules document (TOML text)."""
    doc = tomllib.loads(text)
    rules = tuple(_rule(r) for r in doc.get("rule", []))
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate rule ids: {sorted(dupes)}")
    by_status = {str(k): str(v) for k, v in doc.get("status", {}).items()}
    by_class = {str(k): str(v) for k, v in doc.get("class", {}).items()}
    bad = {v for v in [*by_status.values(), *by_class.values()] if v not in REASONS}
    if bad:
        raise ValueError(f"unknown reasons in [status]/[class]: {sorted(bad)}")
    return RuleSet(rules, by_status, by_class)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rule table, compiled once per process."""
    text = resources.files("analysis.classify").joinpath("rules.toml").read_text(encoding="utf-8")
    return parse_rules(text)
