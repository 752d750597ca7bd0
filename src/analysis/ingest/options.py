"""Ingest options, validated before any work starts (and before the heavy modules load)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.errors import InputError

FORMATS = ("postfix", "arf", "dmarc", "ses", "sendgrid", "mailgun", "postmark")
CHUNK_BYTES = 12 * 1024 * 1024  # parse unit: two are parsed at once while the previous ones are stored
# A file is committed in steps of about this much input. DuckDB holds a step's rows in memory and
# compresses them at its commit, rewriting the last, partly filled row group of each table: bigger steps
# rewrite less. Measured on 10M lines (wall / peak RSS): 96 MiB steps and a 256 MB DuckDB pool 40-42 s /
# 1.35-1.40 GiB; 192 MiB and 256 MB 36.7 s / 1.46 GiB (too close to the 1.5 GiB budget); 192 MiB and
# 128 MB 36.8 s / 1.33 GiB (the defaults); 256 MiB and 128 MB 43.8 s / 1.37 GiB.
# DELIVERABILITY_COMMIT_BYTES overrides it (tests use small steps to crash between them).
COMMIT_BYTES = int(os.environ.get("DELIVERABILITY_COMMIT_BYTES", 192 * 1024 * 1024))


@dataclass
class IngestOptions:
    """--year (year of a traditional log's first line), --tz (zone of traditional timestamps)."""

    year: int | None = None
    tz: str = "UTC"
    chunk_bytes: int = CHUNK_BYTES
    commit_bytes: int = COMMIT_BYTES
    hold_partial: bool = True
    format: str | None = None  # force one format instead of detecting each input's

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"--tz: unknown time zone {self.tz!r}") from None
        if self.format is not None and self.format not in FORMATS:
            raise InputError(f"--format: {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.year is not None and not 1970 <= self.year <= 2200:
            raise InputError(f"--year: {self.year} is out of range")
