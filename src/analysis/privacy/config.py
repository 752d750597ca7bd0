"""Privacy settings: retention rules per table, the pseudonymisation default and where its key lives.

Defaults ship with the package (privacy.toml beside this file, documented there); a site file overrides
them key by key, so a new table gets a rule in one place and every site inherits it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.errors import InputError

CONFIG_ENV = "DELIVERABILITY_PRIVACY_CONFIG"
KEY_ENV = "DELIVERABILITY_PRIVACY_KEY"
KEY_FILE_ENV = "DELIVERABILITY_PRIVACY_KEY_FILE"
SITE_FILE = Path("config/privacy.toml")
_DURATION = re.compile(r"^(\d+)(d|mo|y)$")


@dataclass(frozen=True)
class Rule:
    """How long one table's rows live and which time decides it."""

    table: str
    keep: str  # "30d" / "13mo" / "2y", "forever" or "parent"
    column: str | None = None
    through: str | None = None  # parent table holding `column`, joined on `key`
    parent: str | None = None  # keep == "parent": rows go when no parent row has their key
    key: tuple[str, ...] = ()

    @property
    def expires(self) -> bool:
        return self.keep not in ("forever",)

    def cutoff(self, now: dt.datetime) -> dt.datetime | None:
        """Rows older than this (strictly) are expired; None for forever/parent rules."""
        m = _DURATION.match(self.keep)
        if m is None:
            return None
        n, unit = int(m.group(1)), m.group(2)
        if unit == "d":
            return now - dt.timedelta(days=n)
        months = n if unit == "mo" else 12 * n
        return _minus_months(now, months)


def _minus_months(t: dt.datetime, months: int) -> dt.datetime:
    total = t.year * 12 + (t.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    # Clamp the day (31 March minus one month is the last day of February).
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    return t.replace(year=year, month=month, day=min(t.day, last))


@dataclass(frozen=True)
class PrivacyConfig:
    """The merged settings."""

    rules: Mapping[str, Rule]
    aggregates: Mapping[str, str]
    pseudonymise_default: bool
    key_file: Path
    source: str  # which files were read, for messages


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def _rule(table: str, raw: Mapping[str, Any]) -> Rule:
    keep = str(raw.get("keep", ""))
    key = raw.get("key", ())
    key_t = (key,) if isinstance(key, str) else tuple(str(k) for k in key)
    rule = Rule(table, keep, raw.get("column"), raw.get("through"), raw.get("parent"), key_t)
    where = f"retention rule for {table}"
    if keep == "parent":
        if not rule.parent or not rule.key:
            raise InputError(f"{where}: keep = 'parent' needs parent and key")
    elif keep != "forever":
        if not _DURATION.match(keep):
            raise InputError(f"{where}: keep {keep!r} is not like 30d, 13mo, 2y, 'forever' or 'parent'")
        if not rule.column:
            raise InputError(f"{where}: a period needs the time column that dates a row")
        if rule.through and not rule.key:
            raise InputError(f"{where}: through = {rule.through!r} needs key")
    return rule


def _site_file() -> Path:
    """./config/privacy.toml, or the project's when run from a subdirectory (JupyterLab runs in notebooks/)."""
    for base in (Path.cwd(), *Path.cwd().parents[:2]):
        if (base / SITE_FILE).is_file():
            return base / SITE_FILE
    return SITE_FILE


def load_config(path: str | os.PathLike[str] | None = None) -> PrivacyConfig:
    """Package defaults overlaid with the site file (argument, $DELIVERABILITY_PRIVACY_CONFIG, ./config)."""
    text = resources.files("analysis.privacy").joinpath("privacy.toml").read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    sources = ["package defaults"]
    site = (
        Path(path) if path else Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else _site_file()
    )
    if path or os.environ.get(CONFIG_ENV) or site.exists():
        try:
            data = _merge(data, tomllib.loads(site.read_text(encoding="utf-8")))
        except OSError as exc:
            raise InputError(f"cannot read privacy configuration {site}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"privacy configuration {site}: {exc}") from None
        sources.append(str(site))
    rules = {t: _rule(t, raw) for t, raw in data.get("retention", {}).items()}
    pseudo = data.get("pseudonymise", {})
    default = pseudo.get("default", False)
    if not isinstance(default, bool):
        raise InputError("privacy configuration: pseudonymise.default must be true or false")
    return PrivacyConfig(
        rules=rules,
        aggregates={str(k): str(v) for k, v in data.get("aggregates", {}).items()},
        pseudonymise_default=default,
        key_file=Path(str(pseudo.get("key_file", "~/.config/deliverability/privacy.key"))).expanduser(),
        source=" + ".join(sources),
    )


def load_key(config: PrivacyConfig | None = None, *, create: bool = True) -> bytes:
    """The HMAC key: $DELIVERABILITY_PRIVACY_KEY, else the key file ($..._KEY_FILE or the configured one).

    The configured file is created (mode 0600, 32 random bytes as hex) when missing and `create` is set, so
    tokens stay consistent across runs on one machine; a key is never read from the repository.
    """
    if os.environ.get(KEY_ENV):
        return _checked(os.environ[KEY_ENV].encode(), f"${KEY_ENV}")
    explicit = os.environ.get(KEY_FILE_ENV)
    path = (Path(explicit).expanduser() if explicit else (config or load_config()).key_file).absolute()
    repo = next((d for d in path.parents if (d / ".git").exists()), None)
    if repo is not None:
        raise InputError(f"privacy key {path} is inside the repository {repo}: keep keys out of the repo")
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        if explicit or not create:
            raise InputError(f"no privacy key: set ${KEY_ENV} or create {path}") from None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_hex(32).encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
    except OSError as exc:
        raise InputError(f"cannot read privacy key {path}: {exc.strerror}") from None
    return _checked(key, str(path))


def _checked(key: bytes, where: str) -> bytes:
    if len(key) < 16:
        raise InputError(f"privacy key in {where} is shorter than 16 bytes")
    return key
