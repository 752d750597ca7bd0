"""What issue 7's abuse scenario must show, whoever wrote the log (synthetic writer or a real Postfix).

Both scenario test modules load this file by path (tests/ is not a package) and feed it the ranked list
that `deliverability abuse rank --json` printed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.inventory import load_inventory, store_inventory
from analysis.store import connect

CONTRACT_KEYS = {"account", "score", "severity", "action", "signals"}
SIGNAL_KEYS = {"name", "value", "threshold", "n", "evidence"}


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file that is not in a package (registered in sys.modules: dataclasses look it up)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def build_store(db: Path, log: Path, inventory: Path, year: int = 2026) -> Path:
    """Load the scenario's inventory and ingest its log with the real ingest; returns the database."""
    con = connect(db)
    try:
        store_inventory(con, load_inventory(inventory))
        Ingestor(con, IngestOptions(year=year)).ingest([str(log)])
    finally:
        con.close()
    return db


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`deliverability abuse ARGS...` in a subprocess (the command-line contract, exit code and all)."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", "abuse", *args], capture_output=True, text=True, timeout=300
    )


def by_account(ranked: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["account"]: r for r in ranked}


def signals(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in row["signals"]}


def raised(row: dict[str, Any]) -> set[str]:
    return {s["name"] for s in row["signals"] if s["raised"]}


def assert_bad_first(ranked: list[dict[str, Any]], bad: Iterable[str], everyone: Iterable[str]) -> None:
    """The bad accounts hold the top places, each with two independent families; scores descend."""
    bad = set(bad)
    assert {r["account"] for r in ranked[: len(bad)]} == bad, [(r["account"], r["score"]) for r in ranked]
    assert {r["account"] for r in ranked} == set(everyone)
    scores = [r["score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    for r in ranked[: len(bad)]:
        assert r["action"] in ("throttle", "suspend") and len(r["families"]) >= 2, r["families"]


def assert_quiet(row: dict[str, Any]) -> None:
    """Nothing raised, nothing above monitor."""
    assert row["action"] == "monitor" and row["severity"] in ("none", "low"), row
    assert raised(row) == set()


def assert_tiny_not_a_finding(row: dict[str, Any]) -> None:
    """One hard bounce out of three recipients is measured (1/3) but never judged."""
    hb = signals(row)["hard_bounce_rate"]
    assert (hb["n"], hb["k"]) == (3, 1) and hb["value"] == pytest.approx(1 / 3)
    assert hb["raised"] is False and "below minimum volume" in hb["note"] and hb["q_value"] is None
    assert_quiet(row)


def assert_contract(ranked: list[dict[str, Any]], evidence_cap: int = 10) -> None:
    """The JSON contract of `abuse rank --json` (issue 7) on every row and signal."""
    for row in ranked:
        assert set(row) >= CONTRACT_KEYS
        for s in row["signals"]:
            assert set(s) >= SIGNAL_KEYS
            assert isinstance(s["evidence"], list) and len(s["evidence"]) <= evidence_cap
            if s["raised"]:
                assert s["evidence"], f"{row['account']}/{s['name']} raised without evidence"
