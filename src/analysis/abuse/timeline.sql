-- Delivery attempts of the window's messages per account, hour and status (the investigation timeline).
WITH scoped AS ({{scoped}})
SELECT s.account, date_trunc('hour', d.ts) AS hour, d.status, COUNT(*) AS attempts
FROM deliveries d
JOIN scoped s ON s.message_key = d.message_key
WHERE s.first_seen >= $since
GROUP BY s.account, date_trunc('hour', d.ts), d.status
