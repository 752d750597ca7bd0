"""The findings model every DNS check returns: a state per (subject, check) and coded findings.

Codes are stable identifiers (reports, diffs and alerting key on them), so each one is declared once in
CODES with its severity and fix hint; a check only supplies the message with the facts it found.
A timeout or SERVFAIL is the state "temperror", never "missing".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    OK = "ok"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARN: 2, Severity.ERROR: 3}

# States of one (subject, check) observation.
PRESENT = "present"  # a record was found and evaluated (findings say how good it is)
MISSING = "missing"  # NXDOMAIN / NODATA / no record of the kind: the authority says there is none
INVALID = "invalid"  # records exist but cannot be used (syntax, duplicates)
TEMPERROR = "temperror"  # timeout, SERVFAIL, REFUSED or spent query budget: we do not know
LISTED = "listed"  # DNSBL: the subject is listed
NOT_LISTED = "not_listed"
QUERY_ERROR = "error"  # DNSBL refused or answered nonsense: neither listed nor clean
STATES = (PRESENT, MISSING, INVALID, TEMPERROR, LISTED, NOT_LISTED, QUERY_ERROR)

S = Severity
CODES: dict[str, tuple[Severity, str]] = {
    # generic
    "dns.temperror": (
        S.WARN,
        "The lookup timed out or the server failed; retry later or check the zone's name servers.",
    ),
    # SPF
    "spf.ok": (S.OK, ""),
    "spf.missing": (S.ERROR, "Publish one TXT record 'v=spf1 include:<relay include> -all' at the domain."),
    "spf.multiple": (
        S.ERROR,
        "Merge the SPF records into one: several v=spf1 records make every check permerror.",
    ),
    "spf.syntax": (S.ERROR, "Fix the record syntax; receivers treat an invalid record as permerror."),
    "spf.non_ascii": (S.ERROR, "Remove non-ASCII characters; SPF records are 7-bit ASCII."),
    "spf.too_many_lookups": (
        S.ERROR,
        "Flatten or drop includes: more than 10 DNS-querying terms is a permerror.",
    ),
    "spf.many_lookups": (S.WARN, "Close to the 10-lookup limit; one more include will break SPF."),
    "spf.too_many_void": (
        S.ERROR,
        "Remove terms naming domains that do not exist (more than 2 void lookups).",
    ),
    "spf.plus_all": (S.ERROR, "Replace '+all' with '-all' or '~all': '+all' authorises the whole Internet."),
    "spf.neutral_all": (
        S.WARN,
        "Replace '?all' with '~all' or '-all' so unauthorised senders are not neutral.",
    ),
    "spf.no_all": (S.INFO, "End the record with '-all' or '~all'; without it the default result is neutral."),
    "spf.ptr": (
        S.WARN,
        "Replace 'ptr' with ip4/ip6 or a: RFC 7208 says not to use it and receivers may skip it.",
    ),
    "spf.record_long": (S.WARN, "Shorten the record: over 450 octets risks truncated UDP answers."),
    "spf.multi_string": (S.INFO, "The record spans several TXT strings; they are joined without spaces."),
    "spf.relay_authorized": (S.OK, ""),
    "spf.relay_not_authorized": (S.ERROR, "Add the relay's SPF include (or its IPs) to the domain's record."),
    "spf.relay_unknown": (S.WARN, "Evaluating the relay IP gave an error; fix the record and re-check."),
    # DKIM
    "dkim.ok": (S.OK, ""),
    "dkim.missing": (S.ERROR, "Publish the selector: usually a CNAME to the key the relay provisions."),
    "dkim.multiple": (S.ERROR, "Keep exactly one TXT record at the selector name."),
    "dkim.syntax": (S.ERROR, "Fix the key record's tag list (tag=value; ...)."),
    "dkim.bad_version": (S.ERROR, "Set v=DKIM1 as the first tag or drop v=."),
    "dkim.bad_key_type": (S.ERROR, "Use k=rsa or k=ed25519."),
    "dkim.revoked": (S.WARN, "The key is revoked (empty p=); remove the selector from use or publish a key."),
    "dkim.bad_key": (S.ERROR, "p= does not decode to a public key of the declared type; republish the key."),
    "dkim.key_broken": (
        S.ERROR,
        "RSA keys under 1024 bits are rejected (RFC 8301); rotate to a 2048-bit key.",
    ),
    "dkim.key_weak": (S.WARN, "Rotate to a 2048-bit RSA key (or add an ed25519 key alongside)."),
    "dkim.testing": (S.WARN, "Remove t=y once signing works: verifiers may ignore failures in test mode."),
    "dkim.sha1_only": (S.ERROR, "Allow sha256 in h= (rsa-sha1 must not be used, RFC 8301)."),
    "dkim.cname_relay": (S.OK, ""),
    "dkim.cname_foreign": (
        S.WARN,
        "The selector points outside the relay's key names; check who holds the key.",
    ),
    "dkim.not_delegated": (
        S.INFO,
        "Publishing the key directly means relay key rotations need your DNS change; a CNAME avoids that.",
    ),
    "dkim.multi_string": (S.INFO, "The key spans several TXT strings; that is normal for 2048-bit keys."),
    # DMARC
    "dmarc.ok": (S.OK, ""),
    "dmarc.missing": (
        S.ERROR,
        "Publish _dmarc TXT 'v=DMARC1; p=none; rua=mailto:...' (Gmail/Yahoo bulk rules).",
    ),
    "dmarc.inherited": (S.INFO, "The policy comes from a parent domain; publish one here to control it."),
    "dmarc.multiple": (S.ERROR, "Keep exactly one v=DMARC1 record: several are treated as none."),
    "dmarc.syntax": (S.ERROR, "Fix the DMARC tag list; receivers discard an invalid record."),
    "dmarc.duplicate_tag": (S.ERROR, "Each tag may appear once."),
    "dmarc.unknown_tag": (S.INFO, "Unknown tags are ignored by receivers; check for typos."),
    "dmarc.removed_tag": (S.INFO, "pct/rf/ri were removed in RFC 9989; receivers may ignore them."),
    "dmarc.p_none": (S.WARN, "p=none only monitors; move to quarantine then reject once reports are clean."),
    "dmarc.pct_partial": (S.WARN, "pct below 100 applies the policy to only part of the mail."),
    "dmarc.testing": (S.WARN, "t=y asks receivers to apply a weaker policy; remove it when ready."),
    "dmarc.sp_weaker": (S.INFO, "Subdomains get a weaker policy (sp) than the domain."),
    "dmarc.no_rua": (S.WARN, "Add rua=mailto:... to receive aggregate reports."),
    "dmarc.rua_unauthorized": (
        S.WARN,
        "The report destination must publish <domain>._report._dmarc.<dest> TXT v=DMARC1.",
    ),
    "dmarc.rua_authorized": (S.OK, ""),
    "dmarc.alignment_impossible": (
        S.ERROR,
        "Neither SPF nor DKIM can align: sign with d=<domain> or use a custom return path.",
    ),
    "dmarc.alignment_dkim_only": (
        S.INFO,
        "Only DKIM can align (the envelope domain is the relay's); keep DKIM healthy.",
    ),
    "dmarc.alignment_ok": (S.OK, ""),
    # MX
    "mx.ok": (S.OK, ""),
    "mx.missing": (S.WARN, "Publish MX records so bounces and replies to this domain can be delivered."),
    "mx.null": (S.INFO, "Null MX: the domain receives no mail (replies and DSNs to it fail)."),
    "mx.unresolvable": (S.ERROR, "An MX host has no A/AAAA record; fix or remove it."),
    "mx.ip_literal": (S.ERROR, "MX targets must be host names, not IP addresses."),
    # PTR
    "ptr.ok": (S.OK, ""),
    "ptr.missing": (S.ERROR, "Ask the IP's owner to publish a PTR naming the relay host."),
    "ptr.not_confirmed": (
        S.ERROR,
        "The PTR name must resolve back to the IP (forward-confirmed reverse DNS).",
    ),
    "ptr.unexpected_name": (S.INFO, "The PTR name is not one of the relay's host names in the inventory."),
    "ptr.multiple": (S.INFO, "Several PTR records; receivers use one at random."),
    # MTA-STS
    "mta_sts.ok": (S.OK, ""),
    "mta_sts.missing": (S.INFO, "Publish _mta-sts TXT and a policy to require TLS for inbound mail."),
    "mta_sts.syntax": (S.ERROR, "Fix the _mta-sts TXT record: 'v=STSv1; id=<1-32 alnum>'."),
    "mta_sts.policy_unreachable": (
        S.WARN,
        "Serve https://mta-sts.<domain>/.well-known/mta-sts.txt with a valid certificate.",
    ),
    "mta_sts.policy_invalid": (S.ERROR, "Fix the policy file (version, mode, mx, max_age)."),
    "mta_sts.mx_not_covered": (S.ERROR, "Every MX host must match an mx: pattern in the policy."),
    "mta_sts.testing": (S.INFO, "mode: testing reports but does not enforce."),
    # TLS-RPT
    "tls_rpt.ok": (S.OK, ""),
    "tls_rpt.missing": (
        S.WARN,
        "Publish _smtp._tls TXT 'v=TLSRPTv1; rua=mailto:...' to learn of TLS failures.",
    ),
    "tls_rpt.syntax": (
        S.ERROR,
        "Fix the TLS-RPT record: v=TLSRPTv1 first and rua= with mailto: or https: URIs.",
    ),
    # BIMI
    "bimi.ok": (S.OK, ""),
    "bimi.missing": (S.INFO, "Optional: publish default._bimi with an SVG logo once DMARC is enforced."),
    "bimi.syntax": (S.ERROR, "Fix the BIMI record: v=BIMI1 first, l= and a= https URLs."),
    "bimi.dmarc_not_enforced": (S.WARN, "BIMI needs DMARC p=quarantine or p=reject at 100%."),
    # DNSBL
    "dnsbl.not_listed": (S.OK, ""),
    "dnsbl.listed": (S.ERROR, "Find and stop the cause, then request delisting from the list's operator."),
    "dnsbl.query_refused": (
        S.WARN,
        "The list refused the query (public resolver, typo or rate limit): this is not a listing.",
    ),
    "dnsbl.unexpected_answer": (
        S.WARN,
        "The list answered outside 127.0.0.0/8; the zone may be wildcarded or hijacked.",
    ),
}
del S


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": str(self.severity), "message": self.message, "fix": self.fix}


def finding(code: str, message: str) -> Finding:
    """A finding whose severity and fix come from the catalogue (unknown codes fail loudly in tests)."""
    severity, fix = CODES[code]
    return Finding(code, severity, message, fix)


@dataclass
class CheckResult:
    """One observation: what we saw for one check of one subject (a domain, a selector, an IP)."""

    subject: str
    check: str  # spf, dkim:<selector>, dmarc, mx, ptr, mta_sts, tls_rpt, bimi, dnsbl:<zone>
    state: str
    record: str | None = None
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        """The worst finding; a temperror with no findings counts as a warning."""
        if not self.findings:
            return Severity.WARN if self.state == TEMPERROR else Severity.OK
        return max((f.severity for f in self.findings), key=RANK.__getitem__)

    def add(self, code: str, message: str) -> None:
        self.findings.append(finding(code, message))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity"] = str(self.severity)
        out["findings"] = [f.to_dict() for f in self.findings]
        return out


def temperror(subject: str, check: str, what: str, status: str) -> CheckResult:
    """The "could not ask" observation, kept apart from "missing"."""
    res = CheckResult(subject, check, TEMPERROR)
    res.add("dns.temperror", f"{what}: {status}")
    return res
