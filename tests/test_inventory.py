"""Inventory: the demo file loads, bad files fail with one line naming the key, tables join in SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.errors import InputError
from analysis.inventory import load_inventory, store_inventory
from analysis.store import connect

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "inventory.toml"


def test_demo_inventory_has_the_sample_log_accounts() -> None:
    inv = load_inventory(DEMO)
    assert {a.account_id: a.sasl_usernames for a in inv.accounts} == {
        "acme": ("acme-mailer",),
        "globex": ("globex-app",),
        "initech": ("initech",),
    }
    assert [d.domain for d in inv.domains] == ["news.acme.example", "globex.example", "initech.example"]
    assert "127.0.0.1" in inv.relay.ips
    assert inv.relay.spf_include == "_spf.relay.example"


@pytest.mark.parametrize(
    ("key", "account"),
    [
        ("acme-mailer", "acme"),
        ("ACME-MAILER", "acme"),
        ("globex-app", "globex"),
        ("initech", "initech"),  # a SASL username that is also not a domain
        ("news.acme.example", "acme"),
        ("promo.news.acme.example", "acme"),  # subdomain of a verified domain
        ("someone@globex.example", "globex"),
        ("acme.example", None),  # the parent is not verified
        ("stranger", None),
    ],
)
def test_account_for(key: str, account: str | None) -> None:
    inv = load_inventory(DEMO)
    found = inv.account_for(key)
    assert (found.account_id if found else None) == account


BASE = """
[relay]
ips = ["127.0.0.1"]
[[accounts]]
id = "a"
sasl_usernames = ["u1"]
[[accounts.domains]]
domain = "a.example"
dkim_selectors = ["s1"]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is = not toml [", "invalid TOML"),
        (BASE.replace('"127.0.0.1"', '"127.0.0.300"'), "relay.ips: '127.0.0.300' is not an IP address"),
        (BASE.replace('id = "a"', 'id = "a b"'), "accounts[0].id"),
        (BASE.replace('"a.example"', '"not a domain"'), "accounts[0].domains[0].domain"),
        (BASE.replace('["s1"]', '["bad selector"]'), "dkim_selectors"),
        (BASE.replace('["s1"]', '"s1"'), "must be a list of strings"),
        (BASE + '[[dnsbl]]\nzone = "zen.example"\nkind = "url"\n', "dnsbl[0].kind"),
        (BASE + '[[dnsbl]]\nzone = "zen.example"\ndecoder = "sorbs"\n', "dnsbl[0].decoder"),
        (BASE + "[traps]\naddresses = ['nobody']\n", "traps.addresses"),
        (BASE + "[extra]\nx = 1\n", "unknown keys ['extra']"),
        (BASE + '[[accounts]]\nid = "b"\nsasl_usernames = ["U1"]\n', "belongs to two accounts"),
        (BASE + '[[accounts]]\nid = "a"\n', "accounts[1].id: a is listed twice"),
        (BASE.replace('sasl_usernames = ["u1"]', 'sasl_usernames = ["u1"]\nstatus = "gone"'), "status"),
    ],
)
def test_invalid_inventory_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "inv.toml"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_inventory(p)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
    assert str(p) in str(exc.value)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_inventory(tmp_path / "nope.toml")
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        load_inventory(bad)


def test_store_and_join(tmp_path: Path) -> None:
    con = connect(tmp_path / "db.duckdb")
    inv = load_inventory(DEMO)
    counts = store_inventory(con, inv)
    assert counts["inventory_accounts"] == 3 and counts["inventory_selectors"] == 4
    store_inventory(con, inv)  # replacing, not appending
    rows = con.execute(
        """
        SELECT u.sasl_username, a.account_id, count(d.domain)
        FROM inventory_sasl_users u
        JOIN inventory_accounts a USING (account_id)
        LEFT JOIN inventory_domains d USING (account_id)
        GROUP BY u.sasl_username, a.account_id
        ORDER BY 1
        """
    ).fetchall()
    assert rows == [("acme-mailer", "acme", 1), ("globex-app", "globex", 1), ("initech", "initech", 1)]
    assert con.execute("SELECT count(*) FROM inventory_relay_ips WHERE ip_version = 6").fetchone() == (1,)
    assert con.execute("SELECT value FROM inventory_relay_settings WHERE key = 'spf_include'").fetchone() == (
        "_spf.relay.example",
    )
    assert con.execute("SELECT count(*) FROM inventory_traps").fetchone() == (3,)
    con.close()


def test_cli_inventory_load(tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "db.duckdb"
    ok = runner.invoke(main, ["inventory", "load", "--inventory", str(DEMO), "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert "accounts=3" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[relay]\nips = ['x']\n")
    res = runner.invoke(main, ["inventory", "load", "--inventory", str(bad), "--db", str(db)])
    assert res.exit_code == 2
    assert "relay.ips" in res.output and "Traceback" not in res.output
