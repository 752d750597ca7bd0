"""Per-account abuse signals, each judged against configuration and carrying its own evidence.

Why this shape: an abuse analyst must be able to defend every action, so each signal keeps what it was
measured on (n), the threshold, its Wilson interval or robust z, the false-discovery-controlled
q-value where it is a rate tested across many accounts, and a few queue IDs / Message-IDs to look at.
A signal that cannot be judged (too little volume, no history) says so in `note` and is never raised.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any

import polars as pl

from analysis.abuse.config import AbuseConfig, SignalConfig
from analysis.abuse.facts import Facts
from analysis.stats import ROBUST_Z_SCALE, benjamini_hochberg, binomial_sf, wilson_interval

RATE, COUNT, SCORE, RATIO = "rate", "count", "score", "ratio"
EVIDENCE_COLUMNS = ("ts", "queue_id", "message_id", "detail")


@dataclass(frozen=True)
class Signal:
    """One judged measurement of one account."""

    name: str
    family: str
    kind: str  # rate | count | score | ratio
    value: float | None
    n: int
    threshold: float
    min_n: int
    weight: float
    window: tuple[str, str]
    k: int | None = None
    interval: tuple[float, float] | None = None
    score: float | None = None  # robust z (volume) or value / baseline (fan-out)
    p_value: float | None = None
    q_value: float | None = None
    raised: bool = False
    strength: float = 0.0  # how far past the threshold the judged figure is (1 = at the threshold)
    note: str = ""
    evidence: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (the CLI contract: name, value, threshold, n, evidence and the rest)."""
        return {
            "name": self.name,
            "family": self.family,
            "kind": self.kind,
            "value": _finite(self.value),
            "n": self.n,
            "k": self.k,
            "threshold": self.threshold,
            "min_n": self.min_n,
            "window": list(self.window),
            "interval": None if self.interval is None else [_finite(x) for x in self.interval],
            "score": _finite(self.score),
            "p_value": _finite(self.p_value),
            "q_value": _finite(self.q_value),
            "raised": self.raised,
            "strength": round(self.strength, 4),
            "weight": self.weight,
            "note": self.note,
            "evidence": [dict(e) for e in self.evidence],
        }


def _finite(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)


def _evidence(
    df: pl.DataFrame, cap: int, detail: Callable[[dict[str, Any]], str]
) -> tuple[dict[str, Any], ...]:
    """The first `cap` rows (oldest first) as evidence items: time, queue ID, Message-ID, a short detail."""
    if df.is_empty():
        return ()
    rows = df.sort("ts", nulls_last=True).head(cap).iter_rows(named=True)
    out = []
    for r in rows:
        ts = r.get("ts")
        out.append(
            {
                "ts": ts.astimezone(dt.UTC).isoformat() if isinstance(ts, dt.datetime) else None,
                "queue_id": r.get("qid"),
                "message_id": r.get("message_id"),
                "detail": detail(r),
            }
        )
    return tuple(out)


class _Ctx:
    """Configuration, facts and per-account lookups shared by the signal functions."""

    def __init__(self, facts: Facts, cfg: AbuseConfig) -> None:
        self.facts = facts
        self.cfg = cfg
        self._parts: dict[str, dict[str, pl.DataFrame]] = {}
        w = facts.window
        self.window = (w.since.isoformat(), w.until.isoformat())
        self.accounts = facts.accounts()
        msgs = facts.messages.rename({"first_seen": "ts"})
        self.messages = msgs
        self.msg_count = _counts(msgs, "account")
        rc = facts.recipients
        self.rcpt = (
            {
                r["account"]: r
                for r in rc.group_by("account")
                .agg(
                    pl.col(c).sum()
                    for c in (
                        "attempted",
                        "delivered",
                        "hard_bounced",
                        "unknown_user",
                        "new_recipients",
                        "distinct_recipients",
                    )
                )
                .iter_rows(named=True)
            }
            if not rc.is_empty()
            else {}
        )
        hist = facts.hourly.filter(pl.col("hour") < w.since)
        self.history_messages = (
            {
                r["account"]: int(r["messages"])
                for r in hist.group_by("account").agg(pl.col("messages").sum()).iter_rows(named=True)
            }
            if not hist.is_empty()
            else {}
        )

    def of(self, frame: str, account: str) -> pl.DataFrame:
        """The rows of one account in a facts frame (frames are split by account once, not per signal)."""
        parts = self._parts.get(frame)
        df = self.messages if frame == "messages" else getattr(self.facts, frame)
        if parts is None:
            parts = {}
            if not df.is_empty():
                parts = {k[0]: v for k, v in df.partition_by("account", as_dict=True).items()}
            self._parts[frame] = parts
        return parts.get(account, df.clear())

    def base(self, name: str, kind: str, value: float | None, n: int, **kw: Any) -> Signal:
        sc = self.cfg.signal(name)
        return Signal(
            name=name,
            family=sc.family,
            kind=kind,
            value=value,
            n=n,
            threshold=sc.threshold,
            min_n=sc.min_n,
            weight=sc.weight,
            window=self.window,
            **kw,
        )

    def sc(self, name: str) -> SignalConfig:
        return self.cfg.signal(name)

    def cap(self) -> int:
        return self.cfg.evidence_cap

    def attempted(self, account: str) -> int:
        r = self.rcpt.get(account)
        return int(r["attempted"]) if r else 0


