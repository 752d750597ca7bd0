"""The driver/executor split logic of the Spark ingest, without Spark: splits cover every line exactly
once, and the per-split line numbers and year states equal a whole-file parse (Dec→Jan rollover)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from analysis.ingest import sources as S
from analysis.ingest.options import IngestOptions
from analysis.ingest.postfix import YearState, parse_lines
from analysis.spark import stages
from analysis.spark.ingest import plan_files
from analysis.spark.splits import plan_splits, read_split, scan_split, starting_states
from analysis.synth.postfix import generate


def _splits_of(path: Path, split_bytes: int) -> list[bytes]:
    src = S.describe_file(path)
    return [b"".join(read_split(s)) for s in plan_splits(1, src, 0, split_bytes)]


@pytest.mark.parametrize("content", [b"a\nbb\n\nccc\ndddd\n", b"a\nbb\n\nccc\ndddd", b"\n\n\n", b"x" * 7])
def test_splits_cover_every_line_once(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log"
    path.write_bytes(content)
    for size in range(1, len(content) + 2):
        parts = _splits_of(path, size)
        assert b"".join(parts) == content, size
        filled = [p for p in parts if p]
        assert all(p.endswith(b"\n") for p in filled[:-1]), size  # whole lines only


@pytest.fixture(scope="module")
def rollover(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roll") / "mail.log"
    generate(path, lines=20000, seed=2, start=dt.datetime(2026, 12, 31, 23, 45, tzinfo=dt.UTC))
    return path


def test_split_parse_equals_whole_file_parse_across_new_year(rollover: Path) -> None:
    [lf] = plan_files([str(rollover)], IngestOptions(year=2026), lambda m: None)
    splits = plan_splits(lf.file_id, lf.src, 0, 64 * 1024)
    assert len(splits) > 20
    scans = {s.split_id: scan_split(s) for s in splits}
    starts, ends = starting_states(splits, scans, {lf.file_id: lf.state})
    rows = [
        {**{k: getattr(s, k) for k in ("split_id", "file_id", "path", "compression", "start", "end")},
         "first_line": starts[s.split_id][0], "year": starts[s.split_id][1].year,
         "last_month": starts[s.split_id][1].last_month, "tz": "UTC"}
        for s in splits
    ]  # fmt: skip
    batch = pa.RecordBatch.from_pylist(rows, schema=stages.SPLIT_SCHEMA)
    out = pl.from_arrow(
        pa.Table.from_batches(list(stages.parse_stage(iter([batch]))), stages.parsed_schema())
    )
    assert isinstance(out, pl.DataFrame)

    whole = YearState(2026)
    res = parse_lines(S.split_lines(rollover.read_bytes()), first_line_no=1, year=whole)
    want = res.events.filter(pl.col("qid").is_not_null()).select("line_no", "ts", "kind").sort("line_no")
    got = out.filter(pl.col(stages.TAG) == stages.EVENT).select("line_no", "ts", "kind").sort("line_no")
    assert got.equals(want)
    assert {t.year for t in got.get_column("ts")} == {2026, 2027}  # the rollover is really crossed
    stats = out.filter(pl.col(stages.TAG) == stages.STATS)
    assert int(stats.get_column("lines_read").sum()) == res.lines_read == 20000
    assert (ends[lf.file_id].year, ends[lf.file_id].last_month) == (whole.year, whole.last_month) == (2027, 1)
