"""SPF evaluation per RFC 7208: our own check_host, so results are explainable and limits are ours.

The parser reads the whole record before evaluating anything (a syntax error anywhere is a permerror,
§4.6), macro strings are tokenised once and expanded per evaluation (§7), and the evaluator counts
DNS-querying terms (limit 10) and void lookups (limit 2) across includes and redirects (§4.6.4).
"""

from __future__ import annotations

import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from analysis.dns.resolver import Answer, Resolver

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
LOOKUP_LIMIT = 10
VOID_LIMIT = 2
MX_LIMIT = 10
PTR_LIMIT = 10

_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*)=(.*)$", re.DOTALL)
_DIRECTIVE = re.compile(r"^([+\-~?]?)(all|include|exists|a|mx|ptr|ip4|ip6)(?=$|[:/])(.*)$", re.I | re.DOTALL)
_DOMAIN_CIDR = re.compile(r"^(?::(?P<d>.+?))?(?P<c4>/[0-9]+)?(?P<c6>//[0-9]+)?$", re.DOTALL)
_IP_CIDR = re.compile(r"^:(?P<net>[^/]+)(?P<c>/[0-9]+)?$", re.DOTALL)
_CIDR4 = re.compile(r"^/(0|[1-9][0-9]?)$")
_CIDR6 = re.compile(r"^/(0|[1-9][0-9]?[0-9]?)$")
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4_NET = re.compile(rf"^{_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM}$")
_TOPLABEL = re.compile(r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$")
_MACRO = re.compile(r"\{([A-Za-z])([0-9]*)([rR]?)([.\-+,/_=]*)\}")
_LETTERS = frozenset("slodiphv")
_EXP_LETTERS = frozenset("slodiphvcrt")


class SpfSyntaxError(ValueError):
    """The record is not valid RFC 7208 syntax: check_host answers permerror."""


class _Abort(Exception):
    def __init__(self, result: str, problem: str) -> None:
        super().__init__(problem)
        self.result = result
        self.problem = problem


# --- macro strings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Macro:
    letter: str  # lower case
    digits: int | None
    reverse: bool
    delimiters: str
    escape: bool  # upper-case letter: URL-escape the value


Token = str | Macro


def parse_macro_string(text: str, *, explain: bool = False) -> list[Token]:
    """Tokenise a macro-string (§7.1); `explain` admits spaces and the c/r/t letters of exp= text."""
    out: list[Token] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt == "%":
                literal.append("%")
                i += 2
                continue
            if nxt == "_":
                literal.append(" ")
                i += 2
                continue
            if nxt == "-":
                literal.append("%20")
                i += 2
                continue
            m = _MACRO.match(text, i + 1)
            if nxt != "{" or m is None:
                raise SpfSyntaxError(f"invalid macro at {text[i : i + 8]!r}")
            letter = m.group(1)
            if letter.lower() not in (_EXP_LETTERS if explain else _LETTERS):
                raise SpfSyntaxError(f"macro letter {letter!r} not allowed here")
            digits = int(m.group(2)) if m.group(2) else None
            if digits == 0:
                raise SpfSyntaxError("macro digit transformer must be nonzero")
            if literal:
                out.append("".join(literal))
                literal = []
            out.append(Macro(letter.lower(), digits, bool(m.group(3)), m.group(4), letter.isupper()))
            i = m.end()
            continue
        if not (0x21 <= ord(ch) <= 0x7E) and not (explain and ch == " "):
            raise SpfSyntaxError(f"character {ch!r} not allowed in a macro string")
        literal.append(ch)
        i += 1
    if literal:
        out.append("".join(literal))
    return out


def parse_domain_spec(text: str) -> list[Token]:
    """A macro-string that must end in a macro or in '.' toplabel (§7.1 domain-end)."""
    tokens = parse_macro_string(text)
    if not tokens:
        raise SpfSyntaxError("empty domain-spec")
    last = tokens[-1]
    if isinstance(last, Macro):
        return tokens
    tail = last[:-1] if last.endswith(".") else last
    if "." not in tail:
        if len(tokens) > 1 or not tail:
            raise SpfSyntaxError(f"domain-spec {text!r} does not end in a top label")
        raise SpfSyntaxError(f"domain-spec {text!r} is a single label")
    top = tail.rsplit(".", 1)[1]
    if not _TOPLABEL.match(top):
        raise SpfSyntaxError(f"domain-spec {text!r} has an invalid top label {top!r}")
    return tokens


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mechanism:
    qualifier: str  # one of + - ~ ?
    kind: str
    text: str  # the term as written
    domain: tuple[Token, ...] | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cidr4: int = 32
    cidr6: int = 128


@dataclass(frozen=True)
class Record:
    """A parsed SPF record: mechanisms in order, redirect/exp, unknown modifiers kept for audits."""

    text: str
    mechanisms: tuple[Mechanism, ...]
    redirect: tuple[Token, ...] | None = None
    redirect_text: str | None = None
    exp: tuple[Token, ...] | None = None
    unknown_modifiers: tuple[str, ...] = ()

    def lookup_terms(self) -> int:
        """DNS-querying terms in this record alone (not counting what includes pull in)."""
        n = sum(1 for m in self.mechanisms if m.kind in LOOKUP_TERMS)
        return n + (1 if self.redirect is not None and not self.has_all else 0)

    @property
    def has_all(self) -> bool:
        return any(m.kind == "all" for m in self.mechanisms)


def is_spf_record(txt: bytes) -> bool:
    """Whether a joined TXT record is an SPF version 1 record (§4.5)."""
    return bool(_VERSION.match(txt.decode("latin-1")))


def _cidr(text: str | None, pattern: re.Pattern[str], default: int, limit: int, term: str) -> int:
    if text is None:
        return default
    m = pattern.match(text)
    if not m or int(m.group(1)) > limit:
        raise SpfSyntaxError(f"invalid CIDR length in {term!r}")
    return int(m.group(1))


def _parse_mechanism(term: str, m: re.Match[str]) -> Mechanism:
    qualifier = m.group(1) or "+"
    kind = m.group(2).lower()
    rest = m.group(3)
    if kind == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return Mechanism(qualifier, kind, term)
    if kind in ("include", "exists"):
        if not rest.startswith(":") or len(rest) < 2:
            raise SpfSyntaxError(f"{kind} needs a domain: {term!r}")
        return Mechanism(qualifier, kind, term, tuple(parse_domain_spec(rest[1:])))
    if kind == "ptr":
        if rest and not rest.startswith(":"):
            raise SpfSyntaxError(f"invalid ptr term {term!r}")
        dom = tuple(parse_domain_spec(rest[1:])) if rest else None
        return Mechanism(qualifier, kind, term, dom)
    if kind in ("a", "mx"):
        dm = _DOMAIN_CIDR.match(rest)
        if dm is None:
            raise SpfSyntaxError(f"invalid {kind} term {term!r}")
        dom = tuple(parse_domain_spec(dm.group("d"))) if dm.group("d") is not None else None
        c4 = _cidr(dm.group("c4"), _CIDR4, 32, 32, term)
        c6 = _cidr(dm.group("c6")[1:] if dm.group("c6") else None, _CIDR6, 128, 128, term)
        return Mechanism(qualifier, kind, term, dom, None, c4, c6)
    im = _IP_CIDR.match(rest)
    if im is None:
        raise SpfSyntaxError(f"invalid {kind} term {term!r}")
    net_text = im.group("net")
    try:
        if kind == "ip4":
            if not _IP4_NET.match(net_text):
                raise ValueError(net_text)
            prefix = _cidr(im.group("c"), _CIDR4, 32, 32, term)
            network: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.IPv4Network(
                f"{net_text}/{prefix}", strict=False
            )
        else:
            prefix = _cidr(im.group("c"), _CIDR6, 128, 128, term)
            network = ipaddress.IPv6Network(f"{ipaddress.IPv6Address(net_text)}/{prefix}", strict=False)
    except ValueError:
        raise SpfSyntaxError(f"invalid address in {term!r}") from None
    return Mechanism(qualifier, kind, term, None, network)


def parse_record(text: str) -> Record:
    """Parse a complete `v=spf1 ...` record; raises SpfSyntaxError for anything §4.6 calls invalid."""
    if not _VERSION.match(text):
        raise SpfSyntaxError("not an SPF version 1 record")
    if any(ord(c) > 0x7E for c in text):
        raise SpfSyntaxError("SPF records are 7-bit ASCII")
    mechanisms: list[Mechanism] = []
    redirect = exp = None
    redirect_text = None
    unknown: list[str] = []
    for term in text[6:].split(" "):
        if term == "":
            continue
        dm = _DIRECTIVE.match(term)
        if dm is not None:
            mechanisms.append(_parse_mechanism(term, dm))
            continue
        mm = _MODIFIER.match(term)
        if mm is None:
            raise SpfSyntaxError(f"unknown term {term!r}")
        name, value = mm.group(1).lower(), mm.group(2)
        if name == "redirect":
            if redirect is not None:
                raise SpfSyntaxError("more than one redirect=")
            redirect, redirect_text = tuple(parse_domain_spec(value)), value
        elif name == "exp":
            if exp is not None:
                raise SpfSyntaxError("more than one exp=")
            exp = tuple(parse_domain_spec(value))
        else:
            parse_macro_string(value)
            unknown.append(term)
    return Record(text, tuple(mechanisms), redirect, redirect_text, exp, tuple(unknown))


# --- evaluation ----------------------------------------------------------------------------------


@dataclass
class SpfResult:
    """check_host's answer with the evidence: which term matched, how many lookups it took, why errors."""

    result: str
    domain: str
    explanation: str | None = None
    mechanism: str | None = None
    problem: str | None = None
    lookups: int = 0
    void_lookups: int = 0
    record: str | None = None
    trace: list[str] = field(default_factory=list)


def _ip_of(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(ip.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def valid_domain(domain: str) -> bool:
    """A multi-label name with labels of 1..63 characters (§4.3): anything else makes check_host 'none'."""
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or len(name) > 253 or name.startswith("["):
        return False
    labels = name.split(".")
    return len(labels) >= 2 and all(0 < len(label) <= 63 for label in labels)


class _Evaluation:
    def __init__(
        self,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
        sender: str,
        helo: str,
        resolver: Resolver,
        receiver: str,
    ) -> None:
        self.ip = ip
        local, _, sender_domain = sender.rpartition("@")
        self.local = local or "postmaster"
        self.sender_domain = sender_domain
        self.sender = f"{self.local}@{sender_domain}"
        self.helo = helo
        self.resolver = resolver
        self.receiver = receiver
        self.lookups = 0
        self.voids = 0
        self.trace: list[str] = []
        self._validated: str | None = None

    # -- DNS helpers
    def query(self, name: str, rdtype: str) -> Answer:
        ans = self.resolver.query(name, rdtype)
        self.trace.append(f"{rdtype} {name}: {ans.status}")
        return ans

    def count(self, term: str) -> None:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            raise _Abort("permerror", f"more than {LOOKUP_LIMIT} DNS-querying terms ({term})")

    def void(self, ans: Answer) -> None:
        if ans.void:
            self.voids += 1
            if self.voids > VOID_LIMIT:
                raise _Abort("permerror", f"more than {VOID_LIMIT} void lookups ({ans.name})")

    def addresses(self, name: str) -> Answer:
        return self.query(name, "A" if self.ip.version == 4 else "AAAA")

    # -- macros
    def macro_value(self, letter: str, domain: str) -> str:
        if letter == "s":
            return self.sender
        if letter == "l":
            return self.local
        if letter == "o":
            return self.sender_domain
        if letter == "d":
            return domain
        if letter == "i":
            if self.ip.version == 4:
                return str(self.ip)
            return ".".join(self.ip.exploded.replace(":", "").upper())
        if letter == "p":
            return self.validated_name(domain)
        if letter == "v":
            return "in-addr" if self.ip.version == 4 else "ip6"
        if letter == "h":
            return self.helo
        if letter == "c":
            return str(self.ip)
        if letter == "r":
            return self.receiver
        if letter == "t":
            return str(int(time.time()))
        raise SpfSyntaxError(f"unknown macro letter {letter!r}")

    def expand(self, tokens: tuple[Token, ...] | list[Token], domain: str, *, is_domain: bool = True) -> str:
        parts: list[str] = []
        for tok in tokens:
            if isinstance(tok, str):
                parts.append(tok)
                continue
            value = self.macro_value(tok.letter, domain)
            delims = tok.delimiters or "."
            pieces = re.split("[" + re.escape(delims) + "]", value)
            if tok.reverse:
                pieces.reverse()
            if tok.digits is not None:
                pieces = pieces[-tok.digits :]
            value = ".".join(pieces)
            if tok.escape:
                value = urllib.parse.quote(value, safe="")
            parts.append(value)
        out = "".join(parts)
        if is_domain:
            while len(out.rstrip(".")) > 253 and "." in out:
                out = out.split(".", 1)[1]
        return out

    def validated_name(self, domain: str) -> str:
        """The %{p} macro: a PTR name that resolves back to the client IP, preferring one under domain."""
        if self._validated is not None:
            return self._validated
        names = self.validated_names()
        chosen = "unknown"
        for n in names:
            if n.lower() == domain.lower() or n.lower().endswith("." + domain.lower()):
                chosen = n
                break
        else:
            if names:
                chosen = names[0]
        self._validated = chosen
        return chosen

    def validated_names(self) -> list[str]:
        ptr = self.query(self.ip.reverse_pointer, "PTR")
        if not ptr.ok:
            if ptr.void:
                self.void(ptr)
            return []
        names = [r.target.to_text(omit_final_dot=True) for r in ptr.rdata][:PTR_LIMIT]
        out = []
        for n in names:
            ans = self.addresses(n)
            if ans.ok and any(_ip_of(a) == self.ip for a in ans.texts()):
                out.append(n)
        return out

    # -- the algorithm
    def check_host(self, domain: str) -> SpfResult:
        domain = domain[:-1] if domain.endswith(".") else domain
        try:
            result, explanation, mech, record = self._check(domain)
            problem = None
        except _Abort as exc:
            result, explanation, mech, record, problem = exc.result, None, None, None, exc.problem
        return SpfResult(
            result, domain, explanation, mech, problem, self.lookups, self.voids, record, self.trace
        )

    def _record(self, domain: str) -> Record | None:
        if not valid_domain(domain):
            return None
        ans = self.query(domain, "TXT")
        if ans.temporary:
            raise _Abort("temperror", f"TXT {domain}: {ans.status}")
        if not ans.ok:
            return None
        found = [t for t in ans.txt_joined() if is_spf_record(t)]
        if not found:
            return None
        if len(found) > 1:
            raise _Abort("permerror", f"{domain} publishes {len(found)} SPF records")
        try:
            return parse_record(found[0].decode("latin-1"))
        except SpfSyntaxError as exc:
            raise _Abort("permerror", f"{domain}: {exc}") from None

    def _check(self, domain: str) -> tuple[str, str | None, str | None, str | None]:
        record = self._record(domain)
        if record is None:
            return "none", None, None, None
        for mech in record.mechanisms:
            if self.matches(mech, domain):
                result = QUALIFIERS[mech.qualifier]
                explanation = self.explain(record, domain) if result == "fail" else None
                return result, explanation, mech.text, record.text
        if record.redirect is not None:
            self.count("redirect")
            target = self.expand(record.redirect, domain)
            if not valid_domain(target):
                raise _Abort("permerror", f"redirect to invalid domain {target!r}")
            result, explanation, matched, rec = self._check(target)
            if result == "none":
                raise _Abort("permerror", f"redirect target {target} has no SPF record")
            return result, explanation, matched, rec
        return "neutral", None, None, record.text

    def explain(self, record: Record, domain: str) -> str | None:
        if record.exp is None:
            return None
        try:
            target = self.expand(record.exp, domain)
            ans = self.resolver.query(target, "TXT")
            if not ans.ok or len(ans.rdata) != 1:
                return None
            text = ans.txt_joined()[0].decode("ascii")
            return self.expand(parse_macro_string(text, explain=True), domain, is_domain=False)
        except (SpfSyntaxError, UnicodeDecodeError):
            return None

    def target(self, mech: Mechanism, domain: str) -> str:
        return domain if mech.domain is None else self.expand(mech.domain, domain)

    def matches(self, mech: Mechanism, domain: str) -> bool:
        kind = mech.kind
        if kind == "all":
            return True
        if kind in ("ip4", "ip6"):
            assert mech.network is not None
            return self.ip.version == mech.network.version and self.ip in mech.network
        self.count(kind)
        target = self.target(mech, domain)
        if kind == "include":
            if not valid_domain(target):
                raise _Abort("permerror", f"include of invalid domain {target!r}")
            result, _exp, _m, _r = self._check(target)
            if result == "pass":
                return True
            if result in ("fail", "softfail", "neutral"):
                return False
            if result == "temperror":
                raise _Abort("temperror", f"include:{target} gave temperror")
            raise _Abort("permerror", f"include:{target} gave {result}")
        if kind == "a":
            return self._match_hosts([target], mech, first=True)
        if kind == "mx":
            ans = self.query(target, "MX")
            self._temporary(ans)
            self.void(ans)
            if not ans.ok:
                return False
            if len(ans.rdata) > MX_LIMIT:
                raise _Abort("permerror", f"{target} has more than {MX_LIMIT} MX records")
            hosts = [
                r.exchange.to_text(omit_final_dot=True) for r in sorted(ans.rdata, key=lambda r: r.preference)
            ]
            return self._match_hosts([h for h in hosts if h], mech, first=False)
        if kind == "ptr":
            return any(
                n.lower() == target.lower() or n.lower().endswith("." + target.lower())
                for n in self.validated_names()
            )
        # exists: an A query whatever the client's address family (§5.7)
        ans = self.query(target, "A")
        self._temporary(ans)
        self.void(ans)
        return ans.ok

    def _temporary(self, ans: Answer) -> None:
        if ans.temporary:
            raise _Abort("temperror", f"{ans.rdtype} {ans.name}: {ans.status}")

    def _match_hosts(self, hosts: list[str], mech: Mechanism, *, first: bool) -> bool:
        prefix = mech.cidr4 if self.ip.version == 4 else mech.cidr6
        for host in hosts:
            if first and not valid_domain(host):
                continue  # a name that is not a domain after expansion matches nothing (§4.3, suite)
            ans = self.addresses(host)
            self._temporary(ans)
            if first:
                self.void(ans)
            if not ans.ok:
                continue
            for text in ans.texts():
                net = ipaddress.ip_network(f"{text}/{prefix}", strict=False)
                if self.ip in net:
                    return True
        return False


def check_host(
    ip: str,
    domain: str,
    sender: str,
    *,
    helo: str = "",
    resolver: Resolver | None = None,
    receiver: str = "unknown",
) -> SpfResult:
    """RFC 7208 check_host(): is `ip` allowed to send for `domain` (the MAIL FROM or HELO domain)?

    An empty `sender` is the null reverse-path: SPF then checks postmaster@helo.
    """
    try:
        addr = _ip_of(ip)
    except ValueError:
        return SpfResult("permerror", domain, problem=f"{ip!r} is not an IP address")
    if not sender:
        sender = f"postmaster@{helo}"
    elif "@" not in sender:
        sender = f"postmaster@{sender}"
    ev = _Evaluation(addr, sender, helo, resolver or Resolver(), receiver)
    if not valid_domain(domain):
        return SpfResult("none", domain, problem=f"{domain!r} is not a valid multi-label domain")
    return ev.check_host(domain)
