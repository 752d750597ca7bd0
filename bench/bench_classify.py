"""Benchmark classify_frame on 1M delivery rows with realistic reply diversity (median of N runs).

Run: .venv/bin/python bench/bench_classify.py [ROWS] [RUNS]
Failed attempts carry the recipient address, queue IDs and IPs in their text (as real replies do), so
raw replies are nearly all distinct while their normalised forms are few. Reports the cold time (rule
engine runs on every distinct combination), the warm time (engine results cached: what is left is the
per-row work: hashing, masking the distinct raw replies, joins) and the counts of distinct things.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from analysis.classify import classify_frame, normalize_reply_expr
from analysis.classify.engine import classify_key
from test_classify_support import load_replies

PROVIDER_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "gmx.de",
                    "web.de", "orange.fr", "mail.ru", "comcast.net", "yandex.ru"]  # fmt: skip
MX = ["aspmx.l.google.com", "acme-com.mail.protection.outlook.com", "mx.example.net", "mta7.am0.yahoodns.net"]


def make_frame(rows: int, seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    failed_texts = [r[4] for r in load_replies() if r[0] not in ("delivered", "expired")]
    business = [f"biz{n}.example" for n in range(30_000)]
    status, dsn, reply, stage, relay, domain = [], [], [], [], [], []
    for _ in range(rows):
        user = f"user{rng.randrange(2_000_000)}"
        d = rng.choice(PROVIDER_DOMAINS) if rng.random() < 0.7 else rng.choice(business)
        r = rng.random()
        if r < 0.85:
            status.append("sent")
            dsn.append("2.0.0")
            reply.append(f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}")
        else:
            status.append("deferred" if r < 0.95 else "bounced")
            dsn.append(None)
            text = rng.choice(failed_texts)
            reply.append(
                f"host mx{rng.randrange(9)}.{d}[192.0.2.{rng.randrange(255)}] said: {text} "
                f"<{user}@{d}> id {rng.getrandbits(48):012x}"
            )
        stage.append(rng.choice(["RCPT TO", "end of DATA", None]))
        relay.append(rng.choice(MX) if not d.endswith(".com") else f"mx.{d}")
        domain.append(d)
    return pl.DataFrame({"status": status, "dsn": dsn, "reply_code": [None] * rows, "reply": reply,
                         "smtp_stage": stage, "relay_host": relay, "recipient_domain": domain},
                        schema_overrides={"reply_code": pl.Int64})  # fmt: skip


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    df = make_frame(rows)
    failed = df.filter(pl.col("status") != "sent")
    print(f"rows={df.height} failed={failed.height} distinct raw failed replies={failed['reply'].n_unique()}")
    classify_key.cache_clear()
    t0 = time.perf_counter()
    out = classify_frame(df)
    cold = time.perf_counter() - t0
    info = classify_key.cache_info()
    print(f"cold (engine on every distinct combination): {cold:.2f}s; distinct combinations={info.currsize}")
    warm, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        classify_frame(df)
        warm.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(
        f"warm (engine cached) median of {runs}: {statistics.median(warm):.2f}s wall "
        f"(min {min(warm):.2f}s), {statistics.median(cpu):.2f}s CPU (all threads)"
    )
    reps = failed.select("reply").unique()
    t0, c0 = time.perf_counter(), time.process_time()
    reps.select(normalize_reply_expr(pl.col("reply")))
    print(
        f"of which masking the {reps.height} distinct raw replies: {time.perf_counter() - t0:.2f}s wall, "
        f"{time.process_time() - c0:.2f}s CPU"
    )
    print(out.group_by("reason").len().sort("len", descending=True).head(8))


if __name__ == "__main__":
    main()
