"""Benchmark: Postfix ingest against `wc -l` and pflogsumm on the same generated log, in the same run.

    .venv/bin/python bench/bench_ingest.py                       # 10M lines, 3 repeats, medians
    .venv/bin/python bench/bench_ingest.py --lines 1000000 --repeat 1
    .venv/bin/python bench/bench_ingest.py --skip pflogsumm      # parts: wc, pflogsumm, ingest

The log is generated once by `analysis.synth.postfix` into bench/out/ (gitignored) and reused while
its truth file says it was made with the same size and seed. Each repeat measures, on a warm page
cache: `wc -l` wall; `pflogsumm` wall; `deliverability ingest LOG --db FRESH --year Y` wall and peak
RSS; and a re-ingest of the unchanged file into the same database. Figures are medians over the
repeats. Issue 2's targets: ingest <= 0.5 x pflogsumm (required; 0.25 x is the goal), peak RSS
<= 1.5 GiB, re-ingest <= 2 % of the first ingest. After the first ingest, `deliverability totals
--json` is compared with the generator's ground truth and differences are listed (not a failure of
the benchmark: the figure that matters here is time, but a fast wrong ingest is worth knowing about).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
GIB = 1024**3
COMPARED = (
    "received", "delivered", "deferred", "deferrals", "bounced", "expired", "rejected",
    "bytes_received", "senders", "recipients", "lines_read", "lines_other",
)  # fmt: skip


@dataclass
class Run:
    """One timed child process."""

    wall: float
    peak_rss: int | None  # bytes, None when unknown
    rc: int
    stdout: str
    stderr: str
    cpu: float | None = None  # user + system seconds of the child (GNU time), None when unknown


def deliverability() -> list[str]:
    """The CLI of this checkout, as run by `make`: the venv's console script, else python -m analysis."""
    script = Path(sys.executable).parent / "deliverability"
    return [str(script)] if script.exists() else [sys.executable, "-m", "analysis"]


