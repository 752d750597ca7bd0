"""DNS health checks against a real NSD on loopback, one server for the module, zones written here.

Keys are generated in the test with `cryptography` (RSA 1024/2048/3072, ed25519; a 768-bit modulus is
built from public numbers because cryptography will not generate keys that small).
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from analysis.dns.checks import CheckPlan, DomainTarget, check_domain, plan_checks, run_checks
from analysis.dns.dkim import check_dkim
from analysis.dns.dmarc import check_dmarc
from analysis.dns.dnsbl import check_dnsbl, query_name
from analysis.dns.mx import check_mx
from analysis.dns.ptr import check_ptr
from analysis.dns.resolver import Resolver
from analysis.dns.spf_audit import audit_spf
from analysis.dns.tlsrpt import check_tls_rpt
from analysis.errors import InputError
from analysis.inventory import DnsblZone, Inventory, Relay

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsserver import NSDServer, nsd_available, txt

pytestmark = [
    pytest.mark.nsd,
    pytest.mark.skipif(not nsd_available(), reason="NSD (Debian nsd) is not installed"),
]


def _spki(key: Any) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def rsa_p(bits: int) -> str:
    if bits < 1024:
        n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        return _spki(rsa.RSAPublicNumbers(65537, n).public_key())
    return _spki(rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key())


def ed_p() -> str:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


KEYS = {"768": rsa_p(768), "1024": rsa_p(1024), "2048": rsa_p(2048), "3072": rsa_p(3072), "ed": ed_p()}


def rec(owner: str, text: str) -> str:
    return f"{owner} IN TXT {txt(text)}"


def dkim_zone(key2048: str) -> list[str]:
    k = KEYS
    sel = "._domainkey.keys"
    return [
        rec("k768" + sel, "v=DKIM1; k=rsa; p=" + k["768"]),
        rec("k1024" + sel, "v=DKIM1; k=rsa; p=" + k["1024"]),
        rec("k2048" + sel, "v=DKIM1; k=rsa; p=" + key2048),
        rec("k3072" + sel, "v=DKIM1; p=" + k["3072"]),
        rec("ed" + sel, "v=DKIM1; k=ed25519; p=" + k["ed"]),
        rec("revoked" + sel, "v=DKIM1; k=rsa; p="),
        rec("testing" + sel, "v=DKIM1; t=y; p=" + k["2048"]),
        rec("sha1" + sel, "v=DKIM1; h=sha1; p=" + k["2048"]),
        rec("badver" + sel, "k=rsa; v=DKIM1; p=" + k["2048"]),
        rec("badkey" + sel, "v=DKIM1; p=bm90IGEga2V5"),
        rec("dup" + sel, f"v=DKIM1; p={k['2048']}; p={k['1024']}"),
        rec("two" + sel, "v=DKIM1; p=" + k["2048"]),
        rec("two" + sel, "v=DKIM1; p=" + k["1024"]),
        # delegated selectors: one to the relay's key names, one elsewhere, one dangling
        "rly._domainkey.keys IN CNAME rly.keys-tag.dkim.relay.test.",
        "other._domainkey.keys IN CNAME k1024._domainkey.keys.dns.test.",
        "dangling._domainkey.keys IN CNAME gone.dkim.relay.test.",
    ]


ZONES: dict[str, Any] = {
    "test": [],
    "relay.test": [
        "mta IN A 127.0.0.1",
        "mta IN AAAA 2001:db8::25",
        f"_spf IN TXT {txt('v=spf1 ip4:127.0.0.1 ip4:192.0.2.0/24 ip6:2001:db8::/64 -all')}",
        rec("rly.keys-tag.dkim", "v=DKIM1; k=rsa; p=" + KEYS["2048"]),
        f"*._report._dmarc.reports IN TXT {txt('v=DMARC1')}",
        "1.0.0.127.in-addr IN A 127.0.0.1",
    ],
    "dns.test": [
        *dkim_zone(KEYS["2048"]),
        # SPF variants
        f"good IN TXT {txt('v=spf1 include:_spf.relay.test -all')}",
        f"plusall IN TXT {txt('v=spf1 +all')}",
        f"qall IN TXT {txt('v=spf1 ip4:192.0.2.1 ?all')}",
        f"ptr IN TXT {txt('v=spf1 ptr -all')}",
        f"noall IN TXT {txt('v=spf1 ip4:192.0.2.1')}",
        f"two IN TXT {txt('v=spf1 -all')}",
        f"two IN TXT {txt('v=spf1 ~all')}",
        f"syntax IN TXT {txt('v=spf1 ip4:192.0.2.300 -all')}",
        f"notrelay IN TXT {txt('v=spf1 ip4:198.51.100.1 -all')}",
        f"long IN TXT {txt('v=spf1 ' + ' '.join(f'ip4:198.51.100.{i}' for i in range(30)) + ' -all')}",
        f"deep IN TXT {txt('v=spf1 ' + ' '.join(f'include:l{i}.dns.test' for i in range(6)) + ' -all')}",
        *[f"l{i} IN TXT {txt('v=spf1 a:h1.dns.test a:h2.dns.test -all')}" for i in range(6)],
        f"incbad IN TXT {txt('v=spf1 include:badinc.dns.test -all')}",
        f"badinc IN TXT {txt('v=spf1 bogus:term -all')}",
        f"voids IN TXT {txt('v=spf1 a:v1.dns.test a:v2.dns.test a:v3.dns.test include:_spf.relay.test -all')}",
        # DMARC variants
        f"_dmarc.reject IN TXT {txt('v=DMARC1; p=reject; rua=mailto:d@dns.test')}",
        f"_dmarc.pnone IN TXT {txt('v=DMARC1; p=none; rua=mailto:d@dns.test')}",
        f"_dmarc.norua IN TXT {txt('v=DMARC1; p=quarantine')}",
        f"_dmarc.badsyntax IN TXT {txt('v=DMARC1; p=block')}",
        f"_dmarc.notfirst IN TXT {txt('p=reject; v=DMARC1')}",
        f"_dmarc.duptag IN TXT {txt('v=DMARC1; p=reject; p=none; rua=mailto:d@dns.test')}",
        f"_dmarc.multi IN TXT {txt('v=DMARC1; p=reject')}",
        f"_dmarc.multi IN TXT {txt('v=DMARC1; p=none')}",
        f"_dmarc.pct IN TXT {txt('v=DMARC1; p=reject; pct=20; rua=mailto:d@dns.test')}",
        f"_dmarc.extok IN TXT {txt('v=DMARC1; p=reject; rua=mailto:agg@reports.relay.test')}",
        f"_dmarc.extbad IN TXT {txt('v=DMARC1; p=reject; rua=mailto:agg@vendor.test')}",
        f"_dmarc.parent IN TXT {txt('v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@dns.test')}",
        f"_dmarc.bis IN TXT {txt('v=DMARC1; p=reject; np=reject; t=y; psd=n; rua=mailto:d@dns.test')}",
        # MX variants
        "mxgood IN MX 10 mta.relay.test.",
        "mxnull IN MX 0 .",
        "mxdangling IN MX 10 nowhere.dns.test.",
        # TLS-RPT
        f"_smtp._tls.reject IN TXT {txt('v=TLSRPTv1; rua=mailto:tls@dns.test')}",
        f"_smtp._tls.pnone IN TXT {txt('v=TLSRPTv1; rua=ftp://x')}",
    ],
    "vendor.test": [],
    "broken.test": None,  # NSD fails to load it: SERVFAIL for every name inside
    "127.in-addr.arpa": [
        "1.0.0 IN PTR mta.relay.test.",
        "2.0.0 IN PTR mta.relay.test.",  # does not point back
    ],
    "8.b.d.0.1.0.0.2.ip6.arpa": [
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR mta.relay.test.",
    ],
    "bl.test": [
        "2.0.0.127 IN A 127.0.0.2",
        f"2.0.0.127 IN TXT {txt('test point')}",
        "10.0.0.127 IN A 127.0.0.10",
        "10.0.0.127 IN A 127.0.0.4",
        "20.0.0.127 IN A 127.255.255.254",
        "21.0.0.127 IN A 127.255.255.252",
        "30.0.0.127 IN A 10.0.0.1",
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.3",
        "spam.example.test IN A 127.0.1.2",
    ],
}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = NSDServer(tmp_path_factory.mktemp("nsd-checks"))
    server.serve(ZONES)
    yield server
    server.stop()


@pytest.fixture()
def resolver(nsd: NSDServer) -> Resolver:
    return Resolver(["127.0.0.1"], port=nsd.port, timeout=1.0, tries=1)


def codes(result: Any) -> set[str]:
    return {f.code for f in result.findings}


RELAY_IPS = ("127.0.0.1", "2001:db8::25")


@pytest.mark.parametrize(
    ("domain", "state", "must", "must_not"),
    [
        (
            "good.dns.test",
            "present",
            {"spf.relay_authorized", "spf.ok"} - {"spf.ok"},
            {"spf.relay_not_authorized"},
        ),
        ("plusall.dns.test", "present", {"spf.plus_all"}, set()),
        ("qall.dns.test", "present", {"spf.neutral_all", "spf.relay_not_authorized"}, set()),
        ("ptr.dns.test", "present", {"spf.ptr"}, set()),
        ("noall.dns.test", "present", {"spf.no_all"}, set()),
        ("two.dns.test", "invalid", {"spf.multiple"}, set()),
        ("syntax.dns.test", "invalid", {"spf.syntax"}, set()),
        ("notrelay.dns.test", "present", {"spf.relay_not_authorized"}, {"spf.relay_authorized"}),
        ("long.dns.test", "present", {"spf.record_long", "spf.multi_string"}, set()),
        ("deep.dns.test", "present", {"spf.too_many_lookups"}, set()),
        ("voids.dns.test", "present", {"spf.too_many_void"}, set()),
        ("absent.dns.test", "missing", {"spf.missing"}, set()),
        ("incbad.dns.test", "present", {"spf.syntax", "spf.relay_unknown"}, {"spf.relay_authorized"}),
        ("x.broken.test", "temperror", {"dns.temperror"}, {"spf.missing"}),
    ],
)
def test_spf_audit(resolver: Resolver, domain: str, state: str, must: set[str], must_not: set[str]) -> None:
    res = audit_spf(domain, resolver, RELAY_IPS)
    assert res.state == state, res.findings
    assert must <= codes(res), res.findings
    assert not (must_not & codes(res)), res.findings


def test_spf_relay_authorised_through_include(resolver: Resolver) -> None:
    res = audit_spf("good.dns.test", resolver, RELAY_IPS)
    assert res.data["relay_ips_authorized"] == list(RELAY_IPS)
    assert res.data["lookups"] == 1
    deep = audit_spf("deep.dns.test", resolver, ())
    assert deep.data["lookups"] == 18  # 6 includes + 2 a: in each


@pytest.mark.parametrize(
    ("selector", "state", "bits", "must"),
    [
        ("k768", "present", 768, {"dkim.key_broken"}),
        ("k1024", "present", 1024, {"dkim.key_weak"}),
        ("k2048", "present", 2048, {"dkim.ok", "dkim.multi_string"}),
        ("k3072", "present", 3072, {"dkim.ok"}),
        ("ed", "present", 256, {"dkim.ok"}),
        ("revoked", "present", None, {"dkim.revoked"}),
        ("testing", "present", 2048, {"dkim.testing"}),
        ("sha1", "present", 2048, {"dkim.sha1_only"}),
        ("badver", "invalid", None, {"dkim.bad_version"}),
        ("badkey", "invalid", None, {"dkim.bad_key"}),
        ("dup", "invalid", None, {"dkim.syntax"}),
        ("two", "invalid", None, {"dkim.multiple"}),
        ("rly", "present", 2048, {"dkim.cname_relay", "dkim.ok"}),
        ("other", "present", 1024, {"dkim.cname_foreign", "dkim.key_weak"}),
        ("dangling", "missing", None, {"dkim.missing"}),
        ("nothere", "missing", None, {"dkim.missing"}),
    ],
)
def test_dkim(resolver: Resolver, selector: str, state: str, bits: int | None, must: set[str]) -> None:
    res = check_dkim("keys.dns.test", selector, resolver, ("dkim.relay.test",))
    assert res.state == state, res.findings
    assert res.data.get("bits") == bits
    assert must <= codes(res), res.findings


def test_dkim_servfail_is_not_missing(resolver: Resolver) -> None:
    res = check_dkim("x.broken.test", "s1", resolver)
    assert res.state == "temperror"
    assert codes(res) == {"dns.temperror"}


@pytest.mark.parametrize(
    ("domain", "state", "p", "must"),
    [
        ("reject.dns.test", "present", "reject", {"dmarc.ok"}),
        ("pnone.dns.test", "present", "none", {"dmarc.p_none"}),
        ("norua.dns.test", "present", "quarantine", {"dmarc.no_rua"}),
        ("badsyntax.dns.test", "invalid", None, {"dmarc.syntax"}),
        ("notfirst.dns.test", "missing", None, {"dmarc.missing"}),  # not starting with v=DMARC1: discarded
        ("duptag.dns.test", "present", "reject", {"dmarc.duplicate_tag"}),
        ("multi.dns.test", "invalid", None, {"dmarc.multiple"}),
        ("pct.dns.test", "present", "reject", {"dmarc.pct_partial", "dmarc.removed_tag"}),
        ("extok.dns.test", "present", "reject", {"dmarc.rua_authorized"}),
        ("extbad.dns.test", "present", "reject", {"dmarc.rua_unauthorized"}),
        ("sub.parent.dns.test", "present", "quarantine", {"dmarc.inherited"}),
        ("bis.dns.test", "present", "reject", {"dmarc.testing"}),
        ("nodmarc.dns.test", "missing", None, {"dmarc.missing"}),
        ("a.b.c.d.e.f.g.h.i.j.dns.test", "missing", None, {"dmarc.missing"}),
        ("x.broken.test", "temperror", None, {"dns.temperror"}),
    ],
)
def test_dmarc(resolver: Resolver, domain: str, state: str, p: str | None, must: set[str]) -> None:
    res = check_dmarc(domain, resolver)
    assert res.state == state, res.findings
    assert res.data.get("p") == p
    assert must <= codes(res), res.findings


@pytest.mark.parametrize(
    ("dkim_ok", "envelope", "aspf_code"),
    [
        (True, "bounce.reject.dns.test", "dmarc.alignment_ok"),
        (True, "bounces.relay.test", "dmarc.alignment_dkim_only"),
        (False, "bounce.reject.dns.test", "dmarc.alignment_ok"),
        (False, "bounces.relay.test", "dmarc.alignment_impossible"),
    ],
)
def test_dmarc_alignment(resolver: Resolver, dkim_ok: bool, envelope: str, aspf_code: str) -> None:
    res = check_dmarc("reject.dns.test", resolver, dkim_can_align=dkim_ok, envelope_domain=envelope)
    assert aspf_code in codes(res)


def test_mx(resolver: Resolver) -> None:
    assert "mx.ok" in codes(check_mx("mxgood.dns.test", resolver))
    assert "mx.null" in codes(check_mx("mxnull.dns.test", resolver))
    assert "mx.unresolvable" in codes(check_mx("mxdangling.dns.test", resolver))
    assert check_mx("nomx.dns.test", resolver).state == "missing"
    assert check_mx("x.broken.test", resolver).state == "temperror"


def test_ptr_forward_confirmed(resolver: Resolver) -> None:
    ok = check_ptr("127.0.0.1", resolver, ["mta.relay.test"])
    assert ok.state == "present" and "ptr.ok" in codes(ok)
    v6 = check_ptr("2001:db8::25", resolver, ["mta.relay.test"])
    assert "ptr.ok" in codes(v6), v6.findings
    bad = check_ptr("127.0.0.2", resolver, ["mta.relay.test"])
    assert "ptr.not_confirmed" in codes(bad)
    assert check_ptr("127.0.0.9", resolver).state == "missing"
    assert "ptr.unexpected_name" in codes(check_ptr("127.0.0.1", resolver, ["other.relay.test"]))


def test_tls_rpt(resolver: Resolver) -> None:
    assert check_tls_rpt("reject.dns.test", resolver).state == "present"
    assert check_tls_rpt("pnone.dns.test", resolver).state == "invalid"
    assert check_tls_rpt("norua.dns.test", resolver).state == "missing"


def test_dnsbl_query_names() -> None:
    assert query_name("192.0.2.25", "zen.example") == "25.2.0.192.zen.example"
    assert query_name("2001:db8::25", "bl.test") == (
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"
    )
    assert query_name("example.com", "dbl.test") == "example.com.dbl.test"


@pytest.mark.parametrize(
    ("subject", "decoder", "state", "must"),
    [
        ("127.0.0.2", "spamhaus-zen", "listed", {"dnsbl.listed"}),
        ("127.0.0.10", "spamhaus-zen", "listed", {"dnsbl.listed"}),
        ("127.0.0.20", "spamhaus-zen", "error", {"dnsbl.query_refused"}),
        ("127.0.0.21", "spamhaus-zen", "error", {"dnsbl.query_refused"}),
        ("127.0.0.30", "generic", "error", {"dnsbl.unexpected_answer"}),
        ("127.0.0.1", "spamhaus-zen", "not_listed", {"dnsbl.not_listed"}),
        ("2001:db8::25", "spamhaus-zen", "listed", {"dnsbl.listed"}),
        ("spam.example.test", "spamhaus-dbl", "listed", {"dnsbl.listed"}),
        ("ham.example.test", "spamhaus-dbl", "not_listed", {"dnsbl.not_listed"}),
    ],
)
def test_dnsbl(resolver: Resolver, subject: str, decoder: str, state: str, must: set[str]) -> None:
    res = check_dnsbl(subject, "bl.test", resolver, decoder)
    assert res.state == state, res.findings
    assert must <= codes(res)
    assert ("dnsbl.listed" in codes(res)) == (state == "listed")


def test_dnsbl_meanings(resolver: Resolver) -> None:
    res = check_dnsbl("127.0.0.10", "bl.test", resolver, "spamhaus-zen")
    assert res.data["meanings"] == ["XBL (exploited host / CBL)", "PBL (ISP policy: end-user range)"]
    assert check_dnsbl("127.0.0.2", "bl.test", resolver, "spamhaus-zen").data["reason"] == "test point"
    assert check_dnsbl("spam.example.test", "bl.test", resolver, "spamhaus-dbl").data["meanings"] == [
        "DBL spam domain"
    ]


def test_check_domain_and_concurrent_run(resolver: Resolver) -> None:
    relay = Relay(ips=("127.0.0.1",), hostnames=("mta.relay.test",), dkim_cname_suffixes=("dkim.relay.test",))
    plan = CheckPlan(
        relay=relay, dnsbl_zones=(DnsblZone("bl.test", "ip", "spamhaus-zen"),), fetch_mta_sts_policy=False
    )
    plan.domains = [DomainTarget("keys.dns.test", ("rly", "k1024"), None, True)]
    plan.domains += [DomainTarget("reject.dns.test", (), None, False)] * 3
    plan.ips = ["127.0.0.2", "127.0.0.1"]
    results = run_checks(plan, resolver, concurrency=4)
    checks = [(r.subject, r.check) for r in results]
    assert checks[:9] == [
        ("keys.dns.test", c)
        for c in ("spf", "dkim:rly", "dkim:k1024", "dmarc", "mx", "mta_sts", "tls_rpt", "bimi")
    ] + [("reject.dns.test", "spf")]
    assert checks[-4:] == [
        ("127.0.0.2", "ptr"),
        ("127.0.0.2", "dnsbl:bl.test"),
        ("127.0.0.1", "ptr"),
        ("127.0.0.1", "dnsbl:bl.test"),
    ]
    serial = run_checks(plan, resolver, concurrency=1)
    assert [(r.subject, r.check, r.state) for r in serial] == [(r.subject, r.check, r.state) for r in results]
    single = check_domain(plan.domains[0], resolver, plan)
    assert len(single) == 8


def test_plan_from_inventory() -> None:
    from analysis.inventory import Account, SendingDomain

    inv = Inventory(
        accounts=(Account("a", "A", ("u",), (SendingDomain("a.test", "a", ("s1",)),)),),
        relay=Relay(ips=("192.0.2.1",)),
    )
    everything = plan_checks(inv)
    assert [d.domain for d in everything.domains] == ["a.test"] and everything.ips == ["192.0.2.1"]
    some = plan_checks(inv, ["A.test.", "other.test", "2001:DB8::1", "a.test", "2001:db8:0::1"])
    assert [(d.domain, d.selectors, d.in_inventory) for d in some.domains] == [
        ("a.test", ("s1",), True),
        ("other.test", (), False),
    ]
    assert some.ips == ["2001:db8::1"]
    with pytest.raises(InputError, match="neither a domain name nor an IP"):
        plan_checks(inv, ["not a domain!"])


def test_query_budget_is_enforced(nsd: NSDServer) -> None:
    tight = Resolver(["127.0.0.1"], port=nsd.port, timeout=1.0, tries=1, budget=3)
    res = audit_spf("deep.dns.test", tight, ())
    # the walk spends the budget; later questions are answered "budget", never read as missing
    assert tight.queries_used == 3
    assert res.state == "present"
    assert tight.query("fresh.dns.test", "TXT").status == "budget"
    assert tight.scoped(5).query("fresh.dns.test", "TXT").status == "nxdomain"
