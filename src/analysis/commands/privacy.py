"""privacy export/erase, retention apply/show, audit: the data-rights commands (issue 8)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import click

from analysis.commands.options import db_option, writer_db_option
from analysis.errors import InputError
from analysis.store import connect, db_path
from analysis.timeutil import parse_when

_FOLD = click.option(
    "--fold-case",
    "fold_case",
    is_flag=True,
    help="Also match the local part in any case (by default it matches exactly, as Postfix logs it).",
)
_CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Privacy configuration (default: $DELIVERABILITY_PRIVACY_CONFIG or config/privacy.toml over the defaults).",
)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds personal data), atomically."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


@click.group("privacy")
def privacy_group() -> None:
    """Data-subject requests: export or erase everything stored about one address."""


@privacy_group.command("export")
@click.argument("address")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="JSON file to write (mode 0600)."
)
@db_option
@_FOLD
def export_cmd(address: str, out: str, db: str | None, fold_case: bool) -> None:
    """Every row of every table that mentions ADDRESS, grouped by table, as JSON.

    Domains match in any case; the local part as logged (quoted local parts too, "john doe"@example.com).
    """
    from analysis.privacy.address import parse_address
    from analysis.privacy.audit import record
    from analysis.privacy.subject import find_rows

    addr = parse_address(address)
    con = connect(db)
    try:
        found = find_rows(con, addr, fold_local=fold_case)
        counts = {t: len(rows) for t, rows in found.items()}
        doc = {
            "address": str(addr),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "database": str(db_path(db)),
            "match": "local part any case" if fold_case else "local part exact, domain any case",
            "counts": counts,
            "tables": found,
        }
        _write_private(Path(out), json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        record(con, "privacy export", {"address": address, "fold_case": fold_case}, counts)
    finally:
        con.close()
    for table, n in counts.items():
        click.echo(f"{table}: {n:,} rows")
    click.echo(f"{sum(counts.values()):,} rows in {len(counts)} tables written to {out}")


@privacy_group.command("erase")
@click.argument("address")
@writer_db_option
@click.option("--dry-run", is_flag=True, help="Count what would be redacted; change nothing.")
@click.option(
    "--export-dir",
    "lake",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Also redact the address in this exported Parquet lake (the DIR of deliverability export --out DIR).",
)
@_FOLD
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def erase_cmd(
    address: str, db: str | None, dry_run: bool, lake: str | None, fold_case: bool, as_json: bool
) -> None:
    """Redact ADDRESS everywhere (raw lines included), keeping every row and count.

    The address becomes erased-<random>@<domain> (one token per request). The database is then rewritten
    into a fresh file (DuckDB keeps superseded blocks) and that file is searched byte by byte: exit 1 if
    the address can still be found. Original log files, reports and backups are not touched.
    """
    from analysis.errors import WorkbenchError
    from analysis.privacy.address import parse_address
    from analysis.privacy.audit import record_to
    from analysis.privacy.subject import erase

    addr = parse_address(address)
    path = db_path(db)
    if not path.is_file():
        raise InputError(f"no database at {path}")
    result = erase(path, addr, dry_run=dry_run, fold_local=fold_case, lake=Path(lake) if lake else None)
    params: dict[str, Any] = {"address": address, "fold_case": fold_case, "lake": lake}
    record_to(str(path), "privacy erase", params, result.as_dict(), status="dry-run" if dry_run else "ok")
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, **result.as_dict()}, indent=2))
    else:
        verb = "would redact" if dry_run else "redacted"
        for table, n in result.rows.items():
            click.echo(f"{table}: {verb} {n:,} rows")
        for f, n in result.lake_files.items():
            click.echo(f"lake {f}: {verb} {n:,} rows")
        if not dry_run:
            how = "rewritten into a fresh file" if result.compacted else "checkpointed"
            click.echo(f"database {how}; occurrences left in the file: {result.hits_in_file}")
    if not dry_run and result.hits_in_file:
        raise WorkbenchError(f"the address is still present {result.hits_in_file} time(s) in {path}")


@click.group("retention")
def retention_group() -> None:
    """Delete data past its retention period (periods per table in the privacy configuration)."""


@retention_group.command("apply")
@writer_db_option
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; change nothing.")
@click.option(
    "--export-dir",
    "lake",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="Also prune this exported Parquet lake (the DIR of deliverability export --out DIR).",
)
@click.option("--as-of", "as_of", default=None, help="Judge ages at this time instead of now (ISO 8601).")
@_CONFIG
def apply_cmd(
    db: str | None, dry_run: bool, lake: str | None, as_of: str | None, config_path: str | None
) -> None:
    """Delete every row older than its table's period and print what was removed per table."""
    from analysis.privacy.audit import record
    from analysis.privacy.config import load_config
    from analysis.privacy.retention import apply_retention

    config = load_config(config_path)
    now = parse_when(as_of, name="--as-of") or dt.datetime.now(dt.UTC)
    con = connect(db)
    try:
        result = apply_retention(con, config, now=now, dry_run=dry_run, lake=Path(lake) if lake else None)
        counts = {"removed": result.removed, "lake_removed": result.lake_removed}
        params = {"as_of": now.isoformat(), "lake": lake, "config": config.source}
        record(con, "retention apply", params, counts, status="dry-run" if dry_run else "ok")
    finally:
        con.close()
    verb = "would remove" if dry_run else "removed"
    for table, n in result.removed.items():
        cutoff = result.cutoffs.get(table)
        rule = config.rules[table]
        why = f"older than {cutoff}" if cutoff else f"parent {rule.parent} gone"
        click.echo(f"{table}: {verb} {n:,} rows ({rule.keep}, {why})")
    for table, n in result.undated.items():
        click.echo(f"{table}: kept {n:,} rows without a date ({config.rules[table].column} is empty)")
    for table, n in result.lake_removed.items():
        click.echo(f"lake {table}: {verb} {n:,} rows")
    kept = [t for t, r in config.rules.items() if not r.expires]
    click.echo(f"kept without limit: {', '.join(sorted(kept))}")
    for name, why in config.aggregates.items():
        click.echo(f"aggregate that may outlive its rows: {name}: {why}")


