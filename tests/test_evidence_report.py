"""The overview report's complaints and DMARC sections, rendered by the real runner (papermill + nbconvert)
from stores built by real ingests of data/samples, plus planted hostile reports; and on an empty store."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from test_evidence_cli import PLANTED_SOURCE, XSS_ORG, XSS_UA, build_store
from test_notebooks import OVERVIEW, run_report

pytestmark = pytest.mark.slow


def _render(db: Path, out: Path) -> tuple[str, dict[str, Any]]:
    res = run_report(OVERVIEW, db, out)
    assert res.returncode == 0, res.stderr
    page = (out / f"{OVERVIEW}.html").read_text()
    return page, json.loads((out / f"{OVERVIEW}.json").read_text())["figures"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("evreport")
    db = build_store(tmp / "s.duckdb", planted=tmp / "planted")
    return _render(db, tmp / "out")


@pytest.fixture(scope="module")
def rendered_empty(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    from analysis.store import connect

    tmp = tmp_path_factory.mktemp("evempty")
    connect(tmp / "e.duckdb").close()
    return _render(tmp / "e.duckdb", tmp / "out")


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_sections_are_there(rendered: tuple[str, dict[str, Any]]) -> None:
    page, _ = rendered
    for heading in ("Complaints", "Complaints by feedback type and match method", "DMARC aggregate reports",
                    "Possible spoofing", "Reporter coverage"):  # fmt: skip
        assert f">{heading}<" in page or f"{heading}</h" in page, heading
    text = _text(page)
    assert "9 complaint(s) received in this window (abuse 9)" in text
    assert "8 matched to a send, 1 unmatched" in text
    assert "4 report(s) from 4 reporter(s)" in text
    # the possible-spoofing sources and their volumes, straight from the sample XML
    assert "203.0.113.66" in text and PLANTED_SOURCE in text and "198.51.100.200" in text
    assert (
        "3 source(s) that are neither relay IPs nor known senders sent 89 messages, 89 failing DMARC" in text
    )
    for reporter in ("google.com", "Outlook.com", "Yahoo"):
        assert reporter in text


def test_summary_json_has_complaint_breaches_and_evidence_blocks(
    rendered: tuple[str, dict[str, Any]],
) -> None:
    _, figures = rendered
    block = figures["complaints"]
    assert (block["complaints"], block["matched"], block["unmatched"]) == (9, 8, 1)
    assert block["by_match_method"]["unmatched"] == 1
    assert figures["dmarc"]["unknown_sources"] == 3 and figures["dmarc"]["reporters"] == 4
    # google: 3 complaints about 156 delivered recipients, Wilson 95 % lower bound 0.66 % > every level;
    # yahoo has too few attempted recipients (< min_volume 100) to be judged.
    provider = {(b["value"], b["threshold"]) for b in figures["breaches"]
                if b["dimension"] == "provider" and b["rate"] == "complaint_rate"}  # fmt: skip
    assert provider == {("google", 0.001), ("google", 0.003), ("google", 0.005)}
    assert all(b in figures["breaches"] for b in block["breaches"])
    overall = [
        b for b in figures["breaches"] if b["dimension"] == "overall" and b["rate"] == "complaint_rate"
    ]
    assert len(overall) == 3 and len({json.dumps(b, sort_keys=True) for b in figures["breaches"]}) == len(
        figures["breaches"]
    ), "no breach listed twice"


def test_planted_script_tags_show_as_text(rendered: tuple[str, dict[str, Any]]) -> None:
    page, _ = rendered
    for planted in (XSS_UA, XSS_ORG):
        assert planted not in page
        # nbconvert re-serialises HTML (quotes may come back unescaped), so match the escaped tag
        inner = planted.removeprefix("<script>").removesuffix("</script>").replace("'", "")
        escaped = [m for m in re.findall(r"&lt;script&gt;([^&]*)&lt;/script&gt;", page)]
        assert any(inner == e.replace("'", "").replace("&#x27;", "").replace("&#39;", "") for e in escaped), (
            planted
        )
    assert "window.__xss='ua'</script>" not in page and "window.__xss='org'</script>" not in page


def test_empty_store_says_so(rendered_empty: tuple[str, dict[str, Any]]) -> None:
    page, figures = rendered_empty
    text = _text(page)
    assert "no complaints in this window" in text
    assert "no DMARC reports in this window" in text
    assert figures["complaints"]["complaints"] == 0 and figures["dmarc"]["reports"] == 0
    assert figures["breaches"] == []
