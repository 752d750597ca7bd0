"""Chunk parsing with the C fast path (`_fastparse.c`) in front of the polars parser.

Why: the polars parser spends most of an ingest in regex passes over every line. The C scanner takes the
common shapes in one pass (GIL released, so two chunks parse at once) and hands every other line, with
the year it already decided, to `postfix.parse_lines`, which stays the one definition of each shape.
Without the compiled module (a build without a C compiler) or for a chunk the scanner is unsure of, the
whole chunk goes to polars: the same result, only slower. tests/test_fastparse.py holds the two equal.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from analysis.ingest import sources as S
from analysis.ingest.postfix import (
    EVENT_SCHEMA,
    QUARANTINE_SCHEMA,
    ParseResult,
    YearState,
    advance_year,
    parse_lines,
)

try:
    from analysis.ingest import _fastparse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised only on machines without a C compiler
    _fastparse = None

AVAILABLE = _fastparse is not None
_ARROW_TYPES: dict[str, pa.DataType] = {"i64": pa.int64(), "i32": pa.int32(), "f64": pa.float64()}
_UTC_ZONES = ("UTC", "Etc/UTC")


def year_after(data: bytes | memoryview, state: YearState) -> tuple[YearState, int]:
    """The year state after the chunk `data` and its number of lines (for numbering the next chunk)."""
    if _fastparse is not None:
        got = _fastparse.year_after(data, state.year, state.last_month or 0)
        if got is not None:
            year, month, lines = got
            return YearState(year, month or None, state.tz), lines
    lines = S.split_lines(data)
    return advance_year(lines, state), lines.len()


def parse_chunk(data: bytes | memoryview, first_line_no: int, state: YearState) -> ParseResult:
    """Parse the whole-line chunk `data` whose first line is `first_line_no`, starting from `state`
    (which is not changed: the caller gets the next chunk's state from `year_after`)."""
    fast = _scan(data, first_line_no, state) if _fastparse is not None else None
    if fast is not None:
        return fast
    return parse_lines(S.split_lines(data), first_line_no=first_line_no, year=state.copy())


def _column(name: str, rows: int, spec: tuple[str, object, int, int, int, int, int, int]) -> pa.Array:
    """An Arrow array over the scanner's buffers, without a copy (`owner` keeps them alive)."""
    kind, owner, valid, nulls, values, values_size, data, data_size = spec
    bitmap = pa.foreign_buffer(valid, (rows + 7) // 8, base=owner) if valid else None
    main = pa.foreign_buffer(values, values_size, base=owner)
    if kind == "str":
        text = pa.foreign_buffer(data, data_size, base=owner) if data_size else pa.py_buffer(b"")
        return pa.Array.from_buffers(pa.large_string(), rows, [bitmap, main, text], nulls)
    dtype = pa.timestamp("us", tz="UTC") if name == "ts" else _ARROW_TYPES[kind]
    return pa.Array.from_buffers(dtype, rows, [bitmap, main], nulls)


def _scan(data: bytes | memoryview, first_line_no: int, state: YearState) -> ParseResult | None:
    assert _fastparse is not None
    local_zone = state.tz not in _UTC_ZONES
    got = _fastparse.scan(data, first_line_no, state.year, state.last_month or 0, local_zone)
    if got is None:
        return None
    n_lines, _year, _month, n_other, n_info, counts, rows, cols, fallback = got
    table = pa.table({name: _column(name, rows, spec) for name, spec in cols.items()})
    fast = pl.from_arrow(table)
    assert isinstance(fast, pl.DataFrame)
    if local_zone and rows:
        # The scanner wrote wall-clock times: put them in the zone (a time inside a DST gap has none, and
        # only the polars path knows to quarantine it).
        local = fast.get_column("ts").dt.replace_time_zone(None)
        utc = local.dt.replace_time_zone(state.tz, ambiguous="earliest", non_existent="null")
        if utc.null_count():
            return None
        fast = fast.with_columns(utc.dt.convert_time_zone("UTC").alias("ts"))
    fast = fast.select(
        pl.col(c).cast(t) if c in fast.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in EVENT_SCHEMA.items()
    )
    kinds: dict[str, int] = {str(k): int(v) for k, v in counts.items()}
    if n_info:
        kinds["info"] = int(n_info)
    rest = _leftovers(data, fallback, state)
    for k, v in rest.kinds.items():
        kinds[k] = kinds.get(k, 0) + v
    other = n_other + rest.lines_other
    return ParseResult(
        events=pl.concat([fast, rest.events], how="vertical") if rest.events.height else fast,
        quarantine=rest.quarantine,
        lines_read=n_lines,
        lines_parsed=n_lines - rest.quarantine.height - other,
        lines_other=other,
        kinds=kinds,
    )


def _leftovers(data: bytes | memoryview, fallback: bytes, state: YearState) -> ParseResult:
    """The lines the scanner left, parsed by polars with their own line numbers and years."""
    if not fallback:
        return ParseResult(pl.DataFrame(), pl.DataFrame(schema=QUARANTINE_SCHEMA), 0, 0, 0)
    rec = np.frombuffer(fallback, dtype=np.int64).reshape(-1, 4)
    lines = S.join_lines([data[s:e] for s, e in rec[:, :2].tolist()])
    years = pl.Series("years", rec[:, 3], dtype=pl.Int64)
    years = pl.select(pl.when(years >= 0).then(years).otherwise(None)).to_series()
    return parse_lines(
        lines,
        first_line_no=0,
        year=state.copy(),
        line_nos=pl.Series("line_no", rec[:, 2], dtype=pl.Int64),
        years=years,
    )
