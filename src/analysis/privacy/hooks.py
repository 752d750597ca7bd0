"""The one-line calls other areas make into privacy: audit rows for ingest, export and report runs, and
the report runner's `pseudonymise` parameter. Each never turns a finished command into a failed one."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from analysis.errors import WorkbenchError
from analysis.privacy import audit
from analysis.privacy.config import load_config, load_key

PSEUDONYMISE_PARAM = "pseudonymise"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def audit_ingest(
    con: duckdb.DuckDBPyConnection, paths: Iterable[str], summaries: Sequence[Any] | None
) -> None:
    """Audit row for an ingest on its own (still open, writable) connection; `summaries` None: it failed."""
    counts: dict[str, int] = {}
    for s in summaries or ():
        d = s.as_dict() if hasattr(s, "as_dict") else {}
        for k in ("lines_read", "lines_parsed", "lines_quarantined", "messages", "deliveries", "rejections"):
            if isinstance(d.get(k), int):
                counts[k] = counts.get(k, 0) + d[k]
    raised = sys.exc_info()[0] is not None
    failed = raised or any(getattr(s, "status", "") == "failed" for s in summaries or ())
    status = "failed" if failed else "ok" if summaries is not None else "unchanged"
    try:
        audit.record(con, "ingest", {"paths": list(paths)}, counts, status=status)
    except (duckdb.Error, WorkbenchError) as exc:
        _warn(f"audit log not written: {str(exc).splitlines()[0]}")


def audit_export(db: str | None, out: str, written: Mapping[str, int]) -> None:
    """Audit row after `deliverability export` (which read the store read-only)."""
    audit.record_to(db, "export", {"out": out}, dict(written), warn=_warn)


def audit_report(db: str | None, name: str, given: Mapping[str, Any], seconds: float) -> None:
    """Audit row after a report run (the notebook read the store read-only); none for a notebook without db."""
    if db is None:
        return
    params = {"notebook": name, **{k: v for k, v in given.items() if k != "db"}}
    audit.record_to(db, "report", params, {"seconds": round(seconds, 2)}, warn=_warn, wait=2)


def report_values(param_names: Iterable[str], values: Mapping[str, Any]) -> dict[str, Any]:
    """The runner's values with `pseudonymise` resolved against the configuration default, and the key
    checked before any kernel starts (InputError, exit 2, when pseudonymising without a usable key)."""
    from analysis.privacy.pseudonym import resolve  # polars: only for report runs

    out = dict(values)
    if PSEUDONYMISE_PARAM in set(param_names):
        config = load_config()
        flag = resolve(out.get(PSEUDONYMISE_PARAM), config)
        if flag:
            load_key(config)
        out[PSEUDONYMISE_PARAM] = flag
    return out