@retention_group.command("show")
@_CONFIG
def show_cmd(config_path: str | None) -> None:
    """The retention rule of every table, and which configuration files they came from."""
    from analysis.privacy.config import load_config

    config = load_config(config_path)
    click.echo(f"# from {config.source}")
    for table, r in sorted(config.rules.items()):
        if r.keep == "parent":
            click.echo(f"{table}: with its {r.parent} row ({', '.join(r.key)})")
        elif r.through:
            click.echo(f"{table}: {r.keep} by {r.through}.{r.column} ({', '.join(r.key)})")
        elif r.keep == "forever":
            click.echo(f"{table}: forever")
        else:
            click.echo(f"{table}: {r.keep} by {r.column}")


@click.command("audit")
@db_option
@click.option("--since", default=None, help="Only entries at or after this time (ISO 8601).")
@click.option(
    "--address", default=None, help="Only entries whose parameters named this address (needs the key)."
)
@click.option("--json", "as_json", is_flag=True, help="JSON lines.")
def audit_cmd(db: str | None, since: str | None, address: str | None, as_json: bool) -> None:
    """The audit log: every ingest, export, report run, erasure and retention run, oldest first."""
    from analysis.privacy.audit import entries

    con = connect(db, read_only=True)
    try:
        has = con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'audit_log'").fetchall()
        rows = entries(con, since=parse_when(since, name="--since"), address=address) if has[0][0] else []
    finally:
        con.close()
    for r in rows:
        if as_json:
            doc = {
                "id": r.audit_id,
                "at": r.at.isoformat(),
                "user": r.os_user,
                "command": r.command,
                "params": r.params,
                "counts": r.counts,
                "status": r.status,
            }
            click.echo(json.dumps(doc, sort_keys=True))
        else:
            params = json.dumps(r.params, sort_keys=True)
            counts = json.dumps(r.counts, sort_keys=True)
            click.echo(
                f"{r.audit_id:>5}  {r.at.isoformat(timespec='seconds')}  {r.os_user}  {r.command}  "
                f"[{r.status}]  params={params}  counts={counts}"
            )


def register(group: click.Group) -> None:
    for cmd in (privacy_group, retention_group, audit_cmd):
        group.add_command(cmd)
