"""Input files cut into splits that executors read on their own, and the per-split facts (line counts,
month sequence) from which the driver derives every split's first line number and year state.

A plain file is cut into byte ranges; a split owns the lines that *start* inside its range, so each line
belongs to exactly one split. A compressed file cannot be entered in the middle: it is one split. Files
are read through `analysis.ingest.sources`, the same reader (and decompression) a DuckDB ingest uses,
which means executors must see the paths (local mode, or a filesystem mounted on every node).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from analysis.ingest import sources as S
from analysis.ingest.postfix import MONTHS, YearState, advance_year

SPLIT_BYTES = 64 * 1024 * 1024
READ_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Split:
    """A byte range [start, end) of one file (end None: to the end); `file_id` numbers the file."""

    split_id: int
    file_id: int
    path: str
    compression: str | None
    start: int
    end: int | None

    def source(self) -> S.Source:
        return S.Source(display=self.path, path=Path(self.path), compression=self.compression)


@dataclass(frozen=True)
class SplitScan:
    """What the first pass learns about a split: its lines, bytes and the months it walks through."""

    split_id: int
    lines: int
    bytes: int
    first_month: int | None
    last_month: int | None
    rolls: int  # Dec→Jan steps between its own lines
    tail_hash: str | None  # of the file's last 64 KiB, when this split ends the file


def plan_splits(
    file_id: int, src: S.Source, first_split_id: int, split_bytes: int = SPLIT_BYTES
) -> list[Split]:
    """The splits of one file: byte ranges of a plain file, the whole of a compressed one."""
    assert src.path is not None
    path = str(src.path)
    size = src.raw_size or 0
    if src.compression is not None or size <= split_bytes:
        return [Split(first_split_id, file_id, path, src.compression, 0, None)]
    starts = list(range(0, size, split_bytes))
    return [
        Split(first_split_id + i, file_id, path, None, s, None if i == len(starts) - 1 else s + split_bytes)
        for i, s in enumerate(starts)
    ]


def read_split(split: Split) -> Iterator[bytes | memoryview]:
    """The split's whole lines in blocks that end at a newline (or at the end of the file)."""
    if split.compression is not None or (split.start == 0 and split.end is None):
        for chunk in S.iter_chunks(split.source(), hold_partial=False, chunk_bytes=READ_BYTES):
            yield chunk.data
        return
    with open(split.path, "rb") as f:
        if split.start > 0:
            f.seek(split.start - 1)
            if f.read(1) != b"\n":
                f.readline()  # that line began in the previous split
        pos = f.tell()
        end = split.end
        carry = b""
        while end is None or pos < end:
            block = f.read(READ_BYTES if end is None else min(READ_BYTES, end - pos))
            if not block:
                break
            pos += len(block)
            buf = carry + block
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                continue
            yield buf[: cut + 1]
            carry = buf[cut + 1 :]
        if carry:
            yield carry + (f.readline() if end is not None else b"")


def _file_tail_hash(split: Split, blocks_tail: bytes) -> str | None:
    """sha256 of the file's last 64 KiB when `split` ends the file (as ingest_files.tail_hash)."""
    if split.end is not None:
        return None
    if split.compression is None and split.start > 0:
        with open(split.path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - S.FINGERPRINT_BYTES))
            blocks_tail = f.read()
    return hashlib.sha256(blocks_tail[-S.FINGERPRINT_BYTES :]).hexdigest()


def scan_split(split: Split) -> SplitScan:
    """First pass: count lines and bytes, and follow the month names (cheap: no parsing)."""
    lines = nbytes = 0
    first: int | None = None
    state = YearState(0)  # counts the split's own rollovers from year 0
    tail = b""
    for data in read_split(split):
        series = S.split_lines(data)
        lines += series.len()
        nbytes += len(data)
        tail = (tail + data)[-S.FINGERPRINT_BYTES :]
        if first is None:
            first = _first_month(series)
        state = advance_year(series, state)
    return SplitScan(
        split.split_id, lines, nbytes, first, state.last_month, state.year, _file_tail_hash(split, tail)
    )


def _first_month(series: pl.Series) -> int | None:
    month = series.str.slice(0, 3).replace_strict(MONTHS, default=None, return_dtype=pl.Int32).drop_nulls()
    return int(month[0]) if month.len() else None


def starting_states(
    splits: list[Split], scans: dict[int, SplitScan], first_states: dict[int, YearState]
) -> tuple[dict[int, tuple[int, YearState]], dict[int, YearState]]:
    """Each split's first line number and year state (a prefix walk over each file's splits, the way the
    DuckDB loader walks its chunks), and each file's year state after its last line."""
    out: dict[int, tuple[int, YearState]] = {}
    end: dict[int, YearState] = {}
    for split in sorted(splits, key=lambda s: (s.file_id, s.start)):
        state = end.get(split.file_id, first_states[split.file_id])
        line = sum(
            scans[s.split_id].lines for s in splits if s.file_id == split.file_id and s.start < split.start
        )
        out[split.split_id] = (line + 1, replace(state))
        scan = scans[split.split_id]
        if scan.first_month is None:
            end[split.file_id] = state
            continue
        boundary = 1 if state.last_month is not None and state.last_month - scan.first_month >= 6 else 0
        end[split.file_id] = YearState(state.year + boundary + scan.rolls, scan.last_month, state.tz)
    return out, end
