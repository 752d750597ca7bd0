"""Plotly output that works in a file opened offline: plotly.js inlined once, no CDN MathJax.

Plotly's `notebook` renderer embeds plotly.js when activated but also adds a MathJax <script> from a CDN
to every figure, which fails (and logs a console error) with networking off. The renderer installed here
under the same name drops that tag; report runs select it with PLOTLY_RENDERER=notebook.
"""

from __future__ import annotations

from typing import Any

import plotly.io as pio
from plotly.io._base_renderers import NotebookRenderer

REPORT_RENDERER = "notebook"


class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
    """The `notebook` renderer without the per-figure MathJax CDN script."""

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
        html = pio.to_html(
            fig_dict,
            config=self.config,
            auto_play=self.auto_play,
            include_plotlyjs=False,
            include_mathjax=False,
            full_html=False,
            animation_opts=self.animation_opts,
            default_width="100%",
            default_height=480,
            validate=False,
        )
        return {"text/html": html}


def install_offline_renderer() -> None:
    """Replace the `notebook` renderer; re-apply the default so it picks up the new object."""
    if not isinstance(pio.renderers[REPORT_RENDERER], OfflineNotebookRenderer):
        pio.renderers[REPORT_RENDERER] = OfflineNotebookRenderer()
        current = pio.renderers.default
        pio.renderers.default = current
