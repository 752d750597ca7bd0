"""Benchmark: `deliverability abuse rank` on a store — median wall and CPU time, in process and as a command.

    .venv/bin/python bench/bench_abuse.py                       # scenario log × 10, ingested once (cached)
    .venv/bin/python bench/bench_abuse.py --scale 50 --repeat 3
    .venv/bin/python bench/bench_abuse.py --db bench/out/report-synth-1300000.duckdb   # an existing store

The scenario (tests/data/abuse/scenario.py) is 8 days of five accounts with every volume multiplied by
--scale; it is written and ingested with the real parser into bench/out/abuse-scale-K.duckdb the first
time. The in-process figure (facts loaded + signals judged) is what a notebook pays; the command adds the
interpreter, imports and JSON output. Results go to bench/out/bench_abuse.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from analysis.abuse import rank
from analysis.ingest.loader import IngestOptions, Ingestor
from analysis.inventory import load_inventory, store_inventory
from analysis.store import connect

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SCENARIO = HERE.parent / "tests" / "data" / "abuse" / "scenario.py"


def _scenario() -> ModuleType:
    spec = importlib.util.spec_from_file_location("abuse_scenario", SCENARIO)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def build(scale: int) -> Path:
    """The scenario store at this scale (built once, reused while the file exists)."""
    db = OUT / f"abuse-scale-{scale}.duckdb"
    if db.exists():
        return db
    work = OUT / f"abuse-scale-{scale}"
    log, inv = _scenario().write(work, scale=scale)
    began = time.perf_counter()
    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    con = connect(tmp)
    store_inventory(con, load_inventory(inv))
    Ingestor(con, IngestOptions(year=2026)).ingest([str(log)])
    con.close()
    tmp.rename(db)
    log.unlink()
    print(f"built {db} in {time.perf_counter() - began:.1f} s", flush=True)
    return db


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=None, help="an existing store (default: the scenario store)")
    ap.add_argument("--scale", type=int, default=10, help="scenario volume multiplier (default 10)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    db = args.db or build(args.scale)
    con = connect(db, read_only=True)
    messages = con.execute("SELECT COUNT(*) FROM messages").fetchall()[0][0]
    walls, cpus = [], []
    ranking = None
    for _ in range(args.repeat):
        c0, t0 = _cpu(), time.perf_counter()
        ranking = rank(con)
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    con.close()
    assert ranking is not None
    cmd = [sys.executable, "-m", "analysis", "abuse", "rank", "--db", str(db), "--json"]
    cwalls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ})
        cwalls.append(time.perf_counter() - t0)
    result = {
        "db": str(db),
        "messages": messages,
        "window": ranking.window.describe(),
        "accounts_judged": len(ranking.suspects),
        "window_messages": ranking.facts.messages.height,
        "top": [(s.account, s.score, s.action) for s in ranking.suspects[:3]],
        "rank_wall_median_s": round(statistics.median(walls), 3),
        "rank_cpu_median_s": round(statistics.median(cpus), 3),
        "command_wall_median_s": round(statistics.median(cwalls), 3),
        "repeat": args.repeat,
        "load_average": os.getloadavg(),
    }
    (OUT / "bench_abuse.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
