"""The audit log: who ran which command over personal data, when, with what parameters and effect.

Addresses in the parameters are stored as keyed hashes (HMAC-SHA256 with the privacy key), so the log
names no one, yet `audit --address X` still finds every entry about X for whoever holds the key.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from analysis.errors import WorkbenchError
from analysis.privacy import sqlfiles
from analysis.privacy.address import Address, parse_address
from analysis.privacy.config import load_key

# Anything shaped like an address inside a parameter value (paths, filters, free text).
_ADDRESS_LIKE = re.compile(r'(?:"[^"]*"|[^\s<>"@,;()\[\]]+)@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+')


def address_hash(addr: Address, key: bytes) -> str:
    """`hmac:<hex>` of the canonical address (exact local part, lower-case domain)."""
    digest = hmac.new(key, f"{addr.local}@{addr.domain}".encode(), hashlib.sha256).hexdigest()
    return f"hmac:{digest[:24]}"


def hash_addresses(value: Any, key_fn: Callable[[], bytes]) -> Any:
    """A parameter value with every address in it replaced by its hash (key read only when needed)."""
    if isinstance(value, Mapping):
        return {str(k): hash_addresses(v, key_fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hash_addresses(v, key_fn) for v in value]
    if isinstance(value, str) and "@" in value:

        def one(m: re.Match[str]) -> str:
            try:
                return address_hash(parse_address(m.group(0)), key_fn())
            except WorkbenchError:
                return "hmac:?"

        return _ADDRESS_LIKE.sub(one, value)
    if value is None or isinstance(value, int | float | bool):
        return value
    return str(value)


def os_user() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    con: duckdb.DuckDBPyConnection,
    command: str,
    params: Mapping[str, Any],
    counts: Mapping[str, Any],
    *,
    status: str = "ok",
    now: dt.datetime | None = None,
) -> None:
    """Append one audit row on a writable connection."""
    key_fn = _cached_key()
    con.execute(
        sqlfiles.load("audit_insert"),
        {
            "at": now or dt.datetime.now(dt.UTC),
            "os_user": os_user(),
            "command": command,
            "params_json": json.dumps(hash_addresses(dict(params), key_fn), sort_keys=True, default=str),
            "counts_json": json.dumps(dict(counts), sort_keys=True, default=str),
            "status": status,
        },
    )


def record_to(
    db: str | None,
    command: str,
    params: Mapping[str, Any],
    counts: Mapping[str, Any],
    *,
    status: str = "ok",
    warn: Callable[[str], None] | None = None,
    wait: float = 10,
) -> bool:
    """Open the store briefly to append a row (after read-only work); a warning, not a failure, if it can't."""
    from analysis.store import connect

    try:
        con = connect(db, wait=wait, on_wait=lambda _m: None)
    except WorkbenchError as exc:
        if warn:
            warn(f"audit log not written: {exc}")
        return False
    try:
        record(con, command, params, counts, status=status)
    except (duckdb.Error, WorkbenchError) as exc:
        if warn:
            warn(f"audit log not written: {str(exc).splitlines()[0]}")
        return False
    finally:
        con.close()
    return True


def _cached_key() -> Callable[[], bytes]:
    box: list[bytes] = []

    def get() -> bytes:
        if not box:
            box.append(load_key())
        return box[0]

    return get


@dataclass(frozen=True)
class AuditRow:
    """One entry as `deliverability audit` lists it."""

    audit_id: int
    at: dt.datetime
    os_user: str
    command: str
    params: dict[str, Any]
    counts: dict[str, Any]
    status: str


def entries(
    con: duckdb.DuckDBPyConnection, *, since: dt.datetime | None = None, address: str | None = None
) -> list[AuditRow]:
    """Audit rows in order, optionally from `since` and only those about one address."""
    needle = address_hash(parse_address(address), load_key()) if address else None
    rows = con.execute(sqlfiles.load("audit_list"), {"since": since, "needle": needle}).fetchall()
    return [AuditRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6]) for r in rows]
