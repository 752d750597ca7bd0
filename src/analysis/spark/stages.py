"""What executors run: parse a split, correlate a partition of queue-ID groups. Both take and yield Arrow
batches (Spark's `mapInArrow`) and call the very functions the DuckDB loader calls.

Each stage has one output schema, so rows of several tables travel in one wide schema with a tag `_t`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import polars as pl
import pyarrow as pa

from analysis.ingest import sources as S
from analysis.ingest.correlate import GROUP, build, noqueue_rejections, segments
from analysis.ingest.loader import classify_events
from analysis.ingest.postfix import EVENT_SCHEMA, YearState, advance_year, parse_lines
from analysis.spark.splits import Split, read_split, scan_split
from analysis.spark.tables import conform, union_schema

TAG = "_t"
EVENT, NOQUEUE, QUARANTINE, STATS = "event", "noqueue", "quarantine", "stats"
MESSAGE, DELIVERY, REJECTION = "message", "delivery", "rejection"
CORRELATE_ROWS = 200_000  # rows of whole queue-ID groups handed to segments()/build() at a time

SPLIT_SCHEMA = pa.schema(
    [
        ("split_id", pa.int64()),
        ("file_id", pa.int64()),
        ("path", pa.string()),
        ("compression", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("first_line", pa.int64()),
        ("year", pa.int64()),
        ("last_month", pa.int64()),
        ("tz", pa.string()),
    ]
)
SCAN_SCHEMA = pa.schema(
    [
        ("split_id", pa.int64()),
        ("lines", pa.int64()),
        ("bytes", pa.int64()),
        ("first_month", pa.int64()),
        ("last_month", pa.int64()),
        ("rolls", pa.int64()),
        ("tail_hash", pa.string()),
    ]
)
EVENT_COLUMNS = ["file_id", *EVENT_SCHEMA, "provider", "reason", "severity"]


@cache
def parsed_schema() -> pa.Schema:
    """Events (the pending_events columns), NOQUEUE rejections, quarantined lines and per-split counts."""
    return union_schema(("pending_events", "rejections", "quarantine", "ingest_files"), [(TAG, pa.string())])


@cache
def built_schema() -> pa.Schema:
    """Messages, deliveries and queue-ID'd rejections."""
    return union_schema(("messages", "deliveries", "rejections"), [(TAG, pa.string())])


def _splits(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[Split, int, YearState]]:
    for batch in batches:
        for r in batch.to_pylist():
            split = Split(r["split_id"], r["file_id"], r["path"], r["compression"], r["start"], r["end"])
            yield split, r["first_line"], YearState(r["year"], r["last_month"], r["tz"])


def scan_stage(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """First pass over each split: line counts and months (see splits.scan_split)."""
    for split, _, _ in _splits(batches):
        s = scan_split(split)
        row = {k: [getattr(s, k)] for k in SCAN_SCHEMA.names}
        yield pa.RecordBatch.from_pydict(row, schema=SCAN_SCHEMA)


def _tagged(frame: pl.DataFrame, tag: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    if frame.height == 0:
        return
    table = conform(frame.with_columns(pl.lit(tag).alias(TAG)).to_arrow(), schema)
    yield from table.to_batches()


def parse_stage(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Parse and classify each split block by block, carrying the year state as the loader does."""
    schema = parsed_schema()
    for split, first_line, state in _splits(batches):
        line = first_line
        stats = {"lines_read": 0, "lines_parsed": 0, "lines_quarantined": 0, "lines_other": 0}
        lo = hi = None
        for data in read_split(split):
            lines = S.split_lines(data)
            begin = state.copy()
            state = advance_year(lines, state)
            res = parse_lines(lines, first_line_no=line, year=begin)
            line += lines.len()
            fid = pl.lit(split.file_id, dtype=pl.Int64).alias("file_id")
            ev = classify_events(res.events).with_columns(fid)
            yield from _tagged(noqueue_rejections(ev), NOQUEUE, schema)
            yield from _tagged(ev.filter(pl.col("qid").is_not_null()), EVENT, schema)
            yield from _tagged(res.quarantine.with_columns(fid), QUARANTINE, schema)
            for k in stats:
                stats[k] += int(getattr(res, k))
            if ev.height:
                ts = ev.get_column("ts")
                lo = ts.min() if lo is None else min(lo, ts.min())  # type: ignore[type-var]
                hi = ts.max() if hi is None else max(hi, ts.max())  # type: ignore[type-var]
        row = pl.DataFrame(
            {
                "file_id": [split.file_id],
                **{k: [v] for k, v in stats.items()},
                "first_ts": [lo],
                "last_ts": [hi],
            },
            schema_overrides={"first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")},
        )
        yield from _tagged(row, STATS, schema)


def _events(table: pa.Table) -> pl.DataFrame:
    """Rows back in the parser's exact dtypes (Spark hands back the store's types)."""
    frame = pl.from_arrow(table.select(EVENT_COLUMNS))
    assert isinstance(frame, pl.DataFrame)
    dtypes = {"file_id": pl.Int64(), **EVENT_SCHEMA}
    return frame.with_columns(pl.col(c).cast(t) for c, t in dtypes.items())


def _correlate(events: pl.DataFrame) -> Iterator[pa.RecordBatch]:
    schema = built_schema()
    built = build(segments(events))
    yield from _tagged(built.messages, MESSAGE, schema)
    yield from _tagged(built.deliveries, DELIVERY, schema)
    yield from _tagged(built.rejections, REJECTION, schema)


def correlate_stage(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A partition sorted by queue-ID group: cut it into runs of whole groups and correlate each run, so
    memory stays bounded whatever the partition's size."""
    parts: list[pl.DataFrame] = []
    rows = 0
    for batch in batches:
        parts.append(_events(pa.Table.from_batches([batch])))
        rows += batch.num_rows
        if rows < CORRELATE_ROWS:
            continue
        frame = pl.concat(parts)
        last = frame.select(GROUP).row(-1)
        same = pl.all_horizontal(pl.col(c) == v for c, v in zip(GROUP, last, strict=True))
        tail = int(frame.select(same.sum()).item())
        if tail < frame.height:
            yield from _correlate(frame.head(frame.height - tail))
        parts, rows = [frame.tail(tail)], tail  # the last group may go on in the next batch
    if parts:
        yield from _correlate(pl.concat(parts))
