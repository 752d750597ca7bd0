"""The relay's inventory: who the customers are and what the relay expects of their DNS.

One TOML file (data/inventory.toml, or --inventory / $DELIVERABILITY_INVENTORY) names the accounts with
their SASL usernames, verified sending domains and DKIM selectors; the relay's IPs and host names, the
SPF include it asks customers to publish, the names its DKIM CNAMEs point at; the DNSBL zones to query;
spam-trap domains and addresses. It is validated whole (one clear line per problem) and mirrored into
DuckDB tables so other areas can join SASL usernames to accounts in SQL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from analysis.errors import InputError
from analysis.store.db import write_transaction

DEFAULT_INVENTORY = Path("data/inventory.toml")
DECODERS = ("generic", "spamhaus-zen", "spamhaus-dbl")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{1,63}$"
)
_SELECTOR = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62})$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SendingDomain:
    domain: str
    account: str
    selectors: tuple[str, ...] = ()
    return_path: str | None = None  # envelope (MAIL FROM) domain when the account has a custom one


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    sasl_usernames: tuple[str, ...]
    domains: tuple[SendingDomain, ...]
    status: str = "active"


@dataclass(frozen=True)
class DnsblZone:
    zone: str
    kind: str  # ip | domain
    decoder: str = "generic"


@dataclass(frozen=True)
class Relay:
    ips: tuple[str, ...] = ()
    hostnames: tuple[str, ...] = ()
    spf_include: str | None = None
    dkim_cname_suffixes: tuple[str, ...] = ()
    envelope_domain: str | None = None  # the relay's own bounce domain used when no custom return path


@dataclass
class Inventory:
    accounts: tuple[Account, ...] = ()
    relay: Relay = field(default_factory=Relay)
    dnsbl_zones: tuple[DnsblZone, ...] = ()
    trap_domains: tuple[str, ...] = ()
    trap_addresses: tuple[str, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        self._by_sasl = {u.lower(): a for a in self.accounts for u in a.sasl_usernames}
        self._by_domain = {d.domain: a for a in self.accounts for d in a.domains}

    @property
    def domains(self) -> list[SendingDomain]:
        return [d for a in self.accounts for d in a.domains]

    def domain(self, name: str) -> SendingDomain | None:
        name = name.lower().rstrip(".")
        return next((d for d in self.domains if d.domain == name), None)

    def account_for_sasl(self, username: str) -> Account | None:
        return self._by_sasl.get(username.strip().lower())

    def account_for_domain(self, domain: str) -> Account | None:
        """The account owning `domain` or its closest verified parent (mail from a subdomain counts)."""
        name = domain.strip().lower().rstrip(".")
        if "@" in name:
            name = name.rpartition("@")[2]
        while name:
            if name in self._by_domain:
                return self._by_domain[name]
            _, _, name = name.partition(".")
        return None

    def account_for(self, value: str) -> Account | None:
        """By SASL username first (an exact identity), else by sender address or domain."""
        return self.account_for_sasl(value) or self.account_for_domain(value)


def is_domain_name(value: str) -> bool:
    """A syntactically valid host/domain name (LDH labels, underscores allowed), trailing dot optional."""
    return bool(_DOMAIN.match(value.strip().rstrip(".")))


def _fail(path: Path, where: str, why: str) -> InputError:
    return InputError(f"inventory {path}: {where}: {why}")


def _str_list(path: Path, where: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, where, "must be a list of strings")
    return [v.strip() for v in value]


def _check_domain(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not is_domain_name(value):
        raise _fail(path, where, f"{value!r} is not a domain name")
    return value.strip().rstrip(".").lower()


def _check_ip(path: Path, where: str, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _fail(path, where, f"{value!r} is not an IP address") from None


def _table(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, "must be a table")
    return value


def _parse_account(path: Path, i: int, raw: Any, seen_sasl: set[str], seen_dom: set[str]) -> Account:
    where = f"accounts[{i}]"
    raw = _table(path, where, raw)
    acc_id = raw.get("id")
    if not isinstance(acc_id, str) or not _ACCOUNT.match(acc_id):
        raise _fail(path, f"{where}.id", f"{acc_id!r} is not an account id (letters, digits, . _ -)")
    sasl = _str_list(path, f"{where}.sasl_usernames", raw.get("sasl_usernames"))
    for u in sasl:
        if not u or u.lower() in seen_sasl:
            raise _fail(path, f"{where}.sasl_usernames", f"{u!r} is empty or belongs to two accounts")
        seen_sasl.add(u.lower())
    domains = []
    raw_domains = raw.get("domains", [])
    if not isinstance(raw_domains, list):
        raise _fail(path, f"{where}.domains", "must be an array of tables")
    for j, rd in enumerate(raw_domains):
        dw = f"{where}.domains[{j}]"
        rd = _table(path, dw, rd)
        dom = _check_domain(path, f"{dw}.domain", rd.get("domain"))
        if dom in seen_dom:
            raise _fail(path, f"{dw}.domain", f"{dom} is listed twice")
        seen_dom.add(dom)
        sels = _str_list(path, f"{dw}.dkim_selectors", rd.get("dkim_selectors"))
        for s in sels:
            if not _SELECTOR.match(s):
                raise _fail(path, f"{dw}.dkim_selectors", f"{s!r} is not a DKIM selector")
        rp = rd.get("return_path")
        rp_dom = _check_domain(path, f"{dw}.return_path", rp) if rp is not None else None
        domains.append(SendingDomain(dom, acc_id, tuple(sels), rp_dom))
    unknown = set(raw) - {"id", "name", "sasl_usernames", "domains", "status"}
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)}")
    status = raw.get("status", "active")
    if status not in ("active", "suspended", "closed"):
        raise _fail(path, f"{where}.status", f"{status!r} is not active, suspended or closed")
    return Account(acc_id, str(raw.get("name", acc_id)), tuple(sasl), tuple(domains), status)


def parse_inventory(data: dict[str, Any], path: Path) -> Inventory:
    """Validate a decoded TOML document; every problem is an InputError naming the key."""
    unknown = set(data) - {"accounts", "relay", "dnsbl", "traps"}
    if unknown:
        raise _fail(path, "top level", f"unknown keys {sorted(unknown)}")
    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise _fail(path, "accounts", "must be an array of tables ([[accounts]])")
    seen_ids: set[str] = set()
    seen_sasl: set[str] = set()
    seen_dom: set[str] = set()
    accounts = []
    for i, raw in enumerate(raw_accounts):
        acc = _parse_account(path, i, raw, seen_sasl, seen_dom)
        if acc.account_id in seen_ids:
            raise _fail(path, f"accounts[{i}].id", f"{acc.account_id} is listed twice")
        seen_ids.add(acc.account_id)
        accounts.append(acc)
    r = _table(path, "relay", data.get("relay"))
    ips = [_check_ip(path, "relay.ips", v) for v in _str_list(path, "relay.ips", r.get("ips"))]
    hosts = [
        _check_domain(path, "relay.hostnames", h)
        for h in _str_list(path, "relay.hostnames", r.get("hostnames"))
    ]
    include = r.get("spf_include")
    relay = Relay(
        tuple(ips),
        tuple(hosts),
        _check_domain(path, "relay.spf_include", include) if include is not None else None,
        tuple(
            _check_domain(path, "relay.dkim_cname_suffixes", s)
            for s in _str_list(path, "relay.dkim_cname_suffixes", r.get("dkim_cname_suffixes"))
        ),
        _check_domain(path, "relay.envelope_domain", r["envelope_domain"])
        if r.get("envelope_domain")
        else None,
    )
    zones = []
    raw_zones = data.get("dnsbl", [])
    if not isinstance(raw_zones, list):
        raise _fail(path, "dnsbl", "must be an array of tables ([[dnsbl]])")
    for k, rz in enumerate(raw_zones):
        rz = _table(path, f"dnsbl[{k}]", rz)
        zone = _check_domain(path, f"dnsbl[{k}].zone", rz.get("zone"))
        kind = rz.get("kind", "ip")
        decoder = rz.get("decoder", "generic")
        if kind not in ("ip", "domain"):
            raise _fail(path, f"dnsbl[{k}].kind", f"{kind!r} is not ip or domain")
        if decoder not in DECODERS:
            raise _fail(path, f"dnsbl[{k}].decoder", f"{decoder!r} is not one of {', '.join(DECODERS)}")
        zones.append(DnsblZone(zone, kind, decoder))
    t = _table(path, "traps", data.get("traps"))
    trap_domains = [
        _check_domain(path, "traps.domains", d) for d in _str_list(path, "traps.domains", t.get("domains"))
    ]
    trap_addresses = []
    for a in _str_list(path, "traps.addresses", t.get("addresses")):
        local, at, dom = a.rpartition("@")
        if not at or not local:
            raise _fail(path, "traps.addresses", f"{a!r} is not an address")
        trap_addresses.append(f"{local}@{_check_domain(path, 'traps.addresses', dom)}")
    return Inventory(
        tuple(accounts), relay, tuple(zones), tuple(trap_domains), tuple(trap_addresses), str(path)
    )


def inventory_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Explicit path, else $DELIVERABILITY_INVENTORY, else data/inventory.toml."""
    if path is not None:
        return Path(path)
    env = os.environ.get("DELIVERABILITY_INVENTORY")
    return Path(env) if env else DEFAULT_INVENTORY


