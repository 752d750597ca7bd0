"""Grouping dimensions and filters, validated before they come near SQL.

Dimension names are the only identifiers ever placed into query text, and only after they are checked
against DIMENSIONS; every value (times, dimension values, statuses) travels as a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from analysis.errors import InputError
from analysis.timeutil import parse_when

# Every fact fragment under sql/ projects these columns with these names.
DIMENSIONS: tuple[str, ...] = (
    "account",
    "sasl_username",
    "sender_domain",
    "recipient_domain",
    "provider",
    "relay_ip",
    "relay_host",
    "client_ip",
    "hour",
    "day",
)
TIME_DIMENSIONS = frozenset({"hour", "day"})
# Rejections are refused before any relay is chosen: these dimensions do not exist for them.
RELAY_DIMENSIONS = frozenset({"relay_ip", "relay_host"})
# The outcomes top_replies can select, and its default (here, not in replies.py: the CLI's options need
# them without importing the classifier and polars).
REPLY_STATUSES: tuple[str, ...] = ("bounced", "deferred", "expired", "softbounce", "rejected")
DEFAULT_STATUSES: tuple[str, ...] = ("bounced", "deferred", "rejected")


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class Filters:
    """A time window [since, until) and equality filters on dimensions; naive times are taken as UTC."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    where: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        since = _utc(self.since, "since")
        until = _utc(self.until, "until")
        if since is not None and until is not None and since >= until:
            raise InputError(
                f"empty window: since {since.isoformat()} is not before until {until.isoformat()}"
            )
        where = dict(self.where)
        for dim, value in where.items():
            check_dimension(dim)
            if not isinstance(value, str):
                raise InputError(f"filter value for {dim} must be text, got {type(value).__name__}")
        object.__setattr__(self, "since", since)
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "where", MappingProxyType(where))

    def __hash__(self) -> int:
        return hash((self.since, self.until, tuple(sorted(self.where.items()))))

    def __reduce__(self) -> tuple[type[Filters], tuple[Any, ...]]:
        # the read-only mapping does not pickle; rebuild from a plain dict
        return (Filters, (self.since, self.until, dict(self.where)))

    def dimensions(self) -> frozenset[str]:
        """The dimensions this filter constrains."""
        return frozenset(self.where)


def check_dimension(name: str) -> str:
    """Return `name` if it is a known dimension, else fail with the list of valid ones."""
    if name not in DIMENSIONS:
        raise InputError(f"unknown dimension {name!r}; choose from {', '.join(DIMENSIONS)}")
    return name


def check_dimensions(by: Sequence[str] | str) -> tuple[str, ...]:
    """Validate a grouping: known names, no repeats (a bare string is one dimension, not letters)."""
    names = (by,) if isinstance(by, str) else tuple(by)
    for name in names:
        check_dimension(name)
    if len(set(names)) != len(names):
        raise InputError(f"dimension listed twice in {', '.join(names)}")
    return names


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """`DIM=VALUE` strings (from the command line) into a validated mapping."""
    out: dict[str, str] = {}
    for item in items:
        dim, sep, value = item.partition("=")
        dim = dim.strip()
        if not sep or not dim:
            raise InputError(f"--where expects DIM=VALUE, got {item!r}")
        check_dimension(dim)
        if dim in out and out[dim] != value:
            raise InputError(f"--where {dim} given twice with different values")
        out[dim] = value
    return out


def where_sql(filters: Filters | None, *, time_column: str = "t") -> tuple[str, dict[str, Any]]:
    """A boolean SQL condition over the fact columns, and its bound parameters."""
    filters = filters or Filters()
    clauses = ["1 = 1"]
    params: dict[str, Any] = {}
    if filters.since is not None:
        clauses.append(f"{time_column} >= $since")
        params["since"] = filters.since
    if filters.until is not None:
        clauses.append(f"{time_column} < $until")
        params["until"] = filters.until
    for i, (dim, value) in enumerate(sorted(filters.where.items())):
        name = f"w{i}"
        clauses.append(f"{check_dimension(dim)} = ${name}")
        params[name] = _dimension_value(dim, value)
    return " AND ".join(clauses), params


def _dimension_value(dim: str, value: str) -> Any:
    if dim not in TIME_DIMENSIONS:
        return value
    when = parse_when(value, name=dim)
    if when is None:
        raise InputError(f"--where {dim}= needs a date or timestamp")
    return when
