"""Load inputs into the store: atomic per file, idempotent by content, resumable when a file grows.

Each file is one transaction: its events, quarantined lines, its `ingest_files` row and the rebuild of
every message its lines touch commit together or not at all, so a crash (even kill -9) leaves the store
as it was before that file and a rerun converges on the same tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow as pa

from analysis.errors import InputError
from analysis.ingest import sources as S
from analysis.ingest.correlate import (
    CUT_OFF_WINDOW,
    Built,
    Correlator,
    domain_of,
    noqueue_rejections,
    recent_headless,
)
from analysis.ingest.fastparse import parse_chunk, year_after
from analysis.ingest.options import CHUNK_BYTES, IngestOptions
from analysis.ingest.postfix import (
    EVENT_SCHEMA,
    MONTHS,
    QUARANTINE_SCHEMA,
    ParseResult,
    YearState,
    year_for_last_line,
)
from analysis.store.db import write_transaction

Progress = Callable[[int], None]
PARSE_THREADS = 2
# Chunks parsed ahead of the one being correlated (the pool's two workers parse this one and the next):
# each holds a whole chunk's columns while it waits. DuckDB's buffer pool during ingest (its default is
# most of the machine's memory) fills with the blocks the ingest writes; a small one evicts them sooner.
# 10M lines, 384 MiB steps (wall / peak RSS): 12 MiB chunks, 2 ahead 32.9-34.7 s / 1.26-1.29 GiB; 16 MiB
# chunks, 1 ahead 31.3-31.4 s / 1.33-1.36 GiB (the defaults); 20 MiB, 1 ahead 31.8 s / 1.41 GiB; a 96 MB
# pool 34.3 s / 1.29 GiB.
PARSE_AHEAD = int(os.environ.get("DELIVERABILITY_PARSE_AHEAD", "1"))
# Steps waiting for the writer: they hold compact rows only, and keep the parsing and correlating going
# while the writer commits (a commit step takes ~0.9 s at 10M lines; with one waiting step the other
# threads stopped for most of it).
CORRELATE_AHEAD = 4
# Parsed chunks correlated together: the open messages' events are re-sorted and copied with every unit
# (with 16 MiB units about as many as the unit's own), so two chunks per unit halve that work per line,
# while parsing keeps the memory of one chunk (options.CHUNK_BYTES has the figures).
CORRELATE_CHUNKS = int(os.environ.get("DELIVERABILITY_CORRELATE_CHUNKS", "2"))
# Arrow export that copies strings into buffers of their own instead of viewing a chunk's: a step's rows
# waiting for the writer then hold only themselves (_Rows).
OWN_BUFFERS = pl.CompatLevel.oldest()
INGEST_MEMORY_LIMIT = os.environ.get("DELIVERABILITY_INGEST_MEMORY", "128MB")
Warn = Callable[[str], None]

DELIVERY_COLUMNS = (
    "file_id, line_no, message_key, ts, host, instance, daemon, qid, recipient, recipient_domain, orig_to, relay, "
    "relay_host, relay_ip, relay_port, conn_use, delay, delay_a, delay_b, delay_c, delay_d, dsn, status, reply, "
    "reply_code, smtp_stage, next_qid, provider, reason, severity"
)
REJECTION_COLUMNS = (
    "file_id, line_no, ts, host, instance, daemon, qid, message_key, action, smtp_stage, client_host, client_ip, "
    "client_port, reply_code, dsn, reply, sender, recipient, recipient_domain, helo, proto, provider, reason, severity"
)
EVENT_COLUMNS = (
    "file_id, line_no, ts, host, instance, service, daemon, pid, qid, kind, client_host, client_ip, client_port, "
    "sasl_method, sasl_username, uid, message_id, sender, size, nrcpt, recipient, orig_to, relay, relay_host, "
    "relay_ip, relay_port, conn_use, delay, delay_a, delay_b, delay_c, delay_d, dsn, status, action, reply, "
    "reply_code, smtp_stage, next_qid, ndr_qid, helo, proto, provider, reason, severity"
)
PENDING_COLUMNS = EVENT_COLUMNS + ", message_key, headless"
MESSAGE_COLUMNS = (
    "message_key, host, instance, qid, first_seen, last_seen, origin, service, client_host, client_ip, "
    "client_port, sasl_method, sasl_username, uid, message_id, sender, sender_domain, size, nrcpt, queued_at, "
    "removed_at, expired_at, cleanup_action, cleanup_reply, account"
)


_NO_PENDING = pl.DataFrame(schema={"file_id": pl.Int64, "line_no": pl.Int64, "message_key": pl.String})


@dataclass
class _Accounts:
    """The inventory's account per SASL user (case-insensitive) and per verified sender domain, read once
    per file: a new message's account is the SASL user's, else its sender domain's (accounts.sql applies
    the same rule to stored messages when the inventory changes)."""

    users: pl.DataFrame
    domains: pl.DataFrame

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> _Accounts:
        users = con.sql(
            "SELECT lower(sasl_username) AS _user, MIN(account_id) AS _by_user FROM inventory_sasl_users GROUP BY 1"
        ).pl()
        domains = con.sql(
            "SELECT domain AS sender_domain, MIN(account_id) AS _by_domain FROM inventory_domains GROUP BY 1"
        ).pl()
        return cls(users, domains)

    def assign(self, msgs: pl.DataFrame) -> pl.DataFrame:
        if self.users.height == 0 and self.domains.height == 0:
            return msgs.with_columns(pl.lit(None, dtype=pl.String).alias("account"))
        m = msgs.with_columns(pl.col("sasl_username").str.to_lowercase().alias("_user"))
        m = m.join(self.users, on="_user", how="left", maintain_order="left")
        m = m.join(self.domains, on="sender_domain", how="left", maintain_order="left")
        return m.with_columns(pl.coalesce("_by_user", "_by_domain").alias("account")).drop(
            "_user", "_by_user", "_by_domain"
        )


@dataclass
class FileSummary:
    """What one input contributed; `status` is ingested, resumed, unchanged or failed."""

    display: str
    status: str
    format: str = "postfix"
    lines_read: int = 0
    lines_parsed: int = 0
    lines_quarantined: int = 0
    lines_other: int = 0
    messages: int = 0
    deliveries: int = 0
    rejections: int = 0
    held_back: bool = False
    error: str | None = None
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, res: ParseResult) -> None:
        self.lines_read += res.lines_read
        self.lines_parsed += res.lines_parsed
        self.lines_quarantined += res.lines_quarantined
        self.lines_other += res.lines_other
        for k, v in res.kinds.items():
            self.kinds[k] = self.kinds.get(k, 0) + v

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "kinds"}


def scalar(con: duckdb.DuckDBPyConnection, sql: str, args: list[object] | None = None) -> int:
    """The single integer a counting query returns (0 for no row or NULL)."""
    rows = con.execute(sql, args or []).fetchall()
    return int(rows[0][0] or 0) if rows else 0


def _sql(name: str) -> list[str]:
    text = resources.files("analysis.ingest").joinpath(name).read_text(encoding="utf-8")
    return [s.strip() for s in text.split("\n;;\n") if s.strip()]


def _first_trad(head: bytes) -> tuple[int, int] | None:
    """(month, day) of the first traditional-timestamp line in `head`."""
    for line in head.split(b"\n")[:50]:
        text = line.decode("utf-8", "replace")
        m = MONTHS.get(text[:3])
        if m and len(text) > 6 and text[3] == " ":
            day = text[4:6].strip()
            if day.isdigit():
                return m, int(day)
    return None


def _last_trad(src: S.Source) -> tuple[int, int] | None:
    """(month, day) of the last traditional-timestamp line (reads the tail, or streams a compressed file)."""
    tail = b""
    if src.path is not None and src.compression is None:
        with src.path.open("rb") as f:
            f.seek(max(0, (src.raw_size or 0) - S.FINGERPRINT_BYTES))
            tail = f.read()
    else:
        with S.open_stream(src) as f:
            while True:
                b = f.read(CHUNK_BYTES)
                if not b:
                    break
                tail = (tail + b)[-S.FINGERPRINT_BYTES :]
    for line in reversed(tail.split(b"\n")):
        text = line.decode("utf-8", "replace")
        m = MONTHS.get(text[:3])
        if m and len(text) > 6 and text[3] == " " and text[4:6].strip().isdigit():
            return m, int(text[4:6].strip())
    return None


def year_rule(src: S.Source, head: bytes, opts: IngestOptions, warn: Warn) -> YearState:
    """The year of a traditional log's first line: --year, else from the file's mtime (the year of the
    last line is the mtime's year, minus one when a Dec→Jan rollover lies between first and last line).
    Standard input has no mtime: without --year the current year is assumed, with a warning."""
    if opts.year is not None:
        return YearState(year=opts.year, tz=opts.tz)
    first = _first_trad(head)
    if first is None:
        return YearState(year=dt.datetime.now(dt.UTC).year, tz=opts.tz)  # RFC 3339 log: unused
    if src.mtime is None:
        year = dt.datetime.now(dt.UTC).year
        warn(f"{src.display}: no --year and no file time; assuming the log ends in {year}")
        ref = dt.datetime.now(dt.UTC)
    else:
        ref = dt.datetime.fromtimestamp(src.mtime, ZoneInfo(opts.tz))
    last = _last_trad(src) or first
    last_year = year_for_last_line(last[0], last[1], ref)
    rolled = 1 if last[0] < first[0] - 5 else 0
    return YearState(year=last_year - rolled, tz=opts.tz)


@dataclass
class _Match:
    file_id: int
    bytes_read: int
    tail_hash: str | None
    year_rule: str | None
    lines_read: int
    status: str  # 'done', or 'partial' when the ingest stopped between commit steps


def _find_existing(con: duckdb.DuckDBPyConnection, head: bytes) -> _Match | None:
    rows = con.execute(
        "SELECT file_id, fingerprint, fingerprint_len, bytes_read, tail_hash, year_rule, lines_read, status "
        "FROM ingest_files WHERE fingerprint_len <= ? ORDER BY file_id",
        [len(head)],
    ).fetchall()
    for file_id, fp, fp_len, bytes_read, tail_hash, rule, lines_read, status in rows:
        if hashlib.sha256(head[:fp_len]).hexdigest() == fp:
            return _Match(file_id, bytes_read, tail_hash, rule, lines_read, status)
    return None


def _unchanged(con: duckdb.DuckDBPyConnection, src: S.Source) -> int | None:
    return S.unchanged_file_id(con, src)


def _first_ts_key(src: S.Source, head: bytes, opts: IngestOptions) -> tuple[float, str]:
    """Sort key that puts a rotated set in time order by content (first timestamp), not by name."""
    first = _first_trad(head)
    if first is not None:
        ref_year = dt.datetime.fromtimestamp(src.mtime or 0, dt.UTC).year if src.mtime else 0
        return (ref_year * 10000 + first[0] * 100 + first[1], src.display)
    for line in head.split(b"\n")[:50]:
        text = line.decode("utf-8", "replace")
        try:
            ts = dt.datetime.fromisoformat(text.split(" ", 1)[0].replace("Z", "+00:00"))
        except ValueError:
            continue
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        d = ts.astimezone(dt.UTC)
        return (d.year * 10000 + d.month * 100 + d.day + d.hour / 100, src.display)
    return (float(src.mtime or 0), src.display)


@dataclass
class _Parsed:
    """A parsed chunk and what the worker thread already derived from it for the main thread."""

    result: ParseResult
    queued: pl.DataFrame  # events with a queue ID: the correlator's input
    noqueue: pl.DataFrame  # refusals before a queue file existed: rejection rows as they are
    span: tuple[dt.datetime, dt.datetime] | None  # the chunk's first and last event time


@dataclass
class _Read:
    """Where a parsed chunk ends in its file (its bytes are not kept once parsed)."""

    end: int
    size: int
    tail_hash: str


@dataclass
class _Rows:
    """A step's rows as the writer inserts them, prepared on the correlating thread: the writer (the one
    thread that can commit) only inserts, and a step waiting for it holds compact copies instead of the
    buffers of every chunk its rows came from, so more steps can wait while it commits."""

    tables: list[tuple[str, str, pa.Table]]  # (table, columns, rows)
    link_since: dt.datetime | None  # earliest time an upstream link among these rows can involve
    messages: int = 0
    deliveries: int = 0
    rejections: int = 0

    @classmethod
    def of(cls, built: Built, accounts: _Accounts, noqueue: pl.DataFrame | None = None) -> _Rows:
        # A new message may have been created by a stored "queued as" delivery, and a new "queued as"
        # delivery may have created a stored message: the next link_upstream looks back to the earliest.
        times = [built.messages.get_column("first_seen").min()] if built.messages.height else []
        if built.deliveries.height:
            times.append(built.deliveries.filter(pl.col("next_qid").is_not_null()).get_column("ts").min())
        found = [t for t in times if isinstance(t, dt.datetime)]
        rows = cls([], min(found) if found else None)
        if built.messages.height:
            rows.add("messages", MESSAGE_COLUMNS, accounts.assign(built.messages))
        rows.add("deliveries", DELIVERY_COLUMNS, built.deliveries)
        rows.add("rejections", REJECTION_COLUMNS, built.rejections)
        rows.messages, rows.deliveries = built.messages.height, built.deliveries.height
        rows.rejections = built.rejections.height
        if noqueue is not None:
            rows.add("rejections", REJECTION_COLUMNS, noqueue)
            rows.rejections += noqueue.height
        return rows

    def add(self, table: str, columns: str, frame: pl.DataFrame) -> None:
        if frame.height:
            names = [c.strip() for c in columns.split(",")]
            self.tables.append((table, columns, frame.select(names).to_arrow(compat_level=OWN_BUFFERS)))


@dataclass
class _Step:
    """One correlated chunk on its way to the writer; `carried` is set where a commit step ends."""

    parsed: _Parsed
    read: _Read
    end_state: YearState
    rows: _Rows
    headless: pl.DataFrame  # events of segments cut off by the start of the log (Built.events)
    carried: pl.DataFrame | None


@dataclass
class _Batch:
    """Progress since the last commit of one file: what the next checkpoint records."""

    bytes_read: int
    tail_hash: str | None
    state: YearState
    lines_read: int = 0
    lines_parsed: int = 0
    lines_quarantined: int = 0
    lines_other: int = 0
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None
    log_start: dt.datetime | None = None  # first timestamp of a file read from its first line
    fresh: bool = False
    headless: list[pl.DataFrame] = field(default_factory=list)

    def add(
        self,
        res: ParseResult,
        read: _Read,
        end_state: YearState,
        headless: pl.DataFrame,
        span: tuple[dt.datetime, dt.datetime] | None,
    ) -> None:
        self.bytes_read = read.end
        self.tail_hash = read.tail_hash
        self.state = end_state
        self.lines_read += res.lines_read
        self.lines_parsed += res.lines_parsed
        self.lines_quarantined += res.lines_quarantined
        self.lines_other += res.lines_other
        if span is not None:
            lo, hi = span
            self.first_ts = lo if self.first_ts is None or lo < self.first_ts else self.first_ts
            self.last_ts = hi if self.last_ts is None or hi > self.last_ts else self.last_ts
            if self.fresh and self.log_start is None:
                self.log_start = lo
        if headless.height and self.log_start is not None:
            # Only segments cut off by the start of the log can be completed by an older file later.
            cut = headless.filter(
                pl.col("headless")
                & (pl.col("ts").min().over("message_key") <= self.log_start + CUT_OFF_WINDOW)
            )
            if cut.height:
                self.headless.append(cut)

    def headless_events(self) -> pl.DataFrame:
        return pl.concat(self.headless, how="vertical_relaxed") if self.headless else pl.DataFrame()

    def next(self) -> _Batch:
        """The batch after a commit: the ingest goes on from memory, so headless events found so far stay."""
        return _Batch(
            self.bytes_read,
            self.tail_hash,
            self.state,
            log_start=self.log_start,
            fresh=self.fresh,
            headless=self.headless,
        )


class Ingestor:
    """Ingests sources into one open (writable) connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        opts: IngestOptions | None = None,
        *,
        warn: Warn | None = None,
    ) -> None:
        self.con = con
        self.opts = opts or IngestOptions()
        con.execute(f"SET memory_limit = '{INGEST_MEMORY_LIMIT}'")
        # Our own threads parse and correlate; DuckDB's parallel append of small frames only adds
        # coordination (1M lines: 1.3 s of INSERT with 2 threads, 0.6 s with 1).
        con.execute("SET threads = 1")
        if _has_dict_fsst():
            # Strings end up in DuckDB's combined dictionary+FSST format anyway; not trying the two older
            # methods at every checkpoint saves a fifth of its CPU (same file size, measured).
            con.execute("SET disabled_compression_methods = 'fsst,dictionary'")
        # Earliest time an upstream link written since the last step can involve (link_upstream.sql).
        self._link_since: dt.datetime | None = None
        self._accounts: _Accounts | None = None  # read at the first message of each file
        self._pending_keys = _NO_PENDING  # rows pending_events holds in the open transaction
        self.warn: Warn = warn or (lambda m: print(f"warning: {m}", file=sys.stderr))

    def ingest(
        self, paths: list[str], progress: Callable[[S.Source], Progress | None] | None = None
    ) -> list[FileSummary]:
        return self.ingest_sources(S.expand_inputs(paths), progress)

    def ingest_sources(
        self, srcs: list[S.Source], progress: Callable[[S.Source], Progress | None] | None = None
    ) -> list[FileSummary]:
        """Ingest already expanded sources (a rotated set is put in time order first)."""
        heads: dict[int, bytes] = {}
        plan: list[tuple[S.Source, bytes, str]] = []
        out: list[FileSummary] = []
        for i, src in enumerate(srcs):
            if _unchanged(self.con, src) is not None:
                out.append(FileSummary(src.display, "unchanged"))
                continue
            try:
                head = S.read_head(src)
            except InputError as exc:
                out.append(FileSummary(src.display, "failed", error=str(exc)))
                continue
            heads[i] = head
            plan.append((src, head, self.opts.format or self._detect(head, src)))
        postfix = sorted(
            (p for p in plan if p[2] == "postfix"), key=lambda p: _first_ts_key(p[0], p[1], self.opts)
        )
        others = [p for p in plan if p[2] != "postfix"]
        for src, head, fmt in [*postfix, *others]:
            try:
                if fmt == "postfix":
                    out.append(self._ingest_postfix(src, head, progress(src) if progress else None))
                else:
                    out.append(self._ingest_evidence(src, head, fmt))
            except InputError as exc:
                out.append(FileSummary(src.display, "failed", format=fmt, error=str(exc)))
        if any(s.format == "postfix" and s.status in ("ingested", "resumed") for s in out) and not others:
            # New sends may be what earlier complaints were about.
            with write_transaction(self.con):
                relink_complaints(self.con)
        return out

    # -- formats -------------------------------------------------------------------------------------

    def _detect(self, head: bytes, src: S.Source) -> str:
        try:
            from analysis.ingest.detect import detect_format
        except ImportError:
            return "postfix"
        return detect_format(head, src.display)

    def _ingest_evidence(self, src: S.Source, head: bytes, fmt: str) -> FileSummary:
        from analysis.ingest.evidence import link_complaints, load_evidence

        if src.stdin_data is not None:
            data = src.stdin_data
        else:
            assert src.path is not None
            data = src.path.read_bytes()
        con = self.con
        with write_transaction(con) as tx:
            existing = _find_existing(con, head)
            if existing is not None:
                tx.abandon()
                return FileSummary(src.display, "unchanged", format=fmt)
            file_id = self._new_file_row(src, head, fmt, None)
            res = load_evidence(con, file_id, src.path, data, fmt, name=src.display)
            con.execute(
                "UPDATE ingest_files SET bytes_read = ?, lines_read = ?, lines_parsed = ?, lines_quarantined = ?,"
                " finished_at = now(), status = 'done' WHERE file_id = ?",
                [len(data), res.records_read, res.records_parsed, res.records_quarantined, file_id],
            )
            for stmt in _sql("accounts_esp.sql"):
                con.execute(stmt)
            link_complaints(con)
        return FileSummary(
            src.display,
            "ingested",
            format=fmt,
            lines_read=res.records_read,
            lines_parsed=res.records_parsed,
            lines_quarantined=res.records_quarantined,
            messages=res.tables.get("messages", 0),
            deliveries=res.tables.get("deliveries", 0),
        )

    def _new_file_row(self, src: S.Source, head: bytes, fmt: str, rule: YearState | None) -> int:
        file_id = scalar(self.con, "SELECT COALESCE(MAX(file_id), 0) + 1 FROM ingest_files")
        self.con.execute(
            "INSERT INTO ingest_files (file_id, path, format, fingerprint, fingerprint_len, compression, raw_size,"
            " raw_sig, bytes_read, tail_hash, lines_read, lines_parsed, lines_quarantined, lines_other, year_rule,"
            " started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, 0, 0, 0, 0, ?, now(), 'running')",
            [
                file_id,
                src.display,
                fmt,
                S.fingerprint(head),
                len(head),
                src.compression,
                src.raw_size,
                src.raw_sig,
                rule.describe() if rule else None,
            ],
        )
        return file_id

    # -- postfix -------------------------------------------------------------------------------------

    def _ingest_postfix(self, src: S.Source, head: bytes, progress: Progress | None) -> FileSummary:
        con = self.con
        self._accounts = None
        existing = _find_existing(con, head)
        start = 0
        line_base = 0
        if existing is not None:
            if S.tail_hash_at(src, existing.bytes_read) != existing.tail_hash:
                raise InputError(
                    f"{src.display} starts like an already ingested file (id {existing.file_id}) but differs "
                    f"before byte {existing.bytes_read}; refusing to guess (was it rewritten?)"
                )
            start, line_base = existing.bytes_read, existing.lines_read
            state = YearState.parse(existing.year_rule) if existing.year_rule else YearState(2000)
        else:
            state = year_rule(src, head, self.opts, self.warn)
        summary = FileSummary(src.display, "resumed" if existing else "ingested")
        batch = _Batch(start, existing.tail_hash if existing else None, state, fresh=start == 0)
        with write_transaction(con) as tx:
            file_id = existing.file_id if existing else self._new_file_row(src, head, "postfix", state)
            corr = Correlator(self._take_pending())
            chunks = self._parse_chunks(src, start, line_base, state, file_id)
            with contextlib.closing(self._correlated(chunks, corr)) as steps:
                for st in steps:
                    res = st.parsed.result
                    self._store_quarantine(file_id, res.quarantine)
                    self._write(st.rows, summary)
                    batch.add(res, st.read, st.end_state, st.headless, st.parsed.span)
                    summary.add(res)
                    if progress:
                        progress(st.read.size)
                    if st.carried is not None:
                        # Bound the transaction: carry the open messages' events in pending_events, record
                        # the offset, commit; a crash resumes from here, the ingest goes on from memory.
                        self._checkpoint(file_id, batch, src, final=False, carried=st.carried)
                        tx.step()
                        batch = batch.next()
            if summary.lines_read == 0 and existing is not None and existing.status == "done":
                # (A 'partial' file read to its end still needs its last checkpoint: an ingest killed
                # after a commit step at the end of the file, before the final commit.)
                tx.abandon()
                summary.status = "unchanged"
            else:
                self._checkpoint(file_id, batch, src, final=True, corr=corr, summary=summary)
        if summary.status == "unchanged":
            assert existing is not None
            self._record_raw_sig(src, existing.file_id)
            return summary
        summary.held_back = (
            self.opts.hold_partial
            and src.compression is None
            and not src.is_stdin
            and (batch.bytes_read < (src.raw_size or 0))
        )
        return summary

    def _checkpoint(
        self,
        file_id: int,
        batch: _Batch,
        src: S.Source,
        *,
        final: bool,
        corr: Correlator | None = None,
        carried: pl.DataFrame | None = None,
        summary: FileSummary | None = None,
    ) -> None:
        """Carry the open messages' events (and recent headless ones) in pending_events, record progress.
        At the end of a file the open messages are also written as they stand (the next file may complete
        them); in the middle of one they are not (the ingest goes on from memory; a crash resumes from
        pending_events), which spares writing and deleting rows at every step."""
        con = self.con
        newest = _newest(con, batch.last_ts)
        headless = recent_headless(batch.headless_events(), newest)
        if final:
            assert corr is not None
            partial, _ = corr.finish()
            self._write(_Rows.of(partial, self._accounts_now()), summary)  # counts every row this file stored
            keep = pl.concat([partial.events, headless], how="diagonal_relaxed")
        else:
            assert carried is not None
            open_events = carried.with_columns(
                pl.lit(None, dtype=pl.String).alias("message_key"),
                pl.lit(None, dtype=pl.Boolean).alias("headless"),
            )
            keep = pl.concat([open_events, headless], how="diagonal_relaxed")
        self._sync_pending(keep)
        if self._link_since is not None:
            for stmt in _sql("link_upstream.sql"):
                con.execute(stmt, {"since": self._link_since})
            self._link_since = None
        # The raw-file signature (the unchanged fast path) is recorded only once the file is fully read.
        con.execute(
            "UPDATE ingest_files SET bytes_read = ?, tail_hash = ?, lines_read = lines_read + ?,"
            " lines_parsed = lines_parsed + ?, lines_quarantined = lines_quarantined + ?,"
            " lines_other = lines_other + ?, year_rule = ?, raw_size = ?, raw_sig = ?,"
            " first_ts = LEAST(COALESCE(first_ts, ?), ?), last_ts = GREATEST(COALESCE(last_ts, ?), ?),"
            " finished_at = now(), status = ? WHERE file_id = ?",
            [
                batch.bytes_read,
                batch.tail_hash,
                batch.lines_read,
                batch.lines_parsed,
                batch.lines_quarantined,
                batch.lines_other,
                batch.state.describe(),
                src.raw_size,
                src.raw_sig if final else None,
                batch.first_ts,
                batch.first_ts,
                batch.last_ts,
                batch.last_ts,
                "done" if final else "partial",
                file_id,
            ],
        )

    def _sync_pending(self, keep: pl.DataFrame) -> None:
        """Make pending_events hold exactly `keep`, writing only the difference from what the last step
        wrote (most open messages stay open from one step to the next)."""
        key = ["file_id", "line_no", "message_key"]
        rows = keep.with_columns(pl.col("message_key").cast(pl.String)) if keep.height else keep
        keys = rows.select(key) if rows.height else _NO_PENDING
        gone = self._pending_keys.join(keys, on=key, how="anti", nulls_equal=True)
        if gone.height:
            self.con.register("_gone", gone.to_arrow())
            try:
                self.con.execute(
                    "DELETE FROM pending_events p USING _gone g WHERE p.file_id = g.file_id "
                    "AND p.line_no = g.line_no AND p.message_key IS NOT DISTINCT FROM g.message_key"
                )
            finally:
                self.con.unregister("_gone")
        if rows.height:
            self._insert(
                "pending_events",
                PENDING_COLUMNS,
                rows.join(self._pending_keys, on=key, how="anti", nulls_equal=True),
            )
        self._pending_keys = keys

    def _take_pending(self) -> pl.DataFrame:
        """Load the carried events and delete the rows they were last emitted as (they are re-emitted)."""
        con = self.con
        pending = con.sql(f"SELECT {EVENT_COLUMNS} FROM pending_events").pl()
        con.execute("DELETE FROM messages WHERE message_key IN (SELECT message_key FROM pending_events)")
        for table in ("deliveries", "rejections"):
            con.execute(
                f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM pending_events p "
                f"WHERE p.file_id = {table}.file_id AND p.line_no = {table}.line_no)"
            )
        con.execute("DELETE FROM pending_events")
        self._pending_keys = _NO_PENDING
        return _conform_events(pending)

    def _write(self, rows: _Rows, summary: FileSummary | None) -> None:
        if rows.link_since is not None and (self._link_since is None or rows.link_since < self._link_since):
            self._link_since = rows.link_since
        for table, columns, data in rows.tables:
            self._insert_arrow(table, columns, data)
        if summary is not None:
            summary.messages += rows.messages
            summary.deliveries += rows.deliveries
            summary.rejections += rows.rejections

    def _insert(self, table: str, columns: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self._insert_arrow(table, columns, frame.to_arrow(compat_level=pl.CompatLevel.newest()))

    def _insert_arrow(self, table: str, columns: str, data: pa.Table) -> None:
        self.con.register("_frame", data)
        try:
            self.con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _frame")
        finally:
            self.con.unregister("_frame")

    def _accounts_now(self) -> _Accounts:
        """The inventory's accounts, read once per file (before the correlating thread starts)."""
        if self._accounts is None:
            self._accounts = _Accounts.load(self.con)
        return self._accounts

    def _store_quarantine(self, file_id: int, quarantine: pl.DataFrame) -> None:
        q = quarantine.select(list(QUARANTINE_SCHEMA)).with_columns(
            pl.lit(file_id, dtype=pl.Int64).alias("file_id")
        )
        self._insert("quarantine", "file_id, line_no, reason, raw", q)

    def _record_raw_sig(self, src: S.Source, file_id: int) -> None:
        if src.raw_sig and src.compression is None:
            self.con.execute(
                "UPDATE ingest_files SET raw_sig = ?, raw_size = ? WHERE file_id = ? AND bytes_read = ?",
                [src.raw_sig, src.raw_size, file_id, src.raw_size],
            )

    def _correlated(
        self, parsed: Generator[tuple[_Parsed, _Read, YearState]], corr: Correlator
    ) -> Generator[_Step]:
        """Correlate on a thread of its own, up to CORRELATE_AHEAD chunks ahead of the writer (the main
        thread), so that writing and correlating overlap. It also decides the commit steps and hands over
        the open messages' events as they stand at each (`corr` is the thread's until the last chunk)."""

        accounts = self._accounts_now()

        def steps() -> Generator[_Step]:
            since_commit = 0
            try:
                for got, read, end_state in parsed:
                    built = corr.step(got.queued)
                    rows = _Rows.of(built, accounts, got.noqueue)
                    # Done with: only the rows and counts travel on.
                    got.queued, got.noqueue = got.queued.clear(), got.noqueue.clear()
                    since_commit += read.size
                    carried = None
                    if since_commit >= self.opts.commit_bytes:
                        carried, since_commit = corr.carried, 0
                    yield _Step(got, read, end_state, rows, built.events, carried)
            finally:
                parsed.close()

        return _threaded(steps, CORRELATE_AHEAD, "correlate")

    def _parse_chunks(
        self, src: S.Source, start: int, line_base: int, state: YearState, file_id: int
    ) -> Generator[tuple[_Parsed, _Read, YearState]]:
        """Parse chunks on PARSE_THREADS workers, up to PARSE_AHEAD ahead, in order (the C parser, polars
        and DuckDB release the GIL), and hand them on CORRELATE_CHUNKS at a time. Each chunk starts from
        the year state its predecessor leaves, found up front from the syslog headers alone; `state` ends
        as the state after the last chunk."""
        chunks = S.iter_chunks(
            src, start=start, hold_partial=self.opts.hold_partial, chunk_bytes=self.opts.chunk_bytes
        )

        def parse(data: memoryview, first: int, begin: YearState) -> _Parsed:
            res = parse_chunk(data, first, begin)
            res.events = classify_events(res.events).with_columns(
                pl.lit(file_id, dtype=pl.Int64).alias("file_id")
            )
            ev = res.events
            # Only what the correlating thread needs is kept: the whole frame again beside its queue-ID'd
            # rows would double each waiting chunk's memory.
            res.events = ev.clear()
            return _Parsed(
                res,
                queued=ev.filter(pl.col("qid").is_not_null()),
                noqueue=noqueue_rejections(ev),
                span=_span(ev.get_column("ts")) if ev.height else None,
            )

        window: deque[tuple[Future[_Parsed], _Read, YearState]] = deque()
        ready: list[tuple[_Parsed, _Read, YearState]] = []
        with ThreadPoolExecutor(max_workers=PARSE_THREADS) as pool:
            next_line = line_base + 1
            for chunk in chunks:
                begin = state.copy()
                end, n_lines = year_after(chunk.data, state)
                state.year, state.last_month = end.year, end.last_month
                read = _Read(chunk.offset + len(chunk.data), len(chunk.data), chunk.tail_hash)
                window.append((pool.submit(parse, chunk.data, next_line, begin), read, end))
                next_line += n_lines
                if len(window) > PARSE_AHEAD:
                    fut, done, after = window.popleft()
                    ready.append((fut.result(), done, after))
                    if len(ready) == CORRELATE_CHUNKS:
                        yield _merged(ready)
                        ready = []
            while window:
                fut, done, after = window.popleft()
                ready.append((fut.result(), done, after))
            if ready:
                yield _merged(ready)


def _merged(parts: list[tuple[_Parsed, _Read, YearState]]) -> tuple[_Parsed, _Read, YearState]:
    """Consecutive parsed chunks as one unit of correlation (see CORRELATE_CHUNKS)."""
    if len(parts) == 1:
        return parts[0]
    results = [p.result for p, _r, _s in parts]
    kinds: dict[str, int] = {}
    for res in results:
        for k, v in res.kinds.items():
            kinds[k] = kinds.get(k, 0) + v
    result = ParseResult(
        events=results[0].events,
        quarantine=pl.concat([r.quarantine for r in results], how="vertical_relaxed"),
        lines_read=sum(r.lines_read for r in results),
        lines_parsed=sum(r.lines_parsed for r in results),
        lines_other=sum(r.lines_other for r in results),
        kinds=kinds,
    )
    spans = [p.span for p, _r, _s in parts if p.span is not None]
    parsed = _Parsed(
        result,
        queued=pl.concat([p.queued for p, _r, _s in parts], how="vertical_relaxed", rechunk=False),
        noqueue=pl.concat([p.noqueue for p, _r, _s in parts], how="vertical_relaxed", rechunk=False),
        span=(min(lo for lo, _hi in spans), max(hi for _lo, hi in spans)) if spans else None,
    )
    last = parts[-1][1]
    read = _Read(last.end, sum(r.size for _p, r, _s in parts), last.tail_hash)
    return parsed, read, parts[-1][2]


_END = object()
T = TypeVar("T")


def _threaded(produce: Callable[[], Iterator[T]], depth: int, name: str) -> Generator[T]:
    """The items of `produce()`, made on a thread of its own up to `depth` ahead of the consumer. An
    exception there is raised here; closing this generator stops the thread and closes `produce()`'s."""
    out: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        items = produce()
        try:
            for item in items:
                if stop.is_set():
                    return
                out.put(item)
            out.put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while (item := out.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield cast(T, item)
    finally:
        stop.set()
        while worker.is_alive():  # let a producer blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        worker.join()


def _has_dict_fsst() -> bool:
    """DuckDB 1.3 and newer compress strings with dict_fsst (older ones need fsst/dictionary)."""
    parts = duckdb.__version__.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (1, 3)
    except (IndexError, ValueError):
        return False


def _span(ts: pl.Series) -> tuple[dt.datetime, dt.datetime]:
    lo, hi = ts.min(), ts.max()
    assert isinstance(lo, dt.datetime) and isinstance(hi, dt.datetime)
    return lo, hi


def _newest(con: duckdb.DuckDBPyConnection, last_ts: dt.datetime | None) -> dt.datetime | None:
    rows = con.execute("SELECT MAX(last_ts) FROM ingest_files WHERE format = 'postfix'").fetchall()
    stored = rows[0][0] if rows else None
    if stored is None:
        return last_ts
    if last_ts is None:
        return stored  # type: ignore[no-any-return]
    return max(stored, last_ts)  # type: ignore[no-any-return]


def _conform_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Loaded pending events in exactly the parser's schema (+ file_id, classification)."""
    cols = [pl.col("file_id").cast(pl.Int64)]
    for name, dtype in EVENT_SCHEMA.items():
        cols.append(
            pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
        )
    for name in ("provider", "reason", "severity"):
        cols.append(pl.col(name).cast(pl.String))
    return frame.select(cols)


def classify_events(events: pl.DataFrame) -> pl.DataFrame:
    """Provider, reason and hard/soft for delivery attempts and rejects, computed once per distinct reply."""
    from analysis.classify.frame import classify_frame

    # Delivery attempts and refusals; a cleanup hold/discard/warning is our own policy, not a bounce.
    mask = pl.col("kind").is_in(["delivery", "reject"]) | (
        (pl.col("kind") == "cleanup_action") & pl.col("action").is_in(["reject", "milter-reject"])
    )
    # Lazily, so that only the seven input columns are filtered, not all of the events'.
    inputs = (
        events.lazy()
        .filter(mask)
        .select(
            "status",
            "dsn",
            "reply_code",
            "reply",
            "smtp_stage",
            "relay_host",
            domain_of("recipient").alias("recipient_domain"),
        )
        .collect()
    )
    if inputs.height == 0:
        return events.with_columns(
            pl.lit(None, dtype=pl.String).alias(c) for c in ("provider", "reason", "severity")
        )
    verdict = classify_frame(inputs)
    # Scattered into place: a join would copy every one of the events' columns.
    at = events.select(mask.fill_null(False)).to_series().arg_true()
    return events.with_columns(
        pl.repeat(None, events.height, dtype=pl.String, eager=True)
        .scatter(at, verdict.get_column(c))
        .alias(c)
        for c in ("provider", "reason", "severity")
    )


def refresh_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Re-map every message to its inventory account (call after loading a new inventory)."""
    for stmt in _sql("accounts.sql"):
        con.execute(stmt)


def relink_complaints(con: duckdb.DuckDBPyConnection) -> None:
    """Join stored complaints to sends again (new sends or relay IPs may now match), if there are any."""
    if scalar(con, "SELECT COUNT(*) FROM complaints") == 0:
        return
    from analysis.ingest.evidence import link_complaints

    link_complaints(con)


def relink_after_inventory(con: duckdb.DuckDBPyConnection) -> None:
    """After an inventory load: accounts of every message and complaint links, in one transaction."""
    with write_transaction(con):
        refresh_accounts(con)
        relink_complaints(con)
