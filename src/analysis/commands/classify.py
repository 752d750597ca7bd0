"""`deliverability classify` (stdin lines → TSV verdicts) and `deliverability reclassify` (stored rows)."""

from __future__ import annotations

import io
import sys

import click
import polars as pl

from analysis.classify.frame import classify_frame
from analysis.classify.lines import LineInput, parse_line
from analysis.commands.options import writer_db_option
from analysis.errors import InputError

_FIELDS = ("status", "dsn", "reply", "smtp_stage", "relay_host", "recipient_domain")


def classify_lines(lines: list[str]) -> list[str]:
    """One `reason<TAB>hard|soft<TAB>dsn<TAB>provider` line per input line, same order and count."""
    parsed = [parse_line(line) for line in lines]
    rows = [p or LineInput() for p in parsed]
    frame = pl.DataFrame(
        {f: [getattr(r, f) for r in rows] for f in _FIELDS}, schema=dict.fromkeys(_FIELDS, pl.String)
    )
    out = classify_frame(frame, with_dsn=True)
    result = []
    for p, (reason, severity, dsn, provider) in zip(
        parsed, out.select("reason", "severity", "dsn_effective", "provider").iter_rows(), strict=True
    ):
        fields = ("", "", "", "") if p is None else (reason or "", severity or "", dsn or "", provider or "")
        result.append("\t".join(fields))
    return result


def register(group: click.Group) -> None:
    """Add the classify and reclassify commands."""

    @group.command("classify")
    def classify_cmd() -> None:
        """Classify reply texts read from stdin.

        Each input line is a Postfix delivery line with status= (to=, relay=, dsn= and the text in
        parentheses are used), an smtpd NOQUEUE reject line, or a bare SMTP reply text. Prints one line
        per input line, in order: reason<TAB>hard|soft<TAB>dsn<TAB>provider (empty where unknown; a
        blank input line gives four empty fields).
        """
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="")
        text = stream.read()
        # Split on \n only: str.splitlines would also split on form feeds and U+2028 inside a reply.
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        if text.endswith("\n") or not text:
            lines.pop()
        out = sys.stdout
        for line in classify_lines(lines):
            out.write(line + "\n")

    @group.command("reclassify")
    @writer_db_option
    def reclassify_cmd(db: str | None) -> None:
        """Re-apply the current classification rules to stored deliveries and rejections.

        Runs in one transaction and prints how many rows changed, per table and new reason.
        """
        from analysis.classify.reclassify import reclassify
        from analysis.store import connect

        con = connect(db)
        try:
            counts = reclassify(con)
        except (OSError, ValueError) as exc:
            raise InputError(f"reclassify failed: {exc}") from None
        finally:
            con.close()
        click.echo("table\treason\tchanged")
        for table, reason, changed in counts.iter_rows():
            click.echo(f"{table}\t{reason or ''}\t{changed}")
        click.echo(f"total\t\t{int(counts['changed'].sum()) if counts.height else 0}")
