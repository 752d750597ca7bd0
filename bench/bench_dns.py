"""Benchmark: DNS health checks of 1,000 domains against NSD on loopback (issue 5 target: <= 60 s wall).

    .venv/bin/python bench/bench_dns.py [--domains 1000] [--repeat 3] [--concurrency 16]

Each domain publishes SPF with two includes (the relay's and a shared ESP's), DMARC with an external rua
authorised by the report destination, MX, TLS-RPT and two DKIM selectors (RSA 2048 and ed25519; half of
the domains CNAME one selector to the relay's key names). Every check of `deliverability dns check`
runs (SPF audit with check_host for two relay IPs, DKIM x2, DMARC with alignment, MX, MTA-STS TXT,
TLS-RPT, BIMI, a domain DNSBL), with a fresh resolver (empty cache) per repetition. Reports the median
wall time, queries asked and findings, and writes bench/out/bench_dns.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from analysis.dns.checks import CheckPlan, DomainTarget, run_checks
from analysis.dns.resolver import Resolver
from analysis.inventory import DnsblZone, Relay

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from dnsserver import NSDServer, nsd_available, txt  # noqa: E402

RELAY_IPS = ("127.0.0.1", "2001:db8::25")


def _keys() -> tuple[str, str]:
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    ed_raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(rsa_der).decode(), base64.b64encode(ed_raw).decode()


def zones(n: int) -> dict[str, list[str]]:
    rsa_p, ed_p = _keys()
    relay = [
        "mta IN A 127.0.0.1",
        "mta IN AAAA 2001:db8::25",
        f"_spf IN TXT {txt('v=spf1 ip4:127.0.0.1 ip6:2001:db8::/64 -all')}",
        f"*._report._dmarc.reports IN TXT {txt('v=DMARC1')}",
    ]
    esp = [f"_spf{i} IN TXT {txt(f'v=spf1 ip4:198.51.{i}.0/24 -all')}" for i in range(5)]
    domains: list[str] = []
    for i in range(n):
        d = f"d{i:05d}"
        domains += [
            f"{d} IN TXT {txt(f'v=spf1 include:_spf.relay.test include:_spf{i % 5}.esp.test ~all')}",
            f"{d} IN MX 10 mta.relay.test.",
            f"_dmarc.{d} IN TXT {txt('v=DMARC1; p=quarantine; rua=mailto:agg@reports.relay.test')}",
            f"_smtp._tls.{d} IN TXT {txt('v=TLSRPTv1; rua=mailto:tls@reports.relay.test')}",
            f"s2._domainkey.{d} IN TXT {txt('v=DKIM1; k=ed25519; p=' + ed_p)}",
        ]
        if i % 2:
            domains.append(f"s1._domainkey.{d} IN CNAME s1.{d}.dkim.relay.test.")
            relay.append(f"s1.{d}.dkim IN TXT {txt('v=DKIM1; k=rsa; p=' + rsa_p)}")
        else:
            domains.append(f"s1._domainkey.{d} IN TXT {txt('v=DKIM1; k=rsa; p=' + rsa_p)}")
    return {"test": [], "relay.test": relay, "esp.test": esp, "bench.test": domains, "dbl.test": []}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)
    if not nsd_available():
        print("bench_dns: NSD (Debian nsd) is not installed", file=sys.stderr)
        return 2
    plan = CheckPlan(
        domains=[DomainTarget(f"d{i:05d}.bench.test", ("s1", "s2"), None, True) for i in range(args.domains)],
        relay=Relay(
            ips=RELAY_IPS, dkim_cname_suffixes=("dkim.relay.test",), envelope_domain="bounces.relay.test"
        ),
        dnsbl_zones=(DnsblZone("dbl.test", "domain", "spamhaus-dbl"),),
        fetch_mta_sts_policy=False,
    )
    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmp, NSDServer(Path(tmp)) as nsd:
        t0 = time.perf_counter()
        nsd.serve(zones(args.domains))
        setup = time.perf_counter() - t0
        walls, results = [], []
        queries = 0
        for _ in range(args.repeat):
            resolver = Resolver(["127.0.0.1"], port=nsd.port, timeout=2.0)
            began = time.perf_counter()
            results = run_checks(plan, resolver, concurrency=args.concurrency)
            walls.append(time.perf_counter() - began)
            queries = resolver.questions_asked
    states: dict[str, int] = {}
    for r in results:
        states[r.state] = states.get(r.state, 0) + 1
    temperrors = states.get("temperror", 0)
    out = {
        "domains": args.domains,
        "concurrency": args.concurrency,
        "repeat": args.repeat,
        "wall_s_median": round(statistics.median(walls), 2),
        "wall_s_all": [round(w, 2) for w in walls],
        "zone_setup_s": round(setup, 2),
        "observations": len(results),
        "queries_asked": queries,
        "states": states,
        "target_s": 60,
    }
    print(json.dumps(out, indent=2))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "bench_dns.json").write_text(json.dumps(out, indent=2) + "\n")
    if temperrors:
        print(f"bench_dns: {temperrors} temperror observations (server overloaded?)", file=sys.stderr)
        return 1
    return 0 if out["wall_s_median"] <= 60 else 1


if __name__ == "__main__":
    sys.exit(main())
