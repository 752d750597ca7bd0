"""Run a parameterized notebook with papermill and publish its HTML report, JSON summary and index.

Order of work, so that the cheap failures come first and a failed run never touches a good report:
parse the parameters cell and check the given values (exit 2, no kernel started) → execute in a temp
directory → export → rename the files into place → regenerate the index.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from analysis.errors import InputError, WorkbenchError
from analysis.privacy import hooks as privacy_hooks
from analysis.reports import summary as summary_io
from analysis.reports.export import to_html
from analysis.reports.index import write_index
from analysis.reports.kernel import kernel_name
from analysis.reports.params import (
    Param,
    check_before_run,
    find_db,
    notebook_parameters,
    output_stem,
    parse_assignments,
    prevalidate,
)

FORMATS = ("html", "ipynb", "both")
CELL_TIMEOUT = float(os.environ.get("DELIVERABILITY_CELL_TIMEOUT", "900"))
NOTEBOOKS_ENV = "DELIVERABILITY_NOTEBOOKS"


@dataclass(frozen=True)
class NotebookInfo:
    """A report notebook as `report --list` shows it."""

    name: str
    path: Path
    title: str
    params: list[Param]


@dataclass(frozen=True)
class RunResult:
    """The files a successful run published."""

    html: Path | None
    ipynb: Path | None
    summary: Path
    index: Path
    seconds: float


def notebooks_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where report notebooks live: argument, $DELIVERABILITY_NOTEBOOKS, ./notebooks, the checkout's."""
    if explicit:
        return Path(explicit)
    if os.environ.get(NOTEBOOKS_ENV):
        return Path(os.environ[NOTEBOOKS_ENV])
    here = Path("notebooks")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / "notebooks"


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return str(line[2:].strip())
    return fallback


