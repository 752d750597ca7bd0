"""Postfix log lines → typed event rows, vectorised with polars.

The parser is a pure function of a batch of lines plus a year rule (`YearState`), so the same code runs
per chunk here and per partition on Spark. Every line ends in exactly one bucket: an *event* (a line that
matters for correlation, stored), *info* (a Postfix line we recognise but do not store: connect,
TLS, statistics, ...), *other* (another program's line) or *quarantine* (with a reason).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

# --- line header ----------------------------------------------------------------------------------------

# Two anchored header shapes; the whole header is one group so the message text is a cheap slice after it
# (capturing a trailing `.*` would make the regex engine walk every byte of every line).
_PRI = r"(?:<\d{1,3}>(?:1 )?)?"  # syslog PRI (and RFC 5424 version) kept by some relays
_TAIL = r" (?P<host>[^\s]+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d{1,10})\])?: ?)"
TRAD_HEADER_RE = (
    r"^(?P<hdr>" + _PRI + r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d\d:\d\d:\d\d)"
    r"(?P<frac>\.\d{1,9})?" + _TAIL
)
ISO_HEADER_RE = (
    r"^(?P<hdr>"
    + _PRI
    + r"(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
    + _TAIL
)

MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}

# Daemons that identify a Postfix program even under a custom syslog_name (e.g. "mta-out/smtpd").
POSTFIX_DAEMONS = frozenset(
    [
        "anvil",
        "bounce",
        "cleanup",
        "discard",
        "dnsblog",
        "error",
        "flush",
        "lmtp",
        "local",
        "master",
        "oqmgr",
        "pickup",
        "pipe",
        "postdrop",
        "postfix-script",
        "postlogd",
        "postmap",
        "postqueue",
        "postscreen",
        "postsuper",
        "proxymap",
        "qmgr",
        "scache",
        "sendmail",
        "showq",
        "smtp",
        "smtpd",
        "spawn",
        "tlsmgr",
        "tlsproxy",
        "trivial-rewrite",
        "verify",
        "virtual",
        "postmulti",
        "postconf",
        "defer",
        "trace",
        "postalias",
        "postcat",
        "postkick",
        "postlock",
        "postlog",
    ]
)
DELIVERY_AGENTS = ("smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry")

# Queue IDs: short uppercase hex (inode-based, reused) or long 52-char alphabet (no vowels, never reused).
QID_RE = r"^([0-9A-F]{5,20}|[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz]{10,24}): "

EVENT_KINDS = (
    "client",  # smtpd: QID: client=HOST[IP]
    "pickup",  # pickup: QID: uid=N from=<s>
    "message_id",  # cleanup: QID: message-id=<id>
    "cleanup_action",  # cleanup: QID: reject|warning|hold|discard|...: header ...
    "queued",  # qmgr: QID: from=<s>, size=N, nrcpt=N (queue active)
    "expired",  # qmgr: QID: from=<s>, status=expired, returned to sender
    "removed",  # qmgr/postsuper: QID: removed
    "delivery",  # delivery agent: QID: to=<r>, ..., status=X (text)
    "notification",  # bounce: QID: sender non-delivery notification: QID2
    "reject",  # smtpd/postscreen NOQUEUE reject (or QID: reject: RCPT ...)
    "hold",  # postsuper: placed on hold
    "release",  # postsuper: released from hold
    "requeue",  # postsuper: requeued
)

# Each shape has a fast pattern (negated classes, no lazy or trailing captures: the regex engine's capture
# phase then touches only the fields) and, where real logs vary, an exact slow pattern for the rows the
# fast one misses (quoted local parts with '>' or ',', unusual field order).
CLIENT_RE = (
    r"^client=(?P<client_host>[^\[\s,]*)\[(?P<client_ip>[^\]]*)\](?::(?P<client_port>\d+))?"
    r"(?:, sasl_method=(?P<sasl_method>[^,]*))?(?:, sasl_username=(?P<sasl_username>[^,]*))?"
)
PICKUP_RE = r"^uid=(?P<uid>\d+) from=<(?P<sender>[^>]*)>$"
PICKUP_SLOW_RE = r"^uid=(?P<uid>\d+) from=<(?P<sender>.*)>$"
QUEUED_RE = r"^from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) "
QUEUED_SLOW_RE = r"^from=<(?P<sender>.*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) \(queue active\)$"
EXPIRED_RE = r"^from=<(?P<sender>.*)>, status=expired, returned to sender$"
NOTIFY_RE = r"^(?:sender|postmaster) (?:non-delivery|delivery status|delay) notification: (?P<ndr_qid>\S+)$"

_DELIVERY_FIELDS = (
    r"relay=(?P<relay>[^,]*), (?:conn_use=(?P<conn_use>\d+), )?delay=(?P<delay>[\d.]+), "
    r"delays=(?P<delay_a>[\d.]+)/(?P<delay_b>[\d.]+)/(?P<delay_c>[\d.]+)/(?P<delay_d>[\d.]+), "
    r"(?:tls=[^,]*, )?dsn=(?P<dsn>[\d.]+), status=(?P<status>[A-Za-z-]+)"
)
DELIVERY_RE = r"^to=<(?P<recipient>[^>]*)>, (?:orig_to=<(?P<orig_to>[^>]*)>, )?" + _DELIVERY_FIELDS
DELIVERY_SLOW_RE = (
    r"^to=(?:<(?P<recipient>.*?)>|(?P<recipient_bare>[^<][^,]*)), "
    r"(?:orig_to=(?:<(?P<orig_to>.*?)>|(?P<orig_to_bare>[^<][^,]*)), )?" + _DELIVERY_FIELDS
)
RELAY_RE = r"^(?P<relay_host>[^\[]*)\[(?P<relay_ip>[^\]]*)\](?::(?P<relay_port>\d+))?$"

# smtpd/postscreen/cleanup rejects share a shape: ACTION: STAGE from HOST[IP][:PORT]: TEXT; from=<s> to=<r> ...
# The head and the end-anchored tail are matched separately; the free text between them is a slice.
REJECT_HEAD_RE = (
    r"^(?P<head>(?P<action>reject|reject_warning|milter-reject|discard|hold|filter|redirect|warn"
    r"|defer_if_permit|proxy-reject): (?P<smtp_stage>[A-Z][A-Z-]*|header|body) (?:from|to) "
    r"(?P<client_host>[^\[\s]*)\[(?P<client_ip>[^\]]*)\](?::(?P<client_port>\d+))?: )"
)
REJECT_TAIL_RE = (
    r"(?P<tail>; from=<(?P<sender>[^>]*)>,?(?: to=<(?P<recipient>[^>]*)>,?)?(?: proto=(?P<proto>[^ ,]+),?)?"
    r"(?: helo=<(?P<helo>[^>]*)>)?)$"
)
CLEANUP_ACTION_RE = (
    r"^(?P<action>[a-z]+(?:-[a-z]+)*): (?P<what>.*?) from (?:(?P<client_host>[^\[\s]*)\[(?P<client_ip>[^\]]*)\]"
    r"(?::\d+)?|local); from=<(?P<sender>.*?)>(?: to=<(?P<recipient>.*?)>)?(?: proto=(?P<proto>\S+))?"
    r"(?: helo=<(?P<helo>.*?)>)?(?:: (?P<reply>.*))?$"
)

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "line_no": pl.Int64(),
    "ts": pl.Datetime("us", "UTC"),
    "host": pl.String(),
    "instance": pl.String(),
    "service": pl.String(),
    "daemon": pl.String(),
    "pid": pl.Int32(),
    "qid": pl.String(),
    "kind": pl.String(),
    "client_host": pl.String(),
    "client_ip": pl.String(),
    "client_port": pl.Int32(),
    "sasl_method": pl.String(),
    "sasl_username": pl.String(),
    "uid": pl.Int64(),
    "message_id": pl.String(),
    "sender": pl.String(),
    "size": pl.Int64(),
    "nrcpt": pl.Int32(),
    "recipient": pl.String(),
    "orig_to": pl.String(),
    "relay": pl.String(),
    "relay_host": pl.String(),
    "relay_ip": pl.String(),
    "relay_port": pl.Int32(),
    "conn_use": pl.Int32(),
    "delay": pl.Float64(),
    "delay_a": pl.Float64(),
    "delay_b": pl.Float64(),
    "delay_c": pl.Float64(),
    "delay_d": pl.Float64(),
    "dsn": pl.String(),
    "status": pl.String(),
    "action": pl.String(),
    "reply": pl.String(),
    "reply_code": pl.Int32(),
    "smtp_stage": pl.String(),
    "next_qid": pl.String(),
    "ndr_qid": pl.String(),
    "helo": pl.String(),
    "proto": pl.String(),
}
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {"line_no": pl.Int64(), "reason": pl.String(), "raw": pl.String()}
RAW_CAP = 4096


@dataclass
class YearState:
    """How year-less syslog timestamps get their year: a base year for the first line, rolled over at
    each Dec→Jan step (a month drop of six or more), carried across chunks and resumed files."""

    year: int
    last_month: int | None = None
    tz: str = "UTC"

    def copy(self) -> YearState:
        return YearState(self.year, self.last_month, self.tz)

    def describe(self) -> str:
        return f"year={self.year};last_month={self.last_month or 0};tz={self.tz}"

    @classmethod
    def parse(cls, text: str) -> YearState:
        parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
        last = int(parts.get("last_month", "0")) or None
        return cls(year=int(parts["year"]), last_month=last, tz=parts.get("tz", "UTC"))


@dataclass
class ParseResult:
    """One parsed chunk: stored events, quarantined lines and the per-bucket counts."""

    events: pl.DataFrame
    quarantine: pl.DataFrame
    lines_read: int
    lines_parsed: int
    lines_other: int
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def lines_quarantined(self) -> int:
        return self.quarantine.height


def advance_year(lines: pl.Series, state: YearState) -> YearState:
    """The year state after `lines`, computed from their month names alone (cheap), so that chunks can be
    parsed in parallel, each from the state its predecessor leaves."""
    month = lines.str.slice(0, 3).replace_strict(MONTHS, default=None, return_dtype=pl.Int32)
    known = month.drop_nulls()
    if known.len() == 0:
        return state.copy()
    prev = known.shift(1)
    if state.last_month is not None:
        prev = prev.scatter(0, state.last_month)
    rolls = int(((prev - known) >= 6).fill_null(False).sum())
    return YearState(state.year + rolls, int(known[-1]), state.tz)


def year_for_last_line(last_month: int, last_day: int, reference: dt.datetime) -> int:
    """The year of a log's last line given a reference time known to follow it (the file's mtime):
    the reference year, unless that date would lie in the future of the reference (then one before)."""
    year = reference.year
    try:
        candidate = dt.date(year, last_month, min(last_day, 28 if last_month == 2 else last_day))
    except ValueError:
        return year
    if candidate > reference.date() + dt.timedelta(days=1):
        year -= 1
    return year


def _extract(df: pl.DataFrame, col: str, pattern: str) -> pl.DataFrame:
    """Named groups of `pattern` applied to `col`, as columns (null where no match)."""
    return df.select(pl.col(col).str.extract_groups(pattern).alias("_g")).unnest("_g")


def _extract_two_pass(df: pl.DataFrame, col: str, fast: str, slow: str, key: str) -> pl.DataFrame:
    """`fast` on every row, `slow` only on the rows where `fast` left `key` null."""
    g = _extract(df, col, fast)
    missed = g.get_column(key).is_null()
    if not bool(missed.any()):
        return g
    idx = pl.Series("_i", range(df.height), dtype=pl.Int64)
    sub = df.with_columns(idx).filter(missed)
    s = pl.concat([sub.select("_i"), _extract(sub, col, slow)], how="horizontal")
    for c in s.columns:
        if c != "_i" and c not in g.columns:
            g = g.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return g.with_columns(idx).update(s, on="_i").drop("_i")


def _timestamps(hdr: pl.DataFrame, state: YearState, years_given: pl.Series | None = None) -> pl.Series:
    """UTC timestamps for the header frame; advances `state` (year rollover) for the next chunk.
    `years_given` (a year per line, null where unknown) overrides the rollover rule, for lines taken out
    of a longer sequence whose years were already decided."""
    n = hdr.height
    out = pl.Series("ts", [None] * n, dtype=pl.Datetime("us", "UTC"))
    iso = hdr.get_column("iso")
    if iso.null_count() < n:
        iso_norm = (
            iso.str.replace(" ", "T", literal=True)
            .str.replace(r"Z$", "+00:00")
            .str.replace(r"([+-]\d\d)(\d\d)$", "$1:$2")
        )
        with_off = pl.select(
            pl.when(iso_norm.str.contains(r"[+-]\d\d:\d\d$")).then(iso_norm).otherwise(iso_norm + "+00:00")
        ).to_series()
        parsed = with_off.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us", time_zone="UTC"
        )
        out = pl.select(pl.coalesce(out, parsed)).to_series()
    mon = hdr.get_column("mon")
    if mon.null_count() < n:
        month = mon.replace_strict(MONTHS, default=None, return_dtype=pl.Int32)
        # Rollover: a month drop of six or more (Dec→Jan) starts a new year; small drops are reordering.
        prev = month.shift(1)
        if state.last_month is not None and n:
            prev = prev.scatter(0, state.last_month)
        prev = pl.DataFrame({"p": prev}).select(pl.col("p").forward_fill()).to_series()
        roll = ((prev - month) >= 6).fill_null(False).cast(pl.Int32)
        years = roll.cum_sum() + state.year
        if years_given is not None:
            years = pl.select(pl.coalesce(years_given.cast(pl.Int32), years)).to_series()
        clock = hdr.get_column("clock")
        frac = hdr.get_column("frac").fill_null(".0").str.slice(1, 6).str.pad_end(6, "0")
        parts = pl.DataFrame(
            {
                "y": years,
                "m": month,
                "d": hdr.get_column("day").cast(pl.Int32, strict=False),
                "H": clock.str.slice(0, 2).cast(pl.Int32, strict=False),
                "M": clock.str.slice(3, 2).cast(pl.Int32, strict=False),
                "S": clock.str.slice(6, 2).cast(pl.Int32, strict=False),
                "u": frac.cast(pl.Int32, strict=False),
            }
        )
        # Invalid calendar dates (Feb 30) and clocks (25:00) become null and are quarantined.
        valid = pl.col("d") <= pl.date(pl.col("y"), pl.col("m"), 1).dt.month_end().dt.day()
        valid = valid & (pl.col("H") < 24) & (pl.col("M") < 60) & (pl.col("S") < 61)
        local = parts.select(
            pl.when(valid & pl.col("m").is_not_null())
            .then(
                pl.datetime(
                    pl.col("y"),
                    pl.col("m"),
                    pl.col("d").clip(1, 28),
                    pl.col("H").clip(0, 23),
                    pl.col("M").clip(0, 59),
                    pl.col("S").clip(0, 59),
                    pl.col("u"),
                    time_unit="us",
                )
                + pl.duration(
                    days=pl.col("d").clip(1, 31) - pl.col("d").clip(1, 28),
                    seconds=pl.col("S").clip(0, 60) - pl.col("S").clip(0, 59),
                )
            )
            .otherwise(None)
        ).to_series()
        if state.tz in ("UTC", "Etc/UTC"):
            utc = local.dt.replace_time_zone("UTC")
        else:
            utc = local.dt.replace_time_zone(state.tz, ambiguous="earliest", non_existent="null")
            utc = utc.dt.convert_time_zone("UTC")
        out = pl.select(pl.coalesce(out, utc)).to_series()
        known = month.is_not_null()
        if bool(known.any()):
            state.year = int(years.filter(known)[-1])
            state.last_month = int(month.filter(known)[-1])
    return out.alias("ts")


def _split_prog(prog: pl.Expr) -> list[pl.Expr]:
    """syslog name → instance (first component), service (middle, if any), daemon (last)."""
    parts = prog.str.split("/")
    n = parts.list.len()
    return [
        parts.list.first().alias("instance"),
        pl.when(n >= 3).then(parts.list.get(1, null_on_oob=True)).otherwise(None).alias("service"),
        parts.list.last().alias("daemon"),
    ]


def _cap(col: str) -> pl.Expr:
    return pl.col(col).str.slice(0, RAW_CAP)


def _header(base: pl.DataFrame) -> pl.DataFrame:
    """Split the syslog header off every line; rows without one have a null host."""
    hdr = _extract(base, "raw", TRAD_HEADER_RE).with_columns(pl.lit(None, dtype=pl.String).alias("iso"))
    missed = hdr.get_column("hdr").is_null()
    if bool(missed.any()):
        idx = pl.Series("_i", range(base.height), dtype=pl.Int64)
        sub = base.with_columns(idx).filter(missed)
        iso = pl.concat([sub.select("_i"), _extract(sub, "raw", ISO_HEADER_RE)], how="horizontal")
        hdr = hdr.with_columns(idx).update(iso, on="_i").drop("_i")
    text = base.get_column("raw").str.slice(hdr.get_column("hdr").str.len_chars())
    return pl.concat([base, hdr.drop("hdr"), pl.DataFrame({"text": text})], how="horizontal")


def parse_lines(
    lines: pl.Series,
    *,
    first_line_no: int,
    year: YearState,
    line_nos: pl.Series | None = None,
    years: pl.Series | None = None,
) -> ParseResult:
    """Parse a batch of log lines (no trailing newlines). `first_line_no` is the 1-based number of
    lines[0] within its file; `year` supplies years for traditional timestamps and is advanced.
    `line_nos` and `years` serve a batch of lines picked out of a chunk (the C parser's leftovers):
    their own numbers, and the year each was already given (null: decide here)."""
    n = lines.len()
    numbers = (
        line_nos.cast(pl.Int64).alias("line_no")
        if line_nos is not None
        else (pl.int_range(0, n, dtype=pl.Int64, eager=True) + first_line_no).alias("line_no")
    )
    base = pl.DataFrame({"raw": lines.cast(pl.String), "line_no": numbers})
    hdr = _header(base)
    hdr = hdr.with_columns(_timestamps(hdr, year, years)).with_columns(_split_prog(pl.col("prog")))
    no_header = hdr.get_column("host").is_null()
    is_postfix = pl.col("instance").str.starts_with("postfix") | (
        pl.col("prog").str.contains("/", literal=True) & pl.col("daemon").is_in(list(POSTFIX_DAEMONS))
    )
    hdr = hdr.with_columns(is_postfix.fill_null(False).alias("_pf"))

    quarantine_parts: list[pl.DataFrame] = []
    bad_header = hdr.filter(no_header)
    if bad_header.height:
        quarantine_parts.append(
            bad_header.select(
                "line_no",
                pl.when(pl.col("raw").str.strip_chars() == "")
                .then(pl.lit("empty line"))
                .when(pl.col("raw").str.contains(r"[\x00-\x08\x0e-\x1f]"))
                .then(pl.lit("binary data, no syslog header"))
                .otherwise(pl.lit("no syslog header"))
                .alias("reason"),
                _cap("raw").alias("raw"),
            )
        )
    bad_ts = hdr.filter(~no_header & pl.col("ts").is_null())
    if bad_ts.height:
        quarantine_parts.append(
            bad_ts.select("line_no", pl.lit("invalid timestamp").alias("reason"), _cap("raw").alias("raw"))
        )
    ok = hdr.filter(~no_header & pl.col("ts").is_not_null())
    lines_other = int((~ok.get_column("_pf")).sum())
    pf = ok.filter(pl.col("_pf")).select(
        "line_no",
        "raw",
        "ts",
        "host",
        "instance",
        "service",
        "daemon",
        pl.col("pid").cast(pl.Int32, strict=False),
        "text",
    )
    events, quarantined, kinds = _parse_postfix(pf)
    if quarantined.height:
        quarantine_parts.append(quarantined)
    quarantine = (
        pl.concat(quarantine_parts, how="vertical").sort("line_no")
        if quarantine_parts
        else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    return ParseResult(
        events=events,
        quarantine=quarantine,
        lines_read=n,
        lines_parsed=n - quarantine.height - lines_other,
        lines_other=lines_other,
        kinds=kinds,
    )


def _kind_expr() -> pl.Expr:
    d = pl.col("daemon")
    rest = pl.col("rest")
    has_qid = pl.col("qid").is_not_null()
    return (
        pl.when(has_qid & rest.str.starts_with("to="))
        .then(
            pl.when(rest.str.contains(", status=", literal=True))
            .then(pl.lit("delivery"))
            .otherwise(pl.lit("truncated_delivery"))
        )
        .when(has_qid & rest.str.starts_with("from=<"))
        .then(
            pl.when(rest.str.contains(", status=expired, ", literal=True))
            .then(pl.lit("expired"))
            .when(rest.str.contains(", size=", literal=True))
            .then(pl.lit("queued"))
            .otherwise(pl.lit("info"))
        )
        .when(has_qid & rest.str.starts_with("client="))
        .then(pl.lit("client"))
        .when(has_qid & rest.str.starts_with("message-id="))
        .then(pl.lit("message_id"))
        .when(has_qid & (rest == "removed"))
        .then(pl.lit("removed"))
        .when(has_qid & (d == "pickup") & rest.str.starts_with("uid="))
        .then(pl.lit("pickup"))
        .when(
            has_qid
            & rest.str.contains(
                r"^(?:sender|postmaster) (?:non-delivery|delivery status|delay) notification: "
            )
        )
        .then(pl.lit("notification"))
        .when(has_qid & (d == "cleanup") & rest.str.contains(r"^[a-z]+(?:-[a-z]+)*: "))
        .then(pl.lit("cleanup_action"))
        .when(
            rest.str.contains(
                r"^(?:NOQUEUE: )?(?:reject|reject_warning|milter-reject|discard|hold|filter|redirect|warn"
                r"|proxy-reject): [A-Z]"
            )
            & (has_qid | rest.str.starts_with("NOQUEUE: "))
        )
        .then(pl.lit("reject"))
        .when(has_qid & (rest == "placed on hold"))
        .then(pl.lit("hold"))
        .when(has_qid & (rest == "released from hold"))
        .then(pl.lit("release"))
        .when(has_qid & (rest == "requeued"))
        .then(pl.lit("requeue"))
        .otherwise(pl.lit("info"))
    )


def _parse_postfix(pf: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Postfix lines → (events, quarantined, counts per kind incl. 'info')."""
    qid = pf.get_column("text").str.extract(QID_RE, 1).alias("qid")
    rest = pl.select(
        pl.when(qid.is_not_null())
        .then(pf.get_column("text").str.slice(qid.str.len_chars() + 2))
        .otherwise(pf.get_column("text"))
    ).to_series()
    pf = pf.with_columns(qid, rest.alias("rest")).with_columns(_kind_expr().alias("kind"))
    kind_col = pf.get_column("kind")
    counts = {str(k): int(v) for k, v in kind_col.value_counts().iter_rows()}
    keep = ["line_no", "ts", "host", "instance", "service", "daemon", "pid", "qid", "kind"]
    frames: list[pl.DataFrame] = []
    quarantine: list[pl.DataFrame] = []
    slim = pf.drop("text")
    present = set(counts)

    def take(k: str) -> pl.DataFrame:
        return slim.filter(kind_col == k) if k in present else slim.clear()

    def add(sub: pl.DataFrame, groups: pl.DataFrame, ok: pl.Series | None = None, reason: str = "") -> None:
        merged = pl.concat([sub.select([*keep, "raw"]), groups], how="horizontal")
        if ok is not None:
            bad = merged.filter(~ok)
            if bad.height:
                quarantine.append(
                    bad.select("line_no", pl.lit(reason).alias("reason"), _cap("raw").alias("raw"))
                )
            merged = merged.filter(ok)
        frames.append(_conform(merged.drop("raw")))

    sub = take("client")
    if sub.height:
        g = _extract(sub, "rest", CLIENT_RE)
        add(sub, g, g.get_column("client_ip").is_not_null(), "malformed smtpd client= line")
    sub = take("pickup")
    if sub.height:
        g = _extract_two_pass(sub, "rest", PICKUP_RE, PICKUP_SLOW_RE, "uid")
        add(sub, g, g.get_column("uid").is_not_null(), "malformed pickup line")
    sub = take("message_id")
    if sub.height:
        add(sub, sub.select(pl.col("rest").str.slice(len("message-id=")).alias("message_id")))
    sub = take("queued")
    if sub.height:
        g = _extract_two_pass(sub, "rest", QUEUED_RE, QUEUED_SLOW_RE, "size")
        add(sub, g, g.get_column("size").is_not_null(), "malformed qmgr from= line")
    sub = take("expired")
    if sub.height:
        g = _extract(sub, "rest", EXPIRED_RE).with_columns(pl.lit("expired").alias("status"))
        add(sub, g, g.get_column("sender").is_not_null(), "malformed qmgr expired line")
    for k in ("removed", "hold", "release", "requeue"):
        sub = take(k)
        if sub.height:
            add(sub, pl.DataFrame())
    sub = take("notification")
    if sub.height:
        add(sub, _extract(sub, "rest", NOTIFY_RE))
    sub = take("delivery")
    if sub.height:
        g = _delivery_fields(sub)
        ok = g.get_column("status").is_not_null() & g.get_column("delay").is_not_null()
        add(sub, g, ok, "malformed delivery line")
    sub = take("truncated_delivery")
    if sub.height:
        quarantine.append(
            sub.select(
                "line_no",
                pl.lit("truncated delivery line (no status=)").alias("reason"),
                _cap("raw").alias("raw"),
            )
        )
    sub = take("cleanup_action")
    if sub.height:
        # Milter verdicts log like smtpd rejects (ACTION: STAGE from HOST[IP]: TEXT; from=...); header/body
        # checks log ACTION: header TEXT from HOST[IP]; from=<s> to=<r> ...: REPLY.
        milter = _reject_fields(sub.get_column("rest"))
        checks = _extract(sub, "rest", CLEANUP_ACTION_RE).drop("what")
        use_milter = milter.get_column("action").is_not_null()
        g = pl.DataFrame(
            {c: milter.get_column(c).zip_with(use_milter, checks.get_column(c)) for c in checks.columns}
        )
        g = g.with_columns(
            _stage_from_cleanup(sub.get_column("rest")),
            milter.get_column("reply_code").zip_with(
                use_milter, checks.select(_reply_code(pl.col("reply"))).to_series()
            ),
            _reply_dsn(pl.col("reply")),
        )
        add(sub, g, g.get_column("action").is_not_null(), "malformed cleanup action line")
    sub = take("reject")
    if sub.height:
        g = _reject_fields(sub.get_column("rest").str.strip_prefix("NOQUEUE: "))
        add(sub, g, g.get_column("action").is_not_null(), "malformed reject line")

    events = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=EVENT_SCHEMA)
    quarantined = pl.concat(quarantine) if quarantine else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if quarantined.height:
        # A quarantined line is not parsed: take it off its kind's count.
        lost = pf.join(quarantined.select("line_no"), on="line_no").group_by("kind").len()
        for k, v in lost.iter_rows():
            counts[k] = counts.get(k, 0) - int(v)
            if counts[k] == 0:
                counts.pop(k)
    return events, quarantined, counts


