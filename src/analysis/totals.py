"""Relay totals with pflogsumm's definitions, plus the line accounting that proves nothing was lost."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

import duckdb


def totals(
    con: duckdb.DuckDBPyConnection, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, Any]:
    """One dict of counts for the window; line counts cover every ingested file (they have no time)."""
    sql = resources.files("analysis").joinpath("totals.sql").read_text(encoding="utf-8")
    cur = con.execute(sql, {"since": since, "until": until})
    names = [c[0] for c in cur.description or []]
    rows = cur.fetchall()
    row = rows[0] if rows else ()
    out: dict[str, Any] = {n: int(v or 0) for n, v in zip(names, row, strict=True)}
    lines = con.execute(
        "SELECT CAST(COALESCE(SUM(lines_read), 0) AS BIGINT), CAST(COALESCE(SUM(lines_parsed), 0) AS BIGINT),"
        " CAST(COALESCE(SUM(lines_quarantined), 0) AS BIGINT), CAST(COALESCE(SUM(lines_other), 0) AS BIGINT),"
        " COUNT(*) FROM ingest_files"
    ).fetchall()[0]
    out.update(
        lines_read=int(lines[0]),
        lines_parsed=int(lines[1]),
        lines_quarantined=int(lines[2]),
        lines_other=int(lines[3]),
        files=int(lines[4]),
    )
    out["window"] = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    return out
