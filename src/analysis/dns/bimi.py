"""BIMI assertion record (default._bimi): syntax, and the DMARC enforcement it depends on."""

from __future__ import annotations

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import parse_tags, select


def check_bimi(domain: str, resolver: Resolver, *, dmarc_enforced: bool | None = None) -> CheckResult:
    name = f"default._bimi.{domain}"
    ans = resolver.query(name, "TXT")
    if ans.temporary:
        return temperror(domain, "bimi", f"TXT {name}", ans.status)
    records = select(ans, "v=BIMI1") if ans.ok else []
    res = CheckResult(domain, "bimi", PRESENT)
    if not records:
        res.state = MISSING
        res.add("bimi.missing", f"no v=BIMI1 record at {name}")
        return res
    res.record = " | ".join(records)
    tags = parse_tags(records[0])
    logo, vmc = tags.tags.get("l", None), tags.tags.get("a", "")
    problems = list(tags.errors)
    if len(records) > 1:
        problems.append("more than one BIMI record")
    if logo is None:
        problems.append("no l= tag")
    elif logo and not logo.lower().startswith("https://"):
        problems.append("l= must be an https URL")
    if vmc and not vmc.lower().startswith("https://"):
        problems.append("a= must be an https URL")
    if problems:
        res.state = INVALID
        for p in problems:
            res.add("bimi.syntax", p)
        return res
    res.data.update(logo=logo, vmc=vmc or None)
    if dmarc_enforced is False:
        res.add("bimi.dmarc_not_enforced", "DMARC is not at quarantine/reject with pct=100")
    else:
        res.add("bimi.ok", "logo published")
    return res