def _reject_fields(body: pl.Series) -> pl.DataFrame:
    """ACTION: STAGE from HOST[IP]: TEXT; from=<s> to=<r> proto=P helo=<h> → fields (TEXT may hold ';')."""
    frame = pl.DataFrame({"b": body})
    head = _extract(frame, "b", REJECT_HEAD_RE)
    tail = _extract(frame, "b", REJECT_TAIL_RE)
    start = head.get_column("head").str.len_chars()
    end = body.str.len_chars() - tail.get_column("tail").str.len_chars().fill_null(0)
    reply = body.str.slice(start, end - start).alias("reply")
    g = pl.concat([head.drop("head"), tail.drop("tail"), pl.DataFrame({"reply": reply})], how="horizontal")
    return g.with_columns(_reply_code(pl.col("reply")), _reply_dsn(pl.col("reply")))


def _delivery_fields(sub: pl.DataFrame) -> pl.DataFrame:
    """Delivery-agent status lines → fields; the reply text is everything after `status=X (`."""
    g = _extract_two_pass(sub, "rest", DELIVERY_RE, DELIVERY_SLOW_RE, "status")
    missed = g.get_column("status").is_null()
    if bool(missed.any()):
        loose = _loose_delivery(sub.get_column("rest"))
        g = pl.DataFrame(
            {
                c: loose.get_column(c).zip_with(missed, g.get_column(c))
                if c in loose.columns
                else g.get_column(c)
                for c in g.columns
            }
        )
    if "recipient_bare" in g.columns:
        g = g.with_columns(
            pl.coalesce("recipient", "recipient_bare").alias("recipient"),
            pl.coalesce("orig_to", "orig_to_bare").alias("orig_to"),
        ).drop("recipient_bare", "orig_to_bare")
    rest = sub.get_column("rest")
    start = rest.str.find(", status=", literal=True) + 9 + g.get_column("status").str.len_chars() + 2
    reply = rest.str.slice(start)
    reply = pl.select(
        pl.when(reply.str.ends_with(")")).then(reply.str.slice(0, reply.str.len_chars() - 1)).otherwise(reply)
    ).to_series()
    status = g.get_column("status").str.to_lowercase()
    g = g.with_columns(status.alias("status"), reply.alias("reply"))
    relay = _extract(g, "relay", RELAY_RE)
    g = pl.concat([g, relay], how="horizontal")
    failed = status != "sent"
    extra = g.select(
        pl.when(pl.lit(failed))
        .then(_reply_code(pl.col("reply")))
        .otherwise(pl.col("reply").str.extract(r"^([2-5]\d\d)[ -]", 1).cast(pl.Int32, strict=False))
        .alias("reply_code"),
        pl.when(pl.lit(failed)).then(_smtp_stage(pl.col("reply"))).otherwise(None).alias("smtp_stage"),
        pl.when(pl.lit(failed))
        .then(None)
        .otherwise(pl.col("reply").str.extract(r"queued as ([0-9A-Za-z]{5,24})", 1))
        .alias("next_qid"),
    )
    return pl.concat([g, extra], how="horizontal")


