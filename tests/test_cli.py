"""CLI hygiene: every command documents itself; the core never drags in the notebook/plotting stack."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from analysis.cli import main

UI_MODULES = ("plotly", "papermill", "nbconvert", "nbformat", "jupyter_client", "ipykernel", "IPython")
CORE_MODULES = (
    "analysis.ingest.loader",
    "analysis.ingest.postfix",
    "analysis.store",
    "analysis.totals",
    "analysis.classify",
    "analysis.metrics",
    "analysis.dns",
    "analysis.inventory",
    "analysis.cli",
)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        path = (*prefix, name)
        out.append(path)
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, path))
    return out


@pytest.mark.parametrize("path", _commands(main), ids=lambda p: " ".join(p))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    cmd: click.Command | None = main
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.get_command(click.Context(cmd), name)
    assert cmd is not None
    assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"


def test_contract_commands_exist() -> None:
    names = {" ".join(p) for p in _commands(main)}
    for required in ("ingest", "totals", "quarantine", "export"):
        assert required in names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_never_imports_the_ui_stack(module: str) -> None:
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        f"print(','.join(m for m in {UI_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
