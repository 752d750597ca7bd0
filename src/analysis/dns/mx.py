"""MX records of a sending domain: replies and bounces addressed to it must have somewhere to go."""

from __future__ import annotations

import ipaddress

from analysis.dns.findings import MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver

MAX_HOSTS = 10


def mx_hosts(domain: str, resolver: Resolver) -> tuple[str, list[tuple[int, str]]]:
    """(status, [(preference, host)]) sorted by preference; host '' is a null MX."""
    ans = resolver.query(domain, "MX")
    if not ans.ok:
        return ans.status, []
    pairs = sorted((int(r.preference), r.exchange.to_text(omit_final_dot=True)) for r in ans.rdata)
    return "ok", [(p, "" if h in ("", ".") else h.lower()) for p, h in pairs]


def check_mx(domain: str, resolver: Resolver) -> CheckResult:
    """Presence, null MX (RFC 7505), IP-literal targets and hosts without addresses."""
    status, hosts = mx_hosts(domain, resolver)
    if status not in ("ok", "nxdomain", "nodata"):
        return temperror(domain, "mx", f"MX {domain}", status)
    res = CheckResult(domain, "mx", PRESENT)
    if not hosts:
        res.state = MISSING
        res.add("mx.missing", f"{domain} has no MX record ({status})")
        return res
    res.record = " ".join(f"{p} {h or '.'}" for p, h in hosts)
    res.data["hosts"] = [h for _p, h in hosts]
    if len(hosts) == 1 and hosts[0][1] == "":
        res.add("mx.null", "null MX (0 .)")
        return res
    for _pref, host in hosts[:MAX_HOSTS]:
        try:
            ipaddress.ip_address(host)
            res.add("mx.ip_literal", f"MX target {host} is an IP address")
            continue
        except ValueError:
            pass
        a = resolver.query(host, "A")
        aaaa = resolver.query(host, "AAAA") if not a.ok else a
        if a.temporary or aaaa.temporary:
            res.add("dns.temperror", f"A/AAAA {host}: {a.status}/{aaaa.status}")
        elif not a.ok and not aaaa.ok:
            res.add("mx.unresolvable", f"MX host {host} has no address")
    if not res.findings:
        res.add("mx.ok", f"{len(hosts)} MX host(s)")
    return res
