"""HTML tables for reports; every value is escaped because reply texts and addresses are attacker-written."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

# Selectors doubled (.dw-table.dw-table) to outrank JupyterLab's `.jp-RenderedHTMLCommon td` right-alignment.
TABLE_CSS = (
    "<style>.dw-table.dw-table{border-collapse:collapse;font-size:12.5px;margin:6px 0 14px}"
    ".dw-table.dw-table th,.dw-table.dw-table td{border-bottom:1px solid #ddd;padding:3px 7px;"
    "text-align:left;vertical-align:top}"
    ".dw-table.dw-table td{max-width:460px;overflow-wrap:anywhere}"
    ".dw-table.dw-table th{background:#f3f4f6;white-space:nowrap}"
    ".dw-table.dw-table td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".dw-table.dw-table caption{text-align:left;font-weight:600;padding:4px 0}"
    ".dw-table.dw-table td.dw-flag{color:#b42318;font-weight:600;white-space:nowrap;overflow-wrap:normal}"
    ".dw-muted{color:#777}.dw-summary{font-size:15px;line-height:1.5;max-width:62em}.dw-summary li{margin:2px 0}"
    "</style>"
)


@dataclass(frozen=True)
class HtmlBlock:
    """Already-escaped HTML that Jupyter displays as rich output."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html


def esc(value: Any) -> str:
    """Text for HTML (element content and attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


def pct(value: float | None, digits: int = 2) -> str:
    """A rate as a percentage, '–' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f} %"


def interval(rate: float | None, low: float | None, high: float | None) -> str:
    """'4.20 % [3.10–5.60]' — the rate with its confidence interval, in percent."""
    if rate is None:
        return "–"
    if low is None or high is None:
        return pct(rate)
    return f"{pct(rate)} [{low * 100:.2f}–{high * 100:.2f}]"


def _cell(value: Any) -> tuple[str, bool]:
    """(escaped text, is numeric)."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        return ("–" if math.isnan(value) else f"{value:,.2f}"), True
    if isinstance(value, datetime):
        return esc(value.isoformat(sep=" ", timespec="minutes")), False
    if isinstance(value, list | tuple):
        return "<br>".join(esc(v) for v in value), False
    return esc(value), False


def table(
    df: pl.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    intervals: Mapping[str, str] | None = None,
    caption: str = "",
    max_rows: int = 50,
    flags: str | None = None,
    flag_column: str = "flags",
) -> HtmlBlock:
    """Render a DataFrame as an escaped HTML table.

    `columns` maps column → header (order kept; default: all columns). `intervals` maps a rate column
    → header and renders `rate [low–high]` from `<rate>`, `<rate>_low`, `<rate>_high`, after the plain
    columns. `flags` is the header of a last column showing `flag_column` (threshold breaches),
    highlighted.
    """
    cols: list[tuple[str, str, str]] = []  # (kind, key, header)
    for key, header in (columns or {c: c for c in df.columns}).items():
        cols.append(("plain", key, header))
    for key, header in (intervals or {}).items():
        cols.append(("interval", key, header))
    if flags is not None:
        cols.append(("plain", flag_column, flags))
    head = "".join(f"<th>{esc(h)}</th>" for _, _, h in cols)
    body: list[str] = []
    for row in df.head(max_rows).iter_rows(named=True):
        cells = []
        for kind, key, _ in cols:
            if kind == "interval":
                text = esc(interval(row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")))
                cells.append(f'<td class="num">{text}</td>')
                continue
            text, numeric = _cell(row.get(key))
            cls = "num" if numeric else ("dw-flag" if key == flag_column and text else "")
            cells.append(f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if df.height > max_rows:
        more = f'<p class="dw-muted">{df.height - max_rows:,} more rows not shown.</p>'
    if not body:
        body.append(f'<tr><td colspan="{len(cols)}" class="dw-muted">no rows</td></tr>')
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return HtmlBlock(
        f'{TABLE_CSS}<table class="dw-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def latency_table(df: pl.DataFrame, fields: Sequence[str] = ("delay", "delay_a", "delay_b", "delay_c", "delay_d"),
                  *, caption: str = "") -> HtmlBlock:
    """Overall latency (one row of latency() without `by`) as fields × p50/p90/p99, in seconds."""
    if df.is_empty():
        return table(pl.DataFrame({"field": []}), caption=caption)
    row = df.row(0, named=True)
    rows = [
        {"field": f, "p50 (s)": row.get(f"{f}_p50"), "p90 (s)": row.get(f"{f}_p90"), "p99 (s)": row.get(f"{f}_p99")}
        for f in fields
    ]
    n = row.get("n")
    return table(pl.DataFrame(rows), caption=caption or f"over {n:,} successful deliveries" if n else caption)


def bullet_list(items: Sequence[str], *, title: str = "") -> HtmlBlock:
    """Escaped sentences as a list, for the written summary at the top of a report."""
    heading = f"<p><strong>{esc(title)}</strong></p>" if title else ""
    lis = "".join(f"<li>{esc(s)}</li>" for s in items)
    return HtmlBlock(f'{TABLE_CSS}<div class="dw-summary">{heading}<ul>{lis}</ul></div>')
