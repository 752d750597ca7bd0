"""DMARC policy records (RFC 7489 and RFC 9989), the organisational domain, and whether alignment can hold.

Policy discovery follows RFC 9989's DNS tree walk (at most 8 queries, skipping to the last 7 labels for
long names); the Public Suffix List organisational domain of RFC 7489 is reported beside it because many
receivers still use it. Alignment feasibility asks whether mail the relay sends for the domain can pass
DMARC at all: DKIM signed with d=<domain>, or an envelope domain aligned under aspf.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import parse_tags, select

POLICIES = ("none", "quarantine", "reject")
POLICY_RANK = {"none": 0, "quarantine": 1, "reject": 2}
KNOWN_TAGS = {"v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "pct", "rf", "ri", "t", "psd"}
REMOVED_TAGS = {"pct", "rf", "ri"}
MAX_WALK = 8
_FO = re.compile(r"^[01ds](:[01ds])*$")


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def org_domain(domain: str) -> str | None:
    """RFC 7489 organisational domain by the bundled Public Suffix List; None for a public suffix."""
    if not domain or domain.startswith("."):
        return None
    result = _psl().privatesuffix(domain.lower().rstrip("."))
    return str(result) if result is not None else None


def walk_names(domain: str) -> list[str]:
    """RFC 9989 tree walk order: the domain, then parents up to the TLD, at most 8 names."""
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    if len(labels) > MAX_WALK:
        labels = labels[-(MAX_WALK - 1) :]
        names.append(".".join(labels))
    while len(labels) > 1:
        labels = labels[1:]
        names.append(".".join(labels))
    out: list[str] = []
    for n in names:
        if n not in out:
            out.append(n)
    return out[:MAX_WALK]


@dataclass(frozen=True)
class Policy:
    """The parts of a DMARC record other checks need (BIMI wants enforcement, diffs compare p)."""

    p: str
    sp: str
    pct: int
    adkim: str
    aspf: str
    testing: bool

    @property
    def enforced(self) -> bool:
        return self.p in ("quarantine", "reject") and self.pct == 100 and not self.testing


def _mailto_domains(value: str) -> tuple[list[str], list[str]]:
    """Domains of mailto: URIs in rua/ruf, and the URIs that are not mailto (or are malformed)."""
    domains, bad = [], []
    for uri in (u.strip() for u in value.split(",")):
        if not uri:
            continue
        if not uri.lower().startswith("mailto:"):
            bad.append(uri)
            continue
        addr = uri[7:].split("!")[0]
        local, at, dom = addr.rpartition("@")
        if not at or not local or "." not in dom:
            bad.append(uri)
            continue
        domains.append(dom.lower().rstrip("."))
    return domains, bad


def _lookup(domain: str, resolver: Resolver) -> tuple[str, str | None, list[str], str | None]:
    """(status, policy domain, records, temp status): walk until a name has DMARC record(s)."""
    for name in walk_names(domain):
        ans = resolver.query(f"_dmarc.{name}", "TXT")
        if ans.temporary:
            return "temperror", name, [], ans.status
        records = select(ans, "v=DMARC1") if ans.ok else []
        if records:
            return "found", name, records, None
    return "missing", None, [], None


def check_dmarc(
    domain: str,
    resolver: Resolver,
    *,
    dkim_can_align: bool | None = None,
    envelope_domain: str | None = None,
) -> CheckResult:
    """The DMARC observation of `domain`; alignment findings when the relay's identities are known."""
    status, policy_domain, records, temp = _lookup(domain, resolver)
    if status == "temperror":
        return temperror(domain, "dmarc", f"TXT _dmarc.{policy_domain}", temp or "error")
    res = CheckResult(domain, "dmarc", PRESENT)
    org = org_domain(domain)
    res.data.update(org_domain=org, policy_domain=policy_domain)
    if not records:
        res.state = MISSING
        res.add("dmarc.missing", f"no v=DMARC1 record at _dmarc.{domain} or its parents")
        return res
    res.record = records[0] if len(records) == 1 else " | ".join(records)
    if len(records) > 1:
        res.state = INVALID
        res.add("dmarc.multiple", f"{len(records)} DMARC records at _dmarc.{policy_domain}")
        return res
    inherited = policy_domain != domain.lower().rstrip(".")
    if inherited:
        res.add("dmarc.inherited", f"policy found at _dmarc.{policy_domain}")
    tags = parse_tags(records[0])
    t = tags.tags
    problems = list(tags.errors)
    for dup in tags.duplicates:
        res.add("dmarc.duplicate_tag", f"tag {dup} appears more than once")
    if tags.order[:1] != ["v"] or t.get("v") != "DMARC1":
        problems.append("v=DMARC1 must be the first tag")
    for tag in ("p", "sp", "np"):
        if tag in t and t[tag].lower() not in POLICIES:
            problems.append(f"{tag}={t[tag]} is not none, quarantine or reject")
    for tag in ("adkim", "aspf"):
        if tag in t and t[tag].lower() not in ("r", "s"):
            problems.append(f"{tag}={t[tag]} is not r or s")
    if "fo" in t and not _FO.match(t["fo"].replace(" ", "")):
        problems.append(f"fo={t['fo']} is not a colon list of 0, 1, d, s")
    if "t" in t and t["t"].lower() not in ("y", "n"):
        problems.append(f"t={t['t']} is not y or n")
    if "psd" in t and t["psd"].lower() not in ("y", "n", "u"):
        problems.append(f"psd={t['psd']} is not y, n or u")
    pct = 100
    if "pct" in t:
        if t["pct"].isdigit() and int(t["pct"]) <= 100:
            pct = int(t["pct"])
        else:
            problems.append(f"pct={t['pct']} is not 0..100")
    if problems:
        res.state = INVALID
        for prob in problems:
            res.add("dmarc.syntax", prob)
        return res
    for tag in tags.order:
        if tag in REMOVED_TAGS:
            res.add("dmarc.removed_tag", f"{tag}= is obsolete in RFC 9989")
        elif tag not in KNOWN_TAGS:
            res.add("dmarc.unknown_tag", f"unknown tag {tag}=")
    p = t.get("p", "none").lower()
    if inherited:
        p = t.get("sp", p).lower()
    policy = Policy(
        p=p,
        sp=t.get("sp", t.get("p", "none")).lower(),
        pct=pct,
        adkim=t.get("adkim", "r").lower(),
        aspf=t.get("aspf", "r").lower(),
        testing=t.get("t", "n").lower() == "y",
    )
    res.data.update(
        p=policy.p,
        sp=policy.sp,
        pct=policy.pct,
        adkim=policy.adkim,
        aspf=policy.aspf,
        enforced=policy.enforced,
    )
    if policy.p == "none":
        res.add("dmarc.p_none", "p=none: failing mail is delivered as usual (monitoring only)")
    if pct < 100:
        res.add("dmarc.pct_partial", f"pct={pct}")
    if policy.testing:
        res.add("dmarc.testing", "t=y")
    if POLICY_RANK[policy.sp] < POLICY_RANK[policy.p]:
        res.add("dmarc.sp_weaker", f"sp={policy.sp} is weaker than p={policy.p}")
    _check_reports(domain, t, resolver, res)
    _check_alignment(domain, policy, dkim_can_align, envelope_domain, res)
    if all(f.severity in ("ok", "info") for f in res.findings):
        res.add("dmarc.ok", f"p={policy.p}")
    return res


