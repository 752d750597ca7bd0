"""The privacy package's SQL, kept in .sql files beside it."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of sql/NAME.sql."""
    return resources.files("analysis.privacy").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
