"""Vectorised classification for ingest and reclassify: millions of rows, few distinct replies.

Work per row is hashing and joining; the Python rule engine runs once per distinct
(status, dsn, code, normalised reply, stage, provider). Delivered rows skip the reply entirely.
"""

from __future__ import annotations

import polars as pl

from analysis.classify.engine import DELIVERED_STATUSES, classify_key
from analysis.classify.normalize import normalize_reply_expr
from analysis.classify.providers import provider_expr
from analysis.classify.rules import RuleSet

INPUT_COLUMNS = ("status", "dsn", "reply_code", "reply", "smtp_stage", "relay_host", "recipient_domain")
_STRING_INPUTS = ("status", "dsn", "reply", "smtp_stage", "relay_host", "recipient_domain")
_KEY = ("_st", "_dsn", "_code", "_norm", "_stage", "provider")


def _inputs(df: pl.DataFrame) -> pl.DataFrame:
    """The seven input columns, typed, with '' read as missing (absent columns are all-null)."""
    cols: list[pl.Expr] = []
    for name in _STRING_INPUTS:
        col = pl.col(name).cast(pl.String) if name in df.columns else pl.lit(None, dtype=pl.String)
        cols.append(pl.when(col == "").then(None).otherwise(col).alias(name))
    code = pl.col("reply_code").cast(pl.Int64) if "reply_code" in df.columns else pl.lit(None, pl.Int64)
    cols.append(code.alias("reply_code"))
    return df.select(cols)


def classify_frame(df: pl.DataFrame, rules: RuleSet | None = None, *, with_dsn: bool = False) -> pl.DataFrame:
    """`df` with `provider`, `reason`, `severity` added (replaced if present); `dsn_effective` too if asked.

    Input columns (any may be absent or null): status, dsn, reply_code, reply, smtp_stage, relay_host,
    recipient_domain. Rows keep their order.
    """
    work = _inputs(df)
    work = work.with_columns(provider=provider_expr(work), _st=pl.col("status").str.to_lowercase())
    # The reply matters only for attempts that did not succeed or expire.
    needs_text = pl.col("_st").is_null() | ~pl.col("_st").is_in([*DELIVERED_STATUSES, "expired"])
    work = work.with_columns(_reply=pl.when(needs_text).then(pl.col("reply")))
    replies = work.select("_reply").unique().with_columns(_norm=normalize_reply_expr(pl.col("_reply")))
    work = work.join(replies, on="_reply", how="left", nulls_equal=True, maintain_order="left")
    work = work.rename({"dsn": "_dsn", "reply_code": "_code", "smtp_stage": "_stage"})

    keys = work.select(_KEY).unique()
    verdicts = [
        classify_key(st, dsn, code, norm, stage, prov, rules)
        for st, dsn, code, norm, stage, prov in keys.iter_rows()
    ]
    keyed = keys.with_columns(
        pl.Series("reason", [v[0] for v in verdicts], dtype=pl.String),
        pl.Series("severity", [v[1] for v in verdicts], dtype=pl.String),
        pl.Series("dsn_effective", [v[2] for v in verdicts], dtype=pl.String),
    )
    out = work.select(_KEY).join(keyed, on=list(_KEY), how="left", nulls_equal=True, maintain_order="left")
    added = [out["provider"], out["reason"], out["severity"]]
    if with_dsn:
        added.append(out["dsn_effective"])
    return df.with_columns(added)
