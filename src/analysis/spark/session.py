"""A SparkSession configured for the lake: UTC everywhere, Parquet timestamps other engines read as UTC."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from typing import TYPE_CHECKING

from analysis.errors import InputError, WorkbenchError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}


def missing() -> str | None:
    """Why Spark cannot run here (no PySpark, no Java), or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed: pip install -e '.[spark]'"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "no Java runtime found (Spark needs Java 17: set JAVA_HOME or put java on PATH)"
    return None


def submitted() -> bool:
    """Whether this process was started by spark-submit (which then decides the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_session(master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """A session on `master`; None means the master spark-submit was given, else local[*]. Local workers
    run this Python (so they import this package)."""
    why = missing()
    if why:
        raise InputError(why)
    if master is None and not submitted():
        master = "local[*]"
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("deliverability")
    if master:
        builder = builder.master(master)
    for k, v in {**CONF, **(conf or {})}.items():
        builder = builder.config(k, v)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up failures come in many types
        raise WorkbenchError(f"cannot start Spark on {master or 'the configured master'}: {exc}") from None
    spark.sparkContext.setLogLevel("WARN")
    return spark
