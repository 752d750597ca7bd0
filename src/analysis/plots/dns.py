"""Figures and tables for the DNS authentication health report (data from analysis.dns.report)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from analysis.plots.charts import LAYOUT, label
from analysis.plots.tables import HtmlBlock, table

SEVERITY_ORDER = ("ok", "info", "warn", "error")
SEVERITY_COLORS = {"ok": "#2e7d32", "info": "#1565c0", "warn": "#f9a825", "error": "#c62828"}
CHECK_ORDER = ("spf", "dkim", "dmarc", "mx", "ptr", "mta_sts", "tls_rpt", "bimi", "dnsbl")


def _check_key(check: str) -> tuple[int, str]:
    family = check.split(":", 1)[0]
    return (CHECK_ORDER.index(family) if family in CHECK_ORDER else len(CHECK_ORDER), check)


def _empty(title: str, text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, font={"size": 16})
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, **LAYOUT)
    return fig


def checks_grid(obs: pl.DataFrame, *, title: str = "DNS checks by subject (worst finding)") -> go.Figure:
    """Subjects × checks heat map coloured by worst severity, each cell labelled with its state."""
    if obs.is_empty():
        return _empty(title, "no DNS observations")
    subjects = sorted(set(obs["subject"].to_list()))
    checks = sorted(set(obs["check_name"].to_list()), key=_check_key)
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    z: list[list[float | None]] = [[None] * len(checks) for _ in subjects]
    text: list[list[str]] = [[""] * len(checks) for _ in subjects]
    for row in obs.iter_rows(named=True):
        i, j = subjects.index(row["subject"]), checks.index(row["check_name"])
        z[i][j] = rank.get(row["severity"], 0)
        text[i][j] = label(row["state"])
    n = len(SEVERITY_ORDER) - 1
    scale = []
    for k, sev in enumerate(SEVERITY_ORDER):
        scale += [[k / (n + 1), SEVERITY_COLORS[sev]], [(k + 1) / (n + 1), SEVERITY_COLORS[sev]]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[label(c) for c in checks],
            y=[label(s) for s in subjects],
            text=text,
            texttemplate="%{text}",
            colorscale=scale,
            zmin=-0.5,
            zmax=n + 0.5,
            xgap=2,
            ygap=2,
            colorbar={"tickvals": list(range(n + 1)), "ticktext": list(SEVERITY_ORDER), "title": "worst"},
            hovertemplate="%{y} · %{x}<br>state %{text}<extra></extra>",
        )
    )
    layout = {**LAYOUT, "height": max(300, 60 + 34 * len(subjects))}
    fig.update_layout(
        title=title, xaxis={"side": "top", "tickangle": -30}, yaxis={"autorange": "reversed"}, **layout
    )
    return fig


def findings_table(findings: pl.DataFrame, *, include_ok: bool = False, caption: str = "") -> HtmlBlock:
    """Findings with their fixes, worst first (ok rows left out unless asked)."""
    df = findings if include_ok else findings.filter(pl.col("severity") != "ok")
    columns = {
        "severity": "severity",
        "subject": "subject",
        "check_name": "check",
        "code": "code",
        "message": "finding",
        "fix": "fix",
    }
    return table(df, columns, caption=caption or f"{df.height} finding(s)", max_rows=200)


def history_timeline(
    tl: pl.DataFrame, *, title: str = "Observation history (worst finding per check)"
) -> go.Figure:
    """Each observation as a marker on its subject·check row, coloured by severity."""
    if tl.is_empty():
        return _empty(title, "no DNS observations")
    df = tl.with_columns((pl.col("subject") + " · " + pl.col("check_name")).alias("row"))
    fig = go.Figure()
    for sev in SEVERITY_ORDER:
        part = df.filter(pl.col("severity") == sev)
        if part.is_empty():
            continue
        fig.add_trace(
            go.Scatter(
                x=part["observed_at"].to_list(),
                y=[label(r) for r in part["row"].to_list()],
                mode="markers",
                name=sev,
                marker={"color": SEVERITY_COLORS[sev], "size": 11, "symbol": "square"},
                text=[label(s) for s in part["state"].to_list()],
                hovertemplate="%{y}<br>%{x}<br>state %{text}<extra></extra>",
            )
        )
    rows = df["row"].n_unique()
    fig.update_layout(title=title, **{**LAYOUT, "height": max(320, 80 + 22 * rows)})
    fig.update_yaxes(categoryorder="category descending")
    return fig


def changes_table(changes: pl.DataFrame, *, caption: str = "Changes between observations") -> HtmlBlock:
    """dns diff as a table."""
    columns = {
        "observed_at": "seen",
        "severity": "severity",
        "subject": "subject",
        "check": "check",
        "kind": "change",
        "message": "detail",
    }
    return table(changes.sort("observed_at", descending=True), columns, caption=caption, max_rows=200)