def _loose_delivery(rest: pl.Series) -> pl.DataFrame:
    """Field-by-field extraction for delivery lines in an unusual order or with unknown fields."""
    f = pl.col("r")
    return pl.DataFrame({"r": rest}).select(
        f.str.extract(r"^to=<(.*?)>, ", 1).alias("recipient"),
        f.str.extract(r"^to=([^<][^,]*), ", 1).alias("recipient_bare"),
        f.str.extract(r", orig_to=<(.*?)>, ", 1).alias("orig_to"),
        f.str.extract(r", orig_to=([^<][^,]*), ", 1).alias("orig_to_bare"),
        f.str.extract(r", relay=([^,]*), ", 1).alias("relay"),
        f.str.extract(r", conn_use=(\d+)", 1).alias("conn_use"),
        f.str.extract(r", delay=([\d.]+)", 1).alias("delay"),
        f.str.extract(r", delays=([\d.]+)/", 1).alias("delay_a"),
        f.str.extract(r", delays=[\d.]+/([\d.]+)/", 1).alias("delay_b"),
        f.str.extract(r", delays=[\d.]+/[\d.]+/([\d.]+)/", 1).alias("delay_c"),
        f.str.extract(r", delays=[\d.]+/[\d.]+/[\d.]+/([\d.]+)", 1).alias("delay_d"),
        f.str.extract(r", dsn=([\d.]+)", 1).alias("dsn"),
        f.str.extract(r", status=([A-Za-z-]+)", 1).alias("status"),
    )


