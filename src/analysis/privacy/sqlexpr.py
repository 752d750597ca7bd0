"""SQL text built from table and column names read from the catalogue (never from user input)."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A double-quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def any_match(columns: list[str]) -> str:
    """True when any of the columns matches the `$pattern` parameter."""
    return " OR ".join(f"regexp_matches({quote_ident(c)}, $pattern)" for c in columns)


def redact_expr(column: str) -> str:
    """The column with every `$pattern` match replaced by `$replacement`.

    Two passes: a match consumes the separator after it, so of adjacent copies ("a@x,a@x") the first pass
    may skip every second one; the second pass gets those.
    """
    once = f"regexp_replace({quote_ident(column)}, $pattern, $replacement, 'g')"
    return f"regexp_replace({once}, $pattern, $replacement, 'g')"
