"""The lake's table schemas, taken from the store's own DDL so that Spark writes exactly the DuckDB types.

Engine-neutral mapping: VARCHAR → string, INTEGER → int32, BIGINT → int64, DOUBLE → float64, BOOLEAN →
bool, TIMESTAMPTZ → UTC microsecond timestamps (Parquet TIMESTAMP_MICROS, adjusted to UTC).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pyarrow as pa

# The tables a Spark ingest writes (the relay-log facts and their bookkeeping).
LAKE_TABLES = ("ingest_files", "quarantine", "messages", "deliveries", "rejections")

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
}


@cache
def table_schema(table: str) -> pa.Schema:
    """Column names and Arrow types of a core table, in the store's column order."""
    import duckdb

    ddl = resources.files("analysis.store").joinpath("migrations", "010_core.sql").read_text(encoding="utf-8")
    con = duckdb.connect(":memory:")
    try:
        con.execute(ddl)
        rows = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise KeyError(f"no core table {table}")
    return pa.schema([(name, ARROW_TYPES[dtype]) for name, dtype in rows])


def union_schema(tables: tuple[str, ...], extra: list[tuple[str, pa.DataType]]) -> pa.Schema:
    """One wide schema holding the rows of several tables (a tag column tells them apart): a Spark stage
    has one output schema, and a name shared by two tables has one type in the store."""
    fields: dict[str, pa.DataType] = {}
    for name, dtype in extra:
        fields[name] = dtype
    for table in tables:
        for f in table_schema(table):
            if f.name in fields and fields[f.name] != f.type:
                raise TypeError(f"{table}.{f.name} is {f.type} here but {fields[f.name]} elsewhere")
            fields.setdefault(f.name, f.type)
    return pa.schema(list(fields.items()))


def conform(frame: pa.Table, schema: pa.Schema) -> pa.Table:
    """`frame` with exactly `schema`'s columns: absent ones null, the others cast (strings to plain utf8)."""
    cols = []
    for f in schema:
        if f.name in frame.column_names:
            cols.append(frame.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(frame.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)