def _counts(df: pl.DataFrame, key: str) -> dict[str, int]:
    if df.is_empty():
        return {}
    return {r[key]: int(r["len"]) for r in df.group_by(key).len().iter_rows(named=True)}


# ---------------------------------------------------------------------------------------------- rates


def _rate(
    ctx: _Ctx, name: str, account: str, k: int, n: int, evidence: tuple[dict[str, Any], ...], note: str = ""
) -> Signal:
    """A rate judged later (BH needs every account's p-value): value, interval and one-sided p now."""
    sc = ctx.sc(name)
    if n == 0:
        return ctx.base(name, RATE, None, 0, k=k, note=note or "no volume in the window")
    low, high = wilson_interval(k, n, ctx.cfg.confidence)
    p = binomial_sf(k, n, sc.threshold) if sc.threshold > 0 else (0.0 if k > 0 else 1.0)
    gated = n < sc.min_n
    text = note or ""
    if gated:
        text = (text + "; " if text else "") + f"below minimum volume ({n} < {sc.min_n}): not judged"
    return ctx.base(
        name,
        RATE,
        k / n,
        n,
        k=k,
        interval=(low, high),
        p_value=None if gated else p,
        note=text,
        evidence=evidence,
    )


def judge_rates(signals: Iterable[Signal], cfg: AbuseConfig) -> list[Signal]:
    """Benjamini–Hochberg per rate signal across accounts; raised = Wilson lower bound ≥ threshold and q ≤ fdr."""
    out = list(signals)
    by_name: dict[str, list[int]] = {}
    for i, s in enumerate(out):
        if s.kind == RATE and s.p_value is not None:
            by_name.setdefault(s.name, []).append(i)
    for idx in by_name.values():
        qs = benjamini_hochberg([out[i].p_value or 0.0 for i in idx])
        for i, q in zip(idx, qs, strict=True):
            s = out[i]
            low = s.interval[0] if s.interval else 0.0
            raised = q <= cfg.fdr and low >= s.threshold and s.threshold >= 0
            strength = (low / s.threshold) if s.threshold > 0 else (math.inf if low > 0 else 0.0)
            why = (
                f"lower bound {low:.4f} {'≥' if low >= s.threshold else '<'} {s.threshold:g}; "
                f"q = {q:.3g} {'≤' if q <= cfg.fdr else '>'} {cfg.fdr:g}"
            )
            note = f"{s.note}; {why}" if s.note else why
            out[i] = replace(s, q_value=q, raised=raised, strength=strength if raised else 0.0, note=note)
    return out


def _counted(
    ctx: _Ctx,
    name: str,
    kind: str,
    value: float | None,
    n: int,
    *,
    evidence: tuple[dict[str, Any], ...] = (),
    note: str = "",
    score: float | None = None,
    judged: bool = True,
    k: int | None = None,
) -> Signal:
    """A count, ratio or score signal: raised when judged, n ≥ min_n and value ≥ threshold."""
    sc = ctx.sc(name)
    ok = judged and value is not None and n >= sc.min_n and sc.threshold > 0 and value >= sc.threshold
    strength = (value or 0.0) / sc.threshold if ok else 0.0
    if judged and value is not None and n < sc.min_n:
        note = (note + "; " if note else "") + f"below minimum volume ({n} < {sc.min_n}): not judged"
    return ctx.base(
        name, kind, value, n, k=k, score=score, raised=ok, strength=strength, note=note, evidence=evidence
    )