def load_inventory(path: str | os.PathLike[str] | None = None) -> Inventory:
    """Read and validate the inventory file; any problem is one InputError line."""
    p = inventory_path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"inventory {p}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"inventory {p}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"inventory {p}: invalid TOML: {exc}") from None
    return parse_inventory(data, p)


def store_inventory(con: duckdb.DuckDBPyConnection, inv: Inventory) -> dict[str, int]:
    """Replace the inventory tables with `inv` in one transaction; returns rows per table."""
    rows: dict[str, list[tuple[Any, ...]]] = {
        "inventory_accounts": [(a.account_id, a.name, a.status) for a in inv.accounts],
        "inventory_sasl_users": [(u, a.account_id) for a in inv.accounts for u in a.sasl_usernames],
        "inventory_domains": [(d.domain, d.account, d.return_path) for d in inv.domains],
        "inventory_selectors": [(d.domain, s) for d in inv.domains for s in d.selectors],
        "inventory_relay_ips": [(ip, ipaddress.ip_address(ip).version) for ip in inv.relay.ips],
        "inventory_relay_hosts": [(h,) for h in inv.relay.hostnames],
        "inventory_relay_settings": [
            (k, v)
            for k, v in (
                ("spf_include", inv.relay.spf_include),
                ("envelope_domain", inv.relay.envelope_domain),
                ("source", inv.source),
                ("loaded_at", dt.datetime.now(dt.UTC).isoformat()),
            )
            if v is not None
        ]
        + [("dkim_cname_suffix", s) for s in inv.relay.dkim_cname_suffixes],
        "inventory_dnsbl_zones": [(z.zone, z.kind, z.decoder) for z in inv.dnsbl_zones],
        "inventory_traps": [("domain", d) for d in inv.trap_domains]
        + [("address", a) for a in inv.trap_addresses],
    }
    with write_transaction(con):
        for table, values in rows.items():
            con.execute(f"DELETE FROM {table}")
            if values:
                marks = ", ".join("?" * len(values[0]))
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    return {t: len(v) for t, v in rows.items()}
