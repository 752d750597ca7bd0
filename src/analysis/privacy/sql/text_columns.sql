-- Every text column of every stored table: where an address can hide (new tables are covered unasked).
SELECT c.table_name, c.column_name
FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main' AND c.data_type = 'VARCHAR'
ORDER BY c.table_name, c.ordinal_position
