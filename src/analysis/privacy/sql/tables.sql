-- The stored tables (not views, not temporary ones): what retention must cover.
SELECT table_name
FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema = 'main'
ORDER BY table_name
