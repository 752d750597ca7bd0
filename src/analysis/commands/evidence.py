"""`deliverability dmarc | complaints`: the evidence beside the relay logs on the command line.

Reporter names, domains and user agents are written by other parties: in the table output non-printable
characters are escaped. Complaint recipients are personal data and are shown as ***@domain only.
"""

from __future__ import annotations

from typing import Any

import click
import polars as pl

from analysis.commands.metrics import _cell, _emit, _pct, _printable
from analysis.commands.options import db_option, since_until_options
from analysis.metrics import Filters, parse_where
from analysis.store import connect
from analysis.timeutil import parse_when

TEXT_WIDTH = 60


def _rate(row: dict[str, Any]) -> str:
    low, high = row.get("pass_rate_low"), row.get("pass_rate_high")
    span = "" if low is None or high is None else f" [{low * 100:.2f}–{high * 100:.2f}]"
    return _pct(row.get("pass_rate")) + span


def _rows(keys: tuple[str, ...]) -> Any:
    def build(df: pl.DataFrame) -> list[dict[str, str]]:
        out = []
        for r in df.iter_rows(named=True):
            row = {k: _printable(_cell(r.get(k)), TEXT_WIDTH) for k in keys if k in r}
            if "pass_rate" in r:
                row["pass_rate"] = _rate(r)
            out.append(row)
        return out

    return build


@click.command("dmarc")
@db_option
@since_until_options
@click.option(
    "--by",
    "by",
    type=click.Choice(["domain", "source"]),
    default="domain",
    show_default=True,
    help="One row per header-from domain, or per sending source IP.",
)
@click.option(
    "--unknown",
    is_flag=True,
    help="Only sources that are neither relay IPs nor known senders (possible spoofing); implies --by source.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of row objects.")
def dmarc_command(
    db: str | None, since: str | None, until: str | None, by: str, unknown: bool, as_json: bool
) -> None:
    """DMARC pass rate (with its Wilson interval) from the aggregate reports whose period starts in the window.

    A message passes when DKIM or SPF passed aligned. With --by source each IP says whether it is one of
    the relay's IPs (inventory) or an ESP's sending IP; --unknown keeps the others, most failures first.
    """
    from analysis import metrics_dmarc

    window = Filters(since=parse_when(since, name="--since"), until=parse_when(until, name="--until"))
    start, end = window.since, window.until  # checked like every other command's (since before until)
    con = connect(db, read_only=True)
    try:
        if unknown:
            df = metrics_dmarc.unknown_sources(con, since=start, until=end)
        elif by == "source":
            df = metrics_dmarc.pass_rate_by_source(con, since=start, until=end)
        else:
            df = metrics_dmarc.pass_rate_by_domain(con, since=start, until=end)
    finally:
        con.close()
    if unknown or by == "source":
        keys: tuple[str, ...] = ("source_ip", "known_as", "messages", "passed", "failed", "pass_rate",
                                 "domains", "example_domain", "reporters")  # fmt: skip
    else:
        keys = ("header_from", "messages", "passed", "failed", "pass_rate", "dkim_aligned_pass",
                "spf_aligned_pass", "quarantined", "rejected", "sources", "reports")  # fmt: skip
    _emit(df, "json" if as_json else None, _rows(keys))


@click.command("complaints")
@db_option
@since_until_options
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar="DIM=VALUE",
    help="Keep complaints whose send has this dimension value (account, sender_domain, provider, ...; "
    "repeatable). Unmatched complaints only have recipient_domain, provider and the time.",
)
@click.option("--unmatched", is_flag=True, help="Only complaints not matched to any send.")
@click.option("--limit", type=int, default=100, show_default=True, help="How many complaints to list.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of row objects.")
def complaints_command(
    db: str | None,
    since: str | None,
    until: str | None,
    where: tuple[str, ...],
    unmatched: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Complaints received in the window (by report date), newest first, with how each was matched.

    Match methods: message_id, rcpt_time_ip (recipient + time + source IP), rcpt_time, or unmatched.
    Recipients are shown as ***@domain.
    """
    from analysis.metrics.complaints import complaint_list

    filters = Filters(
        since=parse_when(since, name="--since"),
        until=parse_when(until, name="--until"),
        where=parse_where(where),
    )
    con = connect(db, read_only=True)
    try:
        df = complaint_list(con, filters, unmatched_only=unmatched, limit=limit)
    finally:
        con.close()
    keys = ("received_at", "feedback_type", "source", "provider", "recipient", "sender_domain", "account",
            "match_method", "user_agent")  # fmt: skip
    _emit(df, "json" if as_json else None, _rows(keys))


def register(group: click.Group) -> None:
    """Add dmarc and complaints to the main command group."""
    group.add_command(dmarc_command)
    group.add_command(complaints_command)
