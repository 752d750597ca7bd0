"""History and the CLI end to end: check the demo-like zones on NSD, change them, reload, check again,
and `dns diff` names the changes (key shortened, policy downgraded, listing appeared)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from analysis.cli import main
from analysis.dns.findings import CheckResult
from analysis.dns.history import diff, latest_findings, latest_observations, store_results, timeline
from analysis.store import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dnsserver import NSDServer, nsd_available, txt


def _key(bits: int) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


K2048, K1024 = _key(2048), _key(1024)

INVENTORY = """
[relay]
ips = ["127.0.0.1"]
hostnames = ["mta.relay.test"]
dkim_cname_suffixes = ["dkim.relay.test"]
envelope_domain = "bounces.relay.test"

[[accounts]]
id = "shop"
sasl_usernames = ["shop-app"]
[[accounts.domains]]
domain = "shop.test"
dkim_selectors = ["s1"]

[[dnsbl]]
zone = "bl.test"
decoder = "spamhaus-zen"
"""


def zones(*, key: str, policy: str, listed: bool) -> dict[str, Any]:
    return {
        "test": [],
        "relay.test": [
            "mta IN A 127.0.0.1",
            f"_spf IN TXT {txt('v=spf1 ip4:127.0.0.1 -all')}",
        ],
        "shop.test": [
            f"@ IN TXT {txt('v=spf1 include:_spf.relay.test -all')}",
            "@ IN MX 10 mta.relay.test.",
            f"s1._domainkey IN TXT {txt('v=DKIM1; k=rsa; p=' + key)}",
            f"_dmarc IN TXT {txt(f'v=DMARC1; p={policy}; rua=mailto:d@shop.test')}",
        ],
        "127.in-addr.arpa": ["1.0.0 IN PTR mta.relay.test."],
        "bl.test": ["1.0.0.127 IN A 127.0.0.2"] if listed else [],
    }


@pytest.fixture(scope="module")
def nsd(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not nsd_available():
        pytest.skip("NSD (Debian nsd) is not installed")
    server = NSDServer(tmp_path_factory.mktemp("nsd-history"))
    yield server
    server.stop()


@pytest.mark.nsd
def test_check_reload_check_diff(nsd: NSDServer, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.toml"
    inv.write_text(INVENTORY)
    db = tmp_path / "h.duckdb"
    runner = CliRunner()
    args = [
        "dns",
        "check",
        "--inventory",
        str(inv),
        "--nameserver",
        nsd.address,
        "--db",
        str(db),
        "--timeout",
        "1",
    ]

    nsd.serve(zones(key=K2048, policy="reject", listed=False))
    assert runner.invoke(main, ["inventory", "load", "--inventory", str(inv), "--db", str(db)]).exit_code == 0
    first = runner.invoke(main, [*args, "--json"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.output)
    by_check = {(r["subject"], r["check"]): r for r in payload["results"]}
    assert by_check[("shop.test", "dkim:s1")]["data"]["bits"] == 2048
    assert by_check[("shop.test", "dmarc")]["data"]["p"] == "reject"
    assert by_check[("127.0.0.1", "dnsbl:bl.test")]["state"] == "not_listed"
    assert by_check[("127.0.0.1", "ptr")]["state"] == "present"

    nsd.serve(zones(key=K1024, policy="none", listed=True))  # same zone set: SIGHUP reload
    second = runner.invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "dnsbl.listed" in second.output and "dkim.key_weak" in second.output

    out = runner.invoke(main, ["dns", "diff", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    kinds = {(c["subject"], c["check"], c["kind"]) for c in json.loads(out.output)}
    assert ("shop.test", "dkim:s1", "key_shortened") in kinds
    assert ("shop.test", "dmarc", "policy_downgraded") in kinds
    assert ("127.0.0.1", "dnsbl:bl.test", "listing_appeared") in kinds
    assert not any(s == "shop.test" and c == "spf" for s, c, _k in kinds)  # unchanged records are quiet

    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    none = runner.invoke(main, ["dns", "diff", "--db", str(db), "--since", future])
    assert none.exit_code == 0 and "no changes" in none.output
    text = runner.invoke(main, ["dns", "diff", "--db", str(db)])
    assert "policy_downgraded: p=reject → p=none" in text.output

    con = connect(db, read_only=True)
    latest = latest_observations(con)
    assert latest.height == len(payload["results"])
    worst = latest_findings(con)
    assert worst["severity"][0] == "error"
    assert timeline(con).height == 2 * latest.height
    assert con.execute("SELECT count(*) FROM inventory_domains").fetchone() == (1,)
    con.close()


@pytest.mark.nsd
def test_cli_spf_and_check_subjects(nsd: NSDServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nsd.serve(zones(key=K2048, policy="reject", listed=False))
    runner = CliRunner()
    ok = runner.invoke(main, ["dns", "spf", "127.0.0.1", "shop.test", "--nameserver", nsd.address])
    assert ok.exit_code == 0 and ok.output.splitlines()[0] == "pass"
    fail = runner.invoke(
        main, ["dns", "spf", "192.0.2.9", "shop.test", "--sender", "a@shop.test", "--nameserver", nsd.address]
    )
    assert fail.output.splitlines()[0] == "fail"
    bad = runner.invoke(main, ["dns", "spf", "not-an-ip", "shop.test"])
    assert bad.exit_code == 2 and "not an IP address" in bad.output
    res = runner.invoke(
        main,
        [
            "dns",
            "check",
            "shop.test",
            "127.0.0.1",
            "--nameserver",
            nsd.address,
            "--json",
            "--inventory",
            "/nonexistent.toml",
        ],
    )
    assert res.exit_code == 2 and "cannot read" in res.output
    monkeypatch.chdir(tmp_path)  # no data/inventory.toml or default database here
    res = runner.invoke(
        main,
        ["dns", "check", "shop.test", "127.0.0.1", "--nameserver", nsd.address, "--json"],
        env={"DELIVERABILITY_INVENTORY": "", "DELIVERABILITY_DB": ""},
    )
    assert not Path("data").exists()
    assert res.exit_code == 0, res.output
    checks = [(r["subject"], r["check"]) for r in json.loads(res.output)["results"]]
    assert ("shop.test", "spf") in checks and ("127.0.0.1", "ptr") in checks
    assert not any(c.startswith("dkim:") for _s, c in checks)  # no inventory: no selectors to check


def test_diff_judgements(tmp_path: Path) -> None:
    con = connect(tmp_path / "d.duckdb")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def obs(**kw: Any) -> CheckResult:
        return CheckResult(
            kw.pop("subject", "d.test"),
            kw.pop("check"),
            kw.pop("state", "present"),
            kw.pop("record", None),
            [],
            kw,
        )

    store_results(
        con,
        [
            obs(check="dkim:a", key_sha256="k1", bits=2048),
            obs(check="dkim:b", key_sha256="k1", bits=1024),
            obs(check="dmarc", p="reject", pct=100),
            obs(check="spf", record="v=spf1 -all"),
            obs(check="mx", state="present"),
        ],
        observed_at=t0,
    )
    store_results(
        con,
        [
            obs(check="dkim:a", key_sha256="k2", bits=2048),
            obs(check="dkim:b", key_sha256="k1", bits=1024),
            obs(check="dmarc", p="reject", pct=50),
            obs(check="spf", record="v=spf1 ~all"),
            obs(check="mx", state="missing"),
        ],
        observed_at=t0 + dt.timedelta(days=1),
    )
    got = {(c.check, c.kind, c.severity) for c in diff(con)}
    assert got == {
        ("dkim:a", "key_rotated", "info"),
        ("dmarc", "policy_downgraded", "warn"),
        ("spf", "record_changed", "info"),
        ("mx", "state_changed", "error"),
    }
    assert diff(con, t0 + dt.timedelta(days=2)) == []
    con.close()


def test_terminal_output_escapes_control_characters() -> None:
    from analysis.commands.dns import _safe

    assert _safe("p=\x1b[31mnone\n") == "p=\\x1b[31mnone\\x0a"
