"""Re-apply the current rules to a stored database, after a rule change, in one transaction."""

from __future__ import annotations

from importlib import resources

import duckdb
import polars as pl

from analysis.classify.frame import classify_frame
from analysis.classify.rules import RuleSet
from analysis.store.db import write_transaction

# pending_events too: their verdicts are copied again when their messages are re-emitted.
TABLES = ("deliveries", "rejections", "pending_events")
_VERDICT = ("provider", "reason", "severity")


def _sql(name: str) -> str:
    return resources.files("analysis.classify").joinpath("sql", name).read_text(encoding="utf-8")


def changed_rows(current: pl.DataFrame, rules: RuleSet | None = None) -> pl.DataFrame:
    """Rows (file_id, line_no, new verdict, old reason) whose provider/reason/severity would change."""
    old = current.select("file_id", "line_no", *[pl.col(c).alias(f"old_{c}") for c in _VERDICT])
    new = classify_frame(current.drop(*_VERDICT), rules)
    both = pl.concat(
        [new.select("file_id", "line_no", *_VERDICT), old.drop("file_id", "line_no")], how="horizontal"
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"old_{c}")) for c in _VERDICT])
    return both.filter(differs).select("file_id", "line_no", *_VERDICT, "old_reason")


def reclassify(con: duckdb.DuckDBPyConnection, rules: RuleSet | None = None) -> pl.DataFrame:
    """Update deliveries and rejections where the verdict changed; returns counts per table and new reason."""
    counts: list[pl.DataFrame] = []
    with write_transaction(con):
        for table in TABLES:
            current = con.sql(_sql(f"select_{table}.sql")).pl()
            changed = changed_rows(current, rules)
            if changed.height:
                con.register("reclassified", changed.drop("old_reason").to_arrow())
                try:
                    con.execute(_sql(f"update_{table}.sql"))
                finally:
                    con.unregister("reclassified")
            counts.append(
                changed.group_by("reason")
                .agg(pl.len().cast(pl.Int64).alias("changed"))
                .select(pl.lit(table).alias("table"), "reason", "changed")
            )
    out = pl.concat(counts) if counts else pl.DataFrame()
    return out.sort(["table", "changed", "reason"], descending=[False, True, False], nulls_last=True)
