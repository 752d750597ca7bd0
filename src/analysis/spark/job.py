"""spark-submit entry point: the `deliverability spark` commands without the rest of the CLI.

    spark-submit --master spark://head:7077 --py-files workbench.zip \\
        src/analysis/spark/job.py ingest '/shared/logs/mail.log-2026-11-*' --lake /shared/lake --year 2026

(or `python -m analysis.spark.job ...` for local mode). Errors end as one line and exit code 2 / 1.
"""

from __future__ import annotations

import sys

import click

from analysis.errors import WorkbenchError


def main(argv: list[str] | None = None) -> int:
    """Run `deliverability spark ARGV...`; returns the exit code."""
    from analysis.commands.spark import spark_group

    try:
        spark_group.main(args=argv, prog_name="analysis.spark.job", standalone_mode=False)
    except WorkbenchError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
