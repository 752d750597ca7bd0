"""`deliverability dns ...` and `deliverability inventory load`: thin shells over analysis.dns."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from analysis.commands.options import db_option, since_until_options, writer_db_option
from analysis.errors import InputError, WorkbenchError
from analysis.inventory import Inventory, inventory_path, load_inventory, store_inventory
from analysis.store import connect, db_path
from analysis.timeutil import parse_when

_SEV_MARK = {"ok": "ok   ", "info": "info ", "warn": "WARN ", "error": "ERROR"}


def _inventory_option(f: Any) -> Any:
    return click.option(
        "--inventory",
        "inventory",
        type=click.Path(dir_okay=False),
        default=None,
        help="Inventory TOML (default: $DELIVERABILITY_INVENTORY or data/inventory.toml).",
    )(f)


def _nameserver_option(f: Any) -> Any:
    return click.option(
        "--nameserver",
        "nameserver",
        default=None,
        metavar="IP[:PORT]",
        help="Ask this server instead of the system resolver (e.g. 127.0.0.1:5353).",
    )(f)


def _resolver(nameserver: str | None, timeout: float) -> Any:
    from analysis.dns.resolver import Resolver

    return Resolver.from_spec(nameserver, timeout=timeout)


def register(group: click.Group) -> None:
    """Add the `dns` and `inventory` command groups."""
    group.add_command(dns_group)
    group.add_command(inventory_group)


@click.group("dns")
def dns_group() -> None:
    """DNS authentication health: SPF, DKIM, DMARC, MX, PTR, MTA-STS, TLS-RPT, BIMI, blocklists."""


@dns_group.command("check")
@click.argument("subjects", nargs=-1, metavar="[DOMAIN|IP ...]")
@_inventory_option
@_nameserver_option
@click.option("--json", "as_json", is_flag=True, help="Print the observations as JSON.")
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds per DNS query try.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 128),
    default=16,
    show_default=True,
    help="Domains checked at once.",
)
@click.option("--no-mta-sts-fetch", is_flag=True, help="Do not fetch MTA-STS policies over HTTPS.")
@db_option
def check_cmd(
    subjects: tuple[str, ...],
    inventory: str | None,
    nameserver: str | None,
    as_json: bool,
    timeout: float,
    concurrency: int,
    no_mta_sts_fetch: bool,
    db: str | None,
) -> None:
    """Check DOMAINs (and relay IPs); with none, every inventory domain and relay IP.

    Observations are stored in the database when it can be written (an explicit --db,
    $DELIVERABILITY_DB, or an existing default database).
    """
    from analysis.dns.checks import plan_checks, run_checks
    from analysis.dns.history import store_results

    inv = _maybe_inventory(inventory, required=not subjects)
    plan = plan_checks(inv, subjects)
    if not plan.domains and not plan.ips:
        raise InputError("nothing to check: the inventory lists no domains or relay IPs")
    plan.fetch_mta_sts_policy = not no_mta_sts_fetch
    results = run_checks(plan, _resolver(nameserver, timeout), concurrency=concurrency)
    stored = None
    if db is not None or os.environ.get("DELIVERABILITY_DB") or db_path(None).exists():
        try:
            con = connect(db)
        except WorkbenchError as exc:
            click.echo(f"warning: observations not stored: {exc}", err=True)
        else:
            try:
                stored = store_results(con, results, nameserver=nameserver)
            finally:
                con.close()
    if as_json:
        click.echo(
            json.dumps({"run_id": stored, "results": [r.to_dict() for r in results]}, indent=2, default=str)
        )
        return
    _print_results(results)
    if stored:
        click.echo(f"stored run {stored} in {db_path(db)}", err=True)


def _maybe_inventory(path: str | None, *, required: bool) -> Inventory | None:
    p = inventory_path(path)
    if path is None and not p.exists() and not required:
        return None
    if not p.exists() and required:
        raise InputError(f"inventory {p} not found: name DOMAINs or pass --inventory FILE")
    return load_inventory(p)


def _safe(text: object) -> str:
    """DNS data on a terminal: control characters (escape sequences) shown as \\xNN, never interpreted."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))


