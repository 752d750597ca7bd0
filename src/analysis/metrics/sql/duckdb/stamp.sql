-- What a stored recipient_facts table must still match to be served (DuckDB-only, not a metric; ~5 ms):
-- the store's write generation (every committed writing transaction takes the next number:
-- analysis.store.db.write_transaction), the applied migrations, and as a second line for writers that
-- take no number: the row counts of both sources and every ingest_files row's progress counters (each
-- ingest commit moves its file's bytes_read/lines_read/finished_at, or adds a file).
-- Without a generation of the database file itself (a store not yet migrated; lake mode, whose tables are
-- views in an in-memory database) the stamp is random: stored facts are then never served.
SELECT COALESCE((SELECT COALESCE(CAST(s.last_value AS VARCHAR), '0')
                 FROM duckdb_sequences() s
                 JOIN duckdb_databases() d ON d.database_name = s.database_name
                 WHERE s.database_name = current_database() AND s.schema_name = 'main'
                   AND s.sequence_name = 'write_generation' AND d.path IS NOT NULL),
                'unknown ' || CAST(uuid() AS VARCHAR))
       || '/' || (SELECT CAST(COUNT(*) AS VARCHAR) FROM schema_migrations)
       || '/' || (SELECT CAST(COUNT(*) AS VARCHAR) FROM deliveries)
       || '/' || (SELECT CAST(COUNT(*) AS VARCHAR) FROM messages)
       || '/' || (SELECT CAST(COUNT(*) AS VARCHAR) || ':' || COALESCE(CAST(SUM(hash(file_id, bytes_read,
                         lines_read, lines_parsed, lines_quarantined, status, finished_at)) AS VARCHAR), '')
                  FROM ingest_files) AS stamp
