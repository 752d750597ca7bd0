"""The stub resolver's states: timeouts against a silent port, SERVFAIL, NXDOMAIN vs NODATA, CNAME chains
across zones and loops, the PSL test vectors for the organisational domain, and --nameserver parsing."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import publicsuffixlist
import pytest

from analysis.dns.dkim import check_dkim
from analysis.dns.dmarc import org_domain, walk_names
from analysis.dns.resolver import Resolver, parse_nameserver
from analysis.dns.spf import check_host
from analysis.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsserver import NSDServer, SilentUDP, nsd_available, txt


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not nsd_available():
        pytest.skip("NSD (Debian nsd) is not installed")
    server = NSDServer(tmp_path_factory.mktemp("nsd-resolver"))
    server.serve(
        {
            "test": [],
            "a.test": [
                f"spf IN TXT {txt('v=spf1 -all')}",
                "onlya IN A 192.0.2.1",
                "alias IN CNAME spf.b.test.",  # crosses into another zone: the stub must chase it
                "loop1 IN CNAME loop2.a.test.",
                "loop2 IN CNAME loop1.a.test.",
                "deadend IN CNAME nothing.b.test.",
            ],
            "b.test": [f"spf IN TXT {txt('v=spf1 ip4:192.0.2.0/24 -all')}"],
            "broken.test": None,
        }
    )
    yield server
    server.stop()


@pytest.fixture()
def resolver(nsd: NSDServer) -> Resolver:
    return Resolver(["127.0.0.1"], port=nsd.port, timeout=1.0, tries=1)


@pytest.mark.parametrize(
    ("name", "rdtype", "status"),
    [
        ("spf.a.test", "TXT", "ok"),
        ("onlya.a.test", "TXT", "nodata"),
        ("missing.a.test", "TXT", "nxdomain"),
        ("x.broken.test", "TXT", "servfail"),
        ("alias.a.test", "TXT", "ok"),
        ("loop1.a.test", "TXT", "servfail"),
        ("deadend.a.test", "TXT", "nxdomain"),
        ("a" * 64 + ".a.test", "TXT", "invalid"),
    ],
)
@pytest.mark.nsd
def test_statuses(resolver: Resolver, name: str, rdtype: str, status: str) -> None:
    assert resolver.query(name, rdtype).status == status


@pytest.mark.nsd
def test_cname_chain_recorded(resolver: Resolver) -> None:
    ans = resolver.query("alias.a.test", "TXT")
    assert ans.cname_chain == ("spf.b.test",)
    assert ans.txt_joined() == [b"v=spf1 ip4:192.0.2.0/24 -all"]
    assert check_host("192.0.2.7", "alias.a.test", "x@alias.a.test", resolver=resolver).result == "pass"


@pytest.mark.nsd
def test_servfail_is_temperror_not_none(resolver: Resolver) -> None:
    assert (
        check_host("192.0.2.7", "x.broken.test", "", helo="x.broken.test", resolver=resolver).result
        == "temperror"
    )
    assert check_host("192.0.2.7", "missing.a.test", "", helo="h.a.test", resolver=resolver).result == "none"


def test_timeout_against_silent_port() -> None:
    with SilentUDP() as silent:
        r = Resolver(["127.0.0.1"], port=silent.port, timeout=0.2, tries=2)
        t0 = time.monotonic()
        ans = r.query("example.test", "TXT")
        elapsed = time.monotonic() - t0
        assert ans.status == "timeout" and ans.temporary and not ans.void
        assert 0.35 <= elapsed < 3.0
        assert check_host("192.0.2.1", "example.test", "a@example.test", resolver=r).result == "temperror"
        dk = check_dkim("example.test", "s1", r)
        assert dk.state == "temperror" and "dkim.missing" not in {f.code for f in dk.findings}
        # timeouts are not cached: the next question asks again
        assert r.query("example.test", "TXT").status == "timeout"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_nameserver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize("spec", ["localhost", "127.0.0.1:0", "127.0.0.1:99999", "1.2.3.4:x", "[::1]x"])
def test_parse_nameserver_rejects(spec: str) -> None:
    with pytest.raises(InputError):
        parse_nameserver(spec)


def _psl_vectors() -> list[tuple[str, str | None]]:
    path = Path(publicsuffixlist.__file__).with_name("test_psl.txt")
    pat = re.compile(r"^checkPublicSuffix\(('[^']+'|null), (null|'[^']+')\);")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = pat.match(line)
        if m and m.group(1) != "null":
            out.append((m.group(1).strip("'"), None if m.group(2) == "null" else m.group(2).strip("'")))
    return out


PSL = _psl_vectors()


def test_psl_vectors_found() -> None:
    assert len(PSL) >= 70


@pytest.mark.parametrize(("domain", "expected"), PSL, ids=[d for d, _e in PSL])
def test_psl_org_domain(domain: str, expected: str | None) -> None:
    assert org_domain(domain) == expected


def test_tree_walk_order() -> None:
    assert walk_names("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]
    long = ".".join("abcdefghij") + ".example.com"
    assert walk_names(long) == [
        long,
        "f.g.h.i.j.example.com",
        "g.h.i.j.example.com",
        "h.i.j.example.com",
        "i.j.example.com",
        "j.example.com",
        "example.com",
        "com",
    ]