# -------------------------------------------------------------------------------------- the signals


def volume_spike(ctx: _Ctx, account: str) -> Signal:
    """Busiest window hour's robust z of log(1 + messages) against the same hour in the account's past.

    The MAD is floored at Poisson noise (see `spike_z`).
    Baseline, in order of preference: the same hour of the week (≥ baseline_min_points past values), the
    same hour of the day (≥ baseline_min_points), every past hour (≥ baseline_min_hours); else not judged.
    Past hours without mail count as 0 from the account's first message in the history on.
    """
    cfg, w = ctx.cfg, ctx.facts.window
    hourly = ctx.of("hourly", account)
    n = ctx.msg_count.get(account, 0)
    past = hourly.filter(pl.col("hour") < w.since)
    now = hourly.filter(pl.col("hour") >= w.since)
    if past.is_empty():
        return _counted(
            ctx, "volume_spike", SCORE, None, n, judged=False, note="no history before the window: not judged"
        )
    first = _hour(min(past["hour"].to_list()))
    counts = {
        _hour(h): int(c) for h, c in zip(past["hour"].to_list(), past["messages"].to_list(), strict=True)
    }
    hours: list[dt.datetime] = []
    t = first
    while t < w.since:
        hours.append(t)
        t += dt.timedelta(hours=1)
    groups = _groups(hours, counts)
    best: tuple[float, int, dt.datetime, str] | None = None
    for h, c in zip(now["hour"].to_list(), now["messages"].to_list(), strict=True):
        h = _hour(h)
        base, how = _baseline(groups, h, cfg.baseline_min_points, cfg.baseline_min_hours)
        if base is None:
            continue
        z = max(-cfg.robust_z_cap, min(cfg.robust_z_cap, spike_z(c, base)))
        cand = (z, int(c), h, how)
        # the judged hour is the most anomalous among hours with enough mail; any hour if none has
        eligible = c >= ctx.sc("volume_spike").min_n
        if best is None or (eligible, z) > (best[1] >= ctx.sc("volume_spike").min_n, best[0]):
            best = cand
    if best is None:
        return _counted(
            ctx,
            "volume_spike",
            SCORE,
            None,
            n,
            judged=False,
            note=f"history too short ({len(hours)} h < {cfg.baseline_min_hours} h): not judged",
        )
    z, c, h, how = best
    spike = ctx.of("messages", account).filter(
        (pl.col("ts") >= h) & (pl.col("ts") < h + dt.timedelta(hours=1))
    )
    ev = _evidence(spike, ctx.cap(), lambda r: f"in the spike hour {h:%Y-%m-%d %H}:00")
    note = f"hour {h:%Y-%m-%d %H}:00 had {c} messages; baseline {how}"
    sig = _counted(ctx, "volume_spike", SCORE, z, c, evidence=ev, note=note, score=z)
    return replace(sig, n=c)


def spike_z(count: int, baseline: list[int]) -> float:
    """Robust z of log(1 + count) against log(1 + baseline), the MAD floored at Poisson noise.

    A short, steady history has a MAD near 0 (six days of 15 messages at noon), which would make an
    ordinary 28 a spike; the floor is the MAD a Poisson count at the baseline median would have on
    the log scale, 0.6745 / √(1 + median), so 0 → 120 messages is z ≈ 4.8 and 0 → 20 is z ≈ 3.0.
    """
    logs = [math.log1p(x) for x in baseline]
    med = median(logs)
    mad = median(abs(v - med) for v in logs)
    floor = ROBUST_Z_SCALE / math.sqrt(math.exp(med))  # exp(med) = 1 + the median count
    return ROBUST_Z_SCALE * (math.log1p(count) - med) / max(mad, floor)


def _hour(value: dt.datetime) -> dt.datetime:
    v = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return v.replace(minute=0, second=0, microsecond=0)


