"""What the abuse notebooks show, as frames and sentences (no plotting here: see analysis.plots.abuse).

Why a module: the notebooks stay thin (parameters, one validation call, calls into the package) and the
same figures can be checked by tests without a kernel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from analysis.abuse.config import AbuseConfig, load_config
from analysis.abuse.evidence import evidence_rows
from analysis.abuse.facts import load_facts
from analysis.abuse.ranking import ACTIONS, SEVERITIES, Ranking, Suspect, explain, rank, rank_facts
from analysis.abuse.window import SCOPE_DIMENSIONS, Scope, Window, resolve_window
from analysis.classify import normalize_reply_expr
from analysis.errors import InputError
from analysis.timeutil import parse_when

SPARK_DAYS = 7  # sparklines show the window and this many days before it
PEER_FACTOR = 2.0  # peers send between 1/PEER_FACTOR and PEER_FACTOR times the subject's messages
MAX_MARKERS = 50


@dataclass(frozen=True)
class AbuseParams:
    """Validated parameters of the abuse notebooks."""

    db: Path
    start: dt.datetime | None
    end: dt.datetime | None
    min_severity: str
    kind: str
    subject: str
    config: AbuseConfig

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the database."""
        from analysis.store import connect

        return connect(self.db, read_only=True)

    def describe(self) -> str:
        """One line for the report header."""
        return f"minimum severity {self.min_severity}; thresholds: {self.config.source}"


