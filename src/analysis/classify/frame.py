"""Vectorised classification for ingest and reclassify: millions of rows, few distinct replies.

Delivered and expired rows are decided by (status, dsn) alone. For the others, each distinct raw reply
is masked once (normalize_reply_expr), and the rule engine runs once per distinct (status, dsn, code,
normalised reply, stage, provider) — with stage and provider reduced to the values some rule actually
conditions on, which leaves the verdict unchanged and the number of distinct keys small. Verdicts are
joined back and scattered into place, so rows keep their order.
"""

from __future__ import annotations

import polars as pl

from analysis.classify.engine import (
    DSN_PATTERN,
    OUTCOME_STATUSES,
    STAGE_ALIASES,
    classify_key,
    status_outcome,
)
from analysis.classify.normalize import normalize_reply_expr
from analysis.classify.providers import provider_series
from analysis.classify.rules import RuleSet, default_rules

INPUT_COLUMNS = ("status", "dsn", "reply_code", "reply", "smtp_stage", "relay_host", "recipient_domain")
_STRING_INPUTS = ("status", "dsn", "reply", "smtp_stage", "relay_host", "recipient_domain")
_VERDICT = ("reason", "severity", "dsn_effective")


def _inputs(df: pl.DataFrame) -> pl.DataFrame:
    """The seven input columns, typed, with '' read as missing (absent columns are all-null)."""
    cols: list[pl.Expr] = []
    for name in _STRING_INPUTS:
        col = pl.col(name).cast(pl.String) if name in df.columns else pl.lit(None, dtype=pl.String)
        cols.append(pl.when(col != "").then(col).alias(name))
    code = pl.col("reply_code").cast(pl.Int64) if "reply_code" in df.columns else pl.lit(None, pl.Int64)
    cols.append(code.alias("reply_code"))
    return df.select(cols)


def _verdicts(
    keys: pl.DataFrame, verdicts: list[tuple[str | None, str | None, str | None, str | None]]
) -> pl.DataFrame:
    return keys.with_columns(
        pl.Series(name, [v[i] for v in verdicts], dtype=pl.String) for i, name in enumerate(_VERDICT)
    )


def _outcome_exprs(statuses: list[str]) -> list[pl.Expr]:
    """Verdict columns for delivered/expired rows, built from `status_outcome` (no per-row Python)."""
    reason: pl.Expr = pl.lit(None, pl.String)
    severity: pl.Expr = pl.lit(None, pl.String)
    for st in statuses:
        r, sev, _dsn, _rule = status_outcome(st, None)
        reason = pl.when(pl.col("_st") == st).then(pl.lit(r, pl.String)).otherwise(reason)
        severity = pl.when(pl.col("_st") == st).then(pl.lit(sev, pl.String)).otherwise(severity)
    dsn = pl.when(pl.col("dsn").str.contains(DSN_PATTERN)).then(pl.col("dsn"))
    return [reason.alias("reason"), severity.alias("severity"), dsn.alias("dsn_effective")]


def _reply_rows(work: pl.DataFrame, rules: RuleSet) -> pl.DataFrame:
    """Verdicts for attempts that failed or were deferred: mask distinct replies, classify distinct keys."""
    replies = work.select("reply").unique().with_columns(_norm=normalize_reply_expr(pl.col("reply")))
    work = work.join(replies, on="reply", how="left", nulls_equal=True, maintain_order="left")
    stages, providers = rules.stages_used, rules.providers_used
    # A given stage no rule uses becomes "other" (not None: None would make the engine read the text).
    stripped = pl.col("smtp_stage").str.strip_chars().str.to_lowercase()
    stage = pl.when(stripped != "").then(stripped).replace(STAGE_ALIASES)
    work = work.with_columns(
        _stage=pl.when(stage.is_in(list(stages))).then(stage).when(stage.is_not_null()).then(pl.lit("other")),
        _prov=pl.when(pl.col("provider").is_in(list(providers))).then(pl.col("provider"))
        if providers
        else pl.lit(None, pl.String),
    )
    key = ["_st", "dsn", "reply_code", "_norm", "_stage", "_prov"]
    keys = work.select(key).unique()
    keyed = _verdicts(keys, [classify_key(*row, rules) for row in keys.iter_rows()])
    return work.select(key).join(keyed, on=key, how="left", nulls_equal=True, maintain_order="left")


def classify_frame(df: pl.DataFrame, rules: RuleSet | None = None, *, with_dsn: bool = False) -> pl.DataFrame:
    """`df` with `provider`, `reason`, `severity` added (replaced if present); `dsn_effective` too if asked.

    Input columns (any may be absent or null): status, dsn, reply_code, reply, smtp_stage, relay_host,
    recipient_domain. Rows keep their order. Equals `classify_reply` row by row.
    """
    ruleset = rules or default_rules()
    work = _inputs(df)
    work = work.with_columns(
        provider=provider_series(work["recipient_domain"], work["relay_host"]),
        _st=pl.col("status").str.to_lowercase(),
    )
    outcome = work["_st"].is_in(list(OUTCOME_STATUSES)).fill_null(False)
    present = sorted(OUTCOME_STATUSES & set(work["_st"].unique().to_list()))
    out = work.select(_outcome_exprs(present))
    idx = (~outcome).arg_true()
    if idx.len():
        part = _reply_rows(work.filter(~outcome), ruleset)
        out = out.with_columns(out[name].scatter(idx, part[name]) for name in _VERDICT)
    added = [work["provider"], out["reason"], out["severity"]]
    if with_dsn:
        added.append(out["dsn_effective"])
    return df.with_columns(added)
