"""Pseudonymised reports: render the overview for real (papermill, nbconvert) over planted data and look
for the planted SASL username (an address), recipient and client IP in the HTML and the JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.privacy.pseudonym import Pseudonymizer
from test_privacy_inputs import LOCAL, SASL_USER, build_store

CLI = [sys.executable, "-m", "analysis"]
KEY = "report-test-key-0123456789abcdef"
CLIENT_IP = "203.0.113.77"
BLOCKED = (
    "Nov 22 11:00:00 mx1 postfix/smtpd[10]: NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 Service unavailable; "
    "Client host [{ip}] blocked using zen.spamhaus.org; from=<s@evil.example> to=<a@b.example> proto=ESMTP helo=<x>\n"
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pseudo")
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "blocked.log").write_text(BLOCKED.format(ip=CLIENT_IP) * 3)
    build_store(root / "store.duckdb", inputs, uncompressed=False)
    from analysis.ingest.loader import IngestOptions, Ingestor
    from analysis.store import connect

    con = connect(root / "store.duckdb")
    try:
        Ingestor(con, IngestOptions(year=2026)).ingest([str(inputs / "blocked.log")])
    finally:
        con.close()
    return root / "store.duckdb"


def _render(db: Path, out: Path, *params: str, key: str = KEY) -> tuple[str, str]:
    env = {**os.environ, "DELIVERABILITY_PRIVACY_KEY": key}
    args = [
        *CLI,
        "report",
        "deliverability_overview",
        "--db",
        str(db),
        "--out",
        str(out),
        "-p",
        "min_volume=1",
    ]
    for p in params:
        args += ["-p", p]
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    html = next(out.glob("deliverability_overview*.html")).read_text()
    summary = next(p for p in out.glob("deliverability_overview*.json") if p.name != "index.json").read_text()
    return html, summary


def test_plain_report_shows_the_planted_values(db: Path, tmp_path: Path) -> None:
    """The control: without pseudonymisation the planted values are visible, so the next test can fail."""
    html, summary = _render(db, tmp_path, "pseudonymise=false")
    assert SASL_USER in summary and LOCAL in html
    assert CLIENT_IP in html


def test_pseudonymised_report_names_no_one(db: Path, tmp_path: Path) -> None:
    html, summary = _render(db, tmp_path / "a", "pseudonymise=true")
    for planted in (LOCAL, SASL_USER, CLIENT_IP, "john q doe"):
        assert planted not in html, planted
        assert planted not in summary, planted
    token = Pseudonymizer(KEY.encode()).user(SASL_USER)
    assert token and token in summary and token in html  # the same token in both
    assert json.loads(summary)["params"]["pseudonymise"] is True
    # Same key, another report: the same tokens; another key: different ones.
    again, _ = _render(db, tmp_path / "b", "pseudonymise=true", "confidence=0.9")
    assert token in again
    assert Pseudonymizer(b"another-key-0123456789abcdef").user(SASL_USER) != token


def test_pseudonymising_without_a_key_is_refused_before_the_kernel(db: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELIVERABILITY_PRIVACY")}
    env["DELIVERABILITY_PRIVACY_KEY_FILE"] = str(tmp_path / "missing.key")
    args = [
        *CLI,
        "report",
        "deliverability_overview",
        "--db",
        str(db),
        "--out",
        str(tmp_path),
        "-p",
        "pseudonymise=true",
    ]
    res = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and "no privacy key" in res.stderr and "Traceback" not in res.stderr
    assert not list(tmp_path.glob("*.html"))
