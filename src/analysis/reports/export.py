"""HTML export: nbconvert's lab template with input hidden and nothing fetched from the network.

The stock template loads require.js (and MathJax / mermaid when used) from CDNs; a report must open
from a file with networking off, so those blocks are emptied. Plotly.js itself is inlined once by the
renderer in analysis.plots.
"""

from __future__ import annotations

import jinja2
import nbformat
from nbconvert import HTMLExporter

OFFLINE_TEMPLATE = "deliverability_offline.html.j2"
_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def exporter() -> HTMLExporter:
    """An HTMLExporter for reports: lab template, input and prompts hidden, offline head."""
    exp = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        extra_loaders=[jinja2.DictLoader({OFFLINE_TEMPLATE: _TEMPLATE_SOURCE})],
    )
    exp.template_file = OFFLINE_TEMPLATE
    return exp


def to_html(nb: nbformat.NotebookNode, *, title: str) -> str:
    """The executed notebook as one self-contained HTML page."""
    nb = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
    nb.metadata["title"] = title
    body, _ = exporter().from_notebook_node(nb)
    return str(body)
