-- Whether no two messages share a message_key (unique by construction, but not a declared key): only then
-- does dropping the attempts' LEFT JOIN to messages keep every attempt exactly once (metrics/attempts.py).
SELECT COUNT(*) = 0 AS is_unique
FROM (SELECT message_key FROM messages GROUP BY message_key HAVING COUNT(*) > 1) d