def _baseline(
    groups: tuple[dict[tuple[int, int], list[int]], dict[int, list[int]], list[int]],
    h: dt.datetime,
    min_points: int,
    min_hours: int,
) -> tuple[list[int] | None, str]:
    by_week, by_hour, every = groups
    week = by_week.get((h.weekday(), h.hour), [])
    if len(week) >= min_points:
        return week, f"same hour of the week ({len(week)} past values)"
    day = by_hour.get(h.hour, [])
    if len(day) >= min_points:
        return day, f"same hour of the day ({len(day)} past values; fallback: short history)"
    if len(every) >= min_hours:
        return every, f"all past hours ({len(every)}; fallback: short history)"
    return None, ""


def _groups(
    hours: list[dt.datetime], counts: Mapping[dt.datetime, int]
) -> tuple[dict[tuple[int, int], list[int]], dict[int, list[int]], list[int]]:
    """Past hourly counts grouped by hour of the week and hour of the day, in one pass."""
    by_week: dict[tuple[int, int], list[int]] = {}
    by_hour: dict[int, list[int]] = {}
    every = []
    for x in hours:
        c = counts.get(x, 0)
        by_week.setdefault((x.weekday(), x.hour), []).append(c)
        by_hour.setdefault(x.hour, []).append(c)
        every.append(c)
    return by_week, by_hour, every


def hard_bounce_rate(ctx: _Ctx, account: str) -> Signal:
    """Hard-bounced ÷ unique recipients attempted."""
    r = ctx.rcpt.get(account)
    k, n = (int(r["hard_bounced"]), int(r["attempted"])) if r else (0, 0)
    rows = ctx.of("failures", account).filter(
        (pl.col("status") == "bounced") & (pl.col("severity") == "hard")
    )
    ev = _evidence(
        rows,
        ctx.cap(),
        lambda x: f"{x['dsn'] or ''} {x['reason'] or ''} at {x['recipient_domain'] or '?'}".strip(),
    )
    return _rate(ctx, "hard_bounce_rate", account, k, n, ev)


def unknown_user_rate(ctx: _Ctx, account: str) -> Signal:
    """Bounced as user unknown ÷ unique recipients attempted."""
    r = ctx.rcpt.get(account)
    k, n = (int(r["unknown_user"]), int(r["attempted"])) if r else (0, 0)
    rows = ctx.of("failures", account).filter(
        (pl.col("status") == "bounced")
        & ((pl.col("reason") == "userunknown") | pl.col("dsn").is_in(["5.1.1", "5.1.10"]))
    )
    ev = _evidence(
        rows, ctx.cap(), lambda x: f"{x['dsn'] or ''} user unknown at {x['recipient_domain'] or '?'}"
    )
    return _rate(ctx, "unknown_user_rate", account, k, n, ev)


def complaint_rate(ctx: _Ctx, account: str) -> Signal:
    """Complaints ÷ recipients delivered to providers that run feedback loops."""
    rc = ctx.of("recipients", account)
    fbl = set(ctx.cfg.fbl_providers)
    n = int(rc.filter(pl.col("provider").is_in(list(fbl)))["delivered"].sum()) if not rc.is_empty() else 0
    comp = ctx.of("complaints", account)
    k = comp.height
    note = ""
    if k > n:
        note = f"{k} complaints but {n} deliveries to feedback-loop providers: denominator raised to {k}"
        n = k
    ev = _evidence(comp, ctx.cap(), lambda x: f"{x['feedback_type']} via {x['provider'] or 'unknown FBL'}")
    return _rate(ctx, "complaint_rate", account, k, n, ev, note)


def trap_hits(ctx: _Ctx, account: str) -> Signal:
    """Recipients that are inventory spam traps."""
    rows = ctx.of("traps", account)
    ev = _evidence(rows, ctx.cap(), lambda x: f"trap {x['recipient']} ({x['final_status']})")
    return _counted(
        ctx, "trap_hits", COUNT, float(rows.height), ctx.attempted(account), evidence=ev, k=rows.height
    )


def _match(df: pl.DataFrame, reasons: Iterable[str], dsns: Iterable[str], reply: str) -> pl.Expr:
    return (
        pl.col("reason").is_in(list(reasons)).fill_null(False)
        | pl.col("dsn").is_in(list(dsns)).fill_null(False)
        | pl.col("reply").str.contains(f"(?i){reply}").fill_null(False)
    )


