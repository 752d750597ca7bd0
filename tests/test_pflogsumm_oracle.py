"""Our totals against Debian pflogsumm on the captured real Postfix log (data/samples/postfix-real.log).

pflogsumm reads only the default instance (`postfix`) and ignores `status=expired`, so:
- on a copy of the log filtered to the default instance, our totals must EQUAL pflogsumm's;
- on the whole log (which also has `postfix-out` lines) ours must be at least pflogsumm's, strictly
  more where postfix-out did the work, and equal to pflogsumm told `--syslog-name=postfix-out`;
- `expired` is ours alone: it must count the messages qmgr logged as expired.
The first tests check the oracle itself: that pflogsumm counts what tests/oracles/pflogsumm.py says.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oracles.pflogsumm import (
    PflogsummError,
    abbreviated_fields,
    available,
    filter_instances,
    instances,
    parse_grand_totals,
    pflogsumm_totals,
)

pytestmark = [
    pytest.mark.pflogsumm,
    pytest.mark.skipif(not available(), reason="pflogsumm not installed (Debian package pflogsumm)"),
]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "postfix-real.log"
CAPTURE_YEAR = 2026  # the sample was captured in November 2026; traditional timestamps carry no year
CONTRACT_KEYS = ("received", "delivered", "deferred", "deferrals", "bounced", "rejected")


@pytest.fixture(scope="module", autouse=True)
def _sample_present() -> None:
    assert SAMPLE.exists(), f"{SAMPLE} is committed with the repo; recapture with scripts/postfix_harness.py"


@functools.cache
def pf(log: Path, syslog_name: str | None = None) -> dict[str, int]:
    """pflogsumm's Grand Totals, run once per (file, syslog name) in this module."""
    return pflogsumm_totals(log, syslog_name=syslog_name)


@pytest.fixture(scope="module")
def default_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample without the postfix-out lines: exactly the lines pflogsumm reads."""
    dst = tmp_path_factory.mktemp("pflogsumm") / "postfix-default-only.log"
    filter_instances(SAMPLE, dst, keep=("postfix",))
    return dst


def deliverability(*args: str) -> str:
    exe = Path(sys.executable).with_name("deliverability")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "analysis"]
    proc = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"deliverability {' '.join(args)} failed: {proc.stderr.strip()[-500:]}"
    return proc.stdout


def our_totals(log: Path, db: Path) -> dict[str, int]:
    deliverability("ingest", str(log), "--db", str(db), "--year", str(CAPTURE_YEAR))
    totals = json.loads(deliverability("totals", "--db", str(db), "--json"))
    assert isinstance(totals, dict)
    return totals


@pytest.fixture(scope="module")
def ours_full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    return our_totals(SAMPLE, tmp_path_factory.mktemp("db") / "full.duckdb")


@pytest.fixture(scope="module")
def ours_default(tmp_path_factory: pytest.TempPathFactory, default_only: Path) -> dict[str, int]:
    return our_totals(default_only, tmp_path_factory.mktemp("db") / "default.duckdb")


# --------------------------------------------------------------------------------------------------
# The oracle itself
# --------------------------------------------------------------------------------------------------

REPORT = """\
Grand Totals
------------
messages

   1234   received
   2345k  delivered
      0   forwarded
     12   deferred  (600k deferrals)
      3   bounced
     45   rejected (2%)
      1   reject warnings
      2   held
      0   discarded (0%)

   9876m  bytes received
    700k  bytes delivered
     31   senders
      9   sending hosts/domains
    220   recipients
     16   recipient hosts/domains


Per-Hour Traffic Summary
------------------------
"""

PARSED = [
    ("received", 1234), ("delivered", 2345 * 1024), ("forwarded", 0), ("deferred", 12),
    ("deferrals", 600 * 1024), ("bounced", 3), ("rejected", 45), ("reject_warnings", 1), ("held", 2),
    ("discarded", 0), ("bytes_received", 9876 * 1024 * 1024), ("bytes_delivered", 700 * 1024),
    ("senders", 31), ("sending_domains", 9), ("recipients", 220), ("recipient_domains", 16),
]


@pytest.mark.parametrize(("key", "value"), PARSED)
def test_parse_grand_totals_reads_every_field_and_unit(key: str, value: int) -> None:
    assert parse_grand_totals(REPORT)[key] == value


def test_parse_grand_totals_names_abbreviated_fields() -> None:
    assert abbreviated_fields(REPORT) == {"delivered", "deferrals", "bytes_received", "bytes_delivered"}


@pytest.mark.parametrize("broken", ["", "no totals here\n", REPORT.replace("   3   bounced\n", "")])
def test_parse_grand_totals_refuses_incomplete_reports(broken: str) -> None:
    with pytest.raises(PflogsummError):
        parse_grand_totals(broken)


def _default_instance_lines(log: Path) -> list[str]:
    return [ln for ln in log.read_text().splitlines() if re.match(r"^\w{3} [ \d]\d [\d:]{8} \S+ postfix/", ln)]


def expected_by_documented_rules(log: Path) -> dict[str, int]:
    """pflogsumm's counts, recomputed from the rules written in tests/oracles/pflogsumm.py."""
    lines = _default_instance_lines(log)
    daemon = re.compile(r" postfix(?:/(?:smtps|submission))?/(?P<d>[^\[:]*)\[\d+\]: (?P<qid>[^:\s]+): (?P<rest>.*)$")
    counts = dict.fromkeys(("received", "delivered", "deferrals", "bounced", "rejected", "reject_warnings",
                            "held", "discarded"), 0)
    deferred_ids: set[str] = set()
    for line in lines:
        m = daemon.search(line)
        if not m:
            continue
        d, qid, rest = m.group("d"), m.group("qid"), m.group("rest")
        if d in ("smtpd", "postscreen"):
            counts["received"] += rest.startswith("client=")
            for action, key in (("reject", "rejected"), ("reject_warning", "reject_warnings"), ("hold", "held"),
                                ("discard", "discarded")):
                counts[key] += rest.startswith(f"{action}: ")
        elif d == "cleanup":
            cm = re.match(r"(reject|milter-reject|warning|hold|discard): (header|body|END-OF-MESSAGE) ", rest)
            if cm:
                key = {"reject": "rejected", "milter-reject": "rejected", "warning": "reject_warnings",
                       "hold": "held", "discard": "discarded"}[cm.group(1)]
                counts[key] += 1
        elif d == "pickup" and re.match(r"(uid|sender)=", rest):
            counts["received"] += 1
        elif rest.startswith("to=<"):
            status = re.search(r", status=(\S+)", rest)
            if status and status.group(1) == "sent" and "forwarded as " not in rest:
                counts["delivered"] += 1
            elif status and status.group(1) == "deferred":
                counts["deferrals"] += 1
                deferred_ids.add(qid)
            elif status and status.group(1) == "bounced":
                counts["bounced"] += 1
    counts["deferred"] = len(deferred_ids)
    return counts


