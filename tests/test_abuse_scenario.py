"""The multi-day abuse scenario end to end: synthetic Postfix log → real ingest → ranked suspects.

The log is written by tests/data/abuse/scenario.py (a spammer, an account whose credentials leak on the
last day, two clean accounts and a tiny one) and ingested with the real parser, correlator and
classifier; the command-line contract is checked through a subprocess.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.abuse import Scope, rank
from analysis.store import connect

HERE = Path(__file__).parent / "data" / "abuse"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import abuse_checks as checks  # noqa: E402  (tests/data/abuse: shared with test_abuse_scenario_postfix)
from abuse_checks import by_account, cli, raised  # noqa: E402

SCN = checks.load_module("abuse_scenario_synthetic", HERE / "scenario.py")


def build_store(out: Path, **kw: Any) -> Path:
    """Write the scenario under `out`, load its inventory and ingest the log (test_abuse_notebooks uses it)."""
    log, inv = SCN.write(out, **kw)
    return checks.build_store(out / "abuse.duckdb", log, inv)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("abuse"))


@pytest.fixture(scope="module")
def ranked(db: Path) -> list[dict[str, Any]]:
    since, until = (t.isoformat() for t in SCN.WINDOW)
    res = cli("rank", "--db", str(db), "--since", since, "--until", until, "--json")
    assert res.returncode == 0, res.stderr
    out: list[dict[str, Any]] = json.loads(res.stdout)
    return out


def test_the_two_bad_accounts_rank_first_and_second(ranked: list[dict[str, Any]]) -> None:
    checks.assert_bad_first(ranked, SCN.BAD, {*SCN.BAD, *SCN.CLEAN, "tiny"})


@pytest.mark.parametrize("account", [*SCN.CLEAN, "tiny"])
def test_clean_and_tiny_accounts_raise_nothing_above_monitor(
    ranked: list[dict[str, Any]], account: str
) -> None:
    checks.assert_quiet(by_account(ranked)[account])


def test_tiny_account_one_bounce_of_three_is_not_a_finding(ranked: list[dict[str, Any]]) -> None:
    checks.assert_tiny_not_a_finding(by_account(ranked)["tiny"])


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ("spammer", {"trap_hits", "policy_rejections"}),
        (
            "victim",
            {"volume_spike", "new_client_ips", "sasl_client_ips", "unknown_user_rate", "new_recipients"},
        ),
    ],
)
def test_bad_accounts_raise_the_planted_signals(
    ranked: list[dict[str, Any]], account: str, expected: set[str]
) -> None:
    assert expected <= raised(by_account(ranked)[account])


def test_contract_fields_and_evidence(ranked: list[dict[str, Any]]) -> None:
    checks.assert_contract(ranked)
    victim = checks.signals(by_account(ranked)["victim"])
    new_ips = victim["new_client_ips"]
    assert new_ips["value"] == 40
    assert all(e["detail"].startswith("new client 203.0.113.") and e["queue_id"] for e in new_ips["evidence"])
    traps = {s["name"]: s for s in by_account(ranked)["spammer"]["signals"]}["trap_hits"]
    assert traps["value"] >= 1 and all("trap.example" in e["detail"] for e in traps["evidence"])
    spike = victim["volume_spike"]
    assert spike["value"] > 3.5 and "baseline" in spike["note"]


def test_default_window_is_the_last_day_of_data(db: Path) -> None:
    con = connect(db, read_only=True)
    try:
        r = rank(con)
    finally:
        con.close()
    assert r.window.until == SCN.WINDOW[0].replace(hour=18)  # the hour after the last message
    assert {s.account for s in r.suspects[:2]} == set(SCN.BAD)


def test_drill_down_to_a_client_ip_finds_only_the_victim(db: Path) -> None:
    con = connect(db, read_only=True)
    try:
        r = rank(con, *SCN.WINDOW, scope=Scope("client_ip", "203.0.113.10"))
    finally:
        con.close()
    assert [s.account for s in r.suspects] == ["victim"]
    assert r.suspects[0].messages > 0
    # the narrowed mail is judged against the account's whole history: this IP is new for victim-app
    new_ips = next(x for x in r.suspects[0].signals if x.name == "new_client_ips")
    assert new_ips.value == 1 and not new_ips.raised


def test_evidence_csv_for_the_victim(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "victim.csv"
    since, until = (t.isoformat() for t in SCN.WINDOW)
    res = cli("evidence", "victim", "--db", str(db), "--since", since, "--until", until, "--out", str(out))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    signals = {r["signal"] for r in rows if r["raised"] == "yes"}
    assert {"new_client_ips", "unknown_user_rate", "volume_spike"} <= signals
    new_ips = [r for r in rows if r["signal"] == "new_client_ips"]
    assert len(new_ips) == 40 and all(r["queue_id"] for r in new_ips)  # uncapped: every new IP


def test_stricter_thresholds_file_changes_the_verdict(db: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("[signals.hard_bounce_rate]\nthreshold = 0.001\nmin_n = 2\n", encoding="utf-8")
    since, until = (t.isoformat() for t in SCN.WINDOW)
    res = cli(
        "rank", "--db", str(db), "--since", since, "--until", until, "--json", "--thresholds", str(strict)
    )
    assert res.returncode == 0, res.stderr
    clean = by_account(json.loads(res.stdout))["clean1"]
    assert "hard_bounce_rate" in raised(clean) and clean["action"] == "warn"  # one family: never above warn


def test_same_ranking_from_the_parquet_lake(db: Path, tmp_path: Path, ranked: list[dict[str, Any]]) -> None:
    lake = tmp_path / "lake"
    res = subprocess.run(
        [sys.executable, "-m", "analysis", "export", "--db", str(db), "--out", str(lake)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    since, until = (t.isoformat() for t in SCN.WINDOW)
    res = cli("rank", "--lake", str(lake), "--since", since, "--until", until, "--json")
    assert res.returncode == 0, res.stderr
    from_lake = [(r["account"], r["score"], r["action"]) for r in json.loads(res.stdout)]
    assert from_lake == [(r["account"], r["score"], r["action"]) for r in ranked]
