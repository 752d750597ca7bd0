"""Build the lake's relay-log tables from raw Postfix logs on Spark.

Stages: (1) the driver lists the files, orders a rotated set by content, assigns file ids and year rules
and cuts the files into splits; (2) a cheap first pass counts each split's lines and months, from which
the driver derives every split's first line number and year state (exactly the loader's chunk walk);
(3) executors parse and classify each split; (4) events are repartitioned by (host, instance, queue ID),
sorted within partitions and correlated group by group; (5) each table is written as Hive-partitioned
Parquet to a temporary directory and swapped in by rename. A run rebuilds those tables from the logs it
is given: it is a batch job over closed files, not an incremental ingest.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.errors import InputError
from analysis.ingest import sources as S
from analysis.ingest.options import IngestOptions
from analysis.ingest.postfix import YearState
from analysis.spark import stages
from analysis.spark.splits import SPLIT_BYTES, Split, SplitScan, plan_splits, starting_states
from analysis.spark.tables import LAKE_TABLES, conform, table_schema
from analysis.store.export import PARTITION_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from analysis.inventory import Inventory

Warn = Callable[[str], None]
# Correlation partitions by default: at least one per core, and about this many log lines in each (every
# partition is a Python task; hundreds of tiny ones cost more than they parallelise).
LINES_PER_PARTITION = 1_000_000
LINK_WINDOW = "INTERVAL 10 MINUTES"  # as link_upstream.sql: a next hop's message starts near its 250 reply


@dataclass
class LakeFile:
    """One input file as ingest_files describes it (before its counts are known)."""

    file_id: int
    src: S.Source
    head: bytes
    state: YearState


def plan_files(paths: list[str], opts: IngestOptions, warn: Warn) -> list[LakeFile]:
    """Postfix logs among `paths`, in time order by content, numbered 1..n; other inputs are refused."""
    from analysis.ingest.detect import detect_format
    from analysis.ingest.loader import _first_ts_key, year_rule

    found: list[tuple[S.Source, bytes]] = []
    seen: set[str] = set()
    for src in S.expand_inputs(paths):
        if src.is_stdin:
            raise InputError("spark ingest reads files (executors open them), not standard input")
        head = S.read_head(src)
        fmt = detect_format(head, src.display)
        if fmt != "postfix":
            raise InputError(
                f"{src.display} is {fmt}, not a Postfix log: load it with 'deliverability ingest'"
            )
        if S.fingerprint(head) in seen:
            warn(f"{src.display}: same content as an earlier input; skipped")
            continue
        seen.add(S.fingerprint(head))
        found.append((src, head))
    if not found:
        raise InputError("no input files")
    found.sort(key=lambda p: _first_ts_key(p[0], p[1], opts))
    return [
        LakeFile(i + 1, src, head, year_rule(src, head, opts, warn)) for i, (src, head) in enumerate(found)
    ]


def _spark_schema(schema: pa.Schema) -> StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def _split_frame(
    spark: SparkSession, splits: list[Split], starts: dict[int, tuple[int, YearState]]
) -> DataFrame:
    """One row per split, one split per partition (so each is its own task)."""
    rows = []
    for s in splits:
        line, st = starts.get(s.split_id, (1, YearState(0)))
        rows.append(
            (
                s.split_id,
                s.file_id,
                s.path,
                s.compression,
                s.start,
                s.end,
                line,
                st.year,
                st.last_month,
                st.tz,
            )
        )
    rdd = spark.sparkContext.parallelize(rows, len(rows))
    return spark.createDataFrame(rdd, _spark_schema(stages.SPLIT_SCHEMA))


def _link_upstream(messages: DataFrame, deliveries: DataFrame) -> DataFrame:
    """messages.upstream_key as link_upstream.sql sets it: the message whose 250 "queued as QID" reply
    on the same host, within ten minutes, created this one."""
    from pyspark.sql import functions as F

    up = deliveries.where(F.col("next_qid").isNotNull()).select(
        F.col("message_key").alias("up_key"),
        F.col("host").alias("up_host"),
        "next_qid",
        F.col("ts").alias("up_ts"),
    )
    m = messages.select("message_key", "host", "qid", "first_seen")
    cond = (
        (m.host == up.up_host)
        & (m.qid == up.next_qid)
        & (m.message_key != up.up_key)
        & m.first_seen.between(up.up_ts - F.expr(LINK_WINDOW), up.up_ts + F.expr(LINK_WINDOW))
    )
    links = m.join(up, cond).groupBy("message_key").agg(F.min("up_key").alias("upstream_key"))
    return messages.drop("upstream_key").join(links, "message_key", "left")


def _accounts(spark: SparkSession, messages: DataFrame, inventory: Inventory | None) -> DataFrame:
    """messages.account as the loader sets it (loader._Accounts): the SASL user's account, else the account that
    verified the envelope sender's domain (NULL without an inventory, as in a store without one)."""
    from pyspark.sql import functions as F

    if inventory is None:
        return messages
    users = [(u.lower(), a.account_id) for a in inventory.accounts for u in a.sasl_usernames]
    domains = [(d.domain, d.account) for d in inventory.domains]
    su = spark.createDataFrame(users, "su_user string, su_account string")
    sd = spark.createDataFrame(domains, "sd_domain string, sd_account string")
    joined = messages.join(F.broadcast(su), F.lower(messages.sasl_username) == su.su_user, "left").join(
        F.broadcast(sd), messages.sender_domain == sd.sd_domain, "left"
    )
    return joined.withColumn("account", F.coalesce("su_account", "sd_account")).drop(
        "su_user", "su_account", "sd_domain", "sd_account"
    )


