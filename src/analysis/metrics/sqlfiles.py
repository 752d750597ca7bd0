"""Load, assemble and run the metric SQL files; translate them for Spark.

Queries are composed from fragments: `{{name}}` in a .sql file is replaced by a slot the caller fills
(only validated dimension names and generated parameter names, never values) or else by the fragment
`sql/name.sql`. Values are bound as `$name` parameters.

On a read-only connection `run` remembers each (query, parameters) → frame for the connection's lifetime:
its data cannot change while it is open, and a report asks some questions several times (the summary
and a section both want rates by sender domain, latency overall, ...).

polars is imported only where a frame is made: the rates command reads plain rows and never loads it
(about a third of that short process's CPU time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import duckdb

from analysis.errors import WorkbenchError

if TYPE_CHECKING:
    import polars as pl

_SLOT = re.compile(r"\{\{(\w+)\}\}")


@cache
def load(name: str) -> str:
    """The text of sql/<name>.sql (`name` may name a subdirectory: "duckdb/stamp")."""
    path = resources.files("analysis.metrics").joinpath("sql", *f"{name}.sql".split("/"))
    if not path.is_file():
        raise KeyError(f"no metric SQL file {name}.sql")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """Every metric SQL file (without .sql); sql/duckdb/ holds engine-specific helpers, not metrics."""
    root = resources.files("analysis.metrics").joinpath("sql")
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".sql"))


def render(name: str, slots: Mapping[str, str] | None = None, _depth: int = 0) -> str:
    """sql/<name>.sql with every {{slot}} filled from `slots` or from the fragment of that name."""
    if _depth > 8:
        raise ValueError(f"SQL fragments nest too deep at {name}")
    filled = dict(slots or {})

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in filled:
            return filled[key]
        return render(key, filled, _depth + 1)

    return _SLOT.sub(fill, load(name))


def group_slots(by: Sequence[str]) -> dict[str, str]:
    """Slots for a grouped query; `by` must already be validated dimension names."""
    if not by:
        return {"by_select": "", "group_by": ""}
    cols = ", ".join(by)
    return {"by_select": cols + ",", "group_by": f"GROUP BY {cols}"}


_READ_ONLY: WeakKeyDictionary[duckdb.DuckDBPyConnection, bool] = WeakKeyDictionary()
_Key = tuple[str, tuple[tuple[str, Any], ...]]
# What one connection may keep: a long notebook session asking with many filters must not grow without
# bound (a report keeps a few MB; the raw reply texts of a 10M-line store are ~20 MB).
MEMO_BYTES = 256 * 2**20


class _Memo:
    """Frames by (sql, parameters), oldest dropped first once they exceed MEMO_BYTES together."""

    def __init__(self) -> None:
        self.frames: dict[_Key, pl.DataFrame] = {}
        self.size = 0.0  # bytes, as polars estimates them

    def get(self, key: _Key) -> pl.DataFrame | None:
        return self.frames.get(key)

    def put(self, key: _Key, frame: pl.DataFrame) -> None:
        old = self.frames.pop(key, None)
        self.size -= old.estimated_size() if old is not None else 0
        self.frames[key] = frame
        self.size += frame.estimated_size()
        while self.size > MEMO_BYTES and len(self.frames) > 1:
            dropped = self.frames.pop(next(iter(self.frames)))
            self.size -= dropped.estimated_size()


_RESULTS: WeakKeyDictionary[duckdb.DuckDBPyConnection, _Memo] = WeakKeyDictionary()


def read_only(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection is read-only (then nothing can change its data while it is open)."""
    known = _READ_ONLY.get(con)
    if known is None:
        rows = con.sql("SELECT current_setting('access_mode')").fetchall()
        known = _READ_ONLY[con] = rows[0][0] == "read_only"
    return known


def run(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any], slots: Mapping[str, str]
) -> pl.DataFrame:
    """Render and execute a metric query; database errors become one-line WorkbenchErrors."""
    return run_rendered(con, name, render(name, slots), params)