def test_sample_has_what_pflogsumm_misses() -> None:
    text = SAMPLE.read_text()
    assert instances(line.encode() for line in text.splitlines()) == {"postfix", "postfix-out"}
    assert re.search(r" postfix-out/smtpd\[\d+\]: \w+: client=", text)
    assert re.search(r" postfix-out/smtp\[\d+\]: \w+: to=<.*status=(sent|deferred|bounced)", text)
    assert re.search(r"qmgr\[\d+\]: \w+: from=<[^>]*>, status=expired, returned to sender", text)


@pytest.mark.parametrize("key", ["received", "delivered", "deferred", "deferrals", "bounced", "rejected",
                                 "reject_warnings", "held", "discarded"])
def test_pflogsumm_counts_as_documented(default_only: Path, key: str) -> None:
    assert pf(default_only)[key] == expected_by_documented_rules(default_only)[key]


def test_pflogsumm_ignores_non_default_instances(default_only: Path) -> None:
    whole = pf(SAMPLE)
    assert whole == pf(default_only)
    told = pf(SAMPLE, "postfix-out")
    for key in ("received", "delivered", "deferred", "bounced"):
        assert told[key] > whole[key], key


def test_pflogsumm_ignores_expiry(tmp_path: Path) -> None:
    without = tmp_path / "no-expired.log"
    kept = [ln for ln in SAMPLE.read_text().splitlines(keepends=True) if "status=expired" not in ln]
    assert len(kept) < len(SAMPLE.read_text().splitlines())
    without.write_text("".join(kept))
    assert pflogsumm_totals(without) == pf(SAMPLE)


# --------------------------------------------------------------------------------------------------
# Our totals (deliverability ingest + totals --json) against it
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", CONTRACT_KEYS)
def test_totals_equal_pflogsumm_on_default_instance(ours_default: dict[str, int], default_only: Path,
                                                     key: str) -> None:
    assert ours_default[key] == pf(default_only)[key]


@pytest.mark.parametrize("key", CONTRACT_KEYS)
def test_totals_count_postfix_out_where_pflogsumm_misses_it(ours_full: dict[str, int], key: str) -> None:
    blind = pf(SAMPLE)
    told = pf(SAMPLE, "postfix-out")
    assert ours_full[key] >= blind[key]
    assert ours_full[key] == told[key]
    if told[key] > blind[key]:
        assert ours_full[key] > blind[key]


def test_totals_count_expired_messages(ours_full: dict[str, int], ours_default: dict[str, int]) -> None:
    expired = set(re.findall(r" (postfix[\w-]*)/qmgr\[\d+\]: (\w+): from=<[^>]*>, status=expired,",
                             SAMPLE.read_text()))
    assert ours_full["expired"] > 0
    assert ours_full["expired"] == len(expired)
    assert ours_default["expired"] == len({e for e in expired if e[0] == "postfix"})
    assert any(e[0] == "postfix-out" for e in expired)  # the sample has one pflogsumm could never see


def test_totals_account_for_every_line(ours_full: dict[str, int]) -> None:
    read = len(SAMPLE.read_bytes().splitlines())
    assert ours_full["lines_read"] == read
    assert ours_full["lines_parsed"] + ours_full["lines_quarantined"] + ours_full["lines_other"] == read


SECONDARY = ("reject_warnings", "held", "discarded", "senders", "recipients")


@pytest.mark.parametrize("key", SECONDARY)
def test_secondary_totals_equal_pflogsumm_where_reported(ours_default: dict[str, int], default_only: Path,
                                                         key: str) -> None:
    if key not in ours_default:
        pytest.skip(f"totals --json has no {key!r}")
    assert ours_default[key] == pf(default_only)[key]


def test_bytes_received_within_pflogsumm_rounding(ours_default: dict[str, int], default_only: Path) -> None:
    report_bytes = pf(default_only)["bytes_received"]
    unit = 1024 if report_bytes >= 512 * 1024 else 1
    assert report_bytes <= ours_default["bytes_received"] < report_bytes + unit


