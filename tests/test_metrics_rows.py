"""The rates command's plain-row route (rate_rows, rowformat) gives exactly what the polars route gives.

`deliverability rates` computes up to PYTHON_ROWS groups without polars; the frame route (rates.rates and
polars' writers) stays the reference: same rows, same floats to the bit, same JSON/CSV/table bytes.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.cli import main
from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.metrics import Filters, add_rates, rates
from analysis.metrics import rate_rows as rate_rows_module
from analysis.metrics.rate_rows import COUNT_COLUMNS, add_rate_fields, rate_rows
from analysis.metrics.rowformat import csv_text, float_text, json_text
from analysis.stats import z_for_confidence
from analysis.store import connect
from test_metrics import build_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"

GROUPINGS = [
    (),
    ("sender_domain", "day"),
    ("provider",),
    ("relay_ip",),
    ("account", "hour"),
    ("recipient_domain", "relay_host"),
    ("sasl_username", "client_ip"),
]
SETTINGS = [
    (Filters(), 0.95, 100),
    (Filters(), 0.99, 0),
    (Filters(), 0.5, 2),
    (Filters(where={"provider": "google"}), 0.95, 1),
    (Filters(since=dt.datetime(2026, 11, 20, 11), until=dt.datetime(2026, 11, 23)), 0.9, 3),
    (Filters(where={"relay_host": "nowhere.example"}), 0.95, 0),  # no rows at all
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    tmp = tmp_path_factory.mktemp("rows")
    fixture = build_store(tmp / "fixture.duckdb", with_complaints=True)
    sample = tmp / "sample.duckdb"
    con = connect(sample)
    Ingestor(con, IngestOptions(year=2026)).ingest(
        [str(SAMPLES / "postfix-real.log"), str(SAMPLES / "arf"), str(SAMPLES / "esp")]
    )
    con.close()
    yield [fixture, sample]


def test_rate_rows_equal_the_frame_route(stores: list[Path]) -> None:
    checked = 0
    for db in stores:
        con = connect(db, read_only=True)
        for dims in GROUPINGS:
            for filters, confidence, min_volume in SETTINGS:
                frame = rates(con, list(dims), filters, confidence=confidence, min_volume=min_volume)
                plain = rate_rows(con, dims, filters, confidence=confidence, min_volume=min_volume)
                assert plain is not None
                columns, rows = plain
                assert columns == frame.columns
                # Python values compare floats exactly; nan is never produced on either route.
                assert rows == frame.to_dicts(), (db.name, dims, filters)
                checked += len(rows)
        con.close()
    assert checked > 300  # the stores have real variety (sample: hundreds of groups)


counts = st.integers(min_value=0, max_value=10**7)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(counts, counts, counts, counts, counts, st.booleans()).map(
            lambda t: {
                "attempted": t[0],
                "delivered": min(t[1], t[0]),
                "hard_bounced": min(t[2], t[0]),
                "rejected": None if t[5] else t[3],
                "complained": min(t[4], t[1], t[0]),
            }
        ),
        min_size=1,
        max_size=20,
    ),
    confidence=st.floats(min_value=0.01, max_value=0.999),
    min_volume=st.integers(min_value=0, max_value=200),
)
def test_row_rates_equal_polars_rates_for_any_counts(
    rows: list[dict[str, int | None]], confidence: float, min_volume: int
) -> None:
    full = [
        {
            **{c: 0 for c in COUNT_COLUMNS},
            **r,
            "submitted": None if r["rejected"] is None else (r["attempted"] or 0) + r["rejected"],
        }
        for r in rows
    ]
    frame = add_rates(
        pl.DataFrame(full, schema={c: pl.Int64 for c in COUNT_COLUMNS}),
        confidence=confidence,
        min_volume=min_volume,
    )
    z = z_for_confidence(confidence)
    plain = add_rate_fields([dict(r) for r in full], z=z, min_volume=min_volume)
    assert plain == frame.to_dicts()


EDGE_FLOATS = [0.0, -0.0, 1.0, -1.5, 0.1, 1e-4, 9.999e-5, 1e-5, 1.2e-5, 9.99e-6, 1e-6, 1.5e-7, 5e-324, 1e15,
               9.99e15, 1e16, 1.2345678901234568e17, 1.7976931348623157e308, 0.000044840269986265994,
               2.0**-1074, 123456.789, math.nan, math.inf, -math.inf]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_floats_are_written_as_polars_writes_them(xs: list[float]) -> None:
    for values in (xs, EDGE_FLOATS):
        frame = pl.DataFrame({"f": values}, schema={"f": pl.Float64})
        rows = [{"f": v} for v in values]
        assert json_text(["f"], rows) == frame.write_json()
        # The CLI's CSV writes NaN as an empty field (commands/metrics._emit); rates are never infinite.
        finite = [v for v in values if not math.isinf(v)]
        expected = pl.DataFrame({"f": finite}, schema={"f": pl.Float64}).fill_nan(None).write_csv()
        assert csv_text(["f"], [{"f": v} for v in finite]) == expected
    assert float_text(math.nan) is None


HOSTILE = ["", " lead", "a,b", 'q"uote', "new\nline", "cr\rx", "tab\tx", "#", "é😀", "\x01\x1f\x7f", "back\\slash",
           "\u2028", "acme.example", None]  # fmt: skip


def test_strings_lists_times_and_nulls_are_written_as_polars_writes_them() -> None:
    utc = dt.UTC
    frame = pl.DataFrame(
        {
            "s": HOSTILE,
            "t": [
                dt.datetime(2026, 11, 20, i % 24, tzinfo=utc) if i % 5 else None for i in range(len(HOSTILE))
            ],
            "b": [bool(i % 2) if i % 3 else None for i in range(len(HOSTILE))],
            "n": [i * 7 if i % 4 else None for i in range(len(HOSTILE))],
            "l": [
                [] if i % 3 == 0 else None if i % 3 == 1 else ["x>=5% (review)", "y"]
                for i in range(len(HOSTILE))
            ],
        },
        schema={
            "s": pl.String,
            "t": pl.Datetime("us", "UTC"),
            "b": pl.Boolean,
            "n": pl.Int64,
            "l": pl.List(pl.String),
        },
    )
    rows = frame.to_dicts()
    assert json_text(frame.columns, rows) == frame.write_json()
    # The CLI's CSV: lists joined with '; ', times as ISO 8601 to the second (commands/metrics._emit).
    flat = frame.with_columns(pl.col("l").list.join("; "), pl.col("t").dt.to_string("%Y-%m-%dT%H:%M:%S%:z"))
    assert csv_text(frame.columns, rows) == flat.write_csv()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--csv"]], ids=["table", "json", "csv"])
def test_the_command_prints_the_same_bytes_on_either_route(
    stores: list[Path], fmt: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(stores[1])
    for by in ("sender_domain,day", "provider,relay_ip", "account"):
        args = ["rates", "--db", db, "--by", by, "--min-volume", "3", *fmt]
        plain = _cli(*args)
        with monkeypatch.context() as m:
            m.setattr(rate_rows_module, "PYTHON_ROWS", 0)  # every result is "too long": the frame route
            framed = _cli(*args)
        assert plain == framed and len(plain) > 500


def test_the_rates_command_imports_neither_polars_nor_pyarrow(stores: list[Path]) -> None:
    code = (
        "import sys\n"
        "from analysis.cli import main\n"
        "try:\n"
        f"    main(['rates', '--db', {str(stores[1])!r}, '--by', 'sender_domain,day', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('polars', 'pyarrow', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
