"""Benchmark: `deliverability rates --by sender_domain,day` median wall time on a store.

    .venv/bin/python bench/bench_rates.py --db bench/out/postfix-10000000-s0.duckdb [--repeat 5] [--refresh]
    .venv/bin/python bench/bench_rates.py          # the ingested 10M store when there is one, else a synthetic one
    .venv/bin/python bench/bench_rates.py --db /tmp/synth.duckdb --synthetic 1300000   # build, then time

Target (issue 3): median <= 1 s on the database built from the 10M-line log. Reports the median of the
whole command (a fresh process: interpreter, imports, query, JSON output to /dev/null) and of the
in-process API calls on a fresh read-only connection (first call: freshness check included; later calls
on the same connection are answered from its memory of results): rates() (polars frames, the reports'
route) and rate_rows() (plain rows, the command's route), each as wall time and as CPU time (the
machine is shared: CPU time is the steadier figure; DuckDB uses both cores, so CPU can exceed wall).

--refresh first runs `deliverability refresh --db DB` (a write: it stores the per-recipient facts that
rates() then reads while their stamp matches) and reports its wall time, CPU seconds and peak RSS;
without it, rates() runs the per-recipient window over every delivery attempt unless an earlier refresh
is still fresh.

--synthetic N builds a store with N messages straight in SQL when no ingested database is at hand:
about 1.2 recipients per message and ~1.1 attempts per recipient, i.e. the shape of a 10M-line log
at N ≈ 1.3M (a message costs ~7 log lines: connect, client, cleanup, qmgr, delivery, removed, disconnect).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from analysis.metrics import Filters, rates
from analysis.metrics.cache import stored_is_fresh
from analysis.metrics.filters import check_dimensions
from analysis.metrics.rate_rows import rate_rows
from analysis.store import connect

SYNTH_SQL = """
CREATE TEMP TABLE synth_msgs AS
SELECT i,
       'relay1/postfix/' || printf('%X', i) || '/' || i AS message_key,
       printf('%X', i) AS qid,
       TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(CAST(i AS DOUBLE) * $span / $n) AS first_seen,
       'd' || (hash(i, 'dom') % 2000) || '.example' AS sender_domain,
       'u' || (hash(i, 'sasl') % 500) AS sasl_username,
       'acct' || (hash(i, 'acct') % 200) AS account,
       '198.51.100.' || (hash(i, 'ip') % 250) AS client_ip,
       CASE WHEN hash(i, 'n') % 10 < 2 THEN 2 ELSE 1 END AS nrcpt
FROM range($n) t(i);

INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, sender, sender_domain,
                      sasl_username, account, client_ip, nrcpt, expired_at)
SELECT message_key, 'relay1', 'postfix', qid, first_seen, first_seen, 'news@' || sender_domain,
       sender_domain, sasl_username, account, client_ip, nrcpt,
       CASE WHEN hash(i, 'exp') % 200 = 0 THEN first_seen + INTERVAL 5 DAY END
FROM synth_msgs;

CREATE TEMP TABLE synth_rcpts AS
SELECT m.i, k, m.message_key, m.qid, m.first_seen,
       'user' || (hash(m.i, k) % 100000) || '@' ||
         list_extract(['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'gmx.de', 'orange.fr',
                       'mail.ru', 'corp' || (hash(m.i, k, 'c') % 5000) || '.example'],
                      CAST(1 + hash(m.i, k, 'd') % 8 AS INTEGER)) AS recipient,
       hash(m.i, k, 'o') % 1000 AS fate
FROM synth_msgs m, range(m.nrcpt) r(k);

INSERT INTO deliveries (file_id, line_no, message_key, ts, host, instance, daemon, qid, recipient,
                        recipient_domain, relay_host, relay_ip, delay, delay_a, delay_b, delay_c, delay_d,
                        dsn, status, reply, provider, reason, severity)
