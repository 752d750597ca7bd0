"""JSON and CSV text of plain rows, the same bytes polars' write_json/write_csv give for the same frame.

The rates command writes its rows without importing polars (see rate_rows); its output must not depend
on which route produced it. Values: None, bool, int, float, str, datetime, lists of str. Floats are
written as polars writes them (shortest round-trip digits, exponent only outside 1e-5..1e16, e.g.
0.00001, 1.5e-7, 1e+16); NaN and infinities as null / empty, as the CLI wrote them before.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any


def float_text(x: float) -> str | None:
    """A finite float as polars writes it; None for NaN and infinities."""
    if not math.isfinite(x):
        return None
    if x == 0.0 or 1e-4 <= abs(x) < 1e16:
        return repr(x)  # where Python's repr is positional too, it is the same text
    sign = "-" if x < 0 else ""
    parsed = Decimal(repr(abs(x))).normalize().as_tuple()  # repr: the shortest round-trip digits
    digits = "".join(map(str, parsed.digits))
    k = int(parsed.exponent)  # x = digits * 10**k
    kk = len(digits) + k  # where the decimal point falls
    if k >= 0 and kk <= 16:
        text = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        text = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        text = "0." + "0" * -kk + digits
    else:
        mantissa = digits if len(digits) == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{kk - 1:+d}"
    return sign + text


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value) or "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return '"' + value.isoformat() + '"'
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    raise TypeError(f"no JSON text for {type(value).__name__}")


def json_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A JSON list of row objects, keys in `columns` order (polars' row-oriented write_json)."""
    keys = [json.dumps(c, ensure_ascii=False) + ":" for c in columns]
    objects = (
        "{" + ",".join(k + _json_value(row[c]) for k, c in zip(keys, columns, strict=True)) + "}"
        for row in rows
    )
    return "[" + ",".join(objects) + "]"


def _csv_field(value: Any) -> str:
    if isinstance(value, float):
        value = float_text(value)  # None (an empty field) for NaN
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dt.datetime):
        text = value.isoformat(timespec="seconds")
    elif isinstance(value, list | tuple):
        text = "; ".join(str(v) for v in value)
    else:
        text = str(value)
    if text == "" or any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Comma-separated values with a header row, as the CLI's polars route wrote them (lists joined with
    '; ', times as ISO 8601 to the second with their offset)."""
    lines = [",".join(_csv_field(c) for c in columns)]
    lines += [",".join(_csv_field(row[c]) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"
