"""The rates query and its counts and rates as plain Python rows, without polars.

`deliverability rates` is a short process: importing polars cost about a third of its CPU time, more
than the query. This module assembles the same SQL as rates.rates() and finishes the counts and rates
row by row, for results of up to PYTHON_ROWS groups; the polars functions in rates.py stay the
vectorised route for frames (reports, Spark, large groupings). A test holds both to the same output.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from analysis.errors import InputError
from analysis.metrics import sqlfiles
from analysis.metrics.cache import recipients_table
from analysis.metrics.filters import RELAY_DIMENSIONS, Filters, check_dimensions, where_sql
from analysis.metrics.thresholds import RATE_DEFINITIONS, THRESHOLDS, Threshold
from analysis.stats import wilson_bounds, z_for_confidence

COUNT_COLUMNS: tuple[str, ...] = (
    "attempted",
    "delivered",
    "bounced",
    "hard_bounced",
    "soft_bounced",
    "deferred",
    "expired",
    "pending",
    "rejected",
    "submitted",
    "complained",
)

# Groups up to this many come back from DuckDB as Python rows (no pyarrow, and here no polars either).
PYTHON_ROWS = 20_000

Row = dict[str, Any]


def check_confidence(confidence: float) -> float:
    """A confidence level usable for an interval, else InputError."""
    try:
        z_for_confidence(confidence)
    except (ValueError, TypeError):
        raise InputError(f"confidence must be strictly between 0 and 1, got {confidence!r}") from None
    return confidence


def check_min_volume(min_volume: int) -> int:
    """A usable minimum volume, else InputError."""
    if min_volume < 0:
        raise InputError(f"min-volume must be >= 0, got {min_volume}")
    return min_volume


def rates_sql(con: duckdb.DuckDBPyConnection, slots: dict[str, str]) -> str:
    """rates.sql for this connection: recipients from its cache or stored table when there is one."""
    complaints = sqlfiles.render(
        "complaints" if sqlfiles.table_exists(con, "complaints") else "complaints_none"
    )
    table = recipients_table(con)
    if table is None:
        return sqlfiles.render("rates", {**slots, "complaints": complaints})
    recipients = f"SELECT * FROM {table}"
    if not con.sql(f"SELECT COUNT(*) FROM (\n{complaints}\n) c").fetchall()[0][0]:
        # DuckDB only. rates.sql reads a recipient's message_key and recipient solely to match complaints;
        # with none to match, every is_complained is 0 whatever they hold, so the scan skips the two
        # widest columns of the table (~0.1 s of a cold read on the 10M-line store).
        recipients = (
            f"SELECT * REPLACE (CAST(NULL AS VARCHAR) AS message_key, CAST(NULL AS VARCHAR) AS recipient) "
            f"FROM {table}"
        )
    sql = sqlfiles.render("rates", {**slots, "recipients": recipients, "complaints": complaints})
    return _inline_recipients(sql)


_RECIPIENTS_CTE = "WITH recipients AS ("


def _inline_recipients(sql: str) -> str:
    """DuckDB only: read a stored or cached recipients table where the query names it, not a copy.

    DuckDB materialises a CTE used more than once (rates.sql uses `recipients` three times): right for the
    live window, which must run once, but for a table it only copies 1.5M rows (~0.1 s on a 10M-line
    store) that a scan reads just as fast; the complaint joins read only complained messages' rows."""
    if _RECIPIENTS_CTE not in sql:
        raise AssertionError("rates.sql no longer starts its recipients CTE as expected")
    return sql.replace(_RECIPIENTS_CTE, "WITH recipients AS NOT MATERIALIZED (", 1)


def relay_unknown(dims: Sequence[str], filters: Filters) -> bool:
    """Whether refusals are unknown (null): they never reach a relay, so relay dimensions exclude them."""
    return bool(RELAY_DIMENSIONS & (set(dims) | filters.dimensions()))


def finish_row(raw: Row, dims: Sequence[str], unknown_refusals: bool) -> Row:
    """One raw row of the rates query as counts (rates.finish_counts, for one row): nulls are zero,
    `submitted` is attempted + rejected, refusals are null when `unknown_refusals`."""
    row: Row = {d: raw[d] for d in dims}
    for c in COUNT_COLUMNS:
        row[c] = row["attempted"] + row["rejected"] if c == "submitted" else int(raw[c] or 0)
    if unknown_refusals:
        row["rejected"] = row["submitted"] = None
    return row


