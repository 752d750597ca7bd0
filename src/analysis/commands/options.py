"""Options shared by every command, defined once."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _use_lake(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """analysis.store.connect() (and any notebook a report starts) reads $DELIVERABILITY_LAKE; it is set
    for this command only and restored when the command ends (in-process callers stay unaffected)."""
    if not value:
        return
    before = os.environ.get("DELIVERABILITY_LAKE")
    os.environ["DELIVERABILITY_LAKE"] = value

    def restore() -> None:
        if before is None:
            os.environ.pop("DELIVERABILITY_LAKE", None)
        else:
            os.environ["DELIVERABILITY_LAKE"] = before

    ctx.call_on_close(restore)


def writer_db_option(f: F) -> F:
    """--db for commands that write the store (a Parquet lake is read-only, so they take no --lake)."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        default=None,
        help="DuckDB file (default: $DELIVERABILITY_DB or data/deliverability.duckdb).",
    )(f)


def db_option(f: F) -> F:
    """--db on every reading command; default from $DELIVERABILITY_DB, else data/deliverability.duckdb.
    --lake makes it query a Parquet lake instead (through DuckDB views)."""
    f = click.option(
        "--lake",
        type=click.Path(file_okay=False, exists=True),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_use_lake,
        help="Read this Parquet lake instead of the database (default: $DELIVERABILITY_LAKE).",
    )(f)
    return writer_db_option(f)


def since_until_options(f: F) -> F:
    """--since / --until: ISO dates or timestamps, UTC unless an offset is given."""
    f = click.option("--until", "until", default=None, help="End of the window (exclusive), ISO 8601.")(f)
    f = click.option("--since", "since", default=None, help="Start of the window (inclusive), ISO 8601.")(f)
    return f
