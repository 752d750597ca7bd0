"""Abuse report visuals: the ranked-suspects table with sparklines, score breakdown, timeline, baseline.

Account names, SASL usernames, domains and IPs are written by whoever submits or answers mail: every
label goes through `esc` (HTML tables) or `label` (plotly text).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from analysis.abuse.ranking import Ranking
from analysis.abuse.report import hourly_series
from analysis.plots.charts import LAYOUT, _empty, label
from analysis.plots.tables import TABLE_CSS, HtmlBlock, esc

SEVERITY_COLORS = {
    "none": "#9e9e9e",
    "low": "#607d8b",
    "medium": "#f9a825",
    "high": "#ef6c00",
    "critical": "#c62828",
}
SERIES_COLORS = {
    "messages": "#1e88e5",
    "sent": "#2e7d32",
    "bounced": "#c62828",
    "deferred": "#f9a825",
    "complaints": "#ad1457",
    "policy_rejections": "#455a64",
}
MARKER_COLORS = {"new client IP": "#6a1b9a", "new From domain": "#00838f"}


def sparkline_svg(values: Sequence[int], split: int, *, width: int = 180, height: int = 28) -> str:
    """An inline SVG polyline of hourly counts; the part from `split` on (the window) is shaded."""
    if not values:
        return ""
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    pts = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    x0 = split * step
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="messages per hour, peak {top}">'
        f'<rect x="{x0:.1f}" y="0" width="{max(width - x0, 0):.1f}" height="{height}" fill="#fdecea"/>'
        f'<polyline fill="none" stroke="#1e88e5" stroke-width="1" points="{pts}"/></svg>'
    )


def suspects_table(ranking: Ranking, *, limit: int = 50, caption: str = "") -> HtmlBlock:
    """Ranked accounts: score, severity, action, volume sparkline (window shaded) and why."""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "account",
            "score",
            "severity",
            "action",
            "messages",
            "messages/hour (7 days + window)",
            "why",
        )
    )
    body = []
    for i, s in enumerate(ranking.suspects[:limit], 1):
        values, split = hourly_series(ranking, s.account)
        why = "<br>".join(esc(w) for w in s.why) or '<span class="dw-muted">no signal raised</span>'
        color = SEVERITY_COLORS.get(s.severity, "#000")
        body.append(
            f'<tr><td class="num">{i}</td><td>{esc(s.account)}</td><td class="num">{s.score:.2f}</td>'
            f'<td style="color:{color};font-weight:600">{esc(s.severity)}</td><td>{esc(s.action)}</td>'
            f'<td class="num">{s.messages:,}</td><td>{sparkline_svg(values, split)}</td><td>{why}</td></tr>'
        )
    if not body:
        body.append(
            '<tr><td colspan="8" class="dw-muted">no accounts in this window at this severity</td></tr>'
        )
    more = ""
    if len(ranking.suspects) > limit:
        more = f'<p class="dw-muted">{len(ranking.suspects) - limit:,} more accounts not shown.</p>'
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return HtmlBlock(
        f'{TABLE_CSS}<table class="dw-table">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def score_chart(
    ranking: Ranking, *, limit: int = 15, title: str = "Score by signal (weight × strength)"
) -> go.Figure:
    """Stacked horizontal bars: each raised signal's share of each account's score."""
    top = [s for s in ranking.suspects[:limit] if s.score > 0]
    if not top:
        return _empty(title)
    cap = ranking.config.ranking.strength_cap
    names = [label(s.account) for s in top][::-1]
    signals = sorted({x.name for s in top for x in s.signals if x.raised})
    fig = go.Figure()
    for name in signals:
        xs = []
        for s in top[::-1]:
            sig = next((x for x in s.signals if x.name == name and x.raised), None)
            xs.append(round(sig.weight * min(cap, sig.strength), 3) if sig else 0)
        fig.add_bar(y=names, x=xs, orientation="h", name=label(name))
    fig.update_layout(title=title, barmode="stack", xaxis_title="score", **LAYOUT)
    return fig


def timeline_chart(timeline: pl.DataFrame, markers: pl.DataFrame, *, title: str = "") -> go.Figure:
    """Hourly messages and outcomes, with dotted lines where a new client IP or From domain first appears."""
    title = title or "Timeline (per hour; dotted: first use of a new client IP / From domain)"
    if timeline.is_empty() or int(timeline["messages"].sum()) == 0:
        return _empty(title)
    fig = go.Figure()
    hours = timeline["hour"].to_list()
    for col, color in SERIES_COLORS.items():
        if col in timeline.columns:
            fig.add_scatter(
                x=hours,
                y=timeline[col].to_list(),
                name=col.replace("_", " "),
                mode="lines",
                line={"color": color, "width": 1.5},
            )
    for r in markers.iter_rows(named=True):
        color = MARKER_COLORS.get(r["kind"], "#999")
        fig.add_vline(x=r["ts"], line={"dash": "dot", "color": color, "width": 1})
        fig.add_scatter(
            x=[r["ts"]],
            y=[0],
            mode="markers",
            marker={"color": color, "symbol": "triangle-up", "size": 9},
            name=r["kind"],
            showlegend=False,
            hovertext=label(f"{r['kind']}: {r['value']}"),
            hoverinfo="text",
        )
    fig.update_layout(title=title, yaxis_title="count", **LAYOUT)
    return fig


EWMA_ALPHA = 0.1


def ewma(values: Sequence[float], alpha: float = EWMA_ALPHA) -> list[float]:
    """Exponentially weighted moving average: the second view of volume beside the robust z."""
    out: list[float] = []
    level = float(values[0]) if values else 0.0
    for v in values:
        level = alpha * float(v) + (1 - alpha) * level
        out.append(round(level, 3))
    return out


def baseline_chart(
    hours: Sequence[dt.datetime], counts: Sequence[int], split: int, *, account: str = ""
) -> go.Figure:
    """The account's hourly messages over its history (and their EWMA), the window shaded: its own baseline."""
    title = f"Messages per hour of {label(account)}: history and window (shaded)"
    if not hours or not any(counts):
        return _empty(title)
    fig = go.Figure()
    fig.add_scatter(x=list(hours), y=list(counts), mode="lines", name="messages", line={"color": "#1e88e5"})
    fig.add_scatter(
        x=list(hours),
        y=ewma(counts),
        mode="lines",
        name=f"EWMA (α = {EWMA_ALPHA})",
        line={"color": "#6a1b9a", "dash": "dash", "width": 1},
    )
    if split < len(hours):
        fig.add_vrect(x0=hours[split], x1=hours[-1], fillcolor="#c62828", opacity=0.08, line_width=0)
    fig.update_layout(title=title, yaxis_title="messages", **LAYOUT)
    return fig
