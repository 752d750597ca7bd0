"""DNS observations over time: store each run, read the latest state, and name what changed.

A change is judged between consecutive observations of one (subject, check), so a key rotation or a
policy downgrade is reported once, at the run that first saw it, whatever --since window is asked for.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from analysis.dns.dmarc import POLICY_RANK
from analysis.dns.findings import RANK, CheckResult, Severity
from analysis.store.db import write_transaction


def _sql(name: str) -> str:
    return resources.files("analysis.dns").joinpath("sql", name).read_text(encoding="utf-8")


def store_results(
    con: duckdb.DuckDBPyConnection,
    results: Iterable[CheckResult],
    *,
    observed_at: dt.datetime | None = None,
    nameserver: str | None = None,
    run_id: str | None = None,
) -> str:
    """Insert one run's observations and findings in a transaction; returns the run id."""
    run_id = run_id or uuid.uuid4().hex[:16]
    when = observed_at or dt.datetime.now(dt.UTC)
    obs: list[tuple[Any, ...]] = []
    finds: list[tuple[Any, ...]] = []
    for r in results:
        obs.append(
            (
                run_id,
                when,
                r.subject,
                r.check,
                r.state,
                str(r.severity),
                r.record,
                json.dumps(r.data, sort_keys=True, default=str),
                nameserver,
            )
        )
        finds.extend(
            (run_id, r.subject, r.check, i, f.code, str(f.severity), f.message, f.fix)
            for i, f in enumerate(r.findings)
        )
    # No write generation: DNS results are not among the sources of the stored recipient facts, so a
    # scheduled `dns check` after `refresh` keeps rates and reports on their fast path.
    with write_transaction(con, bump=False):
        if obs:
            con.executemany("INSERT INTO dns_observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", obs)
        if finds:
            con.executemany("INSERT INTO dns_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", finds)
    return run_id


@dataclass(frozen=True)
class Change:
    subject: str
    check: str
    observed_at: dt.datetime
    previous_at: dt.datetime
    kind: str
    severity: str  # how bad the change is for deliverability: error (worse), warn, info (better/neutral)
    message: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["observed_at"] = self.observed_at.isoformat()
        out["previous_at"] = self.previous_at.isoformat()
        return out


def _judge(row: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, severity, message) for one pair of consecutive observations."""
    out: list[tuple[str, str, str]] = []
    before = json.loads(row["prev_data_json"] or "{}")
    after = json.loads(row["data_json"] or "{}")
    check = row["check_name"]
    s0, s1 = row["prev_state"], row["state"]
    if check.startswith("dnsbl:"):
        if s1 == "listed" and s0 != "listed":
            out.append(("listing_appeared", "error", f"now listed: {', '.join(after.get('meanings', []))}"))
        elif s0 == "listed" and s1 != "listed":
            out.append(("listing_cleared", "info", f"no longer listed (now {s1})"))
    elif s0 != s1:
        sev = "error" if s1 in ("missing", "invalid") else "warn" if s1 == "temperror" else "info"
        out.append(("state_changed", sev, f"{s0} → {s1}"))
    if check.startswith("dkim:") and s0 == s1 == "present":
        if (
            before.get("key_sha256")
            and after.get("key_sha256")
            and before["key_sha256"] != after["key_sha256"]
        ):
            b0, b1 = before.get("bits"), after.get("bits")
            if isinstance(b0, int) and isinstance(b1, int) and b1 < b0:
                out.append(("key_shortened", "error", f"key rotated from {b0} to {b1} bits"))
            else:
                out.append(("key_rotated", "info", f"new key ({b1} bits)"))
        elif not before.get("revoked") and after.get("revoked"):
            out.append(("key_revoked", "error", "key revoked (empty p=)"))
    if check == "dmarc" and before.get("p") in POLICY_RANK and after.get("p") in POLICY_RANK:
        p0, p1 = before["p"], after["p"]
        if POLICY_RANK[p1] < POLICY_RANK[p0]:
            out.append(("policy_downgraded", "error", f"p={p0} → p={p1}"))
        elif POLICY_RANK[p1] > POLICY_RANK[p0]:
            out.append(("policy_upgraded", "info", f"p={p0} → p={p1}"))
        elif before.get("pct", 100) > after.get("pct", 100):
            out.append(("policy_downgraded", "warn", f"pct={before.get('pct')} → pct={after.get('pct')}"))
    if (row["prev_record"] or "") != (row["record"] or "") and not out and s0 == s1:
        out.append(
            (
                "record_changed",
                "info",
                f"{(row['prev_record'] or '')[:80]!r} → {(row['record'] or '')[:80]!r}",
            )
        )
    r0 = RANK.get(Severity(row["prev_severity"]), 0)
    r1 = RANK.get(Severity(row["severity"]), 0)
    if r1 > r0 and not any(
        k in ("state_changed", "listing_appeared", "policy_downgraded", "key_shortened") for k, _s, _m in out
    ):
        out.append(("severity_worse", "warn", f"worst finding {row['prev_severity']} → {row['severity']}"))
    return out


def diff(con: duckdb.DuckDBPyConnection, since: dt.datetime | None = None) -> list[Change]:
    """Changes between consecutive observations whose later side is at or after `since`."""
    cur = con.execute(_sql("observation_pairs.sql"), [since, since])
    cols = [c[0] for c in cur.description]
    changes = []
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        for kind, sev, msg in _judge(row):
            changes.append(
                Change(
                    row["subject"],
                    row["check_name"],
                    row["observed_at"],
                    row["prev_observed_at"],
                    kind,
                    sev,
                    msg,
                )
            )
    return changes


def latest_observations(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Latest observation per (subject, check) as a polars DataFrame."""
    df: pl.DataFrame = con.sql(_sql("latest_observations.sql")).pl()
    return df


def latest_findings(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Findings of the latest observations, worst first, with their fixes."""
    df: pl.DataFrame = con.sql(_sql("latest_findings.sql")).pl()
    return df


def timeline(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every observation's state and severity over time."""
    df: pl.DataFrame = con.sql(_sql("timeline.sql")).pl()
    return df


def changes_frame(changes: list[Change]) -> pl.DataFrame:
    """Changes as a DataFrame (empty with the right columns when there are none)."""
    schema: dict[str, Any] = {
        "subject": pl.Utf8,
        "check": pl.Utf8,
        "observed_at": pl.Datetime(time_zone="UTC"),
        "previous_at": pl.Datetime(time_zone="UTC"),
        "kind": pl.Utf8,
        "severity": pl.Utf8,
        "message": pl.Utf8,
    }
    return pl.DataFrame([asdict(c) for c in changes], schema=schema)
