"""`deliverability synth ...`: write synthetic logs with their ground truth, for tests and benchmarks."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import click

from analysis.errors import InputError
from analysis.synth.postfix import DEFAULT_START, Mix, Options, generate, truth_path
from analysis.timeutil import parse_when

_MIX_KEYS = ", ".join(f.name for f in dataclasses.fields(Mix))


def _parse_instances(spec: str) -> tuple[tuple[str, float], ...]:
    """'postfix=0.8,postfix-out=0.2' (a bare name weighs 1)."""
    out = []
    for part in spec.split(","):
        name, _, weight = part.strip().partition("=")
        if not name:
            raise InputError(f"--instances: empty instance name in {spec!r}")
        try:
            out.append((name, float(weight) if weight else 1.0))
        except ValueError:
            raise InputError(f"--instances: {weight!r} is not a number") from None
    return tuple(out)


def _parse_mix(items: tuple[str, ...]) -> Mix:
    """KEY=VALUE pairs (repeatable, or comma-separated) over the Mix defaults."""
    known = {f.name for f in dataclasses.fields(Mix)}
    values: dict[str, float] = {}
    for item in items:
        for pair in item.split(","):
            key, sep, value = pair.strip().partition("=")
            if not sep or key not in known:
                raise InputError(f"--mix: expected KEY=VALUE with KEY one of {_MIX_KEYS}, got {pair!r}")
            try:
                values[key] = float(value)
            except ValueError:
                raise InputError(f"--mix: {value!r} is not a number") from None
    return Mix(**values)


def register(group: click.Group) -> None:
    """Add the `synth` group to the main command."""

    @group.group("synth")
    def synth() -> None:
        """Generate synthetic logs with known ground truth (for tests and benchmarks)."""

    @synth.command("postfix")
    @click.option(
        "--lines", "lines", type=click.IntRange(min=0), required=True, help="Exact number of lines."
    )
    @click.option("--out", "out", required=True, help="Output file ('.gz' compresses; '-' for stdout).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
    @click.option(
        "--style",
        type=click.Choice(["traditional", "rfc3339"]),
        default="traditional",
        show_default=True,
        help="Timestamps: 'Nov 22 04:50:57' (UTC, no year) or RFC 3339.",
    )
    @click.option(
        "--start", default=None, help=f"Time of the first line, ISO 8601 [{DEFAULT_START.isoformat()}]."
    )
    @click.option("--hosts", default="relay1", show_default=True, help="Comma-separated syslog host names.")
    @click.option(
        "--instances",
        default="postfix=0.8,postfix-out=0.2",
        show_default=True,
        help="Postfix syslog_name=share list; pflogsumm only sees 'postfix'.",
    )
    @click.option(
        "--accounts",
        type=click.IntRange(min=1),
        default=40,
        show_default=True,
        help="SASL accounts (Zipf-skewed volumes).",
    )
    @click.option(
        "--bad-accounts",
        type=click.IntRange(min=0),
        default=2,
        show_default=True,
        help="Accounts with high unknown-user, block and deferral rates.",
    )
    @click.option(
        "--reuse-ids",
        type=click.FloatRange(0, 1),
        default=0.0,
        show_default=True,
        help="Chance a new message reuses a freed short queue ID.",
    )
    @click.option("--long-ids", is_flag=True, help="enable_long_queue_ids style queue IDs.")
    @click.option(
        "--truncated",
        type=click.FloatRange(0, 1),
        default=0.0,
        show_default=True,
        help="Chance a Postfix line is followed by a truncated copy of itself.",
    )
    @click.option(
        "--rate",
        type=click.FloatRange(min=0, min_open=True),
        default=2.0,
        show_default=True,
        help="Messages per second on average (follows a daily curve).",
    )
    @click.option(
        "--queue-lifetime",
        type=click.IntRange(min=60),
        default=86_400,
        show_default=True,
        help="maximal_queue_lifetime in seconds: deferred mail expires after it.",
    )
    @click.option(
        "--mix",
        "mix",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Outcome and traffic mix; keys: {_MIX_KEYS}.",
    )
    @click.option(
        "--truth",
        "truth_file",
        default=None,
        help="Where to write the ground truth JSON [FILE.truth.json; none for stdout].",
    )
    def postfix(
        lines: int,
        out: str,
        seed: int,
        style: str,
        start: str | None,
        hosts: str,
        instances: str,
        accounts: int,
        bad_accounts: int,
        reuse_ids: float,
        long_ids: bool,
        truncated: float,
        rate: float,
        queue_lifetime: int,
        mix: tuple[str, ...],
        truth_file: str | None,
    ) -> None:
        """Write a realistic Postfix log of exactly --lines lines, and its ground-truth totals.

        The truth JSON uses the names of `deliverability totals --json` with pflogsumm's definitions
        (received, delivered, deferred, deferrals, bounced, expired, rejected, bytes_received, senders,
        recipients, lines_read, lines_other, ...), counted over every Postfix instance.
        """
        options = Options(
            style="rfc3339" if style == "rfc3339" else "traditional",
            hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
            instances=_parse_instances(instances),
            accounts=accounts,
            bad_accounts=bad_accounts,
            reuse_ids=reuse_ids,
            long_ids=long_ids,
            truncated=truncated,
            rate=rate,
            queue_lifetime=queue_lifetime,
            mix=_parse_mix(mix),
        )
        when = parse_when(start, name="--start") or DEFAULT_START
        began = time.perf_counter()
        if out == "-":
            truth = generate(sys.stdout, lines=lines, seed=seed, start=when, options=options)
            target = Path(truth_file) if truth_file else None
        else:
            path = Path(out)
            if not path.parent.is_dir():
                raise InputError(f"--out: directory {str(path.parent)!r} does not exist")
            truth = generate(path, lines=lines, seed=seed, start=when, options=options)
            target = Path(truth_file) if truth_file else truth_path(path)
        elapsed = time.perf_counter() - began
        if target is not None:
            truth.write(target)
        rate_text = f"{lines / elapsed:,.0f} lines/s" if elapsed > 0 else ""
        click.echo(
            f"wrote {truth.lines_read:,} lines ({truth.messages:,} messages, {truth.first_timestamp} .. "
            f"{truth.last_timestamp}) in {elapsed:.1f}s, {rate_text}"
            + (f"; truth in {target}" if target else ""),
            err=True,
        )
