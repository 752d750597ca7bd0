"""A notebook's own validation cell runs before any kernel: a bad notebook-specific value exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("notebook", "param", "needle"),
    [
        ("abuse_triage", "min_severity=bogus", "min_severity"),
        ("abuse_investigation", "kind=planet", "kind"),
        ("deliverability_overview", "start=2026-03-03", ""),  # a valid value alone must not be refused...
    ],
)
def test_notebook_specific_values_are_checked_before_the_kernel(
    tmp_path: Path, notebook: str, param: str, needle: str
) -> None:
    if not (ROOT / "notebooks" / f"{notebook}.ipynb").exists():
        pytest.skip(f"no notebook {notebook}")
    db = tmp_path / "empty.duckdb"
    subprocess.run(
        [sys.executable, "-m", "analysis", "totals", "--db", str(db)], capture_output=True, timeout=120
    )
    from analysis.store import connect

    connect(db).close()
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "analysis",
        "report",
        notebook,
        "--db",
        str(db),
        "--out",
        str(out),
        "-p",
        param,
    ]
    if not needle:
        # ...but one that contradicts another (start after end) is, before any kernel starts.
        args += ["-p", "end=2026-03-01"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert needle in p.stderr
    assert not list(out.glob("*.html")) and not (out / "failed").exists()