def validate_params(**values: Any) -> AbuseParams:
    """Check and cast notebook parameters; InputError naming the parameter when one is wrong."""
    from analysis.reports.params import find_db  # the report layer's database lookup, imported on use

    db = find_db(str(values.get("db") or ""))
    if not db.is_file():
        raise InputError(f"parameter db: no database at {db}: run 'deliverability ingest' first")
    start = parse_when(str(values.get("start") or "") or None, name="parameter start")
    end = parse_when(str(values.get("end") or "") or None, name="parameter end")
    if start is not None and end is not None and start >= end:
        raise InputError(
            f"parameters start/end: start {start.isoformat()} is not before end {end.isoformat()}"
        )
    severity = str(values.get("min_severity") or "none")
    if severity not in SEVERITIES:
        raise InputError(f"parameter min_severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    kind = str(values.get("kind") or "account")
    if kind not in SCOPE_DIMENSIONS:
        raise InputError(f"parameter kind: {kind!r} is not one of {', '.join(SCOPE_DIMENSIONS)}")
    subject = str(values.get("subject") or "").strip()
    try:
        config = load_config(str(values.get("thresholds") or "") or None)
    except InputError as exc:
        raise InputError(f"parameter thresholds: {exc}") from None
    return AbuseParams(db, start, end, severity, kind, subject, config)


# ------------------------------------------------------------------------------------------- triage


def triage(con: duckdb.DuckDBPyConnection, p: AbuseParams) -> Ranking:
    """Every account of the window, ranked, at or above the minimum severity."""
    return rank(con, p.start, p.end, config=p.config).at_least(p.min_severity)


def hourly_series(ranking: Ranking, account: str, days: int = SPARK_DAYS) -> tuple[list[int], int]:
    """Messages per hour from `days` before the window to its end, and the index where the window starts."""
    w = ranking.window
    first = w.since - dt.timedelta(days=days)
    hours = int((w.until - first).total_seconds() // 3600)
    h = ranking.facts.hourly
    rows = h.filter(pl.col("account") == account) if not h.is_empty() else h
    counts = {
        _utc(x): int(c) for x, c in zip(rows["hour"].to_list(), rows["messages"].to_list(), strict=True)
    }
    series = [counts.get(first + dt.timedelta(hours=i), 0) for i in range(hours)]
    return series, days * 24


def _utc(x: dt.datetime) -> dt.datetime:
    return x.replace(tzinfo=dt.UTC) if x.tzinfo is None else x.astimezone(dt.UTC)


def triage_figures(ranking: Ranking, limit: int = 20) -> dict[str, Any]:
    """Key figures for the JSON summary beside the report (alerting)."""
    return {
        "window": {"since": ranking.window.since, "until": ranking.window.until},
        "accounts": len(ranking.suspects),
        "by_action": {a: sum(1 for s in ranking.suspects if s.action == a) for a in ACTIONS},
        "suspects": [
            {
                "account": s.account,
                "score": s.score,
                "severity": s.severity,
                "action": s.action,
                "raised": [x.name for x in s.signals if x.raised],
            }
            for s in ranking.suspects[:limit]
            if s.severity != "none"
        ],
    }


def triage_sentences(ranking: Ranking) -> list[str]:
    """The written summary at the top of the triage report."""
    if not ranking.suspects:
        return ["No account sent mail in this window (or none reaches the minimum severity)."]
    counts = triage_figures(ranking)["by_action"]
    out = [
        f"{len(ranking.suspects)} accounts judged: "
        + ", ".join(f"{counts[a]} {a}" for a in reversed(ACTIONS) if counts[a])
        + "."
    ]
    for s in ranking.suspects[:3]:
        if s.severity == "none":
            break
        out.append(f"{s.account}: {s.action} (score {s.score:.1f}, {s.severity}) — " + "; ".join(s.why[:3]))
    out.append(
        "Nothing stronger than warn is suggested without raised signals of two independent families; "
        "rates are judged on their Wilson lower bound with Benjamini–Hochberg control across accounts."
    )
    return out


def raised_signals(ranking: Ranking, limit: int = 10) -> pl.DataFrame:
    """The raised signals of the top `limit` accounts: what was measured, on how much, and a first queue ID."""
    rows = [
        {
            "account": s.account,
            "signal": x.name,
            "family": x.family,
            "measured": explain(x),
            "evidence": ", ".join(str(e.get("queue_id") or e.get("detail")) for e in x.evidence[:3]),
        }
        for s in ranking.suspects[:limit]
        for x in s.signals
        if x.raised
    ]
    return _frame(rows, ["account", "signal", "family", "measured", "evidence"])


# ------------------------------------------------------------------------------------ investigation


@dataclass(frozen=True)
class Investigation:
    """One subject (account, SASL username, sender domain or client IP) over a window."""

    kind: str
    subject: str
    scoped: Ranking  # the accounts whose mail matches the subject, judged on that mail only
    everyone: Ranking  # all accounts of the window (peers)

    @property
    def window(self) -> Window:
        """The judged window."""
        return self.scoped.window

    @property
    def account(self) -> str:
        """The verdict's account, '' when the subject sent nothing."""
        return self.verdict.account if self.verdict else ""

    @property
    def verdict(self) -> Suspect | None:
        """The highest-scored account within the subject, if any mail matched."""
        return self.scoped.suspects[0] if self.scoped.suspects else None

    def headline(self) -> list[str]:
        """Sentences: the verdict, why, and which accounts the subject's mail belongs to."""
        v = self.verdict
        if v is None:
            return [f"No mail of {self.kind} {self.subject or '(none)'} in {self.window.describe()}."]
        out = [f"Suggested action for {v.account}: {v.action} (score {v.score:.2f}, severity {v.severity})."]
        out += list(v.why) or ["No signal is raised."]
        whole = next((s for s in self.everyone.suspects if s.account == v.account), None)
        if self.kind != "account" and whole is not None:
            out.append(
                f"Judged on all its mail, {whole.account} is {whole.action} (score {whole.score:.2f}, "
                f"severity {whole.severity})."
            )
        if len(self.scoped.suspects) > 1:
            others = ", ".join(s.account for s in self.scoped.suspects[1:6])
            out.append(f"This {self.kind} also carries mail of: {others}.")
        return out

    def signals(self) -> pl.DataFrame:
        """The verdict's signals: judged figure, interval or score, n, threshold, why."""
        v = self.verdict
        rows = []
        for s in v.signals if v else ():
            rows.append(
                {
                    "signal": s.name,
                    "family": s.family,
                    "raised": s.raised,
                    "value": explain(s),
                    "n": s.n,
                    "threshold": s.threshold,
                    "q_value": s.q_value,
                    "note": s.note,
                }
            )
        return _frame(rows, ["signal", "family", "raised", "value", "n", "threshold", "q_value", "note"])

    def _accounts(self) -> list[str]:
        return [s.account for s in self.scoped.suspects]

    def timeline(self) -> pl.DataFrame:
        """Per hour of the window: messages submitted, attempts by status, complaints, policy rejections."""
        f = self.scoped.facts
        w = f.window
        hours = [w.since + dt.timedelta(hours=i) for i in range(int(w.hours))]
        msgs = f.hourly.filter(pl.col("hour") >= w.since) if not f.hourly.is_empty() else f.hourly
        per = {_utc(h): 0 for h in hours}
        data: dict[str, dict[dt.datetime, int]] = {
            k: dict(per)
            for k in ("messages", "sent", "bounced", "deferred", "complaints", "policy_rejections")
        }
        for h, c in zip(msgs["hour"].to_list(), msgs["messages"].to_list(), strict=True):
            data["messages"][_utc(h)] = data["messages"].get(_utc(h), 0) + int(c)
        for r in f.timeline.iter_rows(named=True):
            if r["status"] in ("sent", "bounced", "deferred"):
                h = _utc(r["hour"])
                data[r["status"]][h] = data[r["status"]].get(h, 0) + int(r["attempts"])
        for ts in f.complaints["ts"].drop_nulls().to_list():
            h = _utc(ts).replace(minute=0, second=0, microsecond=0)
            data["complaints"][h] = data["complaints"].get(h, 0) + 1
        p = self.scoped.config.patterns
        fail = f.failures
        if not fail.is_empty():
            pol = fail.filter(
                (pl.col("status") == "bounced")
                & (
                    pl.col("reason").is_in(list(p.policy_reasons)).fill_null(False)
                    | pl.col("dsn").is_in(list(p.policy_dsns)).fill_null(False)
                    | pl.col("reply").str.contains(f"(?i){p.policy_reply}").fill_null(False)
                )
            )
            for ts in pol["ts"].to_list():
                h = _utc(ts).replace(minute=0, second=0, microsecond=0)
                data["policy_rejections"][h] = data["policy_rejections"].get(h, 0) + 1
        keys = sorted(set().union(*(d.keys() for d in data.values())))
        return pl.DataFrame(
            {"hour": keys, **{k: [d.get(h, 0) for h in keys] for k, d in data.items()}},
            schema={"hour": pl.Datetime("us", "UTC"), **dict.fromkeys(data, pl.Int64)},
        )

    def markers(self) -> pl.DataFrame:
        """First appearance in the window of client IPs and sender domains the account never used before."""
        f = self.scoped.facts
        hist = f.history_identities
        rows: list[dict[str, Any]] = []
        for col, label in (("client_ip", "new client IP"), ("sender_domain", "new From domain")):
            win = f.messages.filter(pl.col(col).is_not_null())
            known = hist.select("account", col).unique() if not hist.is_empty() else hist
            new = win.join(known, on=["account", col], how="anti") if not known.is_empty() else win
            with_history = set(hist["account"].unique().to_list()) if not hist.is_empty() else set()
            first = (
                new.filter(pl.col("account").is_in(list(with_history)))
                .group_by("account", col)
                .agg(pl.col("first_seen").min())
            )
            rows += [
                {"ts": r["first_seen"], "kind": label, "value": r[col], "account": r["account"]}
                for r in first.iter_rows(named=True)
            ]
        rows.sort(key=lambda r: r["ts"])
        return _frame(rows[:MAX_MARKERS], ["ts", "kind", "value", "account"])

    def identities(self) -> pl.DataFrame:
        """SASL usernames, client IPs and sender domains of the subject's mail, with first use and novelty."""
        f = self.scoped.facts
        hist = f.history_identities
        rows: list[dict[str, Any]] = []
        for col in ("sasl_username", "client_ip", "sender_domain"):
            win = f.messages.filter(pl.col(col).is_not_null())
            seen = set(hist[col].drop_nulls().to_list()) if not hist.is_empty() else set()
            agg = (
                win.group_by(col)
                .agg(pl.len().alias("messages"), pl.col("first_seen").min())
                .sort("messages", descending=True)
            )
            rows += [
                {
                    "identity": col,
                    "value": r[col],
                    "messages": r["messages"],
                    "first_seen": r["first_seen"],
                    "seen_before": r[col] in seen,
                }
                for r in agg.head(30).iter_rows(named=True)
            ]
        return _frame(rows, ["identity", "value", "messages", "first_seen", "seen_before"])

    def recipient_domains(self, by: str = "recipient_domain", limit: int = 25) -> pl.DataFrame:
        """Unique recipients by recipient domain (or provider) and outcome."""
        rc = self.scoped.facts.recipients
        cols = ["attempted", "delivered", "hard_bounced", "unknown_user", "new_recipients"]
        if rc.is_empty():
            return _frame([], [by, *cols])
        return (
            rc.group_by(by).agg(pl.col(c).sum() for c in cols).sort("attempted", descending=True).head(limit)
        )

    def top_replies(self, limit: int = 15) -> pl.DataFrame:
        """Bounce and deferral replies, normalised (addresses, IDs and numbers masked), most frequent first."""
        fail = self.scoped.facts.failures
        if fail.is_empty():
            return _frame([], ["count", "status", "dsn", "reason", "normalized_reply"])
        return (
            fail.with_columns(normalize_reply_expr(pl.col("reply").fill_null("")).alias("normalized_reply"))
            .group_by("status", "dsn", "reason", "normalized_reply")
            .agg(pl.len().alias("count"))
            .sort("count", descending=True)
            .head(limit)
            .select("count", "status", "dsn", "reason", "normalized_reply")
        )

    def complaints(self) -> pl.DataFrame:
        """Complaints about the subject's mail (no recipient addresses)."""
        c = self.scoped.facts.complaints
        cols = ["ts", "account", "feedback_type", "provider", "qid", "message_id", "source_ip"]
        return c.select(cols).sort("ts") if not c.is_empty() else _frame([], cols)

    def trap_hits(self) -> pl.DataFrame:
        """Spam-trap recipients of the subject's mail (trap addresses are not personal data)."""
        t = self.scoped.facts.traps
        cols = ["ts", "account", "recipient", "final_status", "qid", "message_id", "client_ip"]
        return t.select(cols).sort("ts") if not t.is_empty() else _frame([], cols)

    def evidence(self) -> pl.DataFrame:
        """The verdict's evidence items (capped per signal), raised signals first."""
        v = self.verdict
        rows = evidence_rows(v) if v else []
        cols = ["signal", "raised", "ts", "queue_id", "message_id", "detail"]
        return _frame([{k: r[k] for k in cols} for r in rows], cols)

    def baseline(self, days: int = SPARK_DAYS * 4) -> tuple[list[dt.datetime], list[int], int]:
        """Hourly messages of the verdict's account over the history and the window (hours, counts, window start)."""
        v = self.verdict
        if v is None:
            return [], [], 0
        series, start = hourly_series(self.scoped, v.account, days)
        first = self.window.since - dt.timedelta(days=days)
        return [first + dt.timedelta(hours=i) for i in range(len(series))], series, start

    def peers(self, limit: int = 15) -> pl.DataFrame:
        """Accounts of similar volume in the same window, with their key rates and verdicts."""
        v = self.verdict
        cols = [
            "account",
            "messages",
            "score",
            "action",
            "hard_bounce_rate",
            "unknown_user_rate",
            "policy_rejections",
            "complaint_rate",
            "subject",
        ]
        if v is None:
            return _frame([], cols)
        target = next((s for s in self.everyone.suspects if s.account == v.account), v)
        lo, hi = target.messages / PEER_FACTOR, target.messages * PEER_FACTOR
        rows: list[dict[str, Any]] = []
        for s in self.everyone.suspects:
            if not (lo <= s.messages <= hi) and s.account != v.account:
                continue
            sig = {x.name: x.value for x in s.signals}
            rows.append(
                {
                    "account": s.account,
                    "messages": s.messages,
                    "score": s.score,
                    "action": s.action,
                    **{c: sig.get(c) for c in cols[4:8]},
                    "subject": s.account == v.account,
                }
            )
        rows.sort(key=lambda r: (not r["subject"], -r["messages"]))
        return _frame(rows[:limit], cols)

    def suggestion(self) -> list[str]:
        """The suggested action and the rule that produced it."""
        v = self.verdict
        if v is None:
            return ["No mail: nothing to suggest."]
        r = self.scoped.config.ranking
        fam = ", ".join(v.families) or "none"
        return [
            f"Suggested action: {v.action} (severity {v.severity}, score {v.score:.2f}).",
            f"Raised signal families: {fam}. Thresholds: warn at score {r.warn_score:g}, throttle at "
            f"{r.throttle_score:g}, suspend at {r.suspend_score:g}; above warn only with "
            f"{r.min_families_above_warn} independent families.",
            "Export the full evidence with: deliverability abuse evidence "
            f"{v.account} --since {self.window.since.isoformat()} --until {self.window.until.isoformat()} "
            "--out FILE.csv",
        ]

    def figures(self) -> dict[str, Any]:
        """Key figures for the JSON summary."""
        v = self.verdict
        return {
            "kind": self.kind,
            "subject": self.subject,
            "window": {"since": self.window.since, "until": self.window.until},
            "account": v.account if v else None,
            "score": v.score if v else None,
            "severity": v.severity if v else None,
            "action": v.action if v else None,
            "raised": [s.name for s in v.signals if s.raised] if v else [],
        }


def _frame(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> pl.DataFrame:
    if rows:
        return pl.DataFrame(rows, infer_schema_length=None).select(columns)
    return pl.DataFrame({c: [] for c in columns})


def investigate(con: duckdb.DuckDBPyConnection, p: AbuseParams) -> Investigation:
    """Judge the subject's mail (default: the top-ranked account) and every account for peers."""
    cfg = p.config
    everyone = rank(con, p.start, p.end, config=cfg)
    kind, subject = p.kind, p.subject
    if not subject:
        kind = "account"
        subject = everyone.suspects[0].account if everyone.suspects else ""
    if not subject:
        return Investigation(kind, subject, everyone, everyone)
    window = resolve_window(
        con, p.start, p.end, default_hours=cfg.default_window_hours, lookback_days=cfg.lookback_days
    )
    scoped = rank_facts(load_facts(con, window, Scope(kind, subject), cfg.evidence_cap), cfg)
    return Investigation(kind, subject, scoped, everyone)
