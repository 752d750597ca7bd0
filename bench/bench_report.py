"""Benchmark: `deliverability report deliverability_overview` wall time, kernel start included.

    .venv/bin/python bench/bench_report.py --db bench/out/ingest-10M.duckdb [--repeat 3]
    .venv/bin/python bench/bench_report.py      # bench/out/synth-10m.duckdb, else a synthetic store of that shape

Target (issue 4): ≤ 15 s on the database built from the 10M-line log. Each run is a fresh process
(interpreter, imports, parameter check, kernel start, every query of the notebook, HTML export, index);
the median is reported, with papermill's per-cell durations of the last run to show where time goes,
and the CPU seconds of the CLI plus its kernel (a figure that does not depend on how busy the machine is).
Without --db: the store ingested from the 10M-line log (bench/out/synth-10m.duckdb) when it exists,
else a synthetic store of --synthetic messages (default 1.3M ≈ a 10M-line log), built once through the
real schema with bench_rates.build_synthetic and cached in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOK = "deliverability_overview"
TARGET_S = 15.0


def synthetic_db(messages: int, days: int) -> Path:
    """The ingested 10M-line store (bench/out/synth-10m.duckdb) when it exists, else the cached
    synthetic store of `messages` messages, built on first use."""
    sys.path.insert(0, str(HERE))
    from bench_rates import INGESTED_10M, build_synthetic

    if INGESTED_10M.exists():
        return INGESTED_10M
    path = HERE / "out" / f"report-synth-{messages}.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        build_synthetic(path, messages, days)
    return path


def cell_durations(ipynb: Path) -> list[tuple[float, str]]:
    """(seconds, first source line) per executed code cell, slowest first."""
    nb = nbformat.read(ipynb, as_version=4)
    out = []
    for cell in nb.cells:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.cell_type == "code" and duration is not None:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            out.append((float(duration), first[:70]))
    return sorted(out, reverse=True)


def _children_cpu() -> float:
    """CPU seconds of waited-for descendants: the CLI and the kernel it started (load-independent)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=None, help="the store to report on [a synthetic one]")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median is reported [3]")
    ap.add_argument("--synthetic", type=int, default=1_300_000, metavar="MESSAGES")
    ap.add_argument("--days", type=int, default=7, help="span of the synthetic store [7]")
    ap.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="report parameter"
    )
    args = ap.parse_args(argv)
    db = args.db or synthetic_db(args.synthetic, args.days)
    if not db.exists():
        print(f"no database at {db}", file=sys.stderr)
        return 2
    walls: list[float] = []
    cpus: list[float] = []
    runner_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(tmp)
        cmd = [
            sys.executable,
            "-m",
            "analysis",
            "report",
            NOTEBOOK,
            "--db",
            str(db),
            "--out",
            str(out),
            "--format",
            "both",
            *[f"-p{p}" for p in args.param],
        ]
        for _ in range(args.repeat):
            started, cpu_before = time.perf_counter(), _children_cpu()
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - started)
            cpus.append(_children_cpu() - cpu_before)
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                return 1
            summary = next(p for p in out.glob(f"{NOTEBOOK}*.json"))
            runner_s.append(float(json.loads(summary.read_text())["seconds"]))
        ipynb = next(out.glob(f"{NOTEBOOK}*.ipynb"))
        cells = cell_durations(ipynb)
        html_bytes = next(out.glob(f"{NOTEBOOK}*.html")).stat().st_size
    median = statistics.median(walls)
    result = {
        "benchmark": "report",
        "notebook": NOTEBOOK,
        "db": str(db),
        "db_bytes": db.stat().st_size,
        "repeat": args.repeat,
        "wall_median_s": round(median, 2),
        "walls_s": [round(w, 2) for w in walls],
        "runner_median_s": round(statistics.median(runner_s), 2),
        "cpu_median_s": round(statistics.median(cpus), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "slowest_cells_s": [[round(s, 2), src] for s, src in cells[:5]],
        "cells_total_s": round(sum(s for s, _ in cells), 2),
        "html_bytes": html_bytes,
        "target_s": TARGET_S,
        "within_target": median <= TARGET_S,
    }
    print(json.dumps(result, indent=2))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "bench_report.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
