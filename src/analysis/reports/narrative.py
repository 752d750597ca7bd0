"""The written summary at the top of a report: sentences computed from metrics.summary(), not boilerplate.

Sentences are plain text; the caller escapes them (sender domains and providers come from the data).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

MAX_BREACHES_LISTED = 5
HOURLY_UP_TO_DAYS = 3


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.2f} %"


def _rate_text(rate: Mapping[str, Any] | None) -> str:
    if not rate or rate.get("value") is None:
        return "not measurable (no denominator)"
    return (
        f"{_pct(rate['value'])} ({rate.get('numerator', 0):,} of {rate.get('denominator', 0):,}; "
        f"interval {_pct(rate.get('low'))}–{_pct(rate.get('high'))})"
    )


def _when(text: Any) -> str:
    if not text:
        return "?"
    try:
        return datetime.fromisoformat(str(text)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(text)


def _breach_text(b: Mapping[str, Any]) -> str:
    value = "(none)" if b.get("value") in (None, "") else b.get("value")
    who = "overall" if b.get("dimension") in (None, "overall") else f"{b.get('dimension')} {value}"
    return (
        f"{who}: {b.get('rate')} {_pct(b.get('observed'))} (lower bound {_pct(b.get('low'))}, "
        f"n={b.get('n', 0):,}) ≥ {_pct(b.get('threshold'))} → {b.get('action')}"
    )


def worst_breaches(breaches: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One breach per (dimension, value, rate): the highest threshold crossed, most severe first."""
    best: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for b in breaches:
        key = (str(b.get("dimension")), str(b.get("value")), str(b.get("rate")))
        if key not in best or float(b.get("threshold") or 0) > float(best[key].get("threshold") or 0):
            best[key] = b
    return sorted(best.values(), key=lambda b: (-float(b.get("low") or 0), str(b.get("dimension"))))


def describe(s: Mapping[str, Any]) -> list[str]:
    """Sentences for the top of the overview, from the metrics summary dict."""
    window = s.get("window") or {}
    attempted = int(s.get("attempted") or 0)
    if attempted == 0 and not (s.get("counts") or {}).get("rejected"):
        return [
            f"No delivery attempts or rejections in this window ({_when(window.get('since'))} to "
            f"{_when(window.get('until'))}); nothing to judge."
        ]
    rates = s.get("rates") or {}
    out = [
        f"From {_when(window.get('first_attempt'))} to {_when(window.get('last_attempt'))}: "
        f"{int(s.get('messages') or 0):,} messages, {attempted:,} recipients attempted, "
        f"{int(s.get('delivered') or 0):,} delivered — delivery rate {_rate_text(rates.get('delivery_rate'))}.",
        f"Hard bounces {_rate_text(rates.get('hard_bounce_rate'))}; deferrals "
        f"{_rate_text(rates.get('deferral_rate'))}; rejections {_rate_text(rates.get('rejection_rate'))}.",
    ]
    complaint = rates.get("complaint_rate") or {}
    if complaint.get("numerator"):
        out.append(f"Complaints {_rate_text(complaint)}.")
    breaches = worst_breaches(list(s.get("breaches") or []))
    conf = float(s.get("confidence") or 0.95)
    if breaches:
        listed = "; ".join(_breach_text(b) for b in breaches[:MAX_BREACHES_LISTED])
        more = f" (and {len(breaches) - MAX_BREACHES_LISTED} more)" if len(breaches) > MAX_BREACHES_LISTED else ""
        out.append(f"{len(breaches)} group(s) over a threshold at the {conf:.0%} lower bound: {listed}{more}.")
    else:
        out.append(
            f"No published threshold is crossed by the lower bound of a {conf:.0%} interval "
            f"(groups under {int(s.get('min_volume') or 0):,} attempted recipients are not judged)."
        )
    top = s.get("top_provider")
    if top:
        share = int(top.get("attempted") or 0) / attempted if attempted else 0.0
        out.append(f"Largest mailbox provider: {top.get('provider') or '(unknown)'} "
                   f"({int(top.get('attempted') or 0):,} recipients, {share:.0%} of attempts).")
    worst = s.get("worst_sender_domain")
    if worst and worst.get("hard_bounce_rate") is not None:
        gated = " — below the minimum volume, so not judged" if worst.get("gated") else ""
        out.append(
            f"Worst sender domain by hard-bounce lower bound: {worst.get('sender_domain') or '(none)'} "
            f"({_pct(worst.get('hard_bounce_rate'))}, interval {_pct(worst.get('hard_bounce_rate_low'))}–"
            f"{_pct(worst.get('hard_bounce_rate_high'))}, n={int(worst.get('attempted') or 0):,}){gated}."
        )
    if s.get("p90_delay") is not None:
        out.append(f"90 % of successful deliveries took at most {float(s['p90_delay']):.1f} s.")
    return out


def time_bucket(s: Mapping[str, Any]) -> str:
    """'hour' for windows up to a few days, else 'day' (keeps the timeline readable)."""
    window = s.get("window") or {}
    first = window.get("first_attempt") or window.get("since")
    last = window.get("last_attempt") or window.get("until")
    if not first or not last:
        return "hour"
    span = datetime.fromisoformat(str(last)) - datetime.fromisoformat(str(first))
    return "hour" if span.total_seconds() <= HOURLY_UP_TO_DAYS * 86400 else "day"
