-- Recipients each account attempted before the window (within the history): "never seen before" is
-- judged against these. No outcome is needed, so no window function over the history.
SELECT DISTINCT s.account, lower(d.recipient) AS rcpt
FROM deliveries d
JOIN scoped s ON s.message_key = d.message_key
WHERE s.first_seen < $since
