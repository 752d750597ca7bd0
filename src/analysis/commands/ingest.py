"""ingest, totals, quarantine, export: the relay-log spine's commands."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from analysis.commands.options import db_option, since_until_options, writer_db_option
from analysis.errors import InputError
from analysis.ingest.options import FORMATS, IngestOptions
from analysis.ingest.sources import Source, expand_inputs, unchanged_file_id
from analysis.privacy.hooks import audit_export, audit_ingest
from analysis.store import connect, db_path
from analysis.timeutil import parse_when

if TYPE_CHECKING:
    from analysis.ingest.loader import FileSummary


def _progress(src: Source):  # type: ignore[no-untyped-def]
    if not sys.stderr.isatty():
        return None
    done = [0]
    total = src.raw_size if src.compression is None else None

    def tick(n: int) -> None:
        done[0] += n
        pct = f" {100 * done[0] / total:5.1f}%" if total else ""
        click.echo(f"\r{src.display}: {done[0] / 1e6:,.1f} MB{pct}", err=True, nl=False)

    return tick


def _summary_line(s: FileSummary) -> str:
    if s.status == "failed":
        return f"{s.display}: FAILED: {s.error}"
    if s.status == "unchanged":
        return f"{s.display}: unchanged (already ingested)"
    held = " (an incomplete last line is held back until it ends)" if s.held_back else ""
    return (
        f"{s.display}: {s.status} [{s.format}] lines read {s.lines_read:,}, parsed {s.lines_parsed:,}, "
        f"quarantined {s.lines_quarantined:,}, other {s.lines_other:,}; messages {s.messages:,}, "
        f"deliveries {s.deliveries:,}, rejections {s.rejections:,}{held}"
    )


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@writer_db_option
@click.option(
    "--year",
    type=int,
    default=None,
    help="Year of the first line of logs with year-less timestamps (default: from the file's mtime).",
)
@click.option(
    "--tz", default="UTC", show_default=True, help="Time zone of year-less (traditional syslog) timestamps."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Read every input as this format instead of detecting each one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the per-file summaries as JSON.")
def ingest_cmd(
    paths: tuple[str, ...], db: str | None, year: int | None, tz: str, fmt: str | None, as_json: bool
) -> None:
    """Ingest relay logs (files, globs, directories, - for stdin; .gz .bz2 .xz .zst) into the store.

    Re-ingesting the same content adds nothing; a grown file resumes where it stopped; a rotated set is
    read in time order. Exit 2 if any input could not be read.
    """
    opts = IngestOptions(year=year, tz=tz, format=fmt)
    srcs = expand_inputs(list(paths))
    con = connect(db)
    summaries = None
    try:
        if all(unchanged_file_id(con, s) is not None for s in srcs):
            # Nothing new: answer without loading the parser and the columnar stack.
            for s in srcs:
                click.echo(f"{s.display}: unchanged (already ingested)")
            return
        from analysis.ingest.loader import Ingestor

        summaries = Ingestor(con, opts, warn=lambda m: click.echo(f"warning: {m}", err=True)).ingest_sources(
            srcs, progress=_progress
        )
    finally:
        audit_ingest(con, paths, summaries)  # privacy: audit row
        con.close()
    if sys.stderr.isatty():
        click.echo("\r", err=True, nl=False)
    if as_json:
        click.echo(json.dumps([x.as_dict() for x in summaries], indent=2))
    else:
        for summary in summaries:
            click.echo(_summary_line(summary))
    failed = [x for x in summaries if x.status == "failed"]
    if failed:
        raise InputError(f"{len(failed)} of {len(summaries)} inputs failed: {failed[0].error}")


@click.command("totals")
@db_option
@since_until_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object (the contract other tools read).")
def totals_cmd(db: str | None, since: str | None, until: str | None, as_json: bool) -> None:
    """Relay totals with pflogsumm's definitions (received, delivered, deferred, bounced, rejected, ...)."""
    from analysis.totals import totals

    con = connect(db, read_only=True)
    try:
        t = totals(con, since=parse_when(since, name="--since"), until=parse_when(until, name="--until"))
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(t, indent=2))
        return
    for k, v in t.items():
        if k != "window":
            click.echo(f"{k:>18}  {v:,}")


@click.command("quarantine")
@db_option
@click.option(
    "--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Rows to show (0 = all)."
)
@click.option("--reason", default=None, help="Only this reason.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
def quarantine_cmd(db: str | None, limit: int, reason: str | None, as_json: bool) -> None:
    """Lines that could not be parsed, with their reasons (a summary by reason first)."""
    con = connect(db, read_only=True)
    try:
        where = "WHERE q.reason = ?" if reason else ""
        args = [reason] if reason else []
        by_reason = con.execute(
            f"SELECT reason, COUNT(*) FROM quarantine q {where} GROUP BY reason ORDER BY 2 DESC, 1", args
        ).fetchall()
        lim = f"LIMIT {int(limit)}" if limit else ""
        rows = con.execute(
            f"SELECT f.path, q.line_no, q.reason, q.raw FROM quarantine q JOIN ingest_files f USING (file_id) "
            f"{where} ORDER BY q.file_id, q.line_no {lim}",
            args,
        ).fetchall()
    finally:
        con.close()
    if as_json:
        for path, line_no, why, raw in rows:
            click.echo(json.dumps({"file": path, "line": line_no, "reason": why, "raw": raw}))
        return
    for why, n in by_reason:
        click.echo(f"{n:>10,}  {why}")
    if rows:
        click.echo("")
    for path, line_no, why, raw in rows:
        click.echo(f"{path}:{line_no}: {why}: {raw[:200]}")


@click.command("export")
@db_option
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Lake directory.")
def export_cmd(db: str | None, out: str) -> None:
    """Write every table as Hive-partitioned Parquet: OUT/<table>/day=YYYY-MM-DD/part-N.parquet."""
    from analysis.store.export import export_parquet

    con = connect(db, read_only=True)
    try:
        written = export_parquet(con, out)
    finally:
        con.close()
    audit_export(db, out, written)  # privacy: audit row
    for table, n in written.items():
        click.echo(f"{table}: {n:,} rows")
    click.echo(f"exported {db_path(db)} to {out}")


def register(group: click.Group) -> None:
    for cmd in (ingest_cmd, totals_cmd, quarantine_cmd, export_cmd):
        group.add_command(cmd)
