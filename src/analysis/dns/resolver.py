"""A small stub resolver over dnspython that never confuses "could not ask" with "no record".

Every check goes through `Resolver.query`, which returns an `Answer` whose `status` separates NXDOMAIN and
NODATA (the record really is absent) from timeouts, SERVFAIL and refusals (we do not know). It chases
CNAMEs itself (an authoritative server only follows them inside its own zones), bounds the chain, counts
queries against a budget so hostile data cannot make one check ask forever, and caches answers for the
life of the resolver so checking a thousand domains that include the same SPF record asks once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from analysis.errors import InputError

OK = "ok"
NXDOMAIN = "nxdomain"
NODATA = "nodata"
TIMEOUT = "timeout"
SERVFAIL = "servfail"
REFUSED = "refused"
INVALID = "invalid"  # the name itself cannot be asked (label too long, empty label)
BUDGET = "budget"  # the query budget of this check is spent

TEMPORARY = frozenset({TIMEOUT, SERVFAIL, REFUSED, BUDGET})
VOID = frozenset({NXDOMAIN, NODATA})


@dataclass(frozen=True)
class Answer:
    """The outcome of one question: status, the records of the asked type, the CNAME chain followed."""

    name: str
    rdtype: str
    status: str
    rdata: tuple[Any, ...] = ()
    cname_chain: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def temporary(self) -> bool:
        """True when the server could not tell us: never read this as "record missing"."""
        return self.status in TEMPORARY

    @property
    def void(self) -> bool:
        return self.status in VOID

    def texts(self) -> list[str]:
        """Records in presentation form (addresses, targets)."""
        return [r.to_text() for r in self.rdata]

    def txt_strings(self) -> list[tuple[bytes, ...]]:
        """TXT records as their character-strings, unjoined (length checks need the pieces)."""
        return [tuple(r.strings) for r in self.rdata]

    def txt_joined(self) -> list[bytes]:
        """TXT records with their strings concatenated, as RFC 7208 and RFC 6376 read them."""
        return [b"".join(r.strings) for r in self.rdata]


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True


def parse_nameserver(spec: str) -> tuple[str, int]:
    """'IP', 'IP:PORT', '[IPv6]:PORT' → (ip, port); a bad value is an InputError."""
    import ipaddress

    text = spec.strip()
    port = 53
    host = text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port_text = rest[1:]
        elif rest:
            raise InputError(f"--nameserver: {spec!r} is not IP[:PORT]")
        else:
            port_text = ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InputError(f"--nameserver: bad port in {spec!r}")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InputError(f"--nameserver: {spec!r} is not an IP address[:PORT]") from None
    return host, port


class Resolver:
    """Injectable stub resolver: nameservers, port, per-try timeout, total query budget, CNAME bound."""

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        port: int = 53,
        timeout: float = 2.0,
        tries: int = 2,
        budget: int = 500,
        max_cname: int = 8,
    ) -> None:
        if nameservers is None:
            try:
                nameservers = [str(ns) for ns in dns.resolver.Resolver().nameservers]
            except dns.resolver.NoResolverConfiguration:
                nameservers = []
        if not nameservers:
            raise InputError("no nameserver configured: pass --nameserver IP[:PORT]")
        self.nameservers = list(nameservers)
        self.port = port
        self.timeout = timeout
        self.tries = max(1, tries)
        self.max_cname = max_cname
        self.budget_limit = budget
        self._budget = _Budget(budget)
        self._asked = _Budget(2**62)  # shared with scoped children: questions that reached the network
        self._cache: dict[tuple[str, str], Answer] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str | None, **kwargs: Any) -> Resolver:
        """Build from a --nameserver value ('IP[:PORT]'); None means the system resolver."""
        if spec is None:
            return cls(**kwargs)
        host, port = parse_nameserver(spec)
        return cls([host], port=port, **kwargs)

    def scoped(self, budget: int | None = None) -> Resolver:
        """Same servers and cache, a fresh query budget: one per checked domain."""
        child = object.__new__(Resolver)
        child.__dict__.update(self.__dict__)
        child.budget_limit = self.budget_limit if budget is None else budget
        child._budget = _Budget(child.budget_limit)
        return child

    @property
    def queries_used(self) -> int:
        """Questions charged to this resolver's budget (cache hits are free)."""
        return self._budget.used

    @property
    def questions_asked(self) -> int:
        """Questions sent by this resolver and every scoped child (cache misses)."""
        return self._asked.used

    def query(self, name: str, rdtype: str) -> Answer:
        """Ask for `rdtype` at `name`, following CNAMEs across zones up to max_cname links."""
        chain: list[str] = []
        current = name
        for _ in range(self.max_cname + 1):
            ans = self._query_one(current, rdtype)
            if ans.status != "cname":
                return Answer(name, rdtype, ans.status, ans.rdata, tuple(chain) + ans.cname_chain)
            chain.extend(ans.cname_chain)
            current = chain[-1]
        return Answer(name, rdtype, SERVFAIL, (), tuple(chain))

    def _query_one(self, name: str, rdtype: str) -> Answer:
        key = (name.lower().rstrip("."), rdtype)
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        ans = self._ask(name, rdtype)
        if ans.status not in (TIMEOUT, BUDGET):
            with self._cache_lock:
                self._cache[key] = ans
        return ans

    def _ask(self, name: str, rdtype: str) -> Answer:
        try:
            qname = dns.name.from_text(name.rstrip(".") + ".") if name not in ("", ".") else dns.name.root
        except (dns.exception.DNSException, ValueError):
            return Answer(name, rdtype, INVALID)
        if not self._budget.take():
            return Answer(name, rdtype, BUDGET)
        self._asked.take()
        qtype = dns.rdatatype.from_text(rdtype)
        request = dns.message.make_query(qname, qtype, use_edns=0, payload=1232)
        request.flags |= dns.flags.RD
        response = None
        status = TIMEOUT
        for _attempt in range(self.tries):
            for ns in self.nameservers:
                try:
                    response, _tcp = dns.query.udp_with_fallback(
                        request, ns, timeout=self.timeout, port=self.port
                    )
                except (dns.exception.Timeout, OSError):
                    status = TIMEOUT
                    continue
                except dns.exception.DNSException:
                    status = SERVFAIL
                    continue
                rcode = response.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    break
                status = REFUSED if rcode == dns.rcode.REFUSED else SERVFAIL
                response = None
            if response is not None:
                break
        if response is None:
            return Answer(name, rdtype, status)
        return _interpret(name, rdtype, qname, qtype, response)


def _interpret(
    name: str,
    rdtype: str,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    response: dns.message.Message,
) -> Answer:
    # Walk the CNAME chain inside this response; if it ends without the asked type, the caller asks again.
    chain: list[str] = []
    owner = qname
    for _ in range(16):
        rrset = response.get_rrset(response.answer, owner, dns.rdataclass.IN, qtype)
        if rrset is not None:
            return Answer(name, rdtype, OK, tuple(rrset), tuple(chain))
        if qtype == dns.rdatatype.CNAME:
            break
        cname = response.get_rrset(response.answer, owner, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            break
        owner = cname[0].target
        chain.append(owner.to_text(omit_final_dot=True))
    if chain:
        if response.rcode() == dns.rcode.NXDOMAIN:
            return Answer(name, rdtype, NXDOMAIN, (), tuple(chain))
        return Answer(name, rdtype, "cname", (), tuple(chain))
    if response.rcode() == dns.rcode.NXDOMAIN:
        return Answer(name, rdtype, NXDOMAIN)
    return Answer(name, rdtype, NODATA)
