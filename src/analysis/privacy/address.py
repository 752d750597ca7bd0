"""One person's address, and the patterns that find it wherever it was logged.

Postfix keeps the local part exactly as the client sent it (case preserved; quoted when it needs quotes,
e.g. `"john doe"@example.com`), while domains are case-insensitive. So a subject matches its local part
exactly (optionally case-folded) and its domain in any case, bare or quoted, inside any text: a field, a
raw log line, an ESP's JSON (where quotes are backslash-escaped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.errors import InputError

# Characters of an unquoted (dot-atom) local part, RFC 5322 atext plus '.'.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~.-"
_DOMAIN_CHARS = "A-Za-z0-9.-"
# What may not precede a match: atext, except '=' which Postfix puts before bare values (to=, sasl_username=).
_NOT_BEFORE = "A-Za-z0-9!#$%&'*+/?^_`{|}~.-"


@dataclass(frozen=True)
class Address:
    """An address split into its exact local part (unquoted) and its lower-case domain."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.display_local}@{self.domain}"

    @property
    def needs_quotes(self) -> bool:
        return not self.local or not re.fullmatch(f"[{_ATEXT}]+", self.local) or ".." in self.local

    @property
    def display_local(self) -> str:
        if not self.needs_quotes:
            return self.local
        return '"' + self.local.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def local_forms(self) -> list[str]:
        """How the local part can appear in text: bare, quoted, quoted inside a JSON string."""
        quoted = '"' + self.local.replace("\\", "\\\\").replace('"', '\\"') + '"'
        json_quoted = quoted.replace("\\", "\\\\").replace('"', '\\"')
        return list(dict.fromkeys([self.local, quoted, json_quoted]))


def parse_address(text: str) -> Address:
    """`local@domain`, `"quoted local"@domain` or `<...>`; InputError if it is not one address."""
    s = text.strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1].strip()
    if s.startswith('"'):
        i, out = 1, []
        while i < len(s) and s[i] != '"':
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            out.append(s[i])
            i += 1
        if i >= len(s) or s[i + 1 : i + 2] != "@":
            raise InputError(f"address {text!r}: unterminated quoted local part")
        local, domain = "".join(out), s[i + 2 :]
    else:
        local, sep, domain = s.rpartition("@")
        if not sep:
            raise InputError(f"address {text!r}: expected local@domain")
    domain = domain.strip().rstrip(".").lower()
    if not local or not domain or not re.fullmatch(rf"[{_DOMAIN_CHARS}]+|\[[0-9A-Fa-f:.]+\]", domain):
        raise InputError(f"address {text!r}: expected local@domain")
    return Address(local, domain)


def _pattern(addr: Address, *, fold_local: bool, escape: str) -> str:
    locals_ = "|".join(re.escape(f) for f in addr.local_forms())
    local = f"(?i:{locals_})" if fold_local else f"(?:{locals_})"
    before = f"(^|[^{_NOT_BEFORE}])" if escape == "re2" else f"(?<![{_NOT_BEFORE}])"
    # A trailing dot ends a sentence, not the domain: "example.com." matches, "example.com.evil" does not.
    after = r"(\.(?:[^A-Za-z0-9-]|$)|[^A-Za-z0-9.-]|$)" if escape == "re2" else r"(?!\.?[A-Za-z0-9-])"
    return f"{before}({local}@(?i:{re.escape(addr.domain)})){after}"


def sql_pattern(addr: Address, *, fold_local: bool = False) -> str:
    """An RE2 pattern (DuckDB regexp_*): group 1 the boundary before, 2 the address, 3 the boundary after.

    RE2 has no look-around, so the boundaries are captured and put back by a replacement.
    """
    return _pattern(addr, fold_local=fold_local, escape="re2")


def bytes_pattern(addr: Address, *, fold_local: bool = False) -> re.Pattern[bytes]:
    """A Python pattern over raw bytes (a database file): the address with look-around boundaries."""
    return re.compile(_pattern(addr, fold_local=fold_local, escape="py").encode())
