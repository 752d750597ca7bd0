"""Notebook parameters: read the spec from the `parameters` cell, coerce CLI strings, validate values.

The spec is parsed statically (ast + tokenize) so the runner can reject a bad or unknown parameter
before any kernel starts; the notebook's validation cell calls `validate` so that the same rules apply
when an analyst runs the notebook by hand in JupyterLab.
"""

from __future__ import annotations

import ast
import hashlib
import io
import math
import os
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from analysis.errors import InputError
from analysis.store import db_path
from analysis.timeutil import parse_when

if TYPE_CHECKING:
    import duckdb

    from analysis.metrics import Filters

# Types a parameter may be annotated with (or inferred from its default literal).
TYPES = ("str", "int", "float", "bool")
# Parameters the validation maps onto metric filters (Filters.where), by dimension name.
FILTER_PARAMS = ("account", "sasl_username", "sender_domain", "recipient_domain", "provider", "relay_ip")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One parameter of a notebook: name, type, default and the comment that documents it."""

    name: str
    type: str  # one of TYPES
    default: Any
    optional: bool  # annotated `T | None`: None is accepted
    comment: str


def _annotation_type(node: ast.expr | None, default: Any, name: str) -> tuple[str, bool]:
    if node is None:
        for tname in ("bool", "int", "float", "str"):  # bool before int: True is an int
            if type(default).__name__ == tname:
                return tname, False
        raise InputError(f"parameter {name}: cannot infer a type from default {default!r}; annotate it")
    if isinstance(node, ast.Name) and node.id in TYPES:
        return node.id, False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
        nones = [p for p in parts if isinstance(p, ast.Constant) and p.value is None]
        rest = [p for p in parts if p not in nones]
        if len(nones) == 1 and len(rest) == 1 and isinstance(rest[0], ast.Name) and rest[0].id in TYPES:
            return rest[0].id, True
    raise InputError(f"parameter {name}: unsupported annotation {ast.unparse(node)!r} (use {', '.join(TYPES)})")


def _line_comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    return comments


def parse_parameters_source(source: str) -> list[Param]:
    """Parameters declared in a `parameters` cell: `name: type = literal  # comment`, one per line."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InputError(f"parameters cell is not valid Python: {exc.msg} (line {exc.lineno})") from None
    comments = _line_comments(source)
    out: list[Param] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name, annotation, value = stmt.target.id, stmt.annotation, stmt.value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, annotation, value = stmt.targets[0].id, None, stmt.value
        else:
            raise InputError(f"parameters cell line {stmt.lineno}: only `name: type = literal` assignments")
        try:
            default = ast.literal_eval(value)
        except ValueError:
            raise InputError(f"parameter {name}: default must be a literal") from None
        ptype, optional = _annotation_type(annotation, default, name)
        out.append(Param(name, ptype, default, optional, comments.get(stmt.end_lineno or stmt.lineno, "")))
    return out


