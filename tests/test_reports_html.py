"""HTML pieces of reports without a kernel: escaping, formats, the written summary, index, JSON summary,
offline export and the plotly renderer."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import pytest

import analysis.plots as plots
from analysis.reports import narrative, summary
from analysis.reports.export import to_html
from analysis.reports.index import write_index

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_table_escapes_every_cell_header_and_caption() -> None:
    df = pl.DataFrame({"reply": [PAYLOAD], "n": [1234], "flags": [[PAYLOAD]], "r": [0.1], "r_low": [0.05],
                       "r_high": [0.2]})
    html = plots.table(df, {"reply": PAYLOAD, "n": "n", "flags": "flags"}, intervals={"r": "rate"},
                       caption=PAYLOAD).html
    assert "<script>" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4
    assert '<td class="num">1,234</td>' in html
    assert "10.00 % [5.00–20.00]" in html


@pytest.mark.parametrize(
    ("rate", "low", "high", "text"),
    [(0.0123, 0.01, 0.02, "1.23 % [1.00–2.00]"), (None, None, None, "–"), (0.5, None, None, "50.00 %")],
)
def test_interval_format(rate: float | None, low: float | None, high: float | None, text: str) -> None:
    assert plots.interval(rate, low, high) == text


def test_chart_labels_from_data_are_escaped() -> None:
    df = pl.DataFrame({"provider": ["<b>x</b>"], "attempted": [10], "gated": [True], "hard_bounce_rate": [0.1],
                       "hard_bounce_rate_low": [0.01], "hard_bounce_rate_high": [0.4]})
    fig = plots.rate_chart(df, "provider", rates=("hard_bounce_rate",))
    assert fig.data[0].x == ("&lt;b&gt;x&lt;/b&gt; (n=10)",)
    assert fig.data[0].marker.symbol == ("circle-open",)  # gated: hollow
    assert fig.data[0].error_y.array == pytest.approx((0.3,)) and fig.data[0].error_y.arrayminus == pytest.approx((0.09,))


def test_offline_renderer_inlines_plotly_once_and_no_cdn() -> None:
    renderer = pio.renderers["notebook"]
    assert isinstance(renderer, plots.render.OfflineNotebookRenderer)
    bundle = renderer.to_mimebundle(go.Figure(go.Bar(x=[1], y=[2])).to_dict())
    assert "cdnjs" not in bundle["text/html"] and "<script src=" not in bundle["text/html"]


SUMMARY = {
    "window": {"first_attempt": "2026-03-02T00:00:00+00:00", "last_attempt": "2026-03-03T23:00:00+00:00"},
    "messages": 10, "attempted": 1000, "delivered": 900, "confidence": 0.95, "min_volume": 100,
    "counts": {"rejected": 3},
    "rates": {
        "delivery_rate": {"value": 0.9, "low": 0.88, "high": 0.92, "numerator": 900, "denominator": 1000},
        "hard_bounce_rate": {"value": 0.08, "low": 0.065, "high": 0.097, "numerator": 80, "denominator": 1000},
        "deferral_rate": {"value": 0.02, "low": 0.01, "high": 0.03, "numerator": 20, "denominator": 1000},
        "rejection_rate": {"value": 0.003, "low": 0.001, "high": 0.008, "numerator": 3, "denominator": 1003},
        "complaint_rate": {"value": 0.0, "low": 0.0, "high": 0.004, "numerator": 0, "denominator": 900},
    },
    "breaches": [
        {"dimension": "overall", "value": None, "rate": "hard_bounce_rate", "observed": 0.08, "low": 0.065,
         "high": 0.097, "n": 1000, "threshold": 0.05, "action": "review"},
        {"dimension": "sender_domain", "value": "b.example", "rate": "hard_bounce_rate", "observed": 0.2,
         "low": 0.15, "high": 0.25, "n": 300, "threshold": 0.05, "action": "review"},
        {"dimension": "sender_domain", "value": "b.example", "rate": "hard_bounce_rate", "observed": 0.2,
         "low": 0.15, "high": 0.25, "n": 300, "threshold": 0.10, "action": "pause"},
    ],
    "top_provider": {"provider": "gmail", "attempted": 500},
    "worst_sender_domain": {"sender_domain": "b.example", "attempted": 300, "hard_bounce_rate": 0.2,
                            "hard_bounce_rate_low": 0.15, "hard_bounce_rate_high": 0.25, "gated": False},
    "p90_delay": 4.25,
}


def test_narrative_sentences_follow_the_figures() -> None:
    text = " ".join(narrative.describe(SUMMARY))
    assert "1,000 recipients attempted, 900 delivered" in text
    assert "Hard bounces 8.00 % (80 of 1,000; interval 6.50 %–9.70 %)" in text
    assert "2 group(s) over a threshold" in text  # review+pause of one sender collapse to the pause
    assert text.index("sender_domain b.example") < text.index("overall:")  # most severe first
    assert "≥ 10.00 % → pause" in text and "Complaints" not in text
    assert "Largest mailbox provider: gmail (500 recipients, 50% of attempts)" in text
    assert "at most 4.2 s" in text or "at most 4.3 s" in text


def test_narrative_without_breaches_and_without_data() -> None:
    quiet = {**SUMMARY, "breaches": []}
    assert "No published threshold is crossed" in " ".join(narrative.describe(quiet))
    empty = {"window": {}, "attempted": 0, "counts": {"rejected": 0}}
    assert narrative.describe(empty)[0].startswith("No delivery attempts")


@pytest.mark.parametrize(
    ("first", "last", "bucket"),
    [("2026-03-01T00:00:00+00:00", "2026-03-03T00:00:00+00:00", "hour"),
     ("2026-03-01T00:00:00+00:00", "2026-03-20T00:00:00+00:00", "day"), (None, None, "hour")],
)
def test_time_bucket(first: str | None, last: str | None, bucket: str) -> None:
    assert narrative.time_bucket({"window": {"first_attempt": first, "last_attempt": last}}) == bucket


def test_summary_round_trip_through_notebook_outputs() -> None:
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("display_data", data={summary.SUMMARY_MIME: {"figures": {"x": 1}},
                                                        "text/plain": "summary"})
    keep = nbformat.v4.new_output("display_data", data={"text/html": "<p>chart</p>"})
    nb.cells.append(nbformat.v4.new_code_cell("emit()", outputs=[out, keep]))
    assert summary.extract(nb) == {"figures": {"x": 1}}
    summary.strip(nb)
    assert nb.cells[0].outputs == [keep]
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert summary.to_jsonable({"t": when, "f": float("nan"), "p": Path("a"), "s": ("x",)}) == {
        "t": "2026-01-01T00:00:00+00:00", "f": None, "p": "a", "s": ["x"]}


def test_export_is_offline_and_hides_input() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("secret_code = 1", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": "<p>visible</p>"})]))
    page = to_html(nb, title="T <x>")
    assert "secret_code" not in page and "<p>visible</p>" in page
    assert "<title>T &lt;x&gt;</title>" in page
    assert "require.min.js" not in page and "mathjax" not in page.lower().split("</head>")[0]


def test_index_lists_newest_first_escapes_and_skips_foreign_json(tmp_path: Path) -> None:
    for i, name in enumerate(["old", "new"]):
        (tmp_path / f"{name}.html").write_text("x")
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "report": f"{name}.html", "notebook": "nb", "title": f"{name} {PAYLOAD}",
            "params": {"label": PAYLOAD}, "figures": {"breaches": SUMMARY["breaches"]}}))
        os.utime(tmp_path / f"{name}.html", ns=(time.time_ns(), time.time_ns() + i * 10**9))
    (tmp_path / "other.json").write_text('{"report": "../../etc/passwd"}')
    (tmp_path / "broken.json").write_text("{")
    page = write_index(tmp_path).read_text()
    assert page.index('href="new.html"') < page.index('href="old.html"')
    assert "<script>" not in page and "passwd" not in page
    assert '<td class="num">2</td>' in page
