"""What the DNS health notebook needs: validated parameters and DataFrames of observations/findings.

The notebook reads stored observations read-only (so a report renders offline); when a nameserver is
given it also runs a live check whose results are shown but not stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from analysis.dns.findings import RANK, CheckResult, Severity
from analysis.dns.history import changes_frame, diff, latest_findings, latest_observations, timeline
from analysis.errors import InputError
from analysis.inventory import Inventory, inventory_path, load_inventory

OBS_COLUMNS = ("subject", "check_name", "state", "severity", "record", "observed_at")


@dataclass(frozen=True)
class DnsReportParams:
    db: Path
    subjects: tuple[str, ...]  # empty = everything stored (or the inventory's domains and IPs)
    inventory: Inventory | None
    nameserver: str | None

    def connect(self) -> duckdb.DuckDBPyConnection:
        from analysis.store import connect

        return connect(self.db, read_only=True)

    def describe(self) -> str:
        scope = ", ".join(self.subjects) if self.subjects else "every stored domain and relay IP"
        live = f"; live check via {self.nameserver}" if self.nameserver else "; stored observations only"
        return f"Subjects: {scope}{live}"


def validate_params(
    db: str = "", domains: str = "", inventory: str = "", nameserver: str = ""
) -> DnsReportParams:
    """Check and cast the notebook's parameters; InputError names the bad one."""
    from analysis.reports.params import find_db  # same database lookup as every report

    path = find_db(db)
    if not path.is_file():
        raise InputError(f"parameter db: no database at {path}: run 'deliverability dns check --db' first")
    subjects = tuple(s.strip().lower().rstrip(".") for s in domains.split(",") if s.strip())
    inv = None
    if inventory:
        p = inventory_path(inventory)
        if not p.is_absolute() and not p.exists():
            for parent in Path.cwd().parents[:3]:
                if (parent / p).exists():
                    p = parent / p
                    break
        inv = load_inventory(p)
        if not subjects:
            subjects = tuple(d.domain for d in inv.domains) + tuple(inv.relay.ips)
    ns = nameserver.strip() or None
    if ns is not None:
        from analysis.dns.resolver import parse_nameserver

        try:
            parse_nameserver(ns)
        except InputError as exc:
            raise InputError(f"parameter nameserver: {exc}") from None
    return DnsReportParams(path, subjects, inv, ns)


def _only(df: pl.DataFrame, subjects: Sequence[str]) -> pl.DataFrame:
    return df.filter(pl.col("subject").is_in(list(subjects))) if subjects else df


def stored_observations(con: duckdb.DuckDBPyConnection, subjects: Sequence[str] = ()) -> pl.DataFrame:
    """Latest stored observation per (subject, check)."""
    try:
        df = latest_observations(con)
    except duckdb.CatalogException:
        raise InputError(
            "the database has no DNS observations: run 'deliverability dns check --db' first"
        ) from None
    return _only(df, subjects)


def stored_findings(con: duckdb.DuckDBPyConnection, subjects: Sequence[str] = ()) -> pl.DataFrame:
    """Findings of the latest observations, worst first."""
    return _only(latest_findings(con), subjects)


def history(con: duckdb.DuckDBPyConnection, subjects: Sequence[str] = ()) -> pl.DataFrame:
    """Every stored observation's severity over time."""
    return _only(timeline(con), subjects)


def changes(con: duckdb.DuckDBPyConnection, subjects: Sequence[str] = ()) -> pl.DataFrame:
    """What changed between consecutive observations (dns diff)."""
    return _only(changes_frame(diff(con)), subjects)


def live_results(params: DnsReportParams) -> list[CheckResult]:
    """Run the checks now against params.nameserver (not stored: the notebook's database is read-only)."""
    from analysis.dns.checks import plan_checks, run_checks
    from analysis.dns.resolver import Resolver

    plan = plan_checks(params.inventory, params.subjects)
    plan.fetch_mta_sts_policy = False
    return run_checks(plan, Resolver.from_spec(params.nameserver, timeout=1.0))


def results_frames(results: Sequence[CheckResult]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Live results as (observations, findings) frames shaped like the stored ones."""
    obs = pl.DataFrame(
        [
            {
                "subject": r.subject,
                "check_name": r.check,
                "state": r.state,
                "severity": str(r.severity),
                "record": r.record,
                "data_json": json.dumps(r.data, default=str),
            }
            for r in results
        ],
        schema={c: pl.Utf8 for c in ("subject", "check_name", "state", "severity", "record", "data_json")},
    )
    rows = [
        {
            "subject": r.subject,
            "check_name": r.check,
            "code": f.code,
            "severity": str(f.severity),
            "message": f.message,
            "fix": f.fix,
        }
        for r in results
        for f in r.findings
    ]
    finds = pl.DataFrame(
        rows, schema={c: pl.Utf8 for c in ("subject", "check_name", "code", "severity", "message", "fix")}
    )
    order = {str(s): -RANK[s] for s in Severity}
    finds = (
        finds.with_columns(pl.col("severity").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
        .sort(["_o", "subject", "check_name"])
        .drop("_o")
    )
    return obs, finds


def severity_counts(obs: pl.DataFrame) -> dict[str, int]:
    """How many (subject, check) observations are at each worst severity."""
    counts = {str(s): 0 for s in Severity}
    for sev, n in obs.group_by("severity").len().iter_rows():
        counts[str(sev)] = int(n)
    return counts


def summary_figures(obs: pl.DataFrame, findings: pl.DataFrame) -> dict[str, object]:
    """Key figures for the report's JSON summary: counts by severity, and every error as a breach."""
    errors = findings.filter(pl.col("severity") == "error")
    return {
        "subjects": obs["subject"].n_unique(),
        "checks": obs.height,
        "by_severity": severity_counts(obs),
        "temperror": obs.filter(pl.col("state") == "temperror").height,
        "listed": obs.filter(pl.col("state") == "listed")["subject"].to_list(),
        "breaches": [
            {"subject": r["subject"], "check": r["check_name"], "code": r["code"], "message": r["message"]}
            for r in errors.iter_rows(named=True)
        ],
    }