def parameters_cell(nb: nbformat.NotebookNode) -> tuple[int, str]:
    """Index and source of the one cell tagged `parameters`."""
    found = [
        (i, c.source)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    if len(found) != 1:
        raise InputError(f"notebook needs exactly one cell tagged 'parameters' (found {len(found)})")
    return found[0]


def notebook_parameters(path: Path) -> list[Param]:
    """The parameter spec of a notebook file, read without executing anything."""
    try:
        nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read notebook {path}: {exc}") from None
    return parse_parameters_source(parameters_cell(nb)[1])


def coerce(param: Param, text: str) -> Any:
    """A command-line string as the parameter's type, or InputError naming the parameter."""
    if param.optional and text.lower() in {"none", "null"}:
        return None
    try:
        if param.type == "str":
            return text
        if param.type == "bool":
            low = text.lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError(text)
        if param.type == "int":
            return int(text)
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    except ValueError:
        raise InputError(f"parameter {param.name}: {text!r} is not a valid {param.type}") from None


def parse_assignments(spec: list[Param], pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings checked against the spec (unknown names and bad types are InputError)."""
    by_name = {p.name: p for p in spec}
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep:
            raise InputError(f"parameter {pair!r}: expected KEY=VALUE")
        if key not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise InputError(f"unknown parameter {key!r} (this notebook takes: {known})")
        values[key] = coerce(by_name[key], text)
    return values


def find_db(value: str) -> Path:
    """The database a notebook should read: given path, else $DELIVERABILITY_DB, else the project's.

    An analyst's JupyterLab runs notebooks with the `notebooks/` directory as working directory, so the
    default relative path is also looked up in the parent directories.
    """
    path = db_path(value or None)
    if path.is_absolute() or path.exists() or value:
        return path
    for parent in Path.cwd().parents[:3]:
        if (parent / path).exists():
            return parent / path
    return path


@dataclass(frozen=True)
class ReportParams:
    """Validated, typed parameters of a report notebook."""

    db: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    where: Mapping[str, str] = field(default_factory=dict)
    confidence: float = 0.95
    min_volume: int = 100
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def filters(self) -> Filters:
        """The metric filters for this window and these equality filters."""
        from analysis.metrics import Filters

        return Filters(since=self.start, until=self.end, where=dict(self.where))

    @property
    def stats(self) -> dict[str, Any]:
        """Keyword arguments for the metrics functions that take confidence and min_volume."""
        return {"confidence": self.confidence, "min_volume": self.min_volume}

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the report's database."""
        from analysis.store import connect

        if self.db is None:
            raise InputError("this notebook has no db parameter")
        return connect(self.db, read_only=True)

    def describe(self) -> str:
        """One line naming the window and filters, for report headers."""
        if self.start is None and self.end is None:
            window = "Window: all data"
        else:
            window = (
                f"Window: {self.start.isoformat() if self.start else 'first record'} → "
                f"{self.end.isoformat() if self.end else 'last record'}"
            )
        filt = ", ".join(f"{k} = {v}" for k, v in self.where.items()) or "no filters"
        return f"{window}; {filt}; {self.confidence:.0%} Wilson intervals; minimum volume {self.min_volume}"


def validate(**values: Any) -> ReportParams:
    """Check and cast report parameters; InputError (exit 2) with the parameter's name when wrong.

    Known names get their checks (db must exist; start/end ISO 8601 with start < end; confidence in
    (0, 1); min_volume ≥ 0; absent names keep their defaults; filter names map to metric dimensions, empty meaning "all"); other
    parameters pass through in `extra`.
    """
    values = dict(values)
    db = None
    if "db" in values:
        db = find_db(str(values.pop("db") or ""))
        # In lake mode ($DELIVERABILITY_LAKE) the Parquet lake is read; the file is only an optional extra.
        if not db.is_file() and not os.environ.get("DELIVERABILITY_LAKE"):
            raise InputError(f"parameter db: no database at {db}: run 'deliverability ingest' first")
    start = parse_when(values.pop("start", None) or None, name="parameter start")
    end = parse_when(values.pop("end", None) or None, name="parameter end")
    if start is not None and end is not None and start >= end:
        raise InputError(f"parameters start/end: start {start.isoformat()} is not before end {end.isoformat()}")
    confidence = values.pop("confidence", 0.95)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise InputError(f"parameter confidence: {confidence!r} must be a number between 0 and 1")
    min_volume = values.pop("min_volume", 100)
    if isinstance(min_volume, bool) or not isinstance(min_volume, int) or min_volume < 0:
        raise InputError(f"parameter min_volume: {min_volume!r} must be a non-negative integer")
    where: dict[str, str] = {}
    for name in FILTER_PARAMS:
        value = values.pop(name, None)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InputError(f"parameter {name}: {value!r} must be a string")
        where[name] = value.strip()
    return ReportParams(db, start, end, where, float(confidence), min_volume, values)


def check_before_run(spec: list[Param], values: Mapping[str, Any]) -> ReportParams:
    """The runner's pre-kernel check: the notebook's defaults overlaid with the given values."""
    merged = {p.name: p.default for p in spec}
    merged.update(values)
    for p in spec:
        value = merged[p.name]
        if value is None and not p.optional:
            raise InputError(f"parameter {p.name}: a value is required")
    return validate(**merged)


def output_stem(name: str, spec: list[Param], values: Mapping[str, Any]) -> str:
    """A file name from the notebook name and its non-default parameters (never the clock).

    `db` is left out: it says where the data is, not what the report shows.
    """
    parts = [name]
    for p in spec:
        if p.name == "db" or p.name not in values or values[p.name] == p.default:
            continue
        raw = str(values[p.name])
        text = re.sub(r"[^A-Za-z0-9.@_-]+", "-", raw).strip("-.")[:40]
        if text != raw:  # keep distinct values distinct after cleaning
            text = f"{text}-{_digest(raw)[:6]}"
        parts.append(f"{p.name}-{text}")
    stem = "__".join(parts)
    if len(stem) > 150:
        stem = f"{stem[:130]}__{_digest(stem)[:12]}"
    return stem


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


__all__ = [
    "FILTER_PARAMS",
    "TYPES",
    "Param",
    "ReportParams",
    "check_before_run",
    "coerce",
    "find_db",
    "notebook_parameters",
    "output_stem",
    "parameters_cell",
    "parse_assignments",
    "parse_parameters_source",
    "validate",
]


def prevalidate(path: Path, spec: list[Param], values: dict[str, Any]) -> None:
    """Run the notebook's validation cell (the code cell right after `parameters`, which calls a package
    validator) in this process before any kernel starts, so a bad value for a notebook-specific
    parameter exits 2 like a bad type does. A cell that calls no validator is left to the kernel."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    index, _ = parameters_cell(nb)
    following = [c for c in nb.cells[index + 1 :] if c.cell_type == "code"]
    if not following or "valid" not in following[0].source:
        return
    namespace: dict[str, Any] = {p.name: p.default for p in spec}
    namespace.update(values)
    try:
        exec(compile(following[0].source, f"{path.name}:validation", "exec"), namespace)
    except InputError:
        raise
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path.stem}: {exc}") from None
