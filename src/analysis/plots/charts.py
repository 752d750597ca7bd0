"""Plotly figures for deliverability reports, built from analysis.metrics DataFrames.

Labels that come from the data (domains, providers, reasons) are HTML-escaped: plotly interprets a
subset of HTML tags in text, and these strings are written by whoever sends or answers the mail.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

OUTCOME_COLORS = {
    "sent": "#2e7d32",
    "deferred": "#f9a825",
    "bounced": "#c62828",
    "expired": "#6a1b9a",
    "rejected": "#455a64",
}
RATE_LABELS = {
    "delivery_rate": "delivered",
    "hard_bounce_rate": "hard bounce",
    "soft_bounce_rate": "soft bounce",
    "deferral_rate": "deferred",
    "expired_rate": "expired",
    "rejection_rate": "rejected",
    "complaint_rate": "complaint",
}
RATE_COLORS = {
    "hard_bounce_rate": "#c62828",
    "soft_bounce_rate": "#ef6c00",
    "deferral_rate": "#f9a825",
    "rejection_rate": "#455a64",
    "expired_rate": "#6a1b9a",
    "complaint_rate": "#ad1457",
    "delivery_rate": "#2e7d32",
}
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
    "legend": {"orientation": "h", "y": -0.2},
    "height": 420,
}


def label(value: object) -> str:
    """A data value as a safe plotly label."""
    return html.escape("(none)" if value is None or value == "" else str(value), quote=True)


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="no data in this window", showarrow=False, font={"size": 16})
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, **LAYOUT)
    return fig


def volume_chart(df: pl.DataFrame, *, title: str = "Delivery attempts by outcome") -> go.Figure:
    """Stacked bars of outcome counts per time bucket (volume_series output)."""
    if df.is_empty():
        return _empty(title)
    fig = go.Figure()
    for outcome, color in OUTCOME_COLORS.items():
        if outcome in df.columns:
            fig.add_bar(x=df["bucket"].to_list(), y=df[outcome].to_list(), name=outcome, marker_color=color)
    fig.update_layout(title=title, barmode="stack", yaxis_title="count", **LAYOUT)
    return fig


def outcome_mix_chart(df: pl.DataFrame, *, title: str = "Outcome mix over time") -> go.Figure:
    """Share of each outcome per time bucket, so a change of mix shows independently of volume."""
    if df.is_empty():
        return _empty(title)
    present = [o for o in OUTCOME_COLORS if o in df.columns]
    total = df.select(pl.sum_horizontal(present).alias("t"))["t"]
    fig = go.Figure()
    for outcome in present:
        share = (df[outcome] / total.replace(0, None)).to_list()
        fig.add_scatter(
            x=df["bucket"].to_list(),
            y=share,
            name=outcome,
            stackgroup="mix",
            mode="lines",
            line={"width": 0.5, "color": OUTCOME_COLORS[outcome]},
        )
    fig.update_layout(title=title, yaxis={"tickformat": ".0%", "range": [0, 1]}, **LAYOUT)
    return fig


def rate_chart(
    df: pl.DataFrame,
    by: str,
    *,
    rates: Sequence[str] = ("hard_bounce_rate", "deferral_rate", "rejection_rate"),
    thresholds: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
    limit: int = 15,
) -> go.Figure:
    """Rates per group with Wilson intervals as error bars; threshold lines; gated groups hollow.

    Groups are the `limit` largest by attempted recipients. `thresholds` maps a rate to the levels
    drawn as dashed lines (e.g. hard bounce 5 % review / 10 % pause).
    """
    title = title or f"Rates by {by} (bars: confidence interval; hollow: below minimum volume)"
    if df.is_empty():
        return _empty(title)
    top = df.sort("attempted", descending=True).head(limit)
    names = [f"{label(v)} (n={n:,})" for v, n in zip(top[by].to_list(), top["attempted"].to_list(), strict=True)]
    gated = top["gated"].to_list() if "gated" in top.columns else [False] * top.height
    fig = go.Figure()
    for rate in rates:
        if rate not in top.columns:
            continue
        y = top[rate].to_list()
        low = top[f"{rate}_low"].to_list()
        high = top[f"{rate}_high"].to_list()
        fig.add_scatter(
            x=names,
            y=y,
            mode="markers",
            name=RATE_LABELS.get(rate, rate),
            marker={
                "size": 10,
                "color": RATE_COLORS.get(rate),
                "symbol": ["circle-open" if g else "circle" for g in gated],
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [(h - v) if h is not None and v is not None else 0 for v, h in zip(y, high, strict=True)],
                "arrayminus": [(v - lo) if lo is not None and v is not None else 0 for v, lo in zip(y, low, strict=True)],
            },
        )
        for level in (thresholds or {}).get(rate, ()):
            fig.add_hline(
                y=level,
                line={"dash": "dash", "color": RATE_COLORS.get(rate, "#999"), "width": 1},
                annotation_text=f"{RATE_LABELS.get(rate, rate)} {level:.1%}",
                annotation_position="top left",
            )
    fig.update_layout(
        title=title, yaxis={"tickformat": ".1%", "rangemode": "tozero"}, scattermode="group", **LAYOUT
    )
    fig.update_xaxes(tickangle=-30)
    return fig


def latency_chart(
    df: pl.DataFrame, by: str, *, column: str = "delay", title: str = "", limit: int = 15
) -> go.Figure:
    """p50 / p90 / p99 of a delay column per group (latency output), log scale: delays span decades."""
    title = title or f"Delivery latency by {by} (seconds, sent attempts)"
    if df.is_empty():
        return _empty(title)
    top = df.sort("n", descending=True).head(limit)
    names = [f"{label(v)} (n={n:,})" for v, n in zip(top[by].to_list(), top["n"].to_list(), strict=True)]
    fig = go.Figure()
    for pctl, color in (("p50", "#90caf9"), ("p90", "#1e88e5"), ("p99", "#0d47a1")):
        col = f"{column}_{pctl}"
        if col in top.columns:
            fig.add_bar(x=names, y=top[col].to_list(), name=pctl, marker_color=color)
    fig.update_layout(title=title, barmode="group", yaxis={"type": "log", "title": "seconds"}, **LAYOUT)
    fig.update_xaxes(tickangle=-30)
    return fig


def reasons_chart(df: pl.DataFrame, *, title: str = "Failed and deferred attempts by reason") -> go.Figure:
    """Horizontal bars of reply counts per classified reason and severity (top_replies output)."""
    if df.is_empty():
        return _empty(title)
    agg = (
        df.with_columns(pl.col("reason").fill_null("(unclassified)"), pl.col("severity").fill_null("?"))
        .group_by("reason", "severity")
        .agg(pl.col("count").sum())
        .sort("count")
    )
    fig = go.Figure()
    for severity, color in (("hard", "#c62828"), ("soft", "#f9a825"), ("?", "#9e9e9e")):
        part = agg.filter(pl.col("severity") == severity)
        if part.height:
            fig.add_bar(
                y=[label(r) for r in part["reason"].to_list()],
                x=part["count"].to_list(),
                orientation="h",
                name=severity,
                marker_color=color,
            )
    fig.update_layout(title=title, barmode="stack", xaxis_title="attempts", **LAYOUT)
    return fig
