"""Figures and tables for the complaints and DMARC sections of the overview report.

Everything shown here was written by someone else: user agents and feedback types by the complaining
receiver, reporter names and domains by whoever sent the DMARC XML. Tables go through the escaping
`table` helper and figure labels through `charts.label`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import polars as pl

from analysis.metrics.complaints import COMPLAINT_LEVELS
from analysis.plots.charts import LAYOUT, label, rate_chart
from analysis.plots.tables import HtmlBlock, bullet_list, esc, interval, table

NO_COMPLAINTS = "no complaints in this window"
NO_DMARC = "no DMARC reports in this window"
MATCH_COLORS = {
    "message_id": "#2e7d32",
    "rcpt_time_ip": "#66bb6a",
    "rcpt_time": "#f9a825",
    "unmatched": "#c62828",
}


def _empty(title: str, text: str) -> HtmlBlock:
    """No data: a line of text where the chart would be, not an empty pair of axes."""
    return note(f"{title}: {text}" if title else text)


def note(text: str) -> HtmlBlock:
    """A muted one-line remark (e.g. 'no complaints in this window') in place of an empty section."""
    return HtmlBlock(f'<p class="dw-muted" style="color:#777">{esc(text)}</p>')


def _counts(mapping: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in mapping.items())


def complaints_overview(block: Mapping[str, Any], *, title: str = "") -> HtmlBlock:
    """complaints.summary() in sentences: how many, how they were matched, which thresholds broke."""
    n = int(block.get("complaints") or 0)
    if not n:
        return bullet_list([NO_COMPLAINTS + "."], title=title)
    lines = [
        f"{n:,} complaint(s) received in this window ({_counts(block.get('by_feedback_type') or {})}).",
        f"{block.get('matched', 0):,} matched to a send, {block.get('unmatched', 0):,} unmatched "
        f"(by match method: {_counts(block.get('by_match_method') or {})}).",
    ]
    breaches = block.get("breaches") or []
    if breaches:
        worst: dict[tuple[str, str], str] = {}
        for b in breaches:  # one line per group: its highest breached level
            worst[(b["dimension"], "(none)" if b["value"] is None else str(b["value"]))] = b["label"]
        shown = "; ".join(
            f"{d}={v}: {lab}" if d != "overall" else f"overall: {lab}" for (d, v), lab in worst.items()
        )
        lines.append(f"Complaint-rate thresholds breached (interval lower bound): {shown}.")
    else:
        lines.append("No complaint-rate threshold is breached (judged on the interval's lower bound).")
    return bullet_list(lines, title=title)


def dmarc_overview(block: Mapping[str, Any], *, title: str = "") -> HtmlBlock:
    """metrics_dmarc.summary() in sentences."""
    reports = int(block.get("reports") or 0)
    if not reports:
        return bullet_list([NO_DMARC + "."], title=title)
    rate = interval(block.get("pass_rate"), block.get("pass_rate_low"), block.get("pass_rate_high"))
    lines = [
        f"{reports:,} report(s) from {block.get('reporters', 0):,} reporter(s) covering "
        f"{block.get('messages', 0):,} messages; DMARC pass {rate}.",
    ]
    unknown = int(block.get("unknown_sources") or 0)
    if unknown:
        lines.append(
            f"{unknown:,} source(s) that are neither relay IPs nor known senders sent "
            f"{block.get('unknown_messages', 0):,} messages, {block.get('unknown_failed', 0):,} failing DMARC "
            "(possible spoofing)."
        )
    else:
        lines.append("Every reported source is a relay IP or a known sender.")
    return bullet_list(lines, title=title)


def complaint_rate_chart(
    df: pl.DataFrame, by: str, *, title: str = "", limit: int = 15
) -> go.Figure | HtmlBlock:
    """Complaint rate per group with Wilson intervals and the 0.1 / 0.3 / 0.5 % lines (complaint_rates).

    The axis stops a little above the highest observed rate (at least 1 %): the thresholds are tenths of
    a percent, and the wide intervals of small groups would otherwise squash them onto the axis.
    """
    title = (
        title or f"Complaint rate by {by} (complaints ÷ delivered; bars: interval; hollow: below min. volume)"
    )
    if df.is_empty() or not int(df["complained"].sum()):
        return _empty(title, NO_COMPLAINTS)
    fig = rate_chart(df, by, rates=("complaint_rate",), title=title, limit=limit)
    for level, dash in zip(COMPLAINT_LEVELS, ("dot", "dash", "solid"), strict=False):
        fig.add_hline(y=level, line={"dash": dash, "color": "#ad1457", "width": 1})
    levels = " / ".join(f"{level * 100:g} %" for level in COMPLAINT_LEVELS)
    fig.add_annotation(text=f"thresholds {levels} (dotted / dashed / solid)", xref="paper", yref="paper",
                       x=1, y=1.02, showarrow=False, xanchor="right", font={"size": 11, "color": "#ad1457"})  # fmt: skip
    top = max((r for r in df["complaint_rate"].to_list() if r is not None), default=0.0)
    fig.update_yaxes(range=[0, max(0.01, top * 1.3)], tickformat=".1%")
    return fig


def complaint_rate_table(df: pl.DataFrame, by: str, *, header: str = "") -> HtmlBlock:
    """complaint_rates() as a table: counts, the rate with its interval, and complaint-rate breaches."""
    columns = {by: header or by.replace("_", " "), "delivered": "delivered", "complained": "complained",
               "gated": "below min. volume"}  # fmt: skip
    return table(df, columns, intervals={"complaint_rate": "complaint rate"}, flags="threshold breaches")


def feedback_type_table(df: pl.DataFrame) -> HtmlBlock:
    """by_feedback_type() as a table; user agents are the receivers' own words (escaped)."""
    if df.is_empty():
        return note(NO_COMPLAINTS)
    columns = {
        "feedback_type": "feedback type",
        "source": "source",
        "complaints": "complaints",
        "matched": "matched",
        "unmatched": "unmatched",
        "providers": "providers",
        "user_agents": "user agents",
    }
    return table(df, columns, caption="Complaints received in the window, by feedback type")


