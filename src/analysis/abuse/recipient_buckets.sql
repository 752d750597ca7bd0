-- Distinct recipients per account in consecutive periods as long as the window, counted back from its end
-- (period 0 is the window [since, until), period 1 the one before it): the fan-out baseline.
WITH scoped AS ({{scoped}})
SELECT s.account,
       CAST(CEIL((epoch($until) - epoch(s.first_seen)) / $period_seconds) AS BIGINT) - 1 AS period,
       COUNT(DISTINCT lower(d.recipient)) AS recipients
FROM deliveries d
JOIN scoped s ON s.message_key = d.message_key
GROUP BY s.account, CAST(CEIL((epoch($until) - epoch(s.first_seen)) / $period_seconds) AS BIGINT) - 1
