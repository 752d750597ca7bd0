"""Every notebook in notebooks/ runs headless through the runner on the small test database, and the
overview says what the data says; notebooks are committed thin and without outputs."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_reports_data import PLANTED_REPLY, XSS_IMG, XSS_SCRIPT, build_db

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
OVERVIEW = "deliverability_overview"


def run_report(name: str, db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", name, "--db", str(db), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("nbdb") / "reports.duckdb")


@pytest.fixture(scope="module")
def overview(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("analysis.metrics")
    out = tmp_path_factory.mktemp("overview")
    res = run_report(OVERVIEW, db, out)
    assert res.returncode == 0, res.stderr
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_thin_and_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [], f"{path.name}: committed outputs"
        assert cell.execution_count is None, f"{path.name}: committed execution counts"
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0], "one parameters cell, the first code cell"
    validation = code[1].source
    assert re.search(r"\bvalidate\w*\(", validation), "the cell after the parameters validates them"
    assert len(ast.parse(validation).body) <= 2, "validation is one call (plus its import)"
    for cell in code:
        assert "def " not in cell.source and "class " not in cell.source, "logic belongs in the package"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_renders_on_the_small_database(
    path: Path, db: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if path.stem == OVERVIEW:
        out = request.getfixturevalue("overview")  # rendered once for the checks below
    else:
        out = tmp_path
        res = run_report(path.stem, db, out)
        assert res.returncode == 0, res.stderr
    assert (out / f"{path.stem}.html").is_file()
    assert json.loads((out / f"{path.stem}.json").read_text())["notebook"] == path.stem
    assert path.stem in (out / "index.html").read_text()


@pytest.mark.slow
def test_overview_summary_json_has_the_breach_and_not_the_tiny_sender(overview: Path) -> None:
    meta = json.loads((overview / f"{OVERVIEW}.json").read_text())
    figures = meta["figures"]
    assert figures["attempted"] == 703 and figures["delivered"] == 653
    by_sender = {(b["value"], b["threshold"]) for b in figures["breaches"] if b["dimension"] == "sender_domain"}
    assert by_sender == {("bounce.example", 0.05), ("bounce.example", 0.10)}
    assert meta["params"]["min_volume"] == 100


@pytest.mark.slow
def test_overview_written_summary_is_computed_from_the_data(overview: Path) -> None:
    page = (overview / f"{OVERVIEW}.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "703 recipients attempted" in text
    assert "653 delivered" in text
    assert "sender_domain bounce.example: hard_bounce_rate 15.00 %" in text
    assert "Worst sender domain by hard-bounce lower bound: bounce.example" in text
    assert "Largest mailbox provider: gmail" in text
    for section in ("Volume and outcome mix", "Rates by mailbox provider", "Rates by sender domain",
                    "Top bounce reasons and replies", "Latency", "Worst senders"):
        assert section in page


@pytest.mark.slow
def test_overview_escapes_the_planted_reply(overview: Path) -> None:
    page = (overview / f"{OVERVIEW}.html").read_text()
    assert XSS_SCRIPT not in page and XSS_IMG not in page
    # nbconvert re-serialises output HTML (quotes may come back unescaped in text), so match the tags.
    assert "&lt;script&gt;window.__xss=" in page and "&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    assert PLANTED_REPLY.split()[0] in page


@pytest.mark.slow
def test_filters_change_the_report_and_its_name(db: Path, tmp_path: Path) -> None:
    pytest.importorskip("analysis.metrics")
    res = run_report(OVERVIEW, db, tmp_path, "-p", "sender_domain=good.example", "-p", "min_volume=50")
    assert res.returncode == 0, res.stderr
    stem = f"{OVERVIEW}__sender_domain-good.example__min_volume-50"
    meta = json.loads((tmp_path / f"{stem}.json").read_text())
    assert meta["figures"]["attempted"] == 400
    assert meta["figures"]["filters"] == {"sender_domain": "good.example"}
    assert not [b for b in meta["figures"]["breaches"] if b["dimension"] == "sender_domain"]


@pytest.mark.slow
def test_overview_runs_as_an_analyst_would_without_papermill(db: Path) -> None:
    """JupyterLab: working directory notebooks/, no injected parameters, database from the environment."""
    pytest.importorskip("analysis.metrics")
    from nbclient import NotebookClient

    from analysis.reports.kernel import kernel_name

    path = next(p for p in NOTEBOOKS if p.stem == OVERVIEW)
    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("DELIVERABILITY_DB")
    os.environ["DELIVERABILITY_DB"] = str(db)
    try:
        NotebookClient(nb, kernel_name=kernel_name(), timeout=600,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop("DELIVERABILITY_DB")
        else:
            os.environ["DELIVERABILITY_DB"] = old
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    html = "".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
    assert "703 recipients attempted" in html


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("confidence=1.5", "parameter confidence"),
        ("start=2026-13-01", "parameter start"),
        ("min_volume=ten", "parameter min_volume: 'ten' is not a valid int"),
        ("start=2026-03-03", "is not before end"),
    ],
)
def test_overview_rejects_bad_values_before_running(db: Path, tmp_path: Path, param: str, message: str) -> None:
    res = run_report(OVERVIEW, db, tmp_path, "-p", param, "-p", "end=2026-03-02")
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.glob("*.html"))