SELECT 1, row_number() OVER (), message_key, ts, 'relay1', 'postfix', 'smtp', qid, recipient,
       split_part(recipient, '@', 2), 'mx.' || split_part(recipient, '@', 2),
       '203.0.113.' || (hash(split_part(recipient, '@', 2)) % 250), delay, 0.01, 0.02, 0.3, delay - 0.33,
       dsn, status, reply,
       CASE split_part(recipient, '@', 2) WHEN 'gmail.com' THEN 'google' WHEN 'outlook.com' THEN 'microsoft'
            WHEN 'yahoo.com' THEN 'yahoo' WHEN 'icloud.com' THEN 'apple' ELSE 'other' END,
       reason, severity
FROM (
    SELECT message_key, qid, recipient, first_seen + INTERVAL 2 SECOND AS ts,
           CASE WHEN fate < 900 THEN 'sent' WHEN fate < 945 THEN 'bounced' ELSE 'deferred' END AS status,
           CASE WHEN fate < 900 THEN '2.0.0' WHEN fate < 930 THEN '5.1.1' WHEN fate < 945 THEN '5.7.1'
                ELSE '4.7.0' END AS dsn,
           CASE WHEN fate < 900 THEN '250 2.0.0 OK ' || qid
                WHEN fate < 930 THEN '550 5.1.1 <' || recipient || '>: User unknown'
                WHEN fate < 945 THEN '550 5.7.1 Message rejected as spam'
                ELSE '421 4.7.0 Try again later' END AS reply,
           CASE WHEN fate < 930 AND fate >= 900 THEN 'userunknown' WHEN fate < 945 AND fate >= 900 THEN 'spamdetected'
                WHEN fate >= 945 THEN 'blocked' END AS reason,
           CASE WHEN fate < 930 AND fate >= 900 THEN 'hard' WHEN fate >= 930 THEN 'soft' END AS severity,
           1.5 + (fate % 7) AS delay
    FROM synth_rcpts
    UNION ALL
    SELECT message_key, qid, recipient, first_seen + INTERVAL 1 HOUR,
           CASE WHEN fate < 995 THEN 'sent' ELSE 'deferred' END,
           CASE WHEN fate < 995 THEN '2.0.0' ELSE '4.7.0' END,
           CASE WHEN fate < 995 THEN '250 2.0.0 OK' ELSE '421 4.7.0 Try again later' END,
           CASE WHEN fate < 995 THEN NULL ELSE 'blocked' END,
           CASE WHEN fate < 995 THEN NULL ELSE 'soft' END,
           3600.0 + fate % 60
    FROM synth_rcpts WHERE fate >= 945
);

INSERT INTO rejections (file_id, line_no, ts, host, instance, daemon, action, sender, client_ip,
                        recipient_domain, dsn, reply)
SELECT 2, i, TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(CAST(i AS DOUBLE) * 15 * $span / $n),
       'relay1', 'postfix', 'smtpd', 'reject', 'x@d' || (hash(i, 'rdom') % 2000) || '.example',
       '192.0.2.' || (hash(i, 'rip') % 250), 'gmail.com', '5.7.1', '554 5.7.1 Relay access denied'
FROM range(CAST($n / 15 AS BIGINT)) t(i);
"""


def build_synthetic(path: Path, messages: int, days: int) -> None:
    """A store of `messages` synthetic messages over `days` days, through the real schema."""
    if path.exists():
        raise SystemExit(f"{path} exists; --synthetic builds a new store")
    con = connect(path)
    started = time.perf_counter()
    for statement in SYNTH_SQL.split(";\n"):
        if statement.strip():
            params = {
                k: v for k, v in {"n": messages, "span": days * 86400.0}.items() if f"${k}" in statement
            }
            con.sql(statement, params=params or None)
    counts = {
        t: con.sql(f"SELECT COUNT(*) FROM {t}").fetchall()[0][0]
        for t in ("messages", "deliveries", "rejections")
    }
    con.close()
    print(f"built {path} in {time.perf_counter() - started:.1f}s: {counts}", file=sys.stderr)


def timed(cmd: list[str]) -> dict[str, float]:
    """Run a command (stdout discarded): wall and CPU seconds (user + system, its threads included) and,
    where the platform reports it, the peak RSS of the largest child so far in MiB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "max_rss_mib": round(after.ru_maxrss / 1024, 1)}