def _write(df: DataFrame, lake: Path, table: str, day: Any) -> int:
    """Write one table under lake/<table>/day=.../ via a temporary directory swapped in by rename."""
    from pyspark.sql import functions as F

    cols = table_schema(table).names
    tmp = lake / f".{table}.tmp-{uuid.uuid4().hex[:8]}"
    df.select(*cols, F.coalesce(day, F.lit("unknown")).alias("day")).write.partitionBy("day").parquet(
        str(tmp)
    )
    n = sum(int(pq.ParquetFile(p).metadata.num_rows) for p in tmp.rglob("*.parquet"))
    final = lake / table
    old = lake / f".{table}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)
    return n


def _ingest_files(
    spark: SparkSession,
    files: list[LakeFile],
    scans: dict[int, SplitScan],
    splits: list[Split],
    ends: dict[int, YearState],
    counts: dict[int, dict[str, Any]],
    started: dt.datetime,
) -> DataFrame:
    finished = dt.datetime.now(dt.UTC)
    rows = []
    for f in files:
        mine = sorted((s for s in splits if s.file_id == f.file_id), key=lambda s: s.start)
        c = counts.get(f.file_id, {})
        rows.append(
            {
                "file_id": f.file_id,
                "path": f.src.display,
                "format": "postfix",
                "fingerprint": S.fingerprint(f.head),
                "fingerprint_len": len(f.head),
                "compression": f.src.compression,
                "raw_size": f.src.raw_size,
                "raw_sig": f.src.raw_sig,
                "bytes_read": sum(scans[s.split_id].bytes for s in mine),
                "tail_hash": scans[mine[-1].split_id].tail_hash,
                "lines_read": int(c.get("lines_read") or 0),
                "lines_parsed": int(c.get("lines_parsed") or 0),
                "lines_quarantined": int(c.get("lines_quarantined") or 0),
                "lines_other": int(c.get("lines_other") or 0),
                "first_ts": c.get("first_ts"),
                "last_ts": c.get("last_ts"),
                "year_rule": ends[f.file_id].describe(),
                "started_at": started,
                "finished_at": finished,
                "status": "done",
            }
        )
    table = conform(pa.Table.from_pylist(rows), table_schema("ingest_files"))
    return spark.createDataFrame(table)


