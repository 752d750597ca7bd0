"""DMARC aggregate metrics: pass rate by header-from domain and by source, unknown sources, DKIM selectors.

"Unknown" means neither one of the relay's IPs (`inventory_relay_ips`, when the inventory is loaded) nor a
known sender (an ESP's reported sending IP, or an address the caller names). Unknown sources that fail
DMARC are the possible spoofing the report exists to reveal. The SQL lives beside the evidence loader
(`analysis/ingest/sql/dmarc_*.sql`), with the tables it reads.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from analysis.errors import InputError
from analysis.stats import wilson_interval

_SQL_DIR = Path(__file__).with_name("ingest") / "sql"


def _sql(name: str) -> str:
    return (_SQL_DIR / name).read_text(encoding="utf-8")


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # fetchall, not fetchone: DuckDB leaves an unfinished result that breaks the next query
    rows = con.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(rows and rows[0][0])


def _window(since: dt.datetime | None, until: dt.datetime | None) -> dict[str, dt.datetime | None]:
    return {"since": since, "until": until}


def known_ips(
    con: duckdb.DuckDBPyConnection, extra: Iterable[str] | Mapping[str, str] = ()
) -> dict[str, str]:
    """IP -> label for every source we recognise: relay IPs, ESP sending IPs, and `extra` (ip or ip->label)."""
    out: dict[str, str] = {}
    if _table_exists(con, "inventory_relay_ips"):
        for (ip,) in con.execute("SELECT DISTINCT CAST(ip AS VARCHAR) FROM inventory_relay_ips").fetchall():
            if ip:
                out[str(ip)] = "relay"
    if _table_exists(con, "esp_events"):
        rows = con.execute("SELECT DISTINCT ip, source FROM esp_events WHERE ip IS NOT NULL").fetchall()
        for ip, source in rows:
            out.setdefault(str(ip), f"esp:{source}")
    pairs = extra.items() if isinstance(extra, Mapping) else ((ip, "known sender") for ip in extra)
    for ip, label in pairs:
        try:
            out.setdefault(str(ipaddress.ip_address(ip.strip())), label)
        except ValueError:
            raise InputError(f"known sender {ip!r} is not an IP address") from None
    return out


def pass_rate_by_domain(
    con: duckdb.DuckDBPyConnection, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> pl.DataFrame:
    """Messages, DMARC passes/failures and pass rate (with Wilson interval) per header-from domain."""
    df: pl.DataFrame = con.sql(_sql("dmarc_pass_by_domain.sql"), params=_window(since, until)).pl()
    return _with_rate(df)


def _with_rate(df: pl.DataFrame) -> pl.DataFrame:
    """pass_rate with its 95 % Wilson interval: a domain seen in 3 messages is not judged like one in 3,000."""
    bounds = [
        wilson_interval(int(k), int(n)) if n else (None, None)
        for k, n in df.select("passed", "messages").rows()
    ]
    return df.with_columns(
        pl.when(pl.col("messages") > 0).then(pl.col("passed") / pl.col("messages")).alias("pass_rate"),
        pl.Series("pass_rate_low", [b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("pass_rate_high", [b[1] for b in bounds], dtype=pl.Float64),
    )


def pass_rate_by_source(
    con: duckdb.DuckDBPyConnection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    known: Iterable[str] | Mapping[str, str] = (),
) -> pl.DataFrame:
    """Messages, passes/failures and pass rate per source IP, with whether (and as what) it is known."""
    ips = known_ips(con, known)
    staged = pa.table(
        {"ip": pa.array(list(ips), pa.string()), "label": pa.array(list(ips.values()), pa.string())}
    )
    con.register("_known_ips", staged)
    try:
        df: pl.DataFrame = con.sql(_sql("dmarc_pass_by_source.sql"), params=_window(since, until)).pl()
    finally:
        con.unregister("_known_ips")
    return _with_rate(df)


def unknown_sources(
    con: duckdb.DuckDBPyConnection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    known: Iterable[str] | Mapping[str, str] = (),
    min_messages: int = 1,
) -> pl.DataFrame:
    """Sources that are neither relay IPs nor known senders, largest failing volume first."""
    df = pass_rate_by_source(con, since=since, until=until, known=known)
    return (
        df.filter(~pl.col("known") & (pl.col("messages") >= min_messages))
        .drop("known", "known_as")
        .sort(["failed", "messages", "source_ip"], descending=[True, True, False])
    )


def dkim_by_selector(
    con: duckdb.DuckDBPyConnection, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> pl.DataFrame:
    """DKIM passes/failures per signing domain and selector, as the receivers reported them."""
    df: pl.DataFrame = con.sql(_sql("dmarc_dkim_by_selector.sql"), params=_window(since, until)).pl()
    return _with_rate(df)


def reporter_days(
    con: duckdb.DuckDBPyConnection, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> pl.DataFrame:
    """Reports, records, messages and passes per reporter, policy domain and report day."""
    df: pl.DataFrame = con.sql(_sql("dmarc_reporter_days.sql"), params=_window(since, until)).pl()
    return df


def reporter_coverage(
    con: duckdb.DuckDBPyConnection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    days: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per reporter and policy domain: the days with a report, the days missing between the first and
    the last (a receiver that stops reporting is a blind spot, not good news), volume and pass rate."""
    days = reporter_days(con, since=since, until=until) if days is None else days
    df = (
        days.group_by("org_name", "domain")
        .agg(
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
            pl.col("day").n_unique().cast(pl.Int64).alias("days"),
            pl.col("reports").sum().cast(pl.Int64),
            pl.col("records").sum().cast(pl.Int64),
            pl.col("messages").sum().cast(pl.Int64),
            pl.col("passed").sum().cast(pl.Int64),
            pl.col("last_end").max(),
        )
        .with_columns(
            ((pl.col("last_day") - pl.col("first_day")).dt.total_days() + 1 - pl.col("days"))
            .cast(pl.Int64)
            .alias("missing_days")
        )
        .sort(["messages", "org_name", "domain"], descending=[True, False, False], nulls_last=True)
    )
    return _with_rate(df)


def summary(
    con: duckdb.DuckDBPyConnection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    known: Iterable[str] | Mapping[str, str] = (),
) -> dict[str, object]:
    """The DMARC block of the JSON summary: volume and pass rate, and the possible spoofing sources."""
    domains = pass_rate_by_domain(con, since=since, until=until)
    unknown = unknown_sources(con, since=since, until=until, known=known)
    messages = int(domains["messages"].sum()) if domains.height else 0
    passed = int(domains["passed"].sum()) if domains.height else 0
    low, high = wilson_interval(passed, messages) if messages else (None, None)
    reporters = con.sql(
        "SELECT COUNT(DISTINCT org_name), COUNT(*) FROM dmarc_reports "
        "WHERE ($since IS NULL OR date_begin >= $since) AND ($until IS NULL OR date_begin < $until)",
        params=_window(since, until),
    ).fetchall()[0]
    return {
        "reporters": int(reporters[0]),
        "reports": int(reporters[1]),
        "messages": messages,
        "passed": passed,
        "pass_rate": passed / messages if messages else None,
        "pass_rate_low": low,
        "pass_rate_high": high,
        "unknown_sources": unknown.height,
        "unknown_messages": int(unknown["messages"].sum()) if unknown.height else 0,
        "unknown_failed": int(unknown["failed"].sum()) if unknown.height else 0,
    }
