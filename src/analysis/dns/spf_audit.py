"""SPF record findings: what is wrong with a domain's record, and whether it lets the relay send.

The lookup and void counts walk the include/redirect tree the way an evaluation would (without macros,
which depend on the message), and relay authorisation runs check_host for each relay IP: evaluated, not
string-matched, so an include chain or an ip4 range that covers the relay both count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from analysis.dns.findings import INVALID, MISSING, PRESENT, CheckResult, temperror
from analysis.dns.resolver import Resolver
from analysis.dns.spf import (
    LOOKUP_LIMIT,
    LOOKUP_TERMS,
    VOID_LIMIT,
    Macro,
    Record,
    SpfSyntaxError,
    check_host,
    is_spf_record,
    parse_record,
)

LONG_RECORD = 450
MAX_TREE = 30  # records visited by the static walk, whatever the record says


@dataclass
class _Walk:
    lookups: int = 0
    voids: int = 0
    visited: int = 0
    uses_ptr: bool = False
    errors: list[str] = field(default_factory=list)


def _literal(tokens: tuple[object, ...] | None) -> str | None:
    if tokens is None or any(isinstance(t, Macro) for t in tokens):
        return None
    return "".join(str(t) for t in tokens)


def _walk(resolver: Resolver, record: Record, walk: _Walk, seen: set[str]) -> None:
    walk.visited += 1
    for mech in record.mechanisms:
        if mech.kind not in LOOKUP_TERMS:
            continue
        walk.lookups += 1
        walk.uses_ptr = walk.uses_ptr or mech.kind == "ptr"
        target = _literal(mech.domain)
        if mech.kind == "include" and target:
            _follow(resolver, target, walk, seen)
        elif mech.kind in ("a", "mx", "exists") and target:
            ans = resolver.query(target, "MX" if mech.kind == "mx" else "A")
            if ans.void:
                walk.voids += 1
    if record.redirect is not None and not record.has_all:
        walk.lookups += 1
        target = _literal(record.redirect)
        if target:
            _follow(resolver, target, walk, seen)


def _follow(resolver: Resolver, domain: str, walk: _Walk, seen: set[str]) -> None:
    key = domain.lower().rstrip(".")
    if key in seen or walk.visited >= MAX_TREE:
        return
    seen.add(key)
    ans = resolver.query(domain, "TXT")
    if ans.void:
        walk.voids += 1
        return
    records = [t for t in ans.txt_joined() if is_spf_record(t)] if ans.ok else []
    if len(records) != 1:
        return
    try:
        _walk(resolver, parse_record(records[0].decode("latin-1")), walk, seen)
    except SpfSyntaxError as exc:
        walk.errors.append(f"{domain}: {exc}")


def audit_spf(domain: str, resolver: Resolver, relay_ips: Sequence[str] = ()) -> CheckResult:
    """The SPF observation of `domain`: state, record, findings and the facts behind them."""
    ans = resolver.query(domain, "TXT")
    if ans.temporary:
        return temperror(domain, "spf", f"TXT {domain}", ans.status)
    pieces = [s for s in ans.txt_strings() if is_spf_record(b"".join(s))] if ans.ok else []
    res = CheckResult(domain, "spf", PRESENT)
    if not pieces:
        res.state = MISSING
        res.add("spf.missing", f"{domain} publishes no v=spf1 TXT record")
        return res
    texts = [b"".join(p).decode("latin-1") for p in pieces]
    res.record = texts[0] if len(texts) == 1 else " | ".join(texts)
    if len(texts) > 1:
        res.state = INVALID
        res.add("spf.multiple", f"{domain} publishes {len(texts)} SPF records")
        return res
    text = texts[0]
    if len(pieces[0]) > 1:
        res.add("spf.multi_string", f"the record is {len(pieces[0])} TXT strings joined")
    if len(text) > LONG_RECORD:
        res.add("spf.record_long", f"the record is {len(text)} octets")
    try:
        record = parse_record(text)
    except SpfSyntaxError as exc:
        res.state = INVALID
        code = "spf.non_ascii" if "ASCII" in str(exc) else "spf.syntax"
        res.add(code, str(exc))
        return res
    walk = _Walk()
    _walk(resolver, record, walk, {domain.lower().rstrip(".")})
    res.data.update(lookups=walk.lookups, void_lookups=walk.voids)
    if walk.lookups > LOOKUP_LIMIT:
        res.add("spf.too_many_lookups", f"{walk.lookups} DNS-querying terms (limit {LOOKUP_LIMIT})")
    elif walk.lookups >= LOOKUP_LIMIT - 1:
        res.add("spf.many_lookups", f"{walk.lookups} DNS-querying terms (limit {LOOKUP_LIMIT})")
    if walk.voids > VOID_LIMIT:
        res.add("spf.too_many_void", f"{walk.voids} void lookups (limit {VOID_LIMIT})")
    for err in walk.errors:
        res.add("spf.syntax", f"included record {err}")
    if walk.uses_ptr:
        res.add("spf.ptr", "the record (or an include) uses the ptr mechanism")
    alls = [m for m in record.mechanisms if m.kind == "all"]
    qualifier = alls[0].qualifier if alls else None
    res.data["all"] = qualifier
    if qualifier == "+":
        res.add("spf.plus_all", f"'{alls[0].text}' authorises every host on the Internet")
    elif qualifier == "?":
        res.add("spf.neutral_all", f"'{alls[0].text}' makes unlisted senders neutral")
    elif qualifier is None and record.redirect is None:
        res.add("spf.no_all", "no 'all' mechanism and no redirect=")
    authorized = []
    for ip in relay_ips:
        r = check_host(ip, domain, f"postmaster@{domain}", helo=domain, resolver=resolver)
        if r.result == "pass":
            authorized.append(ip)
            res.add("spf.relay_authorized", f"relay IP {ip} passes ({r.mechanism})")
        elif r.result in ("permerror", "temperror"):
            res.add("spf.relay_unknown", f"relay IP {ip}: {r.result} ({r.problem})")
        else:
            res.add("spf.relay_not_authorized", f"relay IP {ip} gets {r.result}, not pass")
    res.data["relay_ips_authorized"] = authorized
    if not res.findings:
        res.add("spf.ok", "one valid record")
    return res
