"""Options shared by every command, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def db_option(f: F) -> F:
    """--db on every command; default from $DELIVERABILITY_DB, else data/deliverability.duckdb."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        default=None,
        help="DuckDB file (default: $DELIVERABILITY_DB or data/deliverability.duckdb).",
    )(f)


def since_until_options(f: F) -> F:
    """--since / --until: ISO dates or timestamps, UTC unless an offset is given."""
    f = click.option("--until", "until", default=None, help="End of the window (exclusive), ISO 8601.")(f)
    f = click.option("--since", "since", default=None, help="Start of the window (inclusive), ISO 8601.")(f)
    return f