def policy_rejections(ctx: _Ctx, account: str) -> Signal:
    """Unique recipients bounced for block/policy/spam/reputation reasons or naming a blocklist."""
    p = ctx.cfg.patterns
    f = ctx.of("failures", account).filter(pl.col("status") == "bounced")
    hits = f.filter(_match(f, p.policy_reasons, p.policy_dsns, p.policy_reply))
    k = hits.select(["message_key", "rcpt"]).unique().height
    listed = hits.filter(pl.col("reply").str.contains(f"(?i){p.policy_reply}").fill_null(False)).height
    ev = _evidence(
        hits,
        ctx.cap(),
        lambda x: (
            f"{x['dsn'] or ''} {x['reason'] or ''} from {x['provider'] or x['recipient_domain'] or '?'}".strip()
        ),
    )
    note = f"{listed} replies name a blocklist" if listed else ""
    return _rate(ctx, "policy_rejections", account, k, ctx.attempted(account), ev, note)


def deferral_storm(ctx: _Ctx, account: str) -> Signal:
    """Unique recipients deferred at least once for rate or reputation (421 4.7.28, TSS04, ...)."""
    p = ctx.cfg.patterns
    f = ctx.of("failures", account).filter(pl.col("status") == "deferred")
    hits = f.filter(_match(f, (), p.storm_dsns, p.storm_reply))
    k = hits.select(["message_key", "rcpt"]).unique().height
    ev = _evidence(
        hits,
        ctx.cap(),
        lambda x: f"{x['dsn'] or ''} deferred by {x['provider'] or x['recipient_domain'] or '?'}".strip(),
    )
    return _rate(ctx, "deferral_storm", account, k, ctx.attempted(account), ev)


def dnsbl_listed_ips(ctx: _Ctx, account: str) -> Signal:
    """Client IPs of the account's messages and sending IPs named in its complaints, listed in a DNSBL."""
    msgs = ctx.of("messages", account)
    ips = set(msgs["client_ip"].drop_nulls().to_list())
    ips |= set(ctx.of("complaints", account)["source_ip"].drop_nulls().to_list())
    listed = ctx.facts.dnsbl.filter(pl.col("ip").is_in(list(ips))) if ips else ctx.facts.dnsbl.clear()
    zones: dict[str, list[str]] = {}
    for r in listed.iter_rows(named=True):
        zones.setdefault(r["ip"], []).append(str(r["check_name"]).removeprefix("dnsbl:"))
    rows = msgs.filter(pl.col("client_ip").is_in(list(zones))).unique("client_ip", keep="first")
    ev = _evidence(
        rows, ctx.cap(), lambda x: f"client {x['client_ip']} listed in {', '.join(zones[x['client_ip']])}"
    )
    if not ev and zones:  # listed only as a complaint's sending IP
        ev = tuple(
            {"ts": None, "queue_id": None, "message_id": None, "detail": f"{ip} listed in {', '.join(z)}"}
            for ip, z in sorted(zones.items())[: ctx.cap()]
        )
    return _counted(
        ctx,
        "dnsbl_listed_ips",
        COUNT,
        float(len(zones)),
        len(ips),
        evidence=ev,
        k=len(zones),
        note=f"{len(ips)} IPs checked against the latest DNSBL observations",
    )


def sasl_client_ips(ctx: _Ctx, account: str) -> Signal:
    """The most distinct client IPs any one SASL username of the account used in the window."""
    msgs = ctx.of("messages", account).filter(pl.col("sasl_username").is_not_null())
    if msgs.is_empty():
        return _counted(
            ctx, "sasl_client_ips", COUNT, None, 0, judged=False, note="no SASL-authenticated mail"
        )
    per = (
        msgs.group_by("sasl_username")
        .agg(pl.col("client_ip").n_unique().alias("ips"))
        .sort("ips", descending=True)
    )
    user, ips = per.row(0)
    rows = msgs.filter(pl.col("sasl_username") == user).unique("client_ip", keep="first")
    ev = _evidence(rows, ctx.cap(), lambda x: f"{x['sasl_username']} from {x['client_ip']}")
    return _counted(
        ctx,
        "sasl_client_ips",
        COUNT,
        float(ips),
        msgs.height,
        evidence=ev,
        k=int(ips),
        note=f"SASL username {user} from {ips} client IPs",
    )


