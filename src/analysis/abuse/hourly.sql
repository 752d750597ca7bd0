-- Messages per account and hour, history and window: the volume baseline.
WITH scoped AS ({{scoped}})
SELECT account, date_trunc('hour', first_seen) AS hour, COUNT(*) AS messages
FROM scoped
GROUP BY account, date_trunc('hour', first_seen)
