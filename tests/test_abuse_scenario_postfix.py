"""Issue 7's abuse scenario on logs a real Postfix wrote (scripts/abuse_scenario.py, root + Debian postfix).

Six days of SASL submissions from 127.0.0.N clients to smtp-sink receivers that accept, answer
550 5.1.1, name a blocklist or refuse for policy: a spammer (trap hits, policy rejections, bought lists),
an account whose credentials are used from 30 never-seen IPs at 03:00 on the last day (volume spike,
random recipients, 40 % unknown users, half from an unverified sender domain), three clean accounts and
a tiny one (1 bounce of 3). The log goes through the real ingest; the verdicts are read through the
command line. Built once per module (~20 s); tests/test_abuse_scenario_timestamps.py checks the date
shifting and the plan without Postfix.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.abuse import Scope, rank
from analysis.store import connect

HERE = Path(__file__).parent / "data" / "abuse"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import abuse_checks as checks  # noqa: E402  (shared with test_abuse_scenario)
from abuse_checks import by_account, cli, raised  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DRIVER = checks.load_module("abuse_scenario", ROOT / "scripts" / "abuse_scenario.py")
H = DRIVER.H

pytestmark = [pytest.mark.postfix, pytest.mark.slow]

BUILD_SECONDS = 90  # the whole Postfix run, as the task allows for the suite


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to start a private Postfix"
    missing = [b for b in DRIVER.REQUIRED_BINARIES if not Path(b).exists()]
    return f"missing {', '.join(missing)} (Debian postfix / sasl2-bin)" if missing else None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Path]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("abuse_postfix")
    # The Postfix work dir stays in the system temp dir: pytest's is 0700 and Postfix runs as `postfix`.
    result = DRIVER.build(out)
    desc = json.loads(result.description.read_text(encoding="utf-8"))
    db = checks.build_store(out / "abuse.duckdb", result.log, result.inventory, year=desc["year"])
    return result, desc, db


@pytest.fixture(scope="module")
def desc(built: tuple[Any, dict[str, Any], Path]) -> dict[str, Any]:
    return built[1]


@pytest.fixture(scope="module")
def db(built: tuple[Any, dict[str, Any], Path]) -> Path:
    return built[2]


@pytest.fixture(scope="module")
def ranked(db: Path, desc: dict[str, Any]) -> list[dict[str, Any]]:
    since, until = desc["window"]
    res = cli("rank", "--db", str(db), "--since", since, "--until", until, "--json")
    assert res.returncode == 0, res.stderr
    out: list[dict[str, Any]] = json.loads(res.stdout)
    return out


def test_build_is_quick_and_the_log_is_what_postfix_wrote(built: tuple[Any, dict[str, Any], Path]) -> None:
    result, desc, _ = built
    assert result.seconds <= BUILD_SECONDS
    raw = (result.log.parent / "capture.log").read_bytes().splitlines()
    shifted = result.log.read_bytes().splitlines()
    assert len(raw) == len(shifted) == desc["lines"]
    # Only the 16-byte "Mmm dd HH:MM:SS " prefix changed ...
    assert all(a[16:] == b[16:] for a, b in zip(raw, shifted, strict=True))
    # ... onto the phases' days and hours, in time order.
    stamps = [
        dt.datetime.strptime(f"{desc['year']} {line[:15].decode()}", "%Y %b %d %H:%M:%S") for line in shifted
    ]
    # Each process stamps its own lines before postlogd writes them: a line may trail by a second.
    assert all(b >= a - dt.timedelta(seconds=2) for a, b in itertools.pairwise(stamps))
    hours = {dt.datetime.fromisoformat(p).replace(tzinfo=None) for p in desc["phases"]}
    assert {t.replace(minute=0, second=0) for t in stamps} == hours


def test_ingest_reads_every_line_and_every_submission(db: Path, desc: dict[str, Any]) -> None:
    con = connect(db, read_only=True)
    try:
        files = con.execute(
            "SELECT SUM(lines_read), SUM(lines_parsed), SUM(lines_quarantined), SUM(lines_other) FROM ingest_files"
        ).fetchall()
        sasl = con.execute(
            "SELECT sasl_username, account, COUNT(*) FROM messages WHERE sasl_username IS NOT NULL "
            "GROUP BY sasl_username, account"
        ).fetchall()
    finally:
        con.close()
    read, parsed, quarantined, other = files[0]
    assert read == desc["lines"] and quarantined == 0
    assert other == desc["marks"] == len(desc["phases"]) - 1  # the phase marks postlog(1) wrote
    assert parsed == read - other
    assert {u: a for u, a, _ in sasl} == desc["sasl_users"]
    assert sum(n for _, _, n in sasl) == desc["injected"]["accepted_smtp"]


def test_the_two_bad_accounts_rank_first_and_second(
    ranked: list[dict[str, Any]], desc: dict[str, Any]
) -> None:
    checks.assert_bad_first(ranked, desc["bad"], {*desc["bad"], *desc["clean"], desc["tiny"]})


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("spammer", {"trap_hits", "policy_rejections", "new_recipients"}),
        (
            "victim",
            {
                "volume_spike",
                "new_client_ips",
                "sasl_client_ips",
                "unknown_user_rate",
                "hard_bounce_rate",
                "new_recipients",
                "recipient_fanout",
                "unverified_from_domains",
                "deferral_storm",
            },
        ),
    ],
)
def test_bad_accounts_raise_the_planted_signals(
    ranked: list[dict[str, Any]], desc: dict[str, Any], role: str, expected: set[str]
) -> None:
    row = by_account(ranked)[desc[role]]
    assert expected <= raised(row)
    families = {s["family"] for s in row["signals"] if s["raised"]}
    assert len(families) >= 2 and set(row["families"]) == families


def test_clean_accounts_raise_nothing_above_monitor(
    ranked: list[dict[str, Any]], desc: dict[str, Any]
) -> None:
    rows = by_account(ranked)
    for account in desc["clean"]:
        checks.assert_quiet(rows[account])
    # ... and that is a judgement, not silence: the newsletter's list-quality rates were measured
    acme = checks.signals(rows["acme"])["hard_bounce_rate"]
    assert acme["n"] >= 100 and acme["q_value"] is not None and acme["k"] >= 1


def test_tiny_account_one_bounce_of_three_raises_nothing(
    ranked: list[dict[str, Any]], desc: dict[str, Any]
) -> None:
    checks.assert_tiny_not_a_finding(by_account(ranked)[desc["tiny"]])


def test_signal_values_match_what_was_sent(ranked: list[dict[str, Any]], desc: dict[str, Any]) -> None:
    checks.assert_contract(ranked)
    victim = checks.signals(by_account(ranked)[desc["victim"]])
    stolen = set(desc["stolen_ips"])
    new_ips = victim["new_client_ips"]
    assert new_ips["value"] == len(stolen)
    assert {re.sub(r"^new client (\S+) for .*", r"\1", e["detail"]) for e in new_ips["evidence"]} <= stolen
    assert victim["sasl_client_ips"]["value"] == len(stolen) + 1  # and its usual address
    spike = victim["volume_spike"]
    assert spike["value"] >= 3.5 and spike["n"] >= 20
    assert (
        "03:00" in spike["note"] and "same hour of the day" in spike["note"] and "fallback" in spike["note"]
    )
    unknown = victim["unknown_user_rate"]
    assert unknown["n"] >= 100 and 0.25 <= unknown["value"] <= 0.5  # 40 % of the burst's recipients
    storm = victim["deferral_storm"]  # every recipient Gmail rate-limited was deferred once, then delivered
    assert storm["k"] == desc["rate_limited_recipients"] > 0
    assert all(e["detail"].startswith("4.7.28 deferred by") for e in storm["evidence"])
    foreign = victim["unverified_from_domains"]
    assert (
        foreign["k"] == 45 and desc["foreign_sender_domain"] in foreign["note"]
    )  # half of the 90-message burst
    spammer = checks.signals(by_account(ranked)[desc["spammer"]])
    traps = spammer["trap_hits"]
    assert traps["value"] == desc["trap_hits_last_day"]
    assert all("trap" in e["detail"] for e in traps["evidence"])
    policy = spammer["policy_rejections"]
    assert "name a blocklist" in policy["note"] and policy["interval"][0] >= policy["threshold"]


def test_default_window_is_the_last_day_of_data(db: Path, desc: dict[str, Any]) -> None:
    con = connect(db, read_only=True)
    try:
        r = rank(con)
    finally:
        con.close()
    last_phase = dt.datetime.fromisoformat(desc["phases"][-1])  # its mail all within a minute
    assert r.window.until == last_phase + dt.timedelta(hours=1)  # the start of the hour after the last mail
    assert {s.account for s in r.suspects[:2]} == set(desc["bad"])


def test_drill_down_to_a_stolen_ip_finds_only_the_victim(db: Path, desc: dict[str, Any]) -> None:
    since, until = (dt.datetime.fromisoformat(t) for t in desc["window"])
    con = connect(db, read_only=True)
    try:
        r = rank(con, since, until, scope=Scope("client_ip", desc["stolen_ips"][0]))
    finally:
        con.close()
    assert [s.account for s in r.suspects] == [desc["victim"]] and r.suspects[0].messages > 0


def test_evidence_csv_names_real_postfix_queue_ids(
    built: tuple[Any, dict[str, Any], Path], tmp_path: Path
) -> None:
    result, desc, db = built
    out = tmp_path / "victim.csv"
    since, until = desc["window"]
    res = cli(
        "evidence", desc["victim"], "--db", str(db), "--since", since, "--until", until, "--out", str(out)
    )
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {"new_client_ips", "unknown_user_rate", "volume_spike"} <= {
        r["signal"] for r in rows if r["raised"] == "yes"
    }
    new_ips = [r for r in rows if r["signal"] == "new_client_ips"]
    assert len(new_ips) == len(desc["stolen_ips"])
    user = next(u for u, a in desc["sasl_users"].items() if a == desc["victim"])
    log = result.log.read_text(encoding="utf-8")
    for r in new_ips:  # each is a message Postfix accepted from that stolen client
        line = (
            rf": {r['queue_id']}: client=unknown\[127\.0\.1\.\d+\], sasl_method=PLAIN, sasl_username={user}\n"
        )
        assert re.search(line, log), r["queue_id"]


def test_driver_reports_setup_errors_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if skip_reason():
        pytest.skip(str(skip_reason()))
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert DRIVER.main_cli(["--out", str(tmp_path / "out"), "--workdir", str(private)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("abuse_scenario: ") and "searchable" in err[0]
    assert not (tmp_path / "out").exists() and not list(private.iterdir())
