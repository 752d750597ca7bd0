"""Parse the time arguments people type (--since/--until) into aware UTC datetimes."""

from __future__ import annotations

import datetime as dt

from analysis.errors import InputError


def parse_when(value: str | None, *, name: str = "time") -> dt.datetime | None:
    """ISO 8601 date or timestamp; naive values are UTC. None passes through."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            d = dt.date.fromisoformat(text)
            parsed = dt.datetime(d.year, d.month, d.day)
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{name}: {value!r} is not an ISO 8601 date or timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
