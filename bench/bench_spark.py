"""Benchmark: the Spark local-mode ingest beside the DuckDB ingest of the same log, and Spark's
throughput per core (what sizing a cluster needs).

    .venv/bin/python bench/bench_spark.py                    # the cached 10M-line log if present
    .venv/bin/python bench/bench_spark.py --lines 1000000    # else a generated log of this size
    .venv/bin/python bench/bench_spark.py --master 'local[2]' --driver-memory 6g --skip duckdb

Each repeat times, as child processes on a warm page cache: `deliverability spark ingest LOG --lake
FRESH` and `deliverability ingest LOG --db FRESH`. A Spark run over the log's first 1,000 lines gives
the fixed cost (JVM start, job scheduling), so that throughput per core is (lines / (wall - fixed)) /
cores: the part that scales out. `totals --json` of the lake and of the database are compared (they
must be equal; a difference is listed). Figures are medians; the JSON goes to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_ingest import OUT, deliverability, ensure_log, machine, median, timed


def _cores(master: str) -> int:
    m = re.fullmatch(r"local\[(\d+|\*)\]", master)
    if m is None:
        raise SystemExit("--master: only local[N] / local[*] can be benchmarked here")
    return (os.cpu_count() or 1) if m[1] == "*" else int(m[1])


def _totals(flag: str, where: Path) -> dict[str, Any]:
    run = timed([*deliverability(), "totals", "--json", flag, str(where)])
    return json.loads(run.stdout) if run.rc == 0 else {"error": run.stderr.strip()[-300:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", type=Path, default=None, help="log to read [the cached 10M-line log]")
    ap.add_argument(
        "--lines", type=int, default=None, help="generate a log of this size [the cached 10M, else 1M]"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--year", type=int, default=2026, help="year of the log's first line [2026]")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="4g", help="local mode runs executors in the driver JVM")
    ap.add_argument("--skip", action="append", default=[], choices=["duckdb", "fixed"])
    args = ap.parse_args(argv)
    cores = _cores(args.master)
    cached = OUT / "postfix-10000000-s0.log"
    if args.log is not None:
        log = args.log
    elif args.lines is None and cached.exists():
        log = cached
    else:
        log, _, _ = ensure_log(args.lines or 1_000_000, args.seed, False)
    lines = sum(1 for _ in log.open("rb"))
    spark_cmd = [*deliverability(), "spark", "ingest", "--year", str(args.year), "--master", args.master,
                 "--conf", f"spark.driver.memory={args.driver_memory}"]  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=OUT))
    walls: dict[str, list[float]] = {"spark": [], "duckdb": [], "spark_fixed": []}
    failures: list[str] = []
    mismatches: list[str] = []
    try:
        if "fixed" not in args.skip:
            head = work / "head.log"
            with log.open("rb") as src, head.open("wb") as dst:
                for _, line in zip(range(1000), src, strict=False):
                    dst.write(line)
            for _ in range(args.repeat):
                run = timed([*spark_cmd, str(head), "--lake", str(work / "head-lake")])
                walls["spark_fixed"].append(run.wall)
        for i in range(args.repeat):
            lake, db = work / f"lake-{i}", work / f"db-{i}.duckdb"
            run = timed([*spark_cmd, str(log), "--lake", str(lake)])
            if run.rc:
                failures.append(f"spark ingest rc={run.rc}: {run.stderr.strip()[-500:]}")
                break
            walls["spark"].append(run.wall)
            if "duckdb" in args.skip:
                continue
            run = timed([*deliverability(), "ingest", str(log), "--db", str(db), "--year", str(args.year)],
                        stdout_to_null=True)  # fmt: skip
            if run.rc:
                failures.append(f"duckdb ingest rc={run.rc}: {run.stderr.strip()[-500:]}")
                break
            walls["duckdb"].append(run.wall)
            a, b = _totals("--lake", lake), _totals("--db", db)
            mismatches = [f"{k}: spark {a.get(k)} != duckdb {b.get(k)}" for k in sorted(set(a) | set(b))
                          if a.get(k) != b.get(k)]  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: median(v) for k, v in walls.items()}
    fixed = med["spark_fixed"] or 0.0
    scaled = (med["spark"] or 0.0) - fixed
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "log": str(log),
        "lines": lines,
        "bytes": log.stat().st_size,
        "master": args.master,
        "cores": cores,
        "repeat": args.repeat,
        "median_wall": med,
        "lines_per_s": {k: lines / v for k, v in med.items() if v and k != "spark_fixed"},
        "spark_lines_per_s_per_core_net_of_fixed": lines / scaled / cores if scaled > 0 else None,
        "ratio_spark_over_duckdb": med["spark"] / med["duckdb"] if med["spark"] and med["duckdb"] else None,
        "totals_mismatches": mismatches,
        "failures": failures,
        "command": " ".join(
            ["python", "bench/bench_spark.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    }
    out = OUT / f"bench_spark-{lines}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 1 if failures or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
