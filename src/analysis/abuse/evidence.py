"""Evidence export: every signal's queue IDs / Message-IDs for one account, as CSV for a case file.

Cells are attacker-written (reply texts, domains, Message-IDs): a cell that a spreadsheet would run as a
formula (=, +, -, @, tab, CR) is prefixed with a quote, and control characters are escaped.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from analysis.abuse.config import AbuseConfig, load_config
from analysis.abuse.facts import load_facts
from analysis.abuse.ranking import Suspect, rank_facts
from analysis.abuse.window import Scope, resolve_window
from analysis.errors import InputError, WorkbenchError

CSV_COLUMNS = (
    "account",
    "signal",
    "family",
    "raised",
    "value",
    "threshold",
    "n",
    "ts",
    "queue_id",
    "message_id",
    "detail",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """Text safe for a spreadsheet: no formula start, no raw control characters."""
    if value is None:
        return ""
    text = str(value)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def account_verdict(
    con: duckdb.DuckDBPyConnection,
    account: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    *,
    config: AbuseConfig | None = None,
    limit: int = 1000,
) -> Suspect:
    """One account's signals with up to `limit` evidence items each; InputError if it sent nothing."""
    if limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    cfg = dataclasses.replace(config or load_config(), evidence_cap=limit)
    window = resolve_window(
        con, since, until, default_hours=cfg.default_window_hours, lookback_days=cfg.lookback_days
    )
    ranking = rank_facts(load_facts(con, window, Scope("account", account), cfg.evidence_cap), cfg)
    found = [s for s in ranking.suspects if s.account == account]
    if not found:
        raise InputError(f"account {account!r} sent no mail in {window.describe()}")
    return found[0]


def evidence_rows(suspect: Suspect) -> list[dict[str, str]]:
    """One row per evidence item of every signal (raised ones first), cells made safe."""
    rows = []
    for s in sorted(suspect.signals, key=lambda x: (not x.raised, x.name)):
        for e in s.evidence:
            raw = {
                "account": suspect.account,
                "signal": s.name,
                "family": s.family,
                "raised": "yes" if s.raised else "no",
                "value": "" if s.value is None else f"{s.value:.6g}",
                "threshold": f"{s.threshold:g}",
                "n": s.n,
                **{k: e.get(k) for k in ("ts", "queue_id", "message_id", "detail")},
            }
            rows.append({k: safe_cell(raw[k]) for k in CSV_COLUMNS})
    return rows


def write_csv(rows: list[dict[str, str]], out: Path) -> None:
    """Write atomically (a temp file in the same directory, then rename)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"--out: directory {out.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WorkbenchError(f"cannot write {out}: {exc.strerror}") from None
