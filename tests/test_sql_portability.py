"""Every metric SQL file transpiles to Spark SQL (golden files) and keeps to the portable subset.

Regenerate the goldens after a deliberate SQL change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
import sqlglot
from polars.testing import assert_frame_equal
from sqlglot import exp

from analysis.metrics import Filters, sqlfiles
from analysis.metrics.filters import where_sql
from test_metrics import open_store

GOLDEN = Path(__file__).parent / "golden" / "spark"
SQL_FILES = sqlfiles.names()
# One representative filling of every slot: a two-dimension grouping, a window and a dimension filter.
WHERE, PARAMS = where_sql(
    Filters(
        since=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        until=dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
        where={"provider": "google"},
    )
)
STATUSES = {"s0": "bounced", "s1": "deferred", "s2": "rejected"}
SLOTS = {
    **sqlfiles.group_slots(("sender_domain", "day")),
    "where": WHERE,
    "complaints": sqlfiles.render("complaints"),
    "statuses": ", ".join(f"${k}" for k in STATUSES),
    "bucket": "hour",
}
DUCKDB_ONLY = [
    (r"\bGROUP\s+BY\s+ALL\b", "GROUP BY ALL"),
    (r"\bORDER\s+BY\s+ALL\b", "ORDER BY ALL"),
    (r"::", "'::' casts"),
    (r"\bQUALIFY\b", "QUALIFY"),
    (r"\bEXCLUDE\s*\(", "SELECT * EXCLUDE"),
    (
        r"\b(arg_max|arg_min|list_\w+|struct_pack|epoch_ms|strftime|regexp_matches)\s*\(",
        "DuckDB-only function",
    ),
    (r"\bHUGEINT\b", "HUGEINT"),
]


def rendered(name: str) -> str:
    return sqlfiles.render(name, SLOTS)


def test_every_file_is_covered() -> None:
    assert {"rates", "latency", "replies", "volume", "attempts", "recipients", "rejects"} <= set(SQL_FILES)
    stale = {p.stem for p in GOLDEN.glob("*.sql")} - set(SQL_FILES)
    assert not stale, f"golden files without a SQL file: {stale}"


@pytest.mark.parametrize("name", SQL_FILES)
def test_transpiles_to_golden_spark(name: str) -> None:
    spark = sqlfiles.to_spark(rendered(name)) + "\n"
    golden = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(spark, encoding="utf-8")
    assert golden.exists(), f"no golden Spark SQL for {name}; run with UPDATE_GOLDEN=1"
    assert spark == golden.read_text(encoding="utf-8")
    # The Spark text must itself parse as Spark, with no DuckDB parameter syntax left over.
    sqlglot.parse_one(spark, read="spark")
    assert not re.search(r"\$[A-Za-z_]", spark)


@pytest.mark.parametrize("name", SQL_FILES)
def test_no_duckdb_only_constructs(name: str) -> None:
    text = sqlfiles.load(name)
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    for pattern, what in DUCKDB_ONLY:
        assert not re.search(pattern, code, re.IGNORECASE), f"{name}.sql uses {what}"


@pytest.mark.parametrize("name", SQL_FILES)
def test_portable_aggregates(name: str) -> None:
    tree = sqlglot.parse_one(rendered(name), read="duckdb")
    for node in tree.find_all(exp.Sum):
        if isinstance(node.parent, exp.Window):
            continue  # a window count used in a comparison, never an output column
        assert isinstance(node.parent, exp.Cast) and node.parent.to.this == exp.DataType.Type.BIGINT, (
            f"{name}.sql: SUM without CAST(... AS BIGINT): {node.sql()}"
        )
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if not group:
            continue
        aliases = {p.alias: p.this for p in select.expressions if isinstance(p, exp.Alias)}
        for g in group.expressions:
            if isinstance(g, exp.Column) and g.name in aliases:
                target = aliases[g.name]
                assert isinstance(target, exp.Column) and target.name == g.name, (
                    f"{name}.sql groups by the select alias {g.name!r}"
                )


def test_guards_catch_violations() -> None:
    # The checks above must be able to fail.
    bad = "SELECT date_trunc('hour', t) AS bucket, SUM(x) AS n FROM f GROUP BY bucket"
    tree = sqlglot.parse_one(bad, read="duckdb")
    assert any(not isinstance(s.parent, exp.Cast) for s in tree.find_all(exp.Sum))
    assert re.search(DUCKDB_ONLY[0][0], "SELECT a FROM t GROUP BY ALL", re.IGNORECASE)
    with pytest.raises(sqlglot.errors.ParseError):
        sqlfiles.to_spark("SELECT FROM WHERE")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    yield from open_store(tmp_path_factory, with_complaints=True)


# Round trip: the Spark text, read back into DuckDB by sqlglot, computes the same result on the fixture.
# latency is left out: sqlglot maps Spark's exact percentile() back to DuckDB's discrete quantile().
@pytest.mark.parametrize("name", ["rates", "replies", "volume", "window"])
def test_spark_text_means_the_same(store: duckdb.DuckDBPyConnection, name: str) -> None:
    params = {**PARAMS, **(STATUSES if name == "replies" else {})}
    original = store.sql(rendered(name), params=params).pl()
    back = sqlglot.transpile(sqlfiles.to_spark(rendered(name)), read="spark", write="duckdb")[0]
    again = store.sql(back, params=params).pl()
    assert original.height > 0
    sort = [c for c in original.columns if original[c].dtype != pl.List]
    assert_frame_equal(
        original.sort(sort, nulls_last=True), again.sort(sort, nulls_last=True), check_dtypes=False
    )