class _Column:
    """A column of floats for stats.wilson_bounds, which is generic over arithmetic: element-wise
    operators, and `** 0.5` as math.sqrt, which is what polars evaluates for it (C pow, behind a float's
    `** 0.5`, can be one ulp off), so this route gives the frame route's bits."""

    __slots__ = ("values",)

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def _map(
        self, other: _Column | float, op: Callable[[float, float], float], *, flip: bool = False
    ) -> _Column:
        if isinstance(other, _Column):
            pairs = zip(self.values, other.values, strict=True)
            return _Column([op(b, a) if flip else op(a, b) for a, b in pairs])
        return _Column([op(other, a) if flip else op(a, other) for a in self.values])

    def __add__(self, other: _Column | float) -> _Column:
        return self._map(other, operator.add)

    def __radd__(self, other: float) -> _Column:
        return self._map(other, operator.add, flip=True)

    def __sub__(self, other: _Column | float) -> _Column:
        return self._map(other, operator.sub)

    def __rsub__(self, other: float) -> _Column:
        return self._map(other, operator.sub, flip=True)

    def __mul__(self, other: _Column | float) -> _Column:
        return self._map(other, operator.mul)

    def __rmul__(self, other: float) -> _Column:
        return self._map(other, operator.mul, flip=True)

    def __truediv__(self, other: _Column | float) -> _Column:
        return self._map(other, operator.truediv)

    def __rtruediv__(self, other: float) -> _Column:
        return self._map(other, operator.truediv, flip=True)

    def __pow__(self, exponent: float) -> _Column:
        if exponent != 0.5:
            raise NotImplementedError("only the square root is needed")
        return _Column([math.sqrt(a) for a in self.values])


def add_rate_fields(rows: list[Row], *, z: float, min_volume: int) -> list[Row]:
    """Each rate with its Wilson bounds, `gated` and `flags` added to rows of counts (rates.add_rates,
    on rows): a rate with a null or zero denominator is null, as are its bounds."""
    for d in RATE_DEFINITIONS:
        for row in rows:
            row[d.name] = row[f"{d.name}_low"] = row[f"{d.name}_high"] = None
        known = [r for r in rows if r[d.numerator] is not None and (r[d.denominator] or 0) > 0]
        k = _Column([float(r[d.numerator]) for r in known])
        n = _Column([float(r[d.denominator]) for r in known])
        lows, highs = wilson_bounds(k, n, z)
        for row, kk, nn, lo, hi in zip(known, k.values, n.values, lows.values, highs.values, strict=True):
            row[d.name] = kk / nn
            row[f"{d.name}_low"] = 0.0 if kk == 0 else min(max(lo, 0.0), 1.0)
            row[f"{d.name}_high"] = 1.0 if kk == nn else min(max(hi, 0.0), 1.0)
    denominators = {d.name: d.denominator for d in RATE_DEFINITIONS}
    for row in rows:
        gated = row["attempted"] < min_volume or row["attempted"] == 0
        row["gated"] = gated
        row["flags"] = [
            t.label for t in THRESHOLDS if not gated and _breached(row, t, denominators, min_volume)
        ]
    return rows


def _breached(row: Row, t: Threshold, denominators: dict[str, str], min_volume: int) -> bool:
    n, low = row[denominators[t.rate]], row[f"{t.rate}_low"]
    return n is not None and n >= min_volume and low is not None and low >= t.level


def _sort_key(dims: Sequence[str]) -> Any:
    # Ascending by each dimension, nulls last (as rates.finish_counts sorts the frame).
    return lambda row: tuple((row[d] is None, row[d]) for d in dims)


def rate_rows(
    con: duckdb.DuckDBPyConnection,
    by: Sequence[str],
    filters: Filters | None = None,
    *,
    confidence: float,
    min_volume: int,
) -> tuple[list[str], list[Row]] | None:
    """rates.rates() as (column names, rows of dicts), or None when there are more than PYTHON_ROWS
    groups (then use rates.rates())."""
    dims = check_dimensions(by)
    z = z_for_confidence(check_confidence(confidence))
    check_min_volume(min_volume)
    filters = filters or Filters()
    where, params = where_sql(filters)
    sql = rates_sql(con, {**sqlfiles.group_slots(dims), "where": where})
    result = sqlfiles.query_rows(con, sql, params, "metric query rates", limit=PYTHON_ROWS)
    if result is None:
        return None
    names, raw = result
    unknown = relay_unknown(dims, filters)
    rows = [finish_row(dict(zip(names, r, strict=True)), dims, unknown) for r in raw]
    if dims:
        rows.sort(key=_sort_key(dims))
    add_rate_fields(rows, z=z, min_volume=min_volume)
    columns = [*dims, *COUNT_COLUMNS]
    for d in RATE_DEFINITIONS:
        columns += [d.name, f"{d.name}_low", f"{d.name}_high"]
    return [*columns, "gated", "flags"], rows
