"""reports/index.html: every rendered report, newest first, with its parameters and breach count."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from analysis.reports.files import atomic_write_text
from analysis.reports.narrative import worst_breaches

INDEX_NAME = "index.html"
_CSS = (
    "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;font-size:14px}"
    "th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}th{background:#f3f4f6}"
    "td.num{text-align:right}.muted{color:#777}</style>"
)


def esc(value: object) -> str:
    """Text for HTML element content and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _entries(out_dir: Path) -> list[dict[str, Any]]:
    entries = []
    for summary_path in out_dir.glob("*.json"):
        try:
            meta = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or "report" not in meta:
            continue
        report = out_dir / str(meta["report"])
        if report.parent != out_dir or not report.is_file():
            continue
        entries.append({**meta, "_path": report, "_mtime": report.stat().st_mtime_ns})
    entries.sort(key=lambda e: (-e["_mtime"], e["_path"].name))
    return entries


def render_index(out_dir: Path) -> str:
    """The index page as escaped HTML (names, parameters and titles come from users)."""
    rows = []
    for e in _entries(out_dir):
        figures = e.get("figures") or {}
        breaches = figures.get("breaches") if isinstance(figures, dict) else None
        n_breaches = len(worst_breaches(breaches)) if isinstance(breaches, list) else None
        params = e.get("params") or {}
        shown = "; ".join(f"{k}={v}" for k, v in params.items() if k != "db" and v not in ("", None))
        rows.append(
            "<tr>"
            f'<td><a href="{esc(quote(e["_path"].name))}">{esc(e.get("title") or e["_path"].name)}</a></td>'
            f"<td>{esc(e.get('notebook', ''))}</td>"
            f"<td>{esc(shown or 'defaults')}</td>"
            f"<td>{esc(e.get('generated_at', ''))}</td>"
            f'<td class="num">{"–" if n_breaches is None else n_breaches}</td>'
            "</tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5" class="muted">no reports yet</td></tr>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Deliverability reports</title>'
        f"{_CSS}</head><body><h1>Deliverability reports</h1><p>Newest first.</p>"
        "<table><thead><tr><th>Report</th><th>Notebook</th><th>Parameters</th>"
        f"<th>Generated (UTC)</th><th>Groups over a threshold</th></tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )


def write_index(out_dir: Path) -> Path:
    """Regenerate the index atomically; returns its path."""
    path = out_dir / INDEX_NAME
    atomic_write_text(path, render_index(out_dir))
    return path
