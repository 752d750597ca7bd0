"""The relay-log pipeline on Apache Spark, writing the same tables as a Hive-partitioned Parquet lake.

Nothing here re-implements parsing or correlation: executors run `analysis.ingest.postfix.parse_lines`,
`analysis.ingest.loader.classify_events` and `analysis.ingest.correlate` on Arrow batches, so a lake built
by Spark holds the rows a DuckDB ingest of the same logs holds. PySpark is an optional extra
(`pip install -e '.[spark]'`); only this package imports it, and only when a Spark command runs.
"""
