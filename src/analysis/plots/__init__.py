"""Figures and tables for reports. Importing this package installs the offline plotly renderer."""

# Imported first for its side effect: plotly.io imports nbformat, whose jsonschema would otherwise import
# rfc3987_syntax and compile a Lark grammar (2-3 s of every report kernel's first cell; see there).
import analysis.reports  # noqa: F401
from analysis.plots.charts import latency_chart, outcome_mix_chart, rate_chart, reasons_chart, volume_chart
from analysis.plots.render import install_offline_renderer
from analysis.plots.tables import HtmlBlock, bullet_list, esc, interval, latency_table, pct, table

install_offline_renderer()

__all__ = [
    "HtmlBlock",
    "bullet_list",
    "esc",
    "install_offline_renderer",
    "interval",
    "latency_chart",
    "latency_table",
    "outcome_mix_chart",
    "pct",
    "rate_chart",
    "reasons_chart",
    "table",
    "volume_chart",
]
