"""Reverse DNS of the relay's IPs with forward confirmation (FCrDNS): receivers reject mail without it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from analysis.dns.findings import MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver


def check_ptr(ip: str, resolver: Resolver, expected_hosts: Sequence[str] = ()) -> CheckResult:
    """PTR of `ip`; each name must resolve back to `ip`; names outside the inventory are noted."""
    addr = ipaddress.ip_address(ip)
    ans = resolver.query(addr.reverse_pointer, "PTR")
    if ans.temporary:
        return temperror(ip, "ptr", f"PTR {addr.reverse_pointer}", ans.status)
    res = CheckResult(ip, "ptr", PRESENT)
    if not ans.ok:
        res.state = MISSING
        res.add("ptr.missing", f"no PTR for {ip} ({ans.status})")
        return res
    names = sorted(r.target.to_text(omit_final_dot=True).lower() for r in ans.rdata)
    res.record = " ".join(names)
    res.data["names"] = names
    if len(names) > 1:
        res.add("ptr.multiple", f"{len(names)} PTR records")
    rtype = "A" if addr.version == 4 else "AAAA"
    confirmed = []
    for name in names[:10]:
        fwd = resolver.query(name, rtype)
        if fwd.temporary:
            res.add("dns.temperror", f"{rtype} {name}: {fwd.status}")
        elif fwd.ok and any(ipaddress.ip_address(t) == addr for t in fwd.texts()):
            confirmed.append(name)
        else:
            res.add("ptr.not_confirmed", f"{name} does not resolve back to {ip}")
    res.data["confirmed"] = confirmed
    wanted = {h.lower() for h in expected_hosts}
    if wanted and not wanted.intersection(names):
        res.add("ptr.unexpected_name", f"PTR {', '.join(names)} is not a relay host name")
    if confirmed and all(f.severity in ("ok", "info") for f in res.findings):
        res.add("ptr.ok", f"{ip} ↔ {confirmed[0]}")
    return res