def ingest_lake(
    spark: SparkSession,
    paths: list[str],
    lake: str | Path,
    *,
    year: int | None = None,
    tz: str = "UTC",
    warn: Warn = lambda m: None,
    split_bytes: int = SPLIT_BYTES,
    partitions: int | None = None,
    inventory: Inventory | None = None,
) -> dict[str, int]:
    """Parse, classify and correlate the Postfix logs `paths` on Spark; write the relay-log tables to
    `lake`; messages get their account from `inventory`. Returns rows written per table."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    opts = IngestOptions(year=year, tz=tz)
    files = plan_files(paths, opts, warn)
    started = dt.datetime.now(dt.UTC)
    splits: list[Split] = []
    for f in files:
        splits += plan_splits(f.file_id, f.src, len(splits), split_bytes)
    # (2) first pass: line counts and months per split
    scanned = _split_frame(spark, splits, {}).mapInArrow(stages.scan_stage, _spark_schema(stages.SCAN_SCHEMA))
    scans = {r["split_id"]: SplitScan(**r.asDict()) for r in scanned.collect()}
    starts, ends = starting_states(splits, scans, {f.file_id: f.state for f in files})
    # (3) parse and classify
    parsed = (
        _split_frame(spark, splits, starts)
        .mapInArrow(stages.parse_stage, _spark_schema(stages.parsed_schema()))
        .persist(StorageLevel.DISK_ONLY)
    )
    tag = F.col(stages.TAG)
    # (4) correlate by queue ID
    total = sum(sc.lines for sc in scans.values())
    n = partitions or max(spark.sparkContext.defaultParallelism, math.ceil(total / LINES_PER_PARTITION))
    group = ["host", "instance", "qid"]
    built = (
        parsed.where(tag == stages.EVENT)
        .select(*stages.EVENT_COLUMNS)
        .repartition(n, *group)
        .sortWithinPartitions(*group, "ts", "file_id", "line_no")
        .mapInArrow(stages.correlate_stage, _spark_schema(stages.built_schema()))
        .persist(StorageLevel.DISK_ONLY)
    )
    deliveries = built.where(tag == stages.DELIVERY).withColumn("source", F.lit("postfix"))
    messages = _accounts(spark, _link_upstream(built.where(tag == stages.MESSAGE), deliveries), inventory)
    rejection_cols = table_schema("rejections").names
    rejections = (
        built.where(tag == stages.REJECTION)
        .select(*rejection_cols)
        .unionByName(parsed.where(tag == stages.NOQUEUE).select(*rejection_cols))
    )
    stats = (
        parsed.where(tag == stages.STATS)
        .groupBy("file_id")
        .agg(
            *(F.sum(c).alias(c) for c in ("lines_read", "lines_parsed", "lines_quarantined", "lines_other")),
            F.min("first_ts").alias("first_ts"),
            F.max("last_ts").alias("last_ts"),
        )
    )
    counts = {r["file_id"]: r.asDict() for r in stats.collect()}
    ingest_files = _ingest_files(spark, files, scans, splits, ends, counts, started)
    # (5) write
    root = Path(lake)
    root.mkdir(parents=True, exist_ok=True)

    def day(column: str | None) -> Any:
        return F.date_format(F.col(column), "yyyy-MM-dd") if column else F.lit("all")

    frames = {
        "ingest_files": (ingest_files, day(PARTITION_COLUMNS["ingest_files"])),
        "quarantine": (
            parsed.where(tag == stages.QUARANTINE),
            F.lit(started.strftime("%Y-%m-%d")),  # as the export: the day the file was ingested
        ),
        "messages": (messages, day(PARTITION_COLUMNS["messages"])),
        "deliveries": (deliveries, day(PARTITION_COLUMNS["deliveries"])),
        "rejections": (rejections, day(PARTITION_COLUMNS["rejections"])),
    }
    try:
        return {t: _write(frames[t][0], root, t, frames[t][1]) for t in LAKE_TABLES}
    finally:
        built.unpersist()
        parsed.unpersist()
