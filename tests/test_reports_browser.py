"""Reports as a reader sees them: headless Chromium, networking off, loading the HTML from a file.

Checks: no console errors, uncaught exceptions or failed loads; no request leaves file://; every plotly
chart rendered an SVG; the planted <script>/<img onerror> reply shows as text and never runs.
Set DW_SCREENSHOT_DIR to keep a full-page screenshot of the overview for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser import Browser, available
from test_reports_data import XSS_IMG, XSS_SCRIPT, build_db

pytestmark = [
    pytest.mark.chromium,
    pytest.mark.slow,
    pytest.mark.skipif(not available(), reason="needs Debian chromium and websocket-client"),
]
ALL_CHARTS_DRAWN = (
    "document.querySelectorAll('.js-plotly-plot').length > 0 && "
    "Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => d.querySelector('svg.main-svg'))"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("analysis.metrics")
    base = tmp_path_factory.mktemp("browser")
    db = build_db(base / "r.duckdb")
    out = base / "reports"
    res = subprocess.run(
        [sys.executable, "-m", "analysis", "report", "deliverability_overview", "--db", str(db), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr
    return out


def test_overview_renders_offline_without_errors_and_escapes_replies(rendered: Path, tmp_path: Path) -> None:
    with Browser(width=1300, height=900) as browser:
        page = browser.load(rendered / "deliverability_overview.html", ready=ALL_CHARTS_DRAWN)
        charts = browser.evaluate("document.querySelectorAll('.js-plotly-plot').length")
        drawn = browser.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).filter(d => "
            "d.querySelector('svg.main-svg') && d.querySelectorAll('.trace, .bars, .scatterlayer path').length)"
            ".length"
        )
        xss = browser.evaluate("window.__xss === undefined ? null : String(window.__xss)")
        text = browser.evaluate("document.body.innerText")
        injected = browser.evaluate("document.querySelectorAll('td script, td img').length")
        shot = browser.screenshot(tmp_path / "overview.png")
    assert page.console_errors == [] and page.exceptions == [] and page.log_errors == []
    assert page.remote_requests == []
    in_source = (rendered / "deliverability_overview.html").read_text().count('class="plotly-graph-div"')
    assert charts == in_source >= 6 and drawn == charts, f"{drawn} of {charts} charts drawn ({in_source} in source)"
    assert xss is None, f"planted reply executed ({xss})"
    assert injected == 0
    assert XSS_SCRIPT in text and XSS_IMG in text, "the planted reply must be visible as text"
    assert "bounce.example" in text
    assert shot.stat().st_size > 50_000
    if os.environ.get("DW_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["DW_SCREENSHOT_DIR"]) / "overview.png")


def test_index_page_loads_and_links_the_report(rendered: Path) -> None:
    with Browser() as browser:
        page = browser.load(rendered / "index.html")
        links = browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    assert page.console_errors == [] and page.exceptions == [] and page.log_errors == []
    assert links == ["deliverability_overview.html"]
