"""The JSON summary beside each report, for alerting (key figures, threshold breaches).

Design: the notebook calls `emit(figures)`, which displays the figures under a private MIME type. The
runner reads that output from the executed notebook (`extract`), writes `<report>.json` atomically
next to the HTML and removes the output before export, so the kernel never writes files and a failed
run leaves the previous summary untouched. In JupyterLab the same call shows a one-line text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nbformat

from analysis.reports.files import atomic_write_text

SUMMARY_MIME = "application/vnd.deliverability.summary+json"


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: datetimes as ISO 8601, NaN as null, sets/tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class _SummaryOutput:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        breaches = self.data.get("figures", {}).get("breaches") or []
        text = f"summary for alerting: {len(breaches)} threshold breach(es)"
        return {SUMMARY_MIME: self.data, "text/plain": text}


def emit(figures: Mapping[str, Any]) -> Any:
    """Display the summary so the runner can pick it up; returns the displayable object."""
    from IPython.display import display

    data = {"figures": to_jsonable(figures)}
    obj = _SummaryOutput(data)
    display(obj)  # type: ignore[no-untyped-call]
    return obj


def extract(nb: nbformat.NotebookNode) -> dict[str, Any] | None:
    """The last summary emitted in an executed notebook, or None."""
    found: dict[str, Any] | None = None
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if SUMMARY_MIME in data:
                found = dict(data[SUMMARY_MIME])
    return found


def strip(nb: nbformat.NotebookNode) -> None:
    """Remove summary outputs (they are for machines; the report shows the figures in prose)."""
    for cell in nb.cells:
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if SUMMARY_MIME not in o.get("data", {})]


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (readers never see half a file)."""
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2, sort_keys=True) + "\n")