def timed(cmd: list[str], *, stdout_to_null: bool = False) -> Run:
    """Run cmd, measuring wall time and (via /usr/bin/time -v when present) the child's peak RSS."""
    gnu_time = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_file = tf.name
    full = [str(gnu_time), "-v", "-o", time_file, *cmd] if gnu_time.exists() else cmd
    began = time.perf_counter()
    proc = subprocess.run(
        full,
        stdout=subprocess.DEVNULL if stdout_to_null else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    peak: int | None = None
    cpu: float | None = None
    try:
        text = Path(time_file).read_text()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        peak = int(m[1]) * 1024 if m else None
        u = re.search(r"User time \(seconds\): ([\d.]+)", text)
        sy = re.search(r"System time \(seconds\): ([\d.]+)", text)
        cpu = float(u[1]) + float(sy[1]) if u and sy else None
    finally:
        os.unlink(time_file)
    return Run(wall, peak, proc.returncode, proc.stdout or "", proc.stderr, cpu)


def ensure_log(lines: int, seed: int, regenerate: bool) -> tuple[Path, dict[str, Any], float | None]:
    """The cached log and its truth; generates (and times) them when missing or stale."""
    sys.path.insert(0, str(ROOT / "src"))
    from analysis.synth.postfix import DEFAULT_START, Options, generate, options_dict, truth_path

    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"postfix-{lines}-s{seed}.log"
    tpath = truth_path(log)
    if log.exists() and tpath.exists() and not regenerate:
        truth = json.loads(tpath.read_text())
        wanted = json.loads(json.dumps(options_dict(Options(), DEFAULT_START)))
        if truth.get("lines_read") == lines and truth.get("seed") == seed and truth.get("options") == wanted:
            return log, truth, None
    tmp = log.with_name(log.name + ".part")
    began = time.perf_counter()
    truth_obj = generate(tmp, lines=lines, seed=seed)
    gen_wall = time.perf_counter() - began
    tmp.replace(log)
    truth_obj.write(tpath)
    return log, truth_obj.to_dict(), gen_wall


def ingest_available() -> bool:
    proc = subprocess.run(
        [*deliverability(), "ingest", "--help"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0


def compare_totals(db: Path, truth: dict[str, Any]) -> list[str]:
    """Differences between `deliverability totals --json` and the generator's truth."""
    proc = subprocess.run(
        [*deliverability(), "totals", "--db", str(db), "--json"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return [f"totals --json failed (rc={proc.returncode}): {proc.stderr.strip()[:200]}"]
    got = json.loads(proc.stdout)
    return [
        f"{k}: ingest {got.get(k)} != truth {truth.get(k)}" for k in COMPARED if got.get(k) != truth.get(k)
    ]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def machine() -> dict[str, Any]:
    model = ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        model = m[1].strip() if m else ""
    except OSError:
        pass
    mem = ""
    try:
        m2 = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        mem = f"{int(m2[1]) / 1024 / 1024:.0f} GiB" if m2 else ""
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def fmt_s(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="size of the generated log [10M]")
    ap.add_argument("--repeat", type=int, default=3, help="repeats; medians are reported [3]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--year", type=int, default=None, help="--year for ingest [the log's first year]")
    ap.add_argument("--skip", action="append", default=[], choices=["wc", "pflogsumm", "ingest"])
    ap.add_argument("--regenerate", action="store_true", help="ignore the cached log in bench/out/")
    ap.add_argument("--keep-db", action="store_true", help="leave the last database in bench/out/")
    args = ap.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows up when redirected to a file

    log, truth, gen_wall = ensure_log(args.lines, args.seed, args.regenerate)
    size = log.stat().st_size
    year = args.year or int(str(truth.get("first_timestamp", "2026"))[:4])
    print(f"log: {log} ({args.lines:,} lines, {size / 2**20:,.0f} MiB)")
    if gen_wall is not None:
        print(f"generated in {gen_wall:.1f} s ({args.lines / gen_wall:,.0f} lines/s)")
    do_wc = "wc" not in args.skip
    do_pfl = "pflogsumm" not in args.skip and shutil.which("pflogsumm") is not None
    if "pflogsumm" not in args.skip and not do_pfl:
        print("pflogsumm not installed: skipped (Debian package pflogsumm)")
    do_ingest = "ingest" not in args.skip and ingest_available()
    if "ingest" not in args.skip and not do_ingest:
        print("`deliverability ingest` is not available yet: skipped")

    walls: dict[str, list[float]] = {"wc": [], "pflogsumm": [], "ingest": [], "reingest": []}
    rss: dict[str, list[int]] = {"pflogsumm": [], "ingest": [], "reingest": []}
    # CPU seconds (user + system) are steadier than wall time on a shared machine: the ratio of CPU
    # times says how much work each does; wall adds how well the ingest uses both cores.
    cpus: dict[str, list[float]] = {"pflogsumm": [], "ingest": []}
    mismatches: list[str] | None = None
    failures: list[str] = []
    for rep in range(args.repeat):
        if do_wc:
            r = timed(["wc", "-l", str(log)], stdout_to_null=True)
            walls["wc"].append(r.wall)
        if do_pfl:
            r = timed(["pflogsumm", str(log)], stdout_to_null=True)
            if r.rc != 0:
                failures.append(f"pflogsumm rc={r.rc}: {r.stderr.strip()[:200]}")
            walls["pflogsumm"].append(r.wall)
            if r.cpu is not None:
                cpus["pflogsumm"].append(r.cpu)
            if r.peak_rss:
                rss["pflogsumm"].append(r.peak_rss)
        if do_ingest:
            with tempfile.TemporaryDirectory(dir=OUT, prefix="db-") as tmp:
                db = Path(tmp) / "bench.duckdb"
                cmd = [*deliverability(), "ingest", str(log), "--db", str(db), "--year", str(year)]
                first = timed(cmd, stdout_to_null=True)
                if first.rc != 0:
                    failures.append(f"ingest rc={first.rc}: {first.stderr.strip()[-300:]}")
                    do_ingest = False
                else:
                    walls["ingest"].append(first.wall)
                    if first.cpu is not None:
                        cpus["ingest"].append(first.cpu)
                if do_ingest:
                    if first.peak_rss:
                        rss["ingest"].append(first.peak_rss)
                    if mismatches is None:
                        mismatches = compare_totals(db, truth)
                    again = timed(cmd, stdout_to_null=True)
                    if again.rc != 0:
                        failures.append(f"re-ingest rc={again.rc}: {again.stderr.strip()[-300:]}")
                    walls["reingest"].append(again.wall)
                    if again.peak_rss:
                        rss["reingest"].append(again.peak_rss)
                    if args.keep_db and rep == args.repeat - 1:
                        shutil.copy(db, OUT / f"postfix-{args.lines}-s{args.seed}.duckdb")
        print(
            f"repeat {rep + 1}/{args.repeat}: "
            + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items() if v)
        )

    med = {k: median(v) for k, v in walls.items()}
    peak = {k: max(v) if v else None for k, v in rss.items()}

    def per_s(k: str) -> str:
        m = med[k]
        return f"{args.lines / m:,.0f} lines/s" if m else "n/a"

    def ratio(a: str, b: str) -> float | None:
        x, y = med[a], med[b]
        return x / y if x is not None and y else None

    ratios = {
        "ingest/pflogsumm": ratio("ingest", "pflogsumm"),
        "ingest/wc": ratio("ingest", "wc"),
        "reingest/ingest": ratio("reingest", "ingest"),
        "pflogsumm/wc": ratio("pflogsumm", "wc"),
    }
    print()
    print(f"medians over {args.repeat} repeat(s), {args.lines:,} lines:")
    for k in walls:
        print(f"  {k:<10} {fmt_s(med[k]):>10}  {per_s(k)}")
    for k, v in ratios.items():
        print(f"  {k:<17} {'n/a' if v is None else f'{v:.3f}'}")
    for k, v in peak.items():
        if v:
            print(f"  peak RSS {k:<10} {v / 2**20:,.0f} MiB")
    cpu_med = {k: median(v) for k, v in cpus.items()}
    for k, c in cpu_med.items():
        if c is not None:
            print(f"  cpu {k:<15} {c:.1f} s")
    if cpu_med.get("ingest") and cpu_med.get("pflogsumm"):
        print(f"  cpu ingest/pflogsumm {cpu_med['ingest'] / cpu_med['pflogsumm']:.3f}")
    checks = []
    if ratios["ingest/pflogsumm"] is not None:
        r_ip = ratios["ingest/pflogsumm"]
        checks.append(
            f"ingest <= 0.5 x pflogsumm (required): {'PASS' if r_ip <= 0.5 else 'FAIL'} ({r_ip:.3f})"
        )
        checks.append(f"ingest <= 0.25 x pflogsumm (target): {'PASS' if r_ip <= 0.25 else 'not yet'}")
    if peak["ingest"]:
        checks.append(f"peak RSS <= 1.5 GiB: {'PASS' if peak['ingest'] <= 1.5 * GIB else 'FAIL'}")
    if ratios["reingest/ingest"] is not None:
        r_re = ratios["reingest/ingest"]
        checks.append(f"re-ingest <= 2 % of first: {'PASS' if r_re <= 0.02 else 'FAIL'} ({r_re:.1%})")
    for line in checks:
        print("  " + line)
    if mismatches:
        print("totals --json differs from the generator's truth:")
        for line in mismatches:
            print("  " + line)
    elif mismatches == []:
        print("totals --json equals the generator's truth on every compared key")
    for line in failures:
        print("FAILED: " + line)

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "lines": args.lines,
        "bytes": size,
        "repeat": args.repeat,
        "generate_wall": gen_wall,
        "median_wall": med,
        "lines_per_s": {k: (args.lines / v if v else None) for k, v in med.items()},
        "ratios": ratios,
        "peak_rss": peak,
        "median_cpu": cpu_med,
        "checks": checks,
        "totals_mismatches": mismatches,
        "failures": failures,
        "command": " ".join([Path(sys.executable).name, "bench/bench_ingest.py", *sys.argv[1:]]),
    }
    (OUT / f"bench_ingest-{args.lines}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
