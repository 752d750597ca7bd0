"""SMTP TLS reporting (RFC 8460): _smtp._tls TXT with v=TLSRPTv1 and rua= mailto:/https: URIs."""

from __future__ import annotations

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import parse_tags, select


def check_tls_rpt(domain: str, resolver: Resolver) -> CheckResult:
    name = f"_smtp._tls.{domain}"
    ans = resolver.query(name, "TXT")
    if ans.temporary:
        return temperror(domain, "tls_rpt", f"TXT {name}", ans.status)
    records = select(ans, "v=TLSRPTv1") if ans.ok else []
    res = CheckResult(domain, "tls_rpt", PRESENT)
    if not records:
        res.state = MISSING
        res.add("tls_rpt.missing", f"no v=TLSRPTv1 record at {name}")
        return res
    res.record = " | ".join(records)
    tags = parse_tags(records[0])
    uris = [u.strip() for u in tags.tags.get("rua", "").split(",") if u.strip()]
    bad = [u for u in uris if not u.lower().startswith(("mailto:", "https://"))]
    if len(records) > 1 or tags.errors or not uris or bad:
        res.state = INVALID
        res.add("tls_rpt.syntax", "one record with rua= mailto:/https: URIs is required")
        return res
    res.data["rua"] = uris
    res.add("tls_rpt.ok", f"{len(uris)} report destination(s)")
    return res
