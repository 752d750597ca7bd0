"""Pseudonymised reports: recipient local parts, SASL usernames and client IPs as keyed HMAC tokens.

A token is HMAC-SHA256(key, kind + value), so the same value gets the same token in every report made
with the same key (an analyst can still follow one sender across reports) while nobody without the key
can confirm a guess. Domains stay: they are what deliverability is judged by.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from analysis.privacy.config import PrivacyConfig, load_config, load_key

# Columns whose values are personal, by what they hold.
ADDRESS_COLUMNS = ("recipient", "orig_to", "original_rcpt_to", "envelope_to")
USER_COLUMNS = ("sasl_username",)
IP_COLUMNS = ("client_ip", "source_ip")
# Breach/filter dimensions of the metrics summary whose `value` is one of the above.
_DIMENSION_KIND = {**{c: "address" for c in ADDRESS_COLUMNS}, "sasl_username": "user", "client_ip": "ip"}

_ADDRESS = re.compile(
    r'(?P<local>"(?:[^"\\]|\\.)*"|[^\s<>@()\[\]",;:=]+)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)'
)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# Eight groups, or fewer around one '::' (so that a clock time like 05:00:01 is not an address).
_H = "[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    rf"(?<![0-9A-Fa-f:])(?:(?:{_H}:){{7}}{_H}|{_H}(?::{_H})*::(?:{_H}(?::{_H})*)?|::{_H}(?::{_H})*)(?![0-9A-Fa-f:])"
)


class Pseudonymizer:
    """Replaces personal values by tokens; disabled (key None) it returns everything unchanged."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def _token(self, kind: str, value: str) -> str:
        assert self.key is not None
        digest = hmac.new(self.key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:10]).decode().lower()

    def address(self, value: str | None) -> str | None:
        """`local@domain` → `r-<token>@domain` (domain lower-cased, local part exact)."""
        if value is None or not self.enabled or value == "":
            return value
        local, sep, domain = value.rpartition("@")
        if not sep:
            return f"r-{self._token('local', value)}"
        domain = domain.lower()
        return f"r-{self._token('address', f'{local}@{domain}')}@{domain}"

    def user(self, value: str | None) -> str | None:
        """A SASL username → `u-<token>` (its domain kept when it looks like an address)."""
        if value is None or not self.enabled or value == "":
            return value
        _, sep, domain = value.rpartition("@")
        suffix = f"@{domain.lower()}" if sep and "." in domain else ""
        return f"u-{self._token('user', value)}{suffix}"

    def ip(self, value: str | None) -> str | None:
        """A client IP → `ip-<token>`."""
        if value is None or not self.enabled or value == "":
            return value
        return f"ip-{self._token('ip', value.lower())}"

    def text(self, value: str | None) -> str | None:
        """Free text (a reply, an example, a title) with every address and IP replaced."""
        if value is None or not self.enabled:
            return value
        out = _ADDRESS.sub(self._address_match, value)
        out = _IPV4.sub(lambda m: self.ip(m.group(0)) or "", out)
        return _IPV6.sub(lambda m: self.ip(m.group(0)) or "", out)

    def _address_match(self, m: re.Match[str]) -> str:
        if not m.group("local").strip("*"):  # already masked (***@domain)
            return m.group(0)
        return self.address(m.group(0)) or ""

    def value(self, kind: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return {"address": self.address, "user": self.user, "ip": self.ip}.get(kind, self.text)(value)

    def frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """A table with its personal columns tokenised and its other text columns scrubbed."""
        if not self.enabled:
            return df
        exprs = []
        for name, dtype in df.schema.items():
            if dtype not in (pl.String, pl.Categorical):
                continue
            exprs.append(self._column(name, _DIMENSION_KIND.get(name, "text")))
        return df.with_columns(exprs) if exprs else df

    def _column(self, name: str, kind: str) -> pl.Expr:
        def one(v: str) -> str | None:
            return self.value(kind, v)  # type: ignore[no-any-return]

        return pl.col(name).cast(pl.String).map_elements(one, return_dtype=pl.String).alias(name)

    def figures(self, data: Any, dimension: str | None = None) -> Any:
        """A JSON-like structure (the metrics summary) with personal values tokenised wherever they sit."""
        if not self.enabled:
            return data
        if isinstance(data, Mapping):
            dim = data.get("dimension") if isinstance(data.get("dimension"), str) else dimension
            out: dict[str, Any] = {}
            for k, v in data.items():
                if k == "value" and dim in _DIMENSION_KIND:
                    out[k] = self.value(_DIMENSION_KIND[dim], v)
                elif k in _DIMENSION_KIND:
                    out[k] = self.value(_DIMENSION_KIND[k], v) if not isinstance(v, Mapping | list) else v
                else:
                    out[k] = self.figures(v, dim)
            return out
        if isinstance(data, list | tuple):
            return [self.figures(v, dimension) for v in data]
        if isinstance(data, str):
            return self.text(data)
        return data


def resolve(flag: bool | None, config: PrivacyConfig | None = None) -> bool:
    """The effective `pseudonymise` setting: the parameter when given, else the configuration default."""
    if flag is not None:
        return bool(flag)
    return (config or load_config()).pseudonymise_default


def pseudonymizer(flag: bool | None = None, config: PrivacyConfig | None = None) -> Pseudonymizer:
    """The report's pseudonymiser: enabled per `resolve`, keyed from the environment or the key file."""
    cfg = config or load_config()
    return Pseudonymizer(load_key(cfg) if resolve(flag, cfg) else None)