def _memo_key(sql: str, params: Mapping[str, Any]) -> _Key | None:
    """(sql, sorted parameters), or None when a parameter value cannot be a key (then nothing is kept)."""
    key = (sql, tuple(sorted(params.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def run_rendered(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    params: Mapping[str, Any],
    *,
    python_rows: int = 0,
) -> pl.DataFrame:
    """Execute the rendered text of metric query `name` (remembered on read-only connections)."""
    what = f"metric query {name}"
    key = _memo_key(sql, params)
    if key is None or not read_only(con):
        return query_frame(con, sql, params, what, python_rows=python_rows)
    memo = _RESULTS.setdefault(con, _Memo())
    frame = memo.get(key)
    if frame is None:
        frame = query_frame(con, sql, params, what, python_rows=python_rows)
        memo.put(key, frame)
    return frame.clone()


def prefetch(
    con: duckdb.DuckDBPyConnection,
    name: str,
    groupings: Sequence[Sequence[str]],
    params: Mapping[str, Any],
    render_for: Callable[[Sequence[str], Mapping[str, str]], str],
) -> None:
    """Answer several groupings of one metric query in a single pass (DuckDB GROUPING SETS) and remember
    each grouping's rows as the result of its own query, so later calls cost nothing.

    `render_for(dims, group)` renders the query for grouping `dims` with the grouping slots `group`
    (by_select/group_by); the query must select the `by_select` columns first, then its values. Only on
    read-only connections with at least two groupings and one dimension (elsewhere nothing happens)."""
    wanted = [tuple(g) for g in groupings]
    union = tuple(dict.fromkeys(d for dims in wanted for d in dims))
    if not read_only(con) or len(wanted) < 2 or not union:
        return
    cols = ", ".join(union)
    sets = ", ".join("(" + ", ".join(dims) + ")" for dims in wanted)
    group = {
        "by_select": f"{cols}, GROUPING({cols}) AS grouping_id,",
        "group_by": f"GROUP BY GROUPING SETS ({sets})",
    }
    import polars as pl

    every = run_rendered(con, f"{name} (grouping sets)", render_for(union, group), params)
    values = [c for c in every.columns if c not in union and c != "grouping_id"]
    for dims in wanted:
        # GROUPING() sets the bit of each column left out of the grouping, the first column highest.
        grouping_id = sum(1 << (len(union) - 1 - i) for i, d in enumerate(union) if d not in dims)
        part = every.filter(pl.col("grouping_id") == grouping_id).select(*dims, *values)
        remember(con, render_for(dims, group_slots(dims)), params, part)


def remember(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any], frame: pl.DataFrame
) -> None:
    """Record `frame` as the result of `sql` on a read-only connection (computed another way, e.g. as
    one grouping set of a wider query); later run_rendered calls of that text return it."""
    key = _memo_key(sql, params)
    if key is not None and read_only(con):
        _RESULTS.setdefault(con, _Memo()).put(key, frame)


@cache
def _python_types() -> dict[str, pl.DataType]:
    """DuckDB column types a result may come back in as Python rows, with the polars type Arrow would give."""
    import polars as pl

    return {
        "BIGINT": pl.Int64(),
        "INTEGER": pl.Int32(),
        "DOUBLE": pl.Float64(),
        "VARCHAR": pl.String(),
        "BOOLEAN": pl.Boolean(),
        "DATE": pl.Date(),
        "TIMESTAMP": pl.Datetime("us"),
    }


def _python_schema(
    con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation
) -> dict[str, pl.DataType] | None:
    """The polars schema of a result of plain scalar columns, else None (then Arrow converts it)."""
    import polars as pl

    types = _python_types()
    schema: dict[str, pl.DataType] = {}
    for name, duck_type in zip(rel.columns, rel.types, strict=True):
        text = str(duck_type)
        if text == "TIMESTAMP WITH TIME ZONE":
            zone = con.sql("SELECT current_setting('TimeZone')").fetchall()[0][0]
            dtype: pl.DataType | None = pl.Datetime("us", zone)
        else:
            dtype = types.get(text)
        if dtype is None or name in schema:
            return None
        schema[name] = dtype
    return schema


def query_frame(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: Mapping[str, Any] | None,
    what: str,
    *,
    python_rows: int = 0,
) -> pl.DataFrame:
    """Execute SQL into polars; database errors become one-line WorkbenchErrors naming `what`.

    A result of at most `python_rows` rows of plain columns is read as Python rows: the same frame, and a
    process that never needs Arrow (the rates command) does not import pyarrow (0.15-0.25 s of its
    start-up). A longer result is read again through Arrow."""
    import polars as pl

    with _one_line_errors(what):
        rel = con.sql(sql, params=dict(params or {}) or None)
        schema = _python_schema(con, rel) if python_rows > 0 else None
        if schema is not None:
            rows = rel.limit(python_rows + 1).fetchall()
            if len(rows) <= python_rows:
                return pl.DataFrame(rows, schema=schema, orient="row")
        df: pl.DataFrame = rel.pl()
        return df


def query_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None, what: str, *, limit: int
) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """Execute SQL into (column names, Python rows) without polars; None when it has more than `limit`
    rows (the caller then takes the frame route). Database errors become one-line WorkbenchErrors."""
    with _one_line_errors(what):
        rel = con.sql(sql, params=dict(params or {}) or None)
        rows = rel.limit(limit + 1).fetchall()
        return None if len(rows) > limit else (list(rel.columns), rows)


@contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    try:
        yield
    except duckdb.CatalogException as exc:
        raise WorkbenchError(
            f"{what}: {str(exc).splitlines()[0]} (is this a deliverability database?)"
        ) from None
    except duckdb.Error as exc:
        raise WorkbenchError(f"{what} failed: {str(exc).splitlines()[0]}") from None


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether a table or view of that name exists in the open database."""
    rows = con.sql(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $t", params={"t": table}
    ).fetchall()
    return bool(rows[0][0])


def to_spark(sql: str, *, pretty: bool = True) -> str:
    """Transpile one DuckDB-dialect metric query to Spark SQL; unsupported constructs raise."""
    import sqlglot  # imported here: the CLI should not pay for the parser on every start
    from sqlglot import exp

    def fixup(node: exp.Expression) -> exp.Expression:
        # sqlglot writes DuckDB's quantile_cont(x, p) as PERCENTILE_CONT(x, p), which Spark rejects;
        # Spark's exact, linearly interpolated equivalent is percentile(x, p).
        if isinstance(node, exp.PercentileCont) and not isinstance(node.parent, exp.WithinGroup):
            return exp.Quantile(this=node.this, quantile=node.expression)
        return node

    tree = sqlglot.parse_one(sql, read="duckdb").transform(fixup)
    return tree.sql(dialect="spark", pretty=pretty, unsupported_level=sqlglot.ErrorLevel.RAISE)
