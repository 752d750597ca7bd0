"""DNS blocklists: reversed IPv4 octets or IPv6 nibbles (or a domain) under the list's zone.

Answers are decoded per list (Spamhaus ZEN and DBL return codes). 127.255.255.x (and DBL's 127.0.1.255)
mean the list refused the query, typically because it came through a public resolver, so they are
reported as query errors and never as listings; answers outside 127/8 suggest a wildcarded zone.
"""

from __future__ import annotations

import ipaddress

from analysis.dns.findings import LISTED, NOT_LISTED, QUERY_ERROR, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.taglist import decode_txt

ZEN = {
    "127.0.0.2": "SBL (Spamhaus Block List)",
    "127.0.0.3": "SBL CSS (snowshoe spam)",
    "127.0.0.4": "XBL (exploited host / CBL)",
    "127.0.0.5": "XBL (exploited host)",
    "127.0.0.6": "XBL (exploited host)",
    "127.0.0.7": "XBL (exploited host)",
    "127.0.0.9": "DROP (hijacked netblock)",
    "127.0.0.10": "PBL (ISP policy: end-user range)",
    "127.0.0.11": "PBL (Spamhaus policy: end-user range)",
}
DBL = {
    "127.0.1.2": "DBL spam domain",
    "127.0.1.4": "DBL phishing domain",
    "127.0.1.5": "DBL malware domain",
    "127.0.1.6": "DBL botnet C&C domain",
    "127.0.1.102": "DBL abused legit spam",
    "127.0.1.103": "DBL abused spammed redirector",
    "127.0.1.104": "DBL abused legit phish",
    "127.0.1.105": "DBL abused legit malware",
    "127.0.1.106": "DBL abused legit botnet C&C",
}
ERRORS = {
    "127.255.255.252": "typing error in the DNSBL name",
    "127.255.255.254": "query through a public/open resolver",
    "127.255.255.255": "excessive number of queries",
    "127.0.1.255": "IP queries are not allowed on a domain list",
}
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def query_name(subject: str, zone: str) -> str:
    """The name to look up: reversed octets (IPv4), reversed nibbles (IPv6) or the domain itself."""
    try:
        addr = ipaddress.ip_address(subject)
    except ValueError:
        return f"{subject.rstrip('.')}.{zone}"
    if addr.version == 4:
        return ".".join(reversed(str(addr).split("."))) + f".{zone}"
    return ".".join(reversed(addr.exploded.replace(":", ""))) + f".{zone}"


def decode(code: str, decoder: str) -> str:
    """What a listing answer means for this list."""
    table = ZEN if decoder == "spamhaus-zen" else DBL if decoder == "spamhaus-dbl" else {}
    return table.get(code, f"listed ({code})")


def check_dnsbl(subject: str, zone: str, resolver: Resolver, decoder: str = "generic") -> CheckResult:
    """Is `subject` (IP or domain) on the list at `zone`? Errors and refusals are not listings."""
    check = f"dnsbl:{zone}"
    name = query_name(subject, zone)
    ans = resolver.query(name, "A")
    if ans.temporary:
        return temperror(subject, check, f"A {name}", ans.status)
    res = CheckResult(subject, check, NOT_LISTED)
    if not ans.ok:
        res.add("dnsbl.not_listed", f"not listed on {zone}")
        return res
    codes = sorted(ans.texts(), key=ipaddress.ip_address)
    res.record = " ".join(codes)
    errors = [c for c in codes if c in ERRORS]
    odd = [c for c in codes if c not in ERRORS and ipaddress.ip_address(c) not in LOOPBACK]
    listings = [c for c in codes if c not in ERRORS and c not in odd]
    for c in errors:
        res.add("dnsbl.query_refused", f"{zone} answered {c}: {ERRORS[c]}")
    for c in odd:
        res.add("dnsbl.unexpected_answer", f"{zone} answered {c}")
    if errors or odd:
        res.state = QUERY_ERROR
    if listings:
        res.state = LISTED
        reason = ""
        txt = resolver.query(name, "TXT")
        if txt.ok:
            reason = decode_txt(txt.txt_joined()[0])[:200]
        res.data.update(codes=listings, meanings=[decode(c, decoder) for c in listings], reason=reason)
        for c in listings:
            res.add(
                "dnsbl.listed",
                f"{subject} on {zone}: {decode(c, decoder)}" + (f" — {reason}" if reason else ""),
            )
    return res
