"""The report runner end to end through the CLI, with small notebooks written per test (real papermill).

A cell placed BEFORE the parameters cell writes a marker file: papermill runs cells in order, so the
marker's absence proves that no kernel executed anything when the runner refused the parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.reports.kernel import runs_this_interpreter
from analysis.reports.summary import SUMMARY_MIME

PARAMS = 'x: int = 1  # a number\nlabel: str = "plain"  # shown in the report\n'


def write_notebook(directory: Path, name: str, marker: Path) -> Path:
    params = new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Runner test"),
            new_code_cell(f"open({str(marker)!r}, 'a').write('ran\\n')"),
            params,
            new_code_cell("from analysis.reports.params import validate\np = validate(x=x, label=label)"),
            new_code_cell(
                "import os, sys\nimport analysis.plots as plots\nimport plotly.graph_objects as go\n"
                "if os.environ.get('DW_TEST_FAIL'):\n    raise RuntimeError('boom on purpose')\n"
                "go.Figure(go.Bar(x=[plots.charts.label(label)], y=[x]))"
            ),
            new_code_cell("from analysis.reports.summary import emit\nemit({'x': x, 'exe': sys.executable, 'breaches': []})"),
        ]
    )
    path = directory / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def report(args: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "report", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture
def nbdir(tmp_path: Path) -> Path:
    d = tmp_path / "notebooks"
    d.mkdir()
    write_notebook(d, "tiny", tmp_path / "kernel-ran")
    return d


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nope=1"], "unknown parameter 'nope'"),
        (["-p", "x=abc"], "parameter x: 'abc' is not a valid int"),
        (["-p", "x"], "expected KEY=VALUE"),
        (["--db", "some.duckdb"], "no db parameter"),
    ],
)
def test_bad_parameters_exit_2_before_a_kernel_starts(nbdir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    res = report(["tiny", "--notebooks", str(nbdir), "--out", str(out), *args])
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "kernel-ran").exists(), "a kernel executed cells"
    assert not out.exists() or not list(out.glob("*.html"))


def test_unknown_notebook_and_missing_name(nbdir: Path, tmp_path: Path) -> None:
    res = report(["nothere", "--notebooks", str(nbdir)])
    assert res.returncode == 2 and "available: tiny" in res.stderr
    res = report(["../tiny", "--notebooks", str(nbdir)])
    assert res.returncode == 2
    res = report(["--notebooks", str(nbdir)])
    assert res.returncode == 2 and "--list" in res.stderr


def test_list_shows_parameters_types_defaults_comments(nbdir: Path) -> None:
    res = report(["--list", "--notebooks", str(nbdir)])
    assert res.returncode == 0, res.stderr
    assert "tiny  —  Runner test" in res.stdout
    assert "x: int = 1  # a number" in res.stdout
    assert "label: str = 'plain'  # shown in the report" in res.stdout


@pytest.mark.slow
def test_run_publish_fail_keeps_last_good_report(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    base = ["tiny", "--notebooks", str(nbdir), "--out", str(out)]

    ok = report([*base, "-p", "x=5", "--format", "both"])
    assert ok.returncode == 0, ok.stderr
    html, summary = out / "tiny__x-5.html", out / "tiny__x-5.json"
    assert html.is_file() and summary.is_file() and (out / "tiny__x-5.ipynb").is_file()
    meta = json.loads(summary.read_text())
    assert meta["figures"]["x"] == 5
    assert meta["figures"]["exe"] == sys.executable, "papermill ran another interpreter"
    assert meta["notebook"] == "tiny" and meta["params"] == {"x": 5, "label": "plain"}
    page = html.read_text()
    assert "Runner test" in page
    assert "validate(x=x" not in page, "input cells must be hidden"
    assert "summary for alerting" not in page and SUMMARY_MIME not in page
    assert page.count("plotly.js v") == 1, "plotly.js must be inlined exactly once"
    assert '<script src="http' not in page and "cdn.jsdelivr.net/npm/mathjax" not in page

    # A second report, notebook only, with an HTML-looking parameter: its own files, listed first, escaped.
    ok2 = report([*base, "-p", "label=<img src=x onerror=alert(1)>", "--format", "ipynb"])
    assert ok2.returncode == 0, ok2.stderr
    second_files = sorted(p.suffix for p in out.glob("tiny__label-*"))
    assert second_files == [".ipynb", ".json"]
    index = (out / "index.html").read_text()
    assert "<img src=x" not in index and "&lt;img src=x onerror=alert(1)&gt;" in index
    first, second = index.index('href="tiny__label-'), index.index('href="tiny__x-5.html"')
    assert index[first:].startswith('href="tiny__label-') and ".ipynb" in index[first:second]
    assert first < second, "index must list the newest report first"

    # The same report failing: exit 1, the failing cell named, the published files untouched.
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (html, summary)}
    bad = report([*base, "-p", "x=5"], env={"DW_TEST_FAIL": "1"})
    assert bad.returncode == 1
    assert "failed in cell" in bad.stderr and "RuntimeError: boom on purpose" in bad.stderr
    assert "import os, sys" in bad.stderr  # the first line of the failing cell
    assert "Traceback" not in bad.stderr
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (html, summary)} == before
    assert (out / "failed" / "tiny__x-5.ipynb").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temp files left behind"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "-m", "ipykernel_launcher"], True),
        ([f"python{sys.version_info[0]}", "-m", "ipykernel_launcher"], True),
        ([sys.executable, "-m", "ipykernel_launcher"], True),
        (["/usr/bin/some-other-python", "-m", "ipykernel_launcher"], sys.executable == "/usr/bin/some-other-python"),
        ([], False),
    ],
)
def test_kernel_argv_check(argv: list[str], expected: bool) -> None:
    assert runs_this_interpreter(argv) is expected


def test_private_kernelspec_runs_this_interpreter(tmp_path: Path) -> None:
    """When no usable kernelspec exists the runner writes its own; it must name sys.executable."""
    code = (
        "import sys, json\n"
        "from jupyter_client.kernelspec import KernelSpecManager\n"
        "from analysis.reports import kernel\n"
        "name = kernel._private_kernel()\n"
        "spec = KernelSpecManager().get_kernel_spec(name)\n"
        "print(json.dumps({'name': name, 'argv0': spec.argv[0], 'exe': sys.executable}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "JUPYTER_PATH": ""})
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["name"] == "deliverability" and got["argv0"] == got["exe"]


def test_cli_start_does_not_import_notebook_machinery() -> None:
    """`deliverability --help` and non-report commands must not pay for papermill/plotly/nbconvert."""
    code = "import sys, analysis.cli\nprint(sorted(m for m in ('plotly', 'papermill', 'nbconvert', 'jupyter_client') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
