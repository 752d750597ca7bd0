"""Run every bench/bench_*.py in turn (what `make bench` does) and say which ones failed.

    .venv/bin/python bench/run_all.py                 # each benchmark with its own defaults
    .venv/bin/python bench/run_all.py --only ingest   # just bench_ingest.py
    .venv/bin/python bench/run_all.py -- --repeat 1   # extra arguments passed to every benchmark

Benchmarks are separate processes so that one's memory and imports do not colour another's figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[], help="run only bench_NAME.py (repeatable)")
    ap.add_argument("extra", nargs="*", help="arguments after -- go to every benchmark")
    args = ap.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    if not scripts:
        print("no benchmark matched", file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"=== {script.name} ===", flush=True)
        began = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script), *args.extra], check=False).returncode
        print(f"=== {script.name}: rc={rc} in {time.perf_counter() - began:.0f} s ===\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
