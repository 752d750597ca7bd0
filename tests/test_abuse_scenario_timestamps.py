"""scripts/abuse_scenario.py without Postfix: moving a phase's syslog stamps onto its day, the plan it
sends, and the routing and inventory it writes (the real run is tests/test_abuse_scenario_postfix.py)."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.abuse import load_config
from analysis.inventory import load_inventory

HERE = Path(__file__).parent / "data" / "abuse"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import abuse_checks as checks  # noqa: E402

DRIVER = checks.load_module(
    "abuse_scenario", Path(__file__).resolve().parents[1] / "scripts" / "abuse_scenario.py"
)
H = DRIVER.H
AT = dt.datetime(2026, 11, 9, 10, 0, tzinfo=dt.UTC)
TAIL = b" relay1 postfix/qmgr[7]: 3F2A1: removed\n"

SHIFTS = [
    # (what, source lines, year written, phase start, expected lines)
    (
        "first line lands on the phase start, gaps kept, day padded",
        [b"Nov 22 08:05:01" + TAIL, b"Nov 22 08:05:06" + TAIL],
        2026,
        AT,
        [b"Nov  9 10:00:00" + TAIL, b"Nov  9 10:00:05" + TAIL],
    ),
    (
        "a phase crossing midnight into the next month",
        [b"Nov 22 08:05:01" + TAIL, b"Nov 22 08:05:04" + TAIL],
        2026,
        dt.datetime(2026, 11, 30, 23, 59, 59),
        [b"Nov 30 23:59:59" + TAIL, b"Dec  1 00:00:02" + TAIL],
    ),
    (
        "a capture crossing New Year keeps its 2-second gap",
        [b"Dec 31 23:59:59" + TAIL, b"Jan  1 00:00:01" + TAIL],
        2025,
        AT,
        [b"Nov  9 10:00:00" + TAIL, b"Nov  9 10:00:02" + TAIL],
    ),
    (
        "a line without a stamp is kept as it is, and the last line needs no newline",
        [b"Nov 22 08:05:01" + TAIL, b"garbage \xff\n", b"Nov 22 08:05:02 relay1 postfix/x[1]: tail"],
        2026,
        AT,
        [b"Nov  9 10:00:00" + TAIL, b"garbage \xff\n", b"Nov  9 10:00:01 relay1 postfix/x[1]: tail"],
    ),
    (
        "a line stamped a second before its predecessor: the earliest stamp is the phase start",
        [b"Nov 22 08:05:02" + TAIL, b"Nov 22 08:05:01" + TAIL, b"Nov 22 08:05:03" + TAIL],
        2026,
        AT,
        [b"Nov  9 10:00:01" + TAIL, b"Nov  9 10:00:00" + TAIL, b"Nov  9 10:00:02" + TAIL],
    ),
    (
        "two-digit days and other bytes untouched",
        [b"Feb  3 01:02:03 relay1 postfix/smtp[9]: to=<a@b.example>, status=sent (250 Nov 22 08:05:01)\n"],
        2026,
        dt.datetime(2026, 3, 14, 9, 26, 53),
        [b"Mar 14 09:26:53 relay1 postfix/smtp[9]: to=<a@b.example>, status=sent (250 Nov 22 08:05:01)\n"],
    ),
]


@pytest.mark.parametrize(("what", "lines", "year", "at", "expected"), SHIFTS, ids=[s[0] for s in SHIFTS])
def test_shift_segment(
    what: str, lines: list[bytes], year: int, at: dt.datetime, expected: list[bytes]
) -> None:
    assert DRIVER.shift_segment(b"".join(lines), at, year) == b"".join(expected)


def test_assemble_splits_at_the_phase_offsets() -> None:
    log = b"Nov 22 08:05:01" + TAIL + b"Nov 22 08:05:09" + TAIL + b"Nov 22 08:05:10" + TAIL
    cut = len(b"Nov 22 08:05:01" + TAIL)
    starts = [AT, AT + dt.timedelta(days=1, hours=-7)]
    assert DRIVER.assemble(log, [cut], starts, 2026) == (
        b"Nov  9 10:00:00" + TAIL + b"Nov 10 03:00:00" + TAIL + b"Nov 10 03:00:01" + TAIL
    )
    with pytest.raises(H.HarnessError, match="one offset per phase boundary"):
        DRIVER.assemble(log, [], starts, 2026)


@pytest.fixture(scope="module")
def plan() -> Any:
    return DRIVER.make_plan()


def test_plan_is_deterministic_and_in_time_order(plan: Any) -> None:
    again = DRIVER.make_plan()
    assert [p.at for p in plan.phases] == [p.at for p in again.phases]
    assert plan.fates == again.fates
    starts = [p.at for p in plan.phases]
    assert starts == sorted(starts) and len({s.date() for s in starts}) == DRIVER.DAYS


def test_plan_meets_the_minimum_volumes_of_the_signals_it_should_raise(plan: Any) -> None:
    """If a planted signal stays quiet on the real log, it is not because the plan sent too little."""
    cfg = load_config()
    last_day = DRIVER.WINDOW[0]
    mails: dict[tuple[str, bool], list[Any]] = {}
    night = []
    for phase in plan.phases:
        for s in phase.sessions:
            mails.setdefault((s.sender.account_id, phase.at >= last_day), []).extend(s.mails)
            if s.source in DRIVER.STOLEN_IPS:
                night.append(phase.at)
    victim, spammer = DRIVER.VICTIM.account_id, DRIVER.SPAMMER.account_id
    assert len(mails[(victim, False)]) >= cfg.min_history_messages  # new client IPs / recipients judged
    assert len({t.hour for t in night}) == 1 and len(night) >= len(DRIVER.STOLEN_IPS)
    burst = [m for m in mails[(victim, True)] if m.subject == "Invoice overdue"]
    assert len(burst) >= cfg.signal("volume_spike").min_n
    history_days = DRIVER.DAYS - 1
    assert (
        history_days - 1 >= cfg.baseline_min_points
    )  # same-hour-of-day fallback (the night hour of day 1 precedes the data)
    rcpts = sum(len(m.recipients) for m in mails[(spammer, True)])
    assert rcpts >= cfg.signal("policy_rejections").min_n
    victim_rcpts = sum(len(m.recipients) for m in mails[(victim, True)])
    assert victim_rcpts >= cfg.signal("unknown_user_rate").min_n
    tiny = mails[(DRIVER.TINY.account_id, True)]
    assert len(tiny) == 3 and sum(r in plan.fates for m in tiny for r in m.recipients) == 1
    assert (DRIVER.TINY.account_id, False) not in mails


def test_transport_table_keeps_everything_on_loopback(plan: Any) -> None:
    ports = {name: 30000 + i for i, name in enumerate(DRIVER.PORT_NAMES)}
    routes = dict(line.split("\t", 1) for line in DRIVER.transport_table(ports, plan.fates).splitlines())
    assert all(re.fullmatch(r"smtp:\[127\.0\.0\.1\]:\d+|discard:.*", v) for v in routes.values())
    assert routes["gmail.com"] == f"smtp:[127.0.0.1]:{ports[H.ACCEPT]}"
    assert routes[DRIVER.TRAP_DOMAIN] == routes["gmail.com"]  # traps accept silently
    limited = [a for a, f in plan.fates.items() if f == H.RATE_LIMITED]
    assert limited and all(a.endswith("@gmail.com") for a in limited)  # 421 4.7.28 is Gmail's answer
    blocked = [a for a, f in plan.fates.items() if f == H.BLOCKLISTED]
    assert blocked and routes[blocked[0]] == f"smtp:[127.0.0.1]:{ports[H.BLOCKLISTED]}"
    assert all(routes[s.login.domain].startswith("discard:") for s in DRIVER.SENDERS)  # NDRs to our senders


def test_inventory_maps_every_sasl_login(tmp_path: Path) -> None:
    path = tmp_path / "inventory.toml"
    path.write_text(DRIVER.inventory_toml(), encoding="utf-8")
    inv = load_inventory(path)
    assert {u: a.account_id for a in inv.accounts for u in a.sasl_usernames} == {
        s.login.username: s.account_id for s in DRIVER.SENDERS
    }
    assert DRIVER.TRAP_DOMAIN in inv.trap_domains and DRIVER.TRAP_ADDRESS in inv.trap_addresses