def new_client_ips(ctx: _Ctx, account: str) -> Signal:
    """Client IPs never seen before for the SASL usernames of the account (judged with enough history)."""
    msgs = ctx.of("messages", account).filter(
        pl.col("sasl_username").is_not_null() & pl.col("client_ip").is_not_null()
    )
    if msgs.is_empty():
        return _counted(
            ctx, "new_client_ips", COUNT, None, 0, judged=False, note="no SASL-authenticated mail"
        )
    hist = ctx.of("history_identities", account).filter(pl.col("sasl_username").is_not_null())
    past = hist.group_by("sasl_username").agg(pl.col("messages").sum())
    judged_users = set(
        past.filter(pl.col("messages") >= ctx.cfg.min_history_messages)["sasl_username"].to_list()
    )
    if not judged_users:
        return _counted(
            ctx,
            "new_client_ips",
            COUNT,
            None,
            msgs.height,
            judged=False,
            note=f"fewer than {ctx.cfg.min_history_messages} messages of history per SASL username: not judged",
        )
    known = hist.select("sasl_username", "client_ip").unique()
    fresh = msgs.filter(pl.col("sasl_username").is_in(list(judged_users))).join(
        known, on=["sasl_username", "client_ip"], how="anti"
    )
    first = fresh.sort("ts").unique(["sasl_username", "client_ip"], keep="first")
    ev = _evidence(first, ctx.cap(), lambda x: f"new client {x['client_ip']} for {x['sasl_username']}")
    return _counted(
        ctx,
        "new_client_ips",
        COUNT,
        float(first.height),
        msgs.height,
        evidence=ev,
        k=first.height,
        note=f"{fresh.height} messages from {first.height} new client IPs",
    )


def _verified(domain: str | None, allowed: Iterable[str]) -> bool:
    if not domain:
        return True
    return any(domain == d or domain.endswith("." + d) for d in allowed)


def unverified_from_domains(ctx: _Ctx, account: str) -> Signal:
    """Messages whose envelope sender domain is not verified for the inventory account (header From is not logged)."""
    msgs = ctx.of("messages", account).filter(pl.col("sender_domain").is_not_null())
    inv = msgs["inventory_account"].drop_nulls()
    if inv.is_empty():
        return _counted(
            ctx,
            "unverified_from_domains",
            RATE,
            None,
            msgs.height,
            judged=False,
            note="not an inventory account: no verified domains to compare",
        )
    d = ctx.facts.domains
    own = d.filter(pl.col("account").is_in([account, ""]))
    allowed = {
        x.lower() for x in own["domain"].drop_nulls().to_list() + own["return_path"].drop_nulls().to_list()
    }
    doms = msgs["sender_domain"].unique().to_list()
    bad = [x for x in doms if not _verified(x, allowed)]
    rows = msgs.filter(pl.col("sender_domain").is_in(bad))
    ev = _evidence(
        rows.unique("sender_domain", keep="first"), ctx.cap(), lambda x: f"sender domain {x['sender_domain']}"
    )
    note = f"unverified: {', '.join(sorted(bad)[:5])}" if bad else ""
    return _rate(ctx, "unverified_from_domains", account, rows.height, msgs.height, ev, note)


def new_recipients(ctx: _Ctx, account: str) -> Signal:
    """Share of unique recipients the account never attempted before (judged with enough history)."""
    r = ctx.rcpt.get(account)
    k, n = (int(r["new_recipients"]), int(r["attempted"])) if r else (0, 0)
    hist = ctx.history_messages.get(account, 0)
    if hist < ctx.cfg.min_history_messages:
        return ctx.base(
            "new_recipients",
            RATE,
            k / n if n else None,
            n,
            k=k,
            note=f"{hist} messages of history < {ctx.cfg.min_history_messages}: not judged",
        )
    ev = _evidence(
        ctx.of("new_recipients", account),
        ctx.cap(),
        lambda x: f"new recipient at {x['recipient_domain']}",
    )
    return _rate(ctx, "new_recipients", account, k, n, ev)


