"""`deliverability rates | latency | replies`: the metrics layer on the command line.

Output is a readable table by default, `--json` (a list of row objects) or `--csv`. Reply texts come
from remote servers: in the table, control characters are escaped so they cannot drive the terminal.

`rates` imports neither polars nor pyarrow (a third of a short process's CPU): up to
rate_rows.PYTHON_ROWS groups it computes and writes plain rows, with the same bytes as the frame route.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from analysis.commands.options import db_option, since_until_options, writer_db_option
from analysis.errors import InputError
from analysis.metrics.filters import (
    DEFAULT_STATUSES,
    DIMENSIONS,
    REPLY_STATUSES,
    Filters,
    check_dimensions,
    parse_where,
)
from analysis.metrics.thresholds import DEFAULT_CONFIDENCE, DEFAULT_MIN_VOLUME, RATE_DEFINITIONS
from analysis.store import connect
from analysis.timeutil import parse_when

if TYPE_CHECKING:
    import polars as pl

F = TypeVar("F", bound=Callable[..., Any])

TABLE_TEXT_WIDTH = 100
# Rates shown with their interval in the table (the ones thresholds judge); the others as plain percent.
_INTERVAL_RATES = ("hard_bounce_rate", "complaint_rate")


def _filters(since: str | None, until: str | None, where: Sequence[str]) -> Filters:
    return Filters(
        since=parse_when(since, name="--since"),
        until=parse_when(until, name="--until"),
        where=parse_where(where),
    )


def _split_by(by: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in by.split(",") if x.strip())
    if not names:
        raise InputError(f"--by needs at least one of {', '.join(DIMENSIONS)}")
    return check_dimensions(names)


def _common_options(f: F) -> F:
    f = click.option("--csv", "fmt", flag_value="csv", help="Comma-separated values with a header row.")(f)
    f = click.option("--json", "fmt", flag_value="json", help="A JSON list of row objects.")(f)
    f = click.option(
        "--where",
        "where",
        multiple=True,
        metavar="DIM=VALUE",
        help="Keep only rows whose dimension equals VALUE (repeatable; hour/day take a timestamp/date).",
    )(f)
    f = since_until_options(f)
    return db_option(f)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def _printable(text: str, width: int | None = None) -> str:
    safe = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    if width is not None and len(safe) > width:
        safe = safe[: width - 1] + "…"
    return safe


def _pct(value: Any) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def _emit(df: pl.DataFrame, fmt: str | None, table: Callable[[pl.DataFrame], list[dict[str, str]]]) -> None:
    # JSON and CSV are written by polars (columnar, fast on tens of thousands of groups); times as ISO 8601.
    import polars as pl

    if fmt in ("json", "csv"):
        df = df.with_columns(pl.col(pl.Float64).fill_nan(None))
        if fmt == "json":
            sys.stdout.write(df.write_json() + "\n")
            return
        lists = [c for c, t in df.schema.items() if isinstance(t, pl.List)]
        times = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        df = df.with_columns(
            *(pl.col(c).list.join("; ") for c in lists),
            *(pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%:z") for c in times),
        )
        sys.stdout.write(df.write_csv())
        return
    _print_table(table(df))


def _print_table(rows: list[dict[str, str]]) -> None:
    if not rows:
        click.echo("(no rows)")
        return
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    numeric = {h for h in headers if all(_looks_numeric(r[h]) for r in rows)}

    def line(values: dict[str, str]) -> str:
        return "  ".join(
            values[h].rjust(widths[h]) if h in numeric else values[h].ljust(widths[h]) for h in headers
        )

    click.echo(line({h: h for h in headers}).rstrip())
    click.echo("  ".join("-" * widths[h] for h in headers))
    for r in rows:
        click.echo(line(r).rstrip())


def _looks_numeric(text: str) -> bool:
    return text == "" or text.replace(".", "", 1).replace("%", "").isdigit()


def _emit_rows(
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    fmt: str | None,
    table: Callable[[Iterable[Mapping[str, Any]]], list[dict[str, str]]],
) -> None:
    """_emit for plain rows (no polars): the same text."""
    from analysis.metrics import rowformat

    if fmt == "json":
        sys.stdout.write(rowformat.json_text(columns, rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(rowformat.csv_text(columns, rows))
    else:
        _print_table(table(rows))


def _rates_table(dims: Sequence[str]) -> Callable[[pl.DataFrame], list[dict[str, str]]]:
    """The table of a rates frame (this command's frame route, `spark rates`)."""
    rows_table = _rates_rows_table(dims)
    return lambda df: rows_table(df.iter_rows(named=True))


def _rates_rows_table(dims: Sequence[str]) -> Callable[[Iterable[Mapping[str, Any]]], list[dict[str, str]]]:
    def build(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
        out = []
        for r in rows:
            row = {d: _printable(_cell(r[d]), 60) for d in dims}
            for c in ("attempted", "delivered", "hard_bounced", "deferred", "rejected", "complained"):
                row[c] = _cell(r[c])
            for d in RATE_DEFINITIONS:
                if d.name in _INTERVAL_RATES:
                    low, high = r[f"{d.name}_low"], r[f"{d.name}_high"]
                    span = "" if low is None else f" [{low * 100:.2f}–{high * 100:.2f}]"
                    row[d.name.removesuffix("_rate")] = _pct(r[d.name]) + span
                else:
                    row[d.name.removesuffix("_rate")] = _pct(r[d.name])
            row["gated"] = "yes" if r["gated"] else ""
            row["flags"] = _cell(r["flags"])
            out.append(row)
        return out

    return build


@click.command("rates")
@click.option("--by", "by", required=True, metavar="DIM[,DIM...]", help=f"Group by: {', '.join(DIMENSIONS)}.")
@_common_options
@click.option(
    "--confidence",
    type=float,
    default=DEFAULT_CONFIDENCE,
    show_default=True,
    help="Confidence level of the Wilson intervals.",
)
@click.option(
    "--min-volume",
    "min_volume",
    type=int,
    default=DEFAULT_MIN_VOLUME,
    show_default=True,
    help="Groups with fewer attempted recipients are shown but never flagged.",
)
def rates_command(
    by: str,
    db: str | None,
    since: str | None,
    until: str | None,
    where: tuple[str, ...],
    fmt: str | None,
    confidence: float,
    min_volume: int,
) -> None:
    """Delivery, bounce, deferral, expiry, rejection and complaint rates per group.

    Each rate carries its Wilson interval; thresholds (SES bounce 5 %/10 %, complaints 0.1/0.3/0.5 %)
    are flagged only when the interval's lower bound reaches them, and only at --min-volume or more.
    Definitions: src/analysis/metrics/DEFINITIONS.md.
    """
    from analysis.metrics.rate_rows import rate_rows

    dims = _split_by(by)
    filters = _filters(since, until, where)
    con = connect(db, read_only=True)
    try:
        plain = rate_rows(con, dims, filters, confidence=confidence, min_volume=min_volume)
        if plain is None:  # more groups than plain rows are good for: the frame route
            from analysis.metrics.rates import rates

            df = rates(con, dims, filters, confidence=confidence, min_volume=min_volume)
    finally:
        con.close()
    if plain is None:
        _emit(df, fmt, _rates_table(dims))
    else:
        _emit_rows(*plain, fmt, _rates_rows_table(dims))


@click.command("latency")
@click.option("--by", "by", required=True, metavar="DIM[,DIM...]", help=f"Group by: {', '.join(DIMENSIONS)}.")
@_common_options
def latency_command(
    by: str, db: str | None, since: str | None, until: str | None, where: tuple[str, ...], fmt: str | None
) -> None:
    """p50/p90/p99 of Postfix's delay and of each delays= part (a/b/c/d) for sent attempts, in seconds."""
    from analysis.metrics.latency import latency

    dims = _split_by(by)
    filters = _filters(since, until, where)
    con = connect(db, read_only=True)
    try:
        df = latency(con, dims, filters)
    finally:
        con.close()

    def table(frame: pl.DataFrame) -> list[dict[str, str]]:
        keep = [*dims, "n", "delay_p50", "delay_p90", "delay_p99", "delay_a_p90", "delay_b_p90",
                "delay_c_p90", "delay_d_p90"]  # fmt: skip
        return [{k: _printable(_cell(r[k]), 60) for k in keep} for r in frame.iter_rows(named=True)]

    _emit(df, fmt, table)


@click.command("replies")
@_common_options
@click.option("--limit", type=int, default=20, show_default=True, help="How many reply texts to show.")
@click.option(
    "--status",
    "statuses",
    default=",".join(DEFAULT_STATUSES),
    show_default=True,
    help=f"Comma-separated outcomes to include: {', '.join(REPLY_STATUSES)}.",
)
def replies_command(
    db: str | None,
    since: str | None,
    until: str | None,
    where: tuple[str, ...],
    fmt: str | None,
    limit: int,
    statuses: str,
) -> None:
    """The most frequent reply texts, with addresses, IDs, IPs and numbers masked, counted."""
    from analysis.metrics.replies import top_replies

    chosen = tuple(s.strip() for s in statuses.split(",") if s.strip())
    filters = _filters(since, until, where)
    con = connect(db, read_only=True)
    try:
        df = top_replies(con, filters, limit=limit, statuses=chosen)
    finally:
        con.close()

    def table(frame: pl.DataFrame) -> list[dict[str, str]]:
        return [
            {
                "count": _cell(r["count"]),
                "reason": _printable(_cell(r["reason"])),
                "severity": _cell(r["severity"]),
                "dsn": _printable(_cell(r["dsn"])),
                "reply": _printable(_cell(r["normalized_reply"]), TABLE_TEXT_WIDTH),
            }
            for r in frame.iter_rows(named=True)
        ]

    _emit(df, fmt, table)


@click.command("refresh")
@writer_db_option
def refresh_command(db: str | None) -> None:
    """Rebuild the stored per-recipient facts that make rates and reports fast (run after ingest).

    Readers use the stored table only while it still matches the data, so skipping this costs speed,
    never correctness.
    """
    from analysis.metrics.cache import refresh_recipient_facts

    con = connect(db)
    try:
        rows = refresh_recipient_facts(con)
    finally:
        con.close()
    click.echo(f"recipient facts: {rows:,} rows")


def register(group: click.Group) -> None:
    """Add rates, latency, replies and refresh to the main command group."""
    group.add_command(refresh_command)
    group.add_command(rates_command)
    group.add_command(latency_command)
    group.add_command(replies_command)
