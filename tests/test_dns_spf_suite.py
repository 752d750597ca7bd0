"""The official RFC 7208 SPF test suite (all 203 tests), each scenario's zonedata served by a real NSD.

How the suite's zonedata maps onto NSD zone files (the suite was written for an in-memory DNS stub; the
mapping follows the reference driver, pyspf's testspf.py):
- SPF-type (99) records are copied to TXT unless the name has TXT records; `TXT: NONE` means "no TXT
  records". check_host never asks for type 99 (RFC 7208 §3.1), so SPF-type records are not served.
- `TIMEOUT` on a name whose TXT lookup would time out becomes SERVFAIL: the name is configured as its own
  zone whose file NSD refuses to load, and every other name of the scenario below it gets its own small
  zone so that only that name fails. RFC 7208 §4.4 and §5 give temperror for both a timeout and RCODE 2,
  so the expected results are unchanged. (Real timeouts are tested against a silent port in
  test_dns_resolver.py.) A name whose TXT records precede the marker answers TXT normally; the suite
  never asks such a name for another type.
- Every zone loads with every record of the suite: no test is skipped or has its expectation changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.dns.resolver import Resolver
from analysis.dns.spf import check_host

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsserver import NSDServer, nsd_available, txt

yaml = pytest.importorskip("yaml")
import dns.name  # noqa: E402
import dns.rdata  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

SUITE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "spf" / "rfc7208-tests.yml"

pytestmark = [
    pytest.mark.nsd,
    pytest.mark.skipif(not nsd_available(), reason="NSD (Debian nsd) is not installed"),
    pytest.mark.skipif(not SUITE.exists(), reason=f"RFC 7208 suite not found at {SUITE}"),
]


def _records(entries: list[Any]) -> tuple[list[tuple[str, Any]], bool]:
    """The reference driver's getrdata(): (type, value) pairs and whether a TXT query times out."""
    out: list[tuple[str, Any]] = []
    generated: list[tuple[str, Any]] = []
    has_txt = False
    txt_timeout = False
    seen_txt = False
    for entry in entries:
        if entry == "TIMEOUT":
            if not seen_txt:
                txt_timeout = True
            break
        for rtype, value in entry.items():
            if rtype == "TXT":
                has_txt = True
                seen_txt = seen_txt or value != "NONE"
            elif rtype == "SPF":
                generated.append(("TXT", value))
            if value != "NONE":
                out.append((rtype, value))
    if not has_txt:
        out.extend(generated)
    return out, txt_timeout


def _rdata_text(rtype: str, value: Any) -> str | None:
    if rtype in ("TXT", "SPF"):
        strings = [value] if isinstance(value, str) else list(value)
        return txt(*strings) if rtype == "TXT" else None
    if rtype == "MX":
        pref, host = value
        text = f"{pref} {host.rstrip('.')}." if host not in ("", ".") else f"{pref} ."
    elif rtype in ("PTR", "CNAME"):
        text = f"{value.rstrip('.')}."
    else:
        text = str(value)
    try:
        dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text)
    except Exception:
        return None
    return text


def scenario_zones(zonedata: dict[str, list[Any]]) -> tuple[dict[str, list[str] | None], list[str]]:
    """NSD zones for one scenario, and notes on records that could not be expressed."""
    notes: list[str] = []
    names: dict[str, tuple[list[tuple[str, Any]], bool]] = {
        n.lower().rstrip("."): _records(v) for n, v in zonedata.items()
    }
    broken = sorted(n for n, (_r, t) in names.items() if t)
    zones: dict[str, list[str] | None] = {".": []}
    for b in broken:
        zones[b] = None
    for name, (recs, timeout) in names.items():
        if timeout:
            if recs:
                notes.append(f"{name}: records besides TIMEOUT dropped (zone answers SERVFAIL)")
            continue
        try:
            owner = dns.name.from_text(name + ".").to_text()
        except Exception:
            notes.append(f"{name}: not a valid DNS name for a zone file")
            continue
        under = [b for b in broken if name.endswith("." + b)]
        zone = name if under else "."
        if under:
            zones.setdefault(name, [])
        for rtype, value in recs:
            text = _rdata_text(rtype, value)
            if text is None:
                if rtype != "SPF":
                    notes.append(f"{name}: {rtype} {value!r} not expressible")
                continue
            line = f"{owner} IN {rtype} {text}"
            target = zones[zone]
            assert target is not None
            target.append(line)
    return zones, notes


def _load() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    if not SUITE.exists():
        return []
    cases = []
    with SUITE.open(encoding="utf-8") as fh:
        for scenario in yaml.safe_load_all(fh):
            for test_id, test in scenario["tests"].items():
                cases.append((test_id, scenario, test))
    return cases


CASES = _load()
_SCENARIO_IDS = {id(s): i for i, s in enumerate({id(s): s for _t, s, _c in CASES}.values())}


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = NSDServer(tmp_path_factory.mktemp("nsd-spf"))
    server.current = None  # type: ignore[attr-defined]
    yield server
    server.stop()


def _serve(nsd: NSDServer, scenario: dict[str, Any]) -> list[str]:
    if nsd.current is not scenario:  # type: ignore[attr-defined]
        zones, notes = scenario_zones(scenario["zonedata"])
        nsd.serve(zones)
        nsd.current = scenario  # type: ignore[attr-defined]
        nsd.notes = notes  # type: ignore[attr-defined]
    return list(nsd.notes)  # type: ignore[attr-defined]


def test_suite_is_complete() -> None:
    assert len(CASES) == 203


@pytest.mark.parametrize(("test_id", "scenario", "case"), CASES, ids=[c[0] for c in CASES])
def test_rfc7208(nsd: NSDServer, test_id: str, scenario: dict[str, Any], case: dict[str, Any]) -> None:
    _serve(nsd, scenario)
    mailfrom = case.get("mailfrom", "")
    helo = case.get("helo", "")
    domain = mailfrom.rpartition("@")[2] if mailfrom else helo
    resolver = Resolver(["127.0.0.1"], port=nsd.port, timeout=1.0, tries=1)
    got = check_host(case["host"], domain, mailfrom, helo=helo, resolver=resolver)
    expected = case["result"]
    allowed = [expected] if isinstance(expected, str) else list(expected)
    detail = f"{test_id}: got {got.result} ({got.problem}); trace={got.trace[-6:]}"
    assert got.result in allowed, detail
    if "explanation" in case:
        assert (got.explanation or "DEFAULT") == case["explanation"], detail
    if os.environ.get("SPF_SUITE_VERBOSE"):
        print(detail)