def recipient_fanout(ctx: _Ctx, account: str) -> Signal:
    """Distinct recipients in the window ÷ the median of earlier periods of the same length."""
    b = ctx.of("recipient_buckets", account)
    w = ctx.facts.window
    max_period = int((w.until - w.history_start) / (w.until - w.since))
    now = int(b.filter(pl.col("period") == 0)["recipients"].sum()) if not b.is_empty() else 0
    past = b.filter((pl.col("period") > 0) & (pl.col("period") < max_period)) if not b.is_empty() else b
    if past.is_empty():
        return _counted(
            ctx, "recipient_fanout", RATIO, None, now, judged=False, note="no earlier period: not judged"
        )
    oldest = max(int(x) for x in past["period"].to_list())
    got = dict(zip(past["period"].to_list(), past["recipients"].to_list(), strict=True))
    values = [int(got.get(p, 0)) for p in range(1, oldest + 1)]
    if len(values) < 3:
        return _counted(
            ctx,
            "recipient_fanout",
            RATIO,
            None,
            now,
            judged=False,
            note=f"{len(values)} earlier periods < 3: not judged",
        )
    med = median(values)
    ratio = now / max(med, 1.0)
    ev = _evidence(ctx.of("messages", account), ctx.cap(), lambda x: "a message of the window")
    return _counted(
        ctx,
        "recipient_fanout",
        RATIO,
        ratio,
        now,
        evidence=ev,
        score=ratio,
        note=f"{now} distinct recipients vs median {med:g} over {len(values)} earlier periods",
    )


def dmarc_unknown_sources(ctx: _Ctx, account: str) -> Signal:
    """DMARC-failing messages for the account's domains from IPs outside the relay inventory."""
    scope = ctx.facts.scope
    d = ctx.of("dmarc", account)
    if scope.dimension in ("sasl_username", "client_ip"):
        return ctx.base("dmarc_unknown_sources", RATE, None, 0, note="not applicable to this drill-down")
    if scope.dimension == "sender_domain" and not d.is_empty():
        d = d.filter(pl.col("header_from") == str(scope.value).lower())
    if d.is_empty():
        return ctx.base(
            "dmarc_unknown_sources", RATE, None, 0, note="no DMARC reports for the account's domains"
        )
    bad = d.filter(~pl.col("dmarc_pass") & ~pl.col("known_source"))
    k, n = int(bad["message_count"].sum()), int(d["message_count"].sum())
    srcs = bad.group_by("source_ip").agg(
        pl.col("message_count").sum(),
        pl.col("org_name").first(),
        pl.col("report_id").first(),
        pl.col("date_begin").min().alias("ts"),
    )
    ev = tuple(
        {
            "ts": r["ts"].isoformat() if r["ts"] else None,
            "queue_id": None,
            "message_id": None,
            "detail": f"{r['message_count']} failing from {r['source_ip']} (report {r['report_id']} by {r['org_name']})",
        }
        for r in srcs.sort("message_count", descending=True).head(ctx.cap()).iter_rows(named=True)
    )
    return _rate(ctx, "dmarc_unknown_sources", account, k, n, ev)


SIGNALS: tuple[Callable[[_Ctx, str], Signal], ...] = (
    volume_spike,
    hard_bounce_rate,
    unknown_user_rate,
    complaint_rate,
    trap_hits,
    policy_rejections,
    deferral_storm,
    dnsbl_listed_ips,
    sasl_client_ips,
    new_client_ips,
    unverified_from_domains,
    new_recipients,
    recipient_fanout,
    dmarc_unknown_sources,
)


def compute_signals(facts: Facts, cfg: AbuseConfig) -> dict[str, list[Signal]]:
    """Every signal of every account in the window, judged (rates with false-discovery control)."""
    ctx = _Ctx(facts, cfg)
    flat = [fn(ctx, account) for account in ctx.accounts for fn in SIGNALS]
    judged = judge_rates(flat, cfg)
    out: dict[str, list[Signal]] = {a: [] for a in ctx.accounts}
    per = len(SIGNALS)
    for i, account in enumerate(ctx.accounts):
        out[account] = judged[i * per : (i + 1) * per]
    return out


__all__ = ["EVIDENCE_COLUMNS", "SIGNALS", "Signal", "compute_signals", "judge_rates"]
