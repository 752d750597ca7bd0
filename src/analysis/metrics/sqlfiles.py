"""Load, assemble and run the metric SQL files; translate them for Spark.

Queries are composed from fragments: `{{name}}` in a .sql file is replaced by a slot the caller fills
(only validated dimension names and generated parameter names, never values) or else by the fragment
`sql/name.sql`. Values are bound as `$name` parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import polars as pl

from analysis.errors import WorkbenchError

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


def run(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any], slots: Mapping[str, str]
) -> pl.DataFrame:
    """Render and execute a metric query; database errors become one-line WorkbenchErrors."""
    return query_frame(con, render(name, slots), params, f"metric query {name}")


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None, what: str
) -> pl.DataFrame:
    """Execute SQL into polars; database errors become one-line WorkbenchErrors naming `what`."""
    try:
        df: pl.DataFrame = con.sql(sql, params=dict(params or {}) or None).pl()
        return df
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