def _reply_code(reply: pl.Expr) -> pl.Expr:
    """The SMTP reply code inside a reply text (remote `said: 550 ...` or a local `554 ...`)."""
    return (
        reply.str.extract(r"(?:^|said: |: )([2-5]\d\d)[ -]", 1)
        .cast(pl.Int32, strict=False)
        .alias("reply_code")
    )


def _reply_dsn(reply: pl.Expr) -> pl.Expr:
    """The first RFC 3463 enhanced status code inside a reply text."""
    return reply.str.extract(r"(?:^|[ -])([245]\.\d{1,3}\.\d{1,3})(?:[ ;:,]|$)", 1).alias("dsn")


def _smtp_stage(reply: pl.Expr) -> pl.Expr:
    """The SMTP command a delivery reply answered, or CONNECT for connection failures."""
    return pl.coalesce(
        reply.str.extract(r"\(in reply to (.+?) command\)", 1),
        reply.str.extract(r" while (?:sending|receiving) (?:the )?(.+?)(?:\)|$)", 1),
        pl.when(reply.str.contains(r"^connect to |^Host or domain name not found"))
        .then(pl.lit("CONNECT"))
        .otherwise(None),
    ).alias("smtp_stage")


def _stage_from_cleanup(rest: pl.Series) -> pl.Series:
    """cleanup actions name what matched: header / body / END-OF-MESSAGE (milters)."""
    return rest.str.extract(r"^[a-z-]+: (header|body|END-OF-MESSAGE|CONNECT|DATA)\b", 1).alias("smtp_stage")


def _conform(events: pl.DataFrame) -> pl.DataFrame:
    """Cast to the stored schema, adding absent columns as nulls, in schema order."""
    cols = []
    for name, dtype in EVENT_SCHEMA.items():
        if name in events.columns:
            if dtype == pl.Datetime("us", "UTC"):
                cols.append(pl.col(name))
            else:
                cols.append(pl.col(name).cast(dtype, strict=False))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    if events.height == 0 and not events.columns:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    return events.select(cols)