OUT = Path(__file__).resolve().parent / "out"
# The stores the targets are defined on, from `deliverability ingest bench/out/postfix-10000000-s0.log`:
# the one bench_ingest.py --keep-db leaves (built by the current ingest), else one ingested by hand.
INGESTED_STORES = (OUT / "postfix-10000000-s0.duckdb", OUT / "synth-10m.duckdb")
INGESTED_10M = next((p for p in INGESTED_STORES if p.exists()), INGESTED_STORES[0])  # bench_report too
SYNTHETIC_MESSAGES = 1_300_000


def default_store() -> Path:
    """The ingested 10M-line store when there is one, else a synthetic one of the same shape (built once
    by build_synthetic and cached in bench/out/), so that `make bench` runs without arguments."""
    if INGESTED_10M.exists():
        return INGESTED_10M
    path = OUT / f"report-synth-{SYNTHETIC_MESSAGES}.duckdb"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        build_synthetic(path, SYNTHETIC_MESSAGES, 7)
    print(f"no ingested 10M store in {OUT}: measuring the synthetic store {path}", file=sys.stderr)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--db",
        type=Path,
        default=None,
        help="the store to measure [bench/out/postfix-10000000-s0.duckdb, else synth-10m.duckdb, else a synthetic one]",
    )
    ap.add_argument("--by", default="sender_domain,day")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--synthetic", type=int, default=None, metavar="MESSAGES", help="build a synthetic store first"
    )
    ap.add_argument("--days", type=int, default=7, help="span of the synthetic store")
    ap.add_argument("--refresh", action="store_true", help="store the recipient facts first (writes --db)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    if args.synthetic:
        if args.db is None:
            raise SystemExit("--synthetic needs --db (the new store's path)")
        build_synthetic(args.db, args.synthetic, args.days)
    args.db = args.db or default_store()
    by = check_dimensions(args.by.split(","))
    refresh = None
    if args.refresh:
        refresh = timed([sys.executable, "-m", "analysis", "refresh", "--db", str(args.db)])

    cli = [sys.executable, "-m", "analysis", "rates", "--by", args.by, "--db", str(args.db), "--json"]
    commands = [timed(cli) for _ in range(args.repeat)]

    con = connect(args.db, read_only=True)
    sizes = {
        t: con.sql(f"SELECT COUNT(*) FROM {t}").fetchall()[0][0]
        for t in ("messages", "deliveries", "rejections")
    }
    started = time.perf_counter()
    fresh = stored_is_fresh(con)
    stamp_s = time.perf_counter() - started
    con.close()
    api: dict[str, list[tuple[float, float]]] = {"rates": [], "rate_rows": []}
    rows = 0
    for _ in range(args.repeat):
        for route in api:
            con = connect(args.db, read_only=True)  # a new connection: nothing remembered from the last call
            started, cpu = time.perf_counter(), time.process_time()
            if route == "rates":
                rows = rates(con, by, Filters()).height
            else:
                rate_rows(con, by, Filters(), confidence=0.95, min_volume=100)
            api[route].append((time.perf_counter() - started, time.process_time() - cpu))
            con.close()
    command_walls = [c["wall_s"] for c in commands]

    result = {
        "benchmark": "rates",
        "by": args.by,
        "db": str(args.db),
        "tables": sizes,
        "groups": rows,
        "stored_recipient_facts": fresh,
        "freshness_check_s": round(stamp_s, 3),
        "refresh": refresh,
        "repeat": args.repeat,
        "command_median_s": round(statistics.median(command_walls), 3),
        "command_cpu_median_s": round(statistics.median(c["cpu_s"] for c in commands), 3),
        **{
            f"api_{route}_{what}median_s": round(statistics.median(t[i] for t in times), 3)
            for route, times in api.items()
            for i, what in enumerate(("", "cpu_"))
        },
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "command_walls_s": [round(w, 3) for w in command_walls],
        "api_rates_walls_s": [round(t[0], 3) for t in api["rates"]],
        "target_s": 1.0,
    }
    text = json.dumps(result, indent=2)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_rates.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
