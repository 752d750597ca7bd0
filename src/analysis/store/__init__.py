"""The DuckDB store: schema migrations, connections that wait politely for the write lock."""

from analysis.store.db import DEFAULT_DB, connect, db_path, migrate, schema_version

__all__ = ["DEFAULT_DB", "connect", "db_path", "migrate", "schema_version"]