def _print_results(results: list[Any]) -> None:
    subject = None
    for r in results:
        if r.subject != subject:
            subject = r.subject
            click.echo(f"\n{subject}")
        click.echo(f"  {r.check:<28} {r.state:<11} {_SEV_MARK[str(r.severity)]}")
        for f in r.findings:
            if f.severity == "ok":
                continue
            click.echo(f"      {_SEV_MARK[str(f.severity)]} {f.code}: {_safe(f.message)}")
            if f.fix:
                click.echo(f"            fix: {f.fix}")


@dns_group.command("spf")
@click.argument("ip")
@click.argument("domain")
@click.option("--sender", default=None, help="MAIL FROM address (default postmaster@DOMAIN).")
@click.option("--helo", default="", help="HELO/EHLO name.")
@_nameserver_option
@click.option("--timeout", type=float, default=2.0, show_default=True, help="Seconds per DNS query try.")
@click.option("--trace", is_flag=True, help="Also print the DNS queries made.")
def spf_cmd(
    ip: str, domain: str, sender: str | None, helo: str, nameserver: str | None, timeout: float, trace: bool
) -> None:
    """Print the RFC 7208 check_host() result for IP sending as DOMAIN."""
    import ipaddress

    from analysis.dns.spf import check_host

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InputError(f"{ip!r} is not an IP address") from None
    res = check_host(
        ip,
        domain,
        sender if sender is not None else f"postmaster@{domain}",
        helo=helo,
        resolver=_resolver(nameserver, timeout),
    )
    click.echo(res.result)
    details = []
    if res.mechanism:
        details.append(f"matched {res.mechanism}")
    if res.problem:
        details.append(res.problem)
    if res.explanation:
        details.append(f"explanation: {res.explanation}")
    details.append(f"{res.lookups} lookup(s), {res.void_lookups} void")
    click.echo("  " + _safe("; ".join(details)))
    if trace:
        for line in res.trace:
            click.echo(f"  {_safe(line)}")


@dns_group.command("diff")
@since_until_options
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@db_option
def diff_cmd(since: str | None, until: str | None, as_json: bool, db: str | None) -> None:
    """List changes between stored observations (record changed, key rotated or shortened,
    policy downgraded, listing appeared)."""
    from analysis.dns.history import diff

    start = parse_when(since, name="--since")
    end = parse_when(until, name="--until")
    con = connect(db, read_only=True)
    try:
        changes = diff(con, start)
    except Exception as exc:
        if "dns_observations" in str(exc):
            raise InputError(
                f"{db_path(db)} has no DNS observations: run 'deliverability dns check' first"
            ) from None
        raise
    finally:
        con.close()
    if end is not None:
        changes = [c for c in changes if c.observed_at < end]
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in changes], indent=2))
        return
    if not changes:
        click.echo("no changes")
        return
    for c in changes:
        click.echo(
            f"{c.observed_at:%Y-%m-%d %H:%M:%S}  {c.severity:<5}  {c.subject}  {c.check}  {c.kind}: {c.message}"
        )


@click.group("inventory")
def inventory_group() -> None:
    """The relay's inventory: accounts, SASL users, sending domains, selectors, relay IPs, DNSBLs, traps."""


@inventory_group.command("load")
@_inventory_option
@writer_db_option
def inventory_load_cmd(inventory: str | None, db: str | None) -> None:
    """Validate the inventory file and load it into the inventory_* tables (replacing them)."""
    inv = load_inventory(inventory)
    con = connect(db)
    try:
        counts = store_inventory(con, inv)
        # Messages and complaints already stored follow the new inventory (accounts, relay IPs).
        from analysis.ingest.loader import relink_after_inventory

        relink_after_inventory(con)
    finally:
        con.close()
    summary = ", ".join(f"{k.removeprefix('inventory_')}={v}" for k, v in counts.items())
    click.echo(f"loaded {inv.source}: {summary}")
