"""The abuse notebooks through the real report runner (papermill, nbconvert): on the scenario store they
say what the scenario planted, on an empty store they still render, and hostile names and replies show
as text. The frames behind them are checked directly too (no kernel)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from analysis.abuse import report
from analysis.store import connect
from test_abuse_scenario import SCN, build_store
from test_abuse_signals import T0, new_store
from test_notebooks import run_report

XSS_USER = "<script>window.__xss='user'</script>"
XSS_REPLY = "550 5.7.1 <img src=x onerror=\"window.__xss='reply'\"> blocked using zen.spamhaus.org"
WINDOW = ("-p", f"start={SCN.WINDOW[0].date()}", "-p", f"end={SCN.WINDOW[1].date()}")


def rendered(out: Path, name: str) -> tuple[str, dict[str, Any]]:
    html = next(out.glob(f"{name}*.html")).read_text(encoding="utf-8")
    meta = json.loads(next(out.glob(f"{name}*.json")).read_text(encoding="utf-8"))
    return html, meta


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("abuse_nb"))


def test_investigation_frames_of_the_victim(db: Path) -> None:
    p = report.validate_params(
        db=str(db), start="2026-11-17", end="2026-11-18", kind="account", subject="victim"
    )
    con = connect(db, read_only=True)
    try:
        inv = report.investigate(con, p)
    finally:
        con.close()
    assert inv.verdict is not None and inv.verdict.action == "suspend"
    markers = inv.markers()
    assert set(markers["kind"]) == {"new client IP"} and markers.height == 40
    assert markers["ts"].min() >= SCN.WINDOW[0].replace(hour=2)
    timeline = inv.timeline()
    assert int(timeline["messages"].sum()) == inv.verdict.messages
    ids = inv.identities().filter(identity="client_ip")
    assert ids.filter(value="198.51.100.40")["seen_before"].to_list() == [True]
    assert ids.filter(seen_before=False).height == min(
        40, 29
    )  # 30 rows per identity kind, the usual IP first
    replies = inv.top_replies()
    assert "<addr>" in replies["normalized_reply"][0] and "@" not in "".join(replies["normalized_reply"])
    assert inv.peers()["subject"].to_list()[0] is True
    hours, counts, split = inv.baseline()
    assert len(hours) == len(counts) and sum(counts[split:]) == inv.verdict.messages


def test_parameters_are_checked() -> None:
    for values, message in [
        ({"min_severity": "extreme"}, "parameter min_severity"),
        ({"kind": "recipient"}, "parameter kind"),
        ({"start": "2026-13-01"}, "parameter start"),
        ({"thresholds": "/nonexistent.toml"}, "parameter thresholds"),
    ]:
        with pytest.raises(Exception, match=message):
            report.validate_params(db=str(Path(__file__)), **values)  # any existing file passes the db check


@pytest.mark.slow
def test_triage_report_ranks_the_planted_accounts(db: Path, tmp_path: Path) -> None:
    res = run_report("abuse_triage", db, tmp_path, *WINDOW)
    assert res.returncode == 0, res.stderr
    html, meta = rendered(tmp_path, "abuse_triage")
    suspects = meta["figures"]["suspects"]
    assert {s["account"] for s in suspects[:2]} == set(SCN.BAD) and len(suspects) == 2
    assert meta["figures"]["by_action"]["monitor"] == 3
    text = text_of(html)
    assert "5 accounts judged: 2 suspend, 3 monitor." in text
    assert "<svg" in html and "no signal raised" in text


@pytest.mark.slow
def test_investigation_report_of_the_victim_by_client_ip(db: Path, tmp_path: Path) -> None:
    res = run_report(
        "abuse_investigation", db, tmp_path, *WINDOW, "-p", "kind=client_ip", "-p", "subject=203.0.113.10"
    )
    assert res.returncode == 0, res.stderr
    html, meta = rendered(tmp_path, "abuse_investigation")
    assert meta["figures"]["account"] == "victim" and meta["figures"]["kind"] == "client_ip"
    text = text_of(html)
    assert "Judged on all its mail, victim is suspend" in text
    for section in (
        "Verdict, signal by signal",
        "Timeline",
        "Identities",
        "Recipient domains and providers",
        "Top normalised replies",
        "Complaints and spam-trap hits",
        "Evidence",
        "Baseline and peers",
        "Suggested action",
    ):
        assert section in text


@pytest.mark.slow
@pytest.mark.parametrize("name", ["abuse_triage", "abuse_investigation"])
def test_reports_render_on_an_empty_store(name: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    res = run_report(name, empty, tmp_path / "out")
    assert res.returncode == 0, res.stderr
    _, meta = rendered(tmp_path / "out", name)
    assert meta["notebook"] == name


@pytest.mark.slow
def test_hostile_names_and_replies_are_text(tmp_path: Path) -> None:
    s = new_store(tmp_path / "x.duckdb")
    s.many(150, sasl=XSS_USER, sender="a@evil.example")
    s.many(
        50,
        sasl=XSS_USER,
        sender="a@evil.example",
        attempts=(("bounced", "5.7.1", "blocked", "soft", XSS_REPLY),),
    )
    s.finish().close()
    start = ("-p", f"start={T0.date()}", "-p", f"end={(T0 + dt.timedelta(days=1)).date()}")
    for name in ("abuse_triage", "abuse_investigation"):
        out = tmp_path / name
        res = run_report(name, tmp_path / "x.duckdb", out, *start)
        assert res.returncode == 0, res.stderr
        html, _ = rendered(out, name)
        assert XSS_USER not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.__xss=" in html
    html, _ = rendered(tmp_path / "abuse_investigation", "abuse_investigation")
    assert "&lt;img src=x onerror=" in html  # the normalised reply, escaped


def test_plot_helpers_escape_and_compute(tmp_path: Path) -> None:
    from analysis.abuse import rank
    from analysis.plots import abuse as abuse_plots

    assert abuse_plots.ewma([0, 10, 10, 10]) == [0.0, 1.0, 1.9, 2.71]
    svg = abuse_plots.sparkline_svg([0, 1, 2, 4], 2)
    points = re.search(r'points="([^"]+)"', svg)
    assert points and points.group(1) == "0.0,26.0 60.0,20.0 120.0,14.0 180.0,2.0"  # peak at the top
    assert '<rect x="120.0"' in svg  # the window (from index 2) shaded
    s = new_store(tmp_path / "x.duckdb")
    s.many(5, sasl=XSS_USER)
    con = s.finish()
    ranking = rank(con, T0, T0 + dt.timedelta(days=1))
    con.close()
    html = abuse_plots.suspects_table(ranking).html
    assert XSS_USER not in html and "&lt;script&gt;window.__xss=" in html
    fig = abuse_plots.score_chart(ranking)
    assert fig.layout.annotations[0].text == "no data in this window"  # nothing raised: no bars