def match_chart(df: pl.DataFrame, *, title: str = "Complaints by match method") -> go.Figure | HtmlBlock:
    """One horizontal bar per match method (by_match_method), unmatched in red."""
    if df.is_empty():
        return _empty(title, NO_COMPLAINTS)
    rows = df.sort("complaints")
    methods = rows["match_method"].to_list()
    fig = go.Figure(
        go.Bar(
            y=[label(m) for m in methods],
            x=rows["complaints"].to_list(),
            orientation="h",
            marker_color=[MATCH_COLORS.get(m, "#9e9e9e") for m in methods],
            text=[f"{s:.0%}" for s in rows["share"].to_list()],
            textposition="auto",
        )
    )
    fig.update_layout(title=title, xaxis_title="complaints", **{**LAYOUT, "height": 120 + 40 * len(methods)})
    return fig


def match_table(df: pl.DataFrame) -> HtmlBlock:
    """by_match_method() as a table."""
    shown = df.with_columns((pl.col("share") * 100).round(1).alias("share_pct"))
    return table(shown, {"match_method": "match method", "complaints": "complaints", "share_pct": "share (%)",
                         "sources": "sources"})  # fmt: skip


def dmarc_pass_chart(
    df: pl.DataFrame, key: str, *, title: str = "", limit: int = 15
) -> go.Figure | HtmlBlock:
    """DMARC pass rate per header-from domain or source IP with Wilson intervals, largest volume first."""
    title = title or f"DMARC pass rate by {key.replace('_', ' ')} (bars: confidence interval)"
    if df.is_empty():
        return _empty(title, NO_DMARC)
    top = df.sort("messages", descending=True).head(limit)
    rate = top["pass_rate"].to_list()
    low = top["pass_rate_low"].to_list()
    high = top["pass_rate_high"].to_list()
    known = top["known"].to_list() if "known" in top.columns else [True] * top.height
    names = [
        f"{label(v)} (n={n:,})" for v, n in zip(top[key].to_list(), top["messages"].to_list(), strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=names,
            y=rate,
            mode="markers",
            name="DMARC pass",
            marker={
                "size": 11,
                "color": ["#2e7d32" if k else "#c62828" for k in known],
                "symbol": ["circle" if k else "x" for k in known],
            },
            error_y={
                "type": "data",
                "color": "#555",
                "symmetric": False,
                "array": [
                    (h - v) if h is not None and v is not None else 0 for v, h in zip(rate, high, strict=True)
                ],
                "arrayminus": [
                    (v - lo) if lo is not None and v is not None else 0
                    for v, lo in zip(rate, low, strict=True)
                ],
            },
        )
    )
    fig.update_layout(title=title, yaxis={"tickformat": ".0%", "range": [0, 1.05]}, **LAYOUT)
    fig.update_xaxes(tickangle=-30)
    return fig


