"""Run every DNS health check for a set of domains and relay IPs, concurrently, one query budget each.

Domains are independent, so they run on a thread pool; inside one domain the order matters (DMARC
alignment needs the DKIM results, BIMI needs the DMARC policy, MTA-STS needs the MX hosts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from analysis.dns.bimi import check_bimi
from analysis.dns.dkim import check_dkim
from analysis.dns.dmarc import check_dmarc
from analysis.dns.dnsbl import check_dnsbl
from analysis.dns.findings import PRESENT, CheckResult, Severity
from analysis.dns.mtasts import check_mta_sts
from analysis.dns.mx import check_mx
from analysis.dns.ptr import check_ptr
from analysis.dns.resolver import Resolver
from analysis.dns.spf_audit import audit_spf
from analysis.dns.tlsrpt import check_tls_rpt
from analysis.errors import InputError
from analysis.inventory import DnsblZone, Inventory, Relay, is_domain_name

DOMAIN_BUDGET = 300  # queries one domain's checks may make, however hostile its records


@dataclass(frozen=True)
class DomainTarget:
    domain: str
    selectors: tuple[str, ...] = ()
    return_path: str | None = None
    in_inventory: bool = False


@dataclass
class CheckPlan:
    """What to check and against which expectations (the relay's IPs, CNAME targets, DNSBL zones)."""

    domains: list[DomainTarget] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    relay: Relay = field(default_factory=Relay)
    dnsbl_zones: tuple[DnsblZone, ...] = ()
    fetch_mta_sts_policy: bool = True
    mta_sts_timeout: float = 3.0


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def plan_checks(inv: Inventory | None, subjects: Sequence[str] = ()) -> CheckPlan:
    """Subjects given → those (IPs and domains, with inventory selectors when known); none → everything."""
    inv = inv or Inventory()
    plan = CheckPlan(relay=inv.relay, dnsbl_zones=inv.dnsbl_zones)
    if not subjects:
        plan.domains = [DomainTarget(d.domain, d.selectors, d.return_path, True) for d in inv.domains]
        plan.ips = list(inv.relay.ips)
        return plan
    seen: set[str] = set()
    for raw in subjects:
        s = raw.strip().rstrip(".").lower()
        if _is_ip(s):
            s = str(ipaddress.ip_address(s))
        if not s or s in seen:
            continue
        seen.add(s)
        if _is_ip(s):
            plan.ips.append(s)
            continue
        if not is_domain_name(s):
            raise InputError(f"{raw!r} is neither a domain name nor an IP address")
        known = inv.domain(s)
        if known is not None:
            plan.domains.append(DomainTarget(known.domain, known.selectors, known.return_path, True))
        else:
            plan.domains.append(DomainTarget(s))
    return plan


def check_domain(target: DomainTarget, resolver: Resolver, plan: CheckPlan) -> list[CheckResult]:
    """Every check of one sending domain, in dependency order."""
    d = target.domain
    out = [audit_spf(d, resolver, plan.relay.ips)]
    dkim = [check_dkim(d, sel, resolver, plan.relay.dkim_cname_suffixes) for sel in target.selectors]
    out.extend(dkim)
    envelope = target.return_path or plan.relay.envelope_domain
    dkim_ok = any(r.state == PRESENT and "bits" in r.data and r.severity != Severity.ERROR for r in dkim)
    dmarc = check_dmarc(
        d,
        resolver,
        dkim_can_align=dkim_ok if target.in_inventory else None,
        envelope_domain=envelope if target.in_inventory else None,
    )
    out.append(dmarc)
    mx = check_mx(d, resolver)
    out.append(mx)
    sts = check_mta_sts(
        d,
        resolver,
        mx.data.get("hosts", []),
        fetch=plan.fetch_mta_sts_policy,
        timeout=plan.mta_sts_timeout,
    )
    out.append(sts)
    out.append(check_tls_rpt(d, resolver))
    enforced = dmarc.data.get("enforced") if dmarc.state == PRESENT else False
    out.append(check_bimi(d, resolver, dmarc_enforced=bool(enforced)))
    for z in plan.dnsbl_zones:
        if z.kind == "domain":
            out.append(check_dnsbl(d, z.zone, resolver, z.decoder))
    return out


def check_ip(ip: str, resolver: Resolver, plan: CheckPlan) -> list[CheckResult]:
    """Reverse DNS and blocklists for one relay IP."""
    out = [check_ptr(ip, resolver, plan.relay.hostnames)]
    for z in plan.dnsbl_zones:
        if z.kind == "ip":
            out.append(check_dnsbl(ip, z.zone, resolver, z.decoder))
    return out


def run_checks(
    plan: CheckPlan, resolver: Resolver, *, concurrency: int = 16, budget: int = DOMAIN_BUDGET
) -> list[CheckResult]:
    """All checks of the plan; results in plan order (domains, then IPs) whatever finished first."""
    jobs: list[tuple[str, DomainTarget | str]] = [("domain", t) for t in plan.domains]
    jobs += [("ip", ip) for ip in plan.ips]

    def one(job: tuple[str, DomainTarget | str]) -> list[CheckResult]:
        kind, subject = job
        scoped = resolver.scoped(budget)
        if kind == "domain":
            assert isinstance(subject, DomainTarget)
            return check_domain(subject, scoped, plan)
        assert isinstance(subject, str)
        return check_ip(subject, scoped, plan)

    if concurrency <= 1 or len(jobs) <= 1:
        batches = [one(j) for j in jobs]
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            batches = list(pool.map(one, jobs))
    return [r for batch in batches for r in batch]