def list_notebooks(directory: Path) -> list[NotebookInfo]:
    """Every notebook in the directory with its parameter spec."""
    out = []
    for path in sorted(directory.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        out.append(NotebookInfo(path.stem, path, _title(nb, path.stem), notebook_parameters(path)))
    return out


def find_notebook(name: str, directory: Path) -> Path:
    """The notebook file for a report name; InputError listing the available names."""
    path = directory / f"{name}.ipynb"
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        names = ", ".join(p.stem for p in sorted(directory.glob("*.ipynb"))) or "none"
        raise InputError(f"no notebook {name!r} in {directory} (available: {names})")
    return path


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def resolve_values(spec: list[Param], assignments: list[str], db: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values for the stem: as given, values for the kernel: db made absolute). InputError when bad."""
    given = parse_assignments(spec, assignments)
    names = {p.name for p in spec}
    if db is not None:
        if "db" not in names:
            raise InputError("--db given but this notebook has no db parameter")
        if "db" in given and given["db"] != db:
            raise InputError("--db and -p db=... disagree; give one")
        given["db"] = db
    run = dict(given)
    if "db" in names:
        default = next(p.default for p in spec if p.name == "db")
        run["db"] = str(find_db(str(run.get("db", default) or "")).resolve())
    check_before_run(spec, run)
    return given, run


def _failure_message(name: str, exc: Exception, nb_path: Path | None) -> str:
    from papermill.exceptions import PapermillExecutionError

    kept = f"; partial output in {nb_path}" if nb_path else ""
    if isinstance(exc, PapermillExecutionError):
        first = next((ln for ln in str(exc.source).splitlines() if ln.strip() and not ln.startswith("#")), "")
        evalue = str(exc.evalue).splitlines()[0] if exc.evalue else ""
        return (
            f"notebook {name} failed in cell {exc.cell_index} (In [{exc.exec_count}]: {first.strip()[:80]}): "
            f"{exc.ename}: {evalue}{kept}"
        )
    text = str(exc).strip().splitlines()
    return f"notebook {name} failed: {type(exc).__name__}: {text[0] if text else ''}{kept}"


class _CheckedParameters(logging.Filter):
    """Drops papermill's "Passed unknown parameter" warning: its parser skips `name: T | None = ...` lines
    of a parameters cell, and the runner has already checked every value against that cell (exit 2)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


def _execute(path: Path, out_path: Path, values: Mapping[str, Any], cwd: Path) -> nbformat.NotebookNode:
    import papermill

    checked = _CheckedParameters()
    papermill_log = logging.getLogger("papermill")
    papermill_log.addFilter(checked)
    try:
        return _execute_notebook(papermill, path, out_path, values, cwd)
    finally:
        papermill_log.removeFilter(checked)


def _execute_notebook(
    papermill: Any, path: Path, out_path: Path, values: Mapping[str, Any], cwd: Path
) -> nbformat.NotebookNode:
    with _environ(PLOTLY_RENDERER="notebook"):
        kernel = kernel_name()
        nb = papermill.execute_notebook(
            str(path),
            str(out_path),
            parameters=dict(values),
            kernel_name=kernel,
            language="python",
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=CELL_TIMEOUT,
            # The kernel listens on loopback with signed messages; its start-up warning about unencrypted
            # TCP would be the only line on stderr of every run.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    result: nbformat.NotebookNode = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
    return result


def _keep_failed(executed: Path, out_dir: Path, stem: str) -> Path | None:
    """Copy a failed run's partial notebook to OUT/failed/ for debugging; None if papermill saved none."""
    if not executed.exists():
        return None
    kept = out_dir / "failed" / f"{stem}.ipynb"
    kept.parent.mkdir(exist_ok=True)
    shutil.copyfile(executed, kept)
    return kept


def run_report(
    name: str,
    assignments: list[str] | None = None,
    *,
    db: str | None = None,
    out: str | os.PathLike[str] = "reports",
    fmt: str = "html",
    notebooks: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Execute notebook NAME with `KEY=VALUE` parameters and publish its report files into `out`."""
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}")
    started = time.monotonic()
    directory = notebooks_dir(notebooks)
    path = find_notebook(name, directory)
    spec = notebook_parameters(path)
    given, run_values = resolve_values(spec, list(assignments or []), db)
    run_values = privacy_hooks.report_values([p.name for p in spec], run_values)  # pseudonymise: default, key
    prevalidate(path, spec, run_values)  # notebook-specific values: exit 2 before a kernel starts
    stem = output_stem(name, spec, given)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".run-{stem[:40]}-", dir=out_dir))
    try:
        executed_path = work / f"{stem}.ipynb"
        try:
            nb = _execute(path, executed_path, run_values, directory.resolve())
        except Exception as exc:
            raise WorkbenchError(_failure_message(name, exc, _keep_failed(executed_path, out_dir, stem))) from None
        figures = summary_io.extract(nb)
        summary_io.strip(nb)
        defaults = {p.name: p.default for p in spec}
        shown = ", ".join(f"{k}={v}" for k, v in given.items() if k != "db" and v != defaults.get(k))
        title = f"{_title(nb, name)} ({shown})" if shown else _title(nb, name)
        meta = {
            "notebook": name,
            "report": f"{stem}.html" if fmt != "ipynb" else f"{stem}.ipynb",
            "title": title,
            "params": {p.name: run_values.get(p.name, p.default) for p in spec},
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 2),
            "figures": (figures or {}).get("figures"),
        }
        html_final = ipynb_final = None
        if fmt in ("ipynb", "both"):
            ipynb_final = out_dir / f"{stem}.ipynb"
            nbformat.write(nb, str(work / "export.ipynb"))  # type: ignore[no-untyped-call]
            (work / "export.ipynb").replace(ipynb_final)
        if fmt in ("html", "both"):
            html_tmp = work / f"{stem}.html"
            html_tmp.write_text(to_html(nb, title=title), encoding="utf-8")
            html_final = out_dir / f"{stem}.html"
            html_tmp.replace(html_final)
        summary_path = out_dir / f"{stem}.json"
        summary_io.write_json(summary_path, meta)
        (out_dir / "failed" / f"{stem}.ipynb").unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    index = write_index(out_dir)
    privacy_hooks.audit_report(run_values.get("db"), name, given, time.monotonic() - started)
    return RunResult(html_final, ipynb_final, summary_path, index, time.monotonic() - started)
