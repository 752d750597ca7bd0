"""Ingest options, validated before any work starts (and before the heavy modules load)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.errors import InputError

FORMATS = ("postfix", "arf", "dmarc", "ses", "sendgrid", "mailgun", "postmark")
# Parse unit: two are parsed at once while the previous ones are correlated and stored, and two make one
# unit of correlation (loader.CORRELATE_CHUNKS). 10M lines, CLI, alternated in one session: 16 MiB chunks
# one by one 30.6-31.5 s / 1.32-1.34 GiB peak; 12 MiB in pairs 28.9-30.5 s / 1.33-1.37 GiB; 14 MiB in pairs
# 29.5 s / 1.36-1.37 GiB; 16 MiB in pairs about 10 % faster but 1.43-1.47 GiB, too close to the 1.5 GiB
# budget. DELIVERABILITY_CHUNK_BYTES overrides it (for measuring).
CHUNK_BYTES = int(os.environ.get("DELIVERABILITY_CHUNK_BYTES", 14 * 1024 * 1024))
# A file is committed in steps of about this much input. DuckDB holds a step's rows in memory and
# compresses most of them at its commit, rewriting the last, partly filled row group of each table: bigger
# steps rewrite less, and steps waiting for the writer (loader.CORRELATE_AHEAD) carry the other threads
# through it. Measured on 10M lines with compact waiting steps (wall / time in commits / peak RSS, two runs
# each, same session): 192 MiB 36.7-41.1 s / 8.7-10.1 s / 1.15 GB; 288 MiB 32.0-39.2 s / 8.3-9.0 s /
# 1.32 GB; 384 MiB 31.0-34.9 s / 2.7-3.5 s / 1.30 GB; 768 MiB 31.9 s / 1.6 s / 1.67 GB (over budget).
# DELIVERABILITY_COMMIT_BYTES overrides it (tests use small steps to crash between them).
COMMIT_BYTES = int(os.environ.get("DELIVERABILITY_COMMIT_BYTES", 384 * 1024 * 1024))


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
