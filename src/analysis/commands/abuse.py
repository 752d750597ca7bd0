"""`deliverability abuse rank | evidence`: ranked suspects and the evidence behind one of them.

Account names are SASL usernames or sender domains when the inventory does not know them, i.e. written
by whoever submits mail: in the table output non-printable characters are escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from analysis.commands.options import db_option, since_until_options
from analysis.errors import InputError
from analysis.store import connect
from analysis.timeutil import parse_when

_THRESHOLDS_HELP = (
    "TOML file overriding analysis/abuse/thresholds.toml (same layout; missing keys keep defaults)."
)


def _printable(text: str, width: int = 0) -> str:
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return out if not width or len(out) <= width else out[: width - 1] + "…"


def _scope(value: str | None) -> object:
    from analysis.abuse import SCOPE_DIMENSIONS, Scope

    if not value:
        return Scope()
    dim, sep, val = value.partition("=")
    if not sep or dim not in SCOPE_DIMENSIONS or not val:
        raise InputError(
            f"--scope expects DIM=VALUE with DIM one of {', '.join(SCOPE_DIMENSIONS)}, got {value!r}"
        )
    return Scope(dim, val)


@click.group("abuse")
def abuse() -> None:
    """Abuse signals per account: ranked suspects, and the evidence for one account."""


@abuse.command("rank")
@db_option
@since_until_options
@click.option("--json", "as_json", is_flag=True, help="A JSON list of suspects, highest score first.")
@click.option(
    "--thresholds", "thresholds", type=click.Path(dir_okay=False), default=None, help=_THRESHOLDS_HELP
)
@click.option(
    "--min-severity",
    "min_severity",
    type=click.Choice(["none", "low", "medium", "high", "critical"]),
    default="none",
    show_default=True,
    help="Leave out accounts below this severity.",
)
@click.option(
    "--scope",
    "scope",
    default=None,
    metavar="DIM=VALUE",
    help="Only messages of one account, sasl_username, sender_domain or client_ip.",
)
def rank_cmd(
    db: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
    thresholds: str | None,
    min_severity: str,
    scope: str | None,
) -> None:
    """Rank accounts by abuse score over a window (default: the last 24 h of data).

    Each account gets a score (sum of its raised signals' weight × strength), a severity and a suggested
    action (monitor, warn, throttle, suspend); nothing stronger than warn without raised signals of two
    independent families.
    """
    from analysis.abuse import Scope, load_config, rank

    cfg = load_config(thresholds)
    sc = _scope(scope)
    assert isinstance(sc, Scope)
    con = connect(db, read_only=True)
    try:
        ranking = rank(
            con,
            parse_when(since, name="--since"),
            parse_when(until, name="--until"),
            scope=sc,
            config=cfg,
        ).at_least(min_severity)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(ranking.to_list(), indent=2, ensure_ascii=False))
        return
    click.echo(f"window {ranking.window.describe()}; {sc.describe()}; thresholds: {cfg.source}")
    if not ranking.suspects:
        click.echo("no accounts")
        return
    click.echo(f"{'account':<32} {'score':>7} {'severity':<9} {'action':<9} raised signals")
    for s in ranking.suspects:
        raised = ", ".join(x.name for x in s.signals if x.raised) or "-"
        click.echo(f"{_printable(s.account, 32):<32} {s.score:>7.2f} {s.severity:<9} {s.action:<9} {raised}")


@abuse.command("evidence")
@click.argument("account")
@db_option
@since_until_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@click.option(
    "--thresholds", "thresholds", type=click.Path(dir_okay=False), default=None, help=_THRESHOLDS_HELP
)
@click.option(
    "--limit",
    "limit",
    type=int,
    default=1000,
    show_default=True,
    help="Evidence items per signal (queue IDs / Message-IDs).",
)
def evidence_cmd(
    account: str,
    db: str | None,
    since: str | None,
    until: str | None,
    out: str,
    thresholds: str | None,
    limit: int,
) -> None:
    """Export ACCOUNT's evidence (every signal's queue IDs / Message-IDs, raised signals first) as CSV."""
    from analysis.abuse import load_config
    from analysis.abuse.evidence import account_verdict, evidence_rows, write_csv

    cfg = load_config(thresholds)
    con = connect(db, read_only=True)
    try:
        suspect = account_verdict(
            con,
            account,
            parse_when(since, name="--since"),
            parse_when(until, name="--until"),
            config=cfg,
            limit=limit,
        )
    finally:
        con.close()
    rows = evidence_rows(suspect)
    write_csv(rows, Path(out))
    click.echo(
        f"{_printable(account)}: {suspect.action} (score {suspect.score:.2f}, {suspect.severity}); "
        f"{len(rows)} evidence rows written to {out}"
    )


def register(group: click.Group) -> None:
    """Add the `abuse` command group."""
    group.add_command(abuse)