def dmarc_domain_table(df: pl.DataFrame) -> HtmlBlock:
    """pass_rate_by_domain() as a table."""
    if df.is_empty():
        return note(NO_DMARC)
    columns = {"header_from": "header from", "messages": "messages", "passed": "passed", "failed": "failed",
               "dkim_aligned_pass": "DKIM aligned", "spf_aligned_pass": "SPF aligned",
               "quarantined": "quarantined", "rejected": "rejected", "sources": "sources", "reports": "reports"}  # fmt: skip
    return table(df, columns, intervals={"pass_rate": "pass rate"})


def dmarc_source_table(df: pl.DataFrame, *, caption: str = "", empty: str = NO_DMARC) -> HtmlBlock:
    """pass_rate_by_source() or unknown_sources() as a table (`empty`: what to say when there are none)."""
    if df.is_empty():
        return note(empty)
    columns = {"source_ip": "source IP", "known_as": "known as", "messages": "messages", "passed": "passed",
               "failed": "failed", "domains": "domains", "example_domain": "header from (example)",
               "reporters": "reporters"}  # fmt: skip
    present = {k: v for k, v in columns.items() if k in df.columns}
    return table(df, present, intervals={"pass_rate": "pass rate"}, caption=caption)


def coverage_table(df: pl.DataFrame) -> HtmlBlock:
    """reporter_coverage() as a table: which receiver reported on which domain, over which days."""
    if df.is_empty():
        return note(NO_DMARC)
    columns = {"org_name": "reporter", "domain": "policy domain", "first_day": "first day", "last_day": "last day",
               "days": "days reported", "missing_days": "days missing", "reports": "reports",
               "messages": "messages"}  # fmt: skip
    return table(df, columns, intervals={"pass_rate": "pass rate"})


def coverage_heatmap(
    days: pl.DataFrame, *, title: str = "DMARC reports: messages per reporter and day"
) -> go.Figure | HtmlBlock:
    """Reporter × day grid of reported messages (reporter_days); an empty cell is a day without a report."""
    if days.is_empty():
        return _empty(title, NO_DMARC)
    per = days.group_by("org_name", "day").agg(pl.col("messages").sum()).sort("day")
    reporters = sorted(set(per["org_name"].to_list()))
    first: dt.date = per["day"].min()  # type: ignore[assignment]
    last: dt.date = per["day"].max()  # type: ignore[assignment]
    all_days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    z: list[list[int | None]] = [[None] * len(all_days) for _ in reporters]
    for org, day, n in per.iter_rows():
        z[reporters.index(org)][all_days.index(day)] = n
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[d.isoformat() for d in all_days],
            y=[label(r) for r in reporters],
            colorscale="Blues",
            text=[["" if v is None else f"{v:,}" for v in row] for row in z],
            texttemplate="%{text}",
            xgap=2,
            ygap=2,
            colorbar={"title": "messages"},
            hovertemplate="%{y} · %{x}<br>%{z} messages<extra></extra>",
        )
    )
    fig.update_layout(title=title, **{**LAYOUT, "height": max(260, 120 + 36 * len(reporters))})
    fig.update_xaxes(type="category")
    return fig


__all__ = [
    "NO_COMPLAINTS",
    "NO_DMARC",
    "complaint_rate_chart",
    "complaint_rate_table",
    "complaints_overview",
    "coverage_heatmap",
    "coverage_table",
    "dmarc_domain_table",
    "dmarc_overview",
    "dmarc_pass_chart",
    "dmarc_source_table",
    "feedback_type_table",
    "match_chart",
    "match_table",
    "note",
]
