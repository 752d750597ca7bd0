"""Thin command-line glue: parse options, call the typed API, turn expected errors into one line.

Each area registers its commands from its own module under analysis.commands so that the areas stay
independent; this file only assembles them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from analysis.errors import WorkbenchError

# Modules under analysis.commands that expose `register(group)`; missing ones are skipped so a partial
# install still runs the rest.
COMMAND_MODULES = (
    "ingest",
    "classify",
    "metrics",
    "reports",
    "dns",
    "abuse",
    "privacy",
    "spark",
    "synth",
)


class WorkbenchGroup(click.Group):
    """A click group whose commands fail with one clean line instead of a traceback."""

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


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"analysis.commands.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"analysis.commands.{_name}":
            raise
        continue
    _mod.register(main)