def _check_reports(domain: str, t: dict[str, str], resolver: Resolver, res: CheckResult) -> None:
    if "rua" not in t:
        res.add("dmarc.no_rua", "no rua= aggregate report address")
    own = org_domain(domain)
    for tag in ("rua", "ruf"):
        if tag not in t:
            continue
        dests, bad = _mailto_domains(t[tag])
        for uri in bad:
            res.add("dmarc.syntax", f"{tag} URI {uri[:60]!r} is not a mailto: address")
        for dest in sorted(set(dests)):
            if org_domain(dest) == own:
                continue
            name = f"{domain}._report._dmarc.{dest}"
            ans = resolver.query(name, "TXT")
            if ans.temporary:
                res.add("dns.temperror", f"TXT {name}: {ans.status}")
            elif ans.ok and select(ans, "v=DMARC1"):
                res.add("dmarc.rua_authorized", f"{dest} accepts {tag} reports for {domain}")
            else:
                res.add("dmarc.rua_unauthorized", f"{dest} publishes no {name} record")


def _aligned(a: str, b: str, mode: str) -> bool:
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if mode == "s":
        return a == b
    return org_domain(a) is not None and org_domain(a) == org_domain(b)


def _check_alignment(
    domain: str, policy: Policy, dkim_can_align: bool | None, envelope: str | None, res: CheckResult
) -> None:
    if dkim_can_align is None and envelope is None:
        return
    spf_ok = envelope is not None and _aligned(envelope, domain, policy.aspf)
    res.data.update(spf_can_align=spf_ok, dkim_can_align=bool(dkim_can_align))
    if dkim_can_align and spf_ok:
        res.add("dmarc.alignment_ok", "both DKIM (d=domain) and SPF (envelope domain) can align")
    elif dkim_can_align:
        res.add(
            "dmarc.alignment_dkim_only", f"envelope domain {envelope} does not align (aspf={policy.aspf})"
        )
    elif spf_ok:
        res.add("dmarc.alignment_ok", f"SPF can align through envelope domain {envelope}")
    else:
        res.add(
            "dmarc.alignment_impossible",
            f"no usable DKIM key for d={domain} and envelope domain {envelope} does not align",
        )
