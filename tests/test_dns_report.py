"""The DNS health notebook: parameters cell shape, no stored outputs, a real papermill run through the
report runner on a database of stored observations, the plot builders, and the import boundary."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import polars as pl
import pytest
from click.testing import CliRunner

from analysis.cli import main
from analysis.dns.findings import CheckResult
from analysis.dns.history import store_results
from analysis.dns.report import results_frames, severity_counts, validate_params
from analysis.errors import InputError
from analysis.plots import dns as dns_plots
from analysis.store import connect

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "dns_auth_health.ipynb"


def _results(p: str, bits: int) -> list[CheckResult]:
    spf = CheckResult("shop.test", "spf", "present", "v=spf1 +all")
    spf.add("spf.plus_all", "'+all' authorises every host <script>alert(1)</script>")
    dkim = CheckResult(
        "shop.test", "dkim:s1", "present", "v=DKIM1; p=...", data={"bits": bits, "key_sha256": str(bits)}
    )
    dkim.add("dkim.key_weak" if bits < 2048 else "dkim.ok", f"{bits} bits")
    dmarc = CheckResult("shop.test", "dmarc", "present", f"v=DMARC1; p={p}", data={"p": p, "pct": 100})
    if p == "none":
        dmarc.add("dmarc.p_none", "p=none")
    bl = CheckResult("192.0.2.1", "dnsbl:bl.test", "temperror")
    bl.add("dns.temperror", "A 1.2.0.192.bl.test: timeout")
    return [spf, dkim, dmarc, bl]


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "report.duckdb"
    con = connect(path)
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    store_results(con, _results("reject", 2048), observed_at=t0)
    store_results(con, _results("none", 1024), observed_at=t0 + dt.timedelta(days=1))
    con.close()
    return path


def test_notebook_shape() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for line in code[0].source.splitlines():
        assert ": str = " in line and "  # " in line  # typed and commented
    assert "validate_params(" in code[1].source
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "import plotly" not in "".join(c.source for c in code)


def test_validate_params(db: Path, tmp_path: Path) -> None:
    p = validate_params(db=str(db), domains="Shop.test., 192.0.2.1")
    assert p.subjects == ("shop.test", "192.0.2.1")
    inv = validate_params(db=str(db), inventory=str(ROOT / "data" / "inventory.toml"))
    assert "news.acme.example" in inv.subjects and "127.0.0.1" in inv.subjects
    with pytest.raises(InputError, match="parameter db"):
        validate_params(db=str(tmp_path / "none.duckdb"))
    with pytest.raises(InputError, match="parameter nameserver"):
        validate_params(db=str(db), nameserver="dns.example")


@pytest.mark.slow
def test_report_renders(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["report", "dns_auth_health", "--db", str(db), "--out", str(out), "-p", "domains=shop.test"]
    )
    assert res.exit_code == 0, res.output
    html = next(out.glob("dns_auth_health*.html")).read_text()
    assert "dkim.key_weak" in html and "policy_downgraded" in html
    assert "<script>alert(1)</script>" not in html  # data is escaped
    summary = json.loads(next(out.glob("dns_auth_health*.json")).read_text())["figures"]
    assert summary["by_severity"] == {"ok": 0, "info": 0, "warn": 2, "error": 1}  # domains=shop.test only
    assert [b["code"] for b in summary["breaches"]] == ["spf.plus_all"]


def test_plot_builders() -> None:
    obs, finds = results_frames(_results("none", 1024))
    assert severity_counts(obs) == {"ok": 0, "info": 0, "warn": 3, "error": 1}
    assert finds["severity"].to_list()[0] == "error"
    grid = dns_plots.checks_grid(obs)
    heat = grid.data[0]
    assert list(heat.y) == ["192.0.2.1", "shop.test"]
    assert list(heat.x) == ["spf", "dkim:s1", "dmarc", "dnsbl:bl.test"]
    assert heat.z[0][3] == 2 and heat.text[0][3] == "temperror"
    html = dns_plots.findings_table(finds).html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert dns_plots.checks_grid(obs.head(0)).layout.annotations[0].text == "no DNS observations"
    tl = pl.DataFrame(
        {
            "observed_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
            "subject": ["a.test"],
            "check_name": ["spf"],
            "state": ["present"],
            "severity": ["ok"],
        }
    )
    assert len(dns_plots.history_timeline(tl).data) == 1


def test_dns_package_does_not_import_report_stack() -> None:
    code = (
        "import sys, analysis.dns.checks, analysis.dns.history, analysis.dns.report, analysis.inventory, "
        "analysis.commands.dns\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('plotly', 'papermill', 'jupyter_client', 'nbformat', 'ipykernel')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", out.stdout


def test_empty_database_gives_empty_frames_and_placeholder_figures(tmp_path: Path) -> None:
    from analysis.dns import report

    path = tmp_path / "empty.duckdb"
    connect(path).close()
    con = connect(path, read_only=True)
    obs = report.stored_observations(con)
    assert obs.is_empty() and report.severity_counts(obs) == {"ok": 0, "info": 0, "warn": 0, "error": 0}
    assert report.stored_findings(con).is_empty()
    assert dns_plots.history_timeline(report.history(con)).layout.annotations[0].text == "no DNS observations"
    assert "no rows" in dns_plots.changes_table(report.changes(con)).html
    con.close()
