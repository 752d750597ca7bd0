"""Thin command-line glue: parse options, call the typed API, turn expected errors into one line.

Each area registers its commands from its own module under analysis.commands so that the areas stay
independent; this file only assembles them.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

# Read by polars' allocator when it loads (so before any command module imports polars): a command is a
# short-lived process, and keeping freed pages instead of returning and faulting them in again cut a
# 3M-line ingest's page faults by 30 % and its CPU by 4 % (peak RSS unchanged: it is set by the peak).
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1")
# numpy (loaded by pyarrow and polars) starts OpenBLAS worker threads that spin between calls no command
# makes: 1.6 % of an ingest's CPU went to them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from analysis.errors import WorkbenchError

# Modules under analysis.commands that expose `register(group)`, and the commands each registers: a
# command's module is imported only when that command runs (start-up stays fast); `--help` imports all.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest", "totals", "quarantine", "export"),
    "classify": ("classify", "reclassify"),
    "metrics": ("rates", "latency", "replies", "refresh"),
    "reports": ("report",),
    "dns": ("dns", "inventory"),
    "abuse": ("abuse",),
    "privacy": ("privacy", "audit", "retention"),
    "spark": ("spark",),
    "synth": ("synth",),
    "evidence": ("dmarc", "complaints"),
}


def _load(module: str, group: click.Group) -> None:
    try:
        mod = importlib.import_module(f"analysis.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"analysis.commands.{module}":
            raise
        return
    mod.register(group)


class WorkbenchGroup(click.Group):
    """Lazily loaded commands that fail with one clean line instead of a traceback."""

    def _load_all(self) -> None:
        for module in COMMAND_MODULES:
            _load(module, self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_all()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            owners = [m for m, names in COMMAND_MODULES.items() if cmd_name in names]
            for module in owners or list(COMMAND_MODULES):
                _load(module, self)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=WorkbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deliverability-workbench")
def main() -> None:
    """Deliverability workbench: relay logs, bounces, complaints, DMARC, DNS health and abuse signals."""
