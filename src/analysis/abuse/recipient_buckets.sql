-- Distinct recipients per account in consecutive periods as long as the window, counted back from its end
-- (period 0 is the window): the fan-out baseline.
WITH scoped AS ({{scoped}})
SELECT s.account,
       CAST(FLOOR((epoch($until) - epoch(s.first_seen)) / $period_seconds) AS BIGINT) AS period,
       COUNT(DISTINCT lower(o.recipient)) AS recipients
FROM recipient_outcomes o
JOIN scoped s ON s.message_key = o.message_key
GROUP BY s.account, CAST(FLOOR((epoch($until) - epoch(s.first_seen)) / $period_seconds) AS BIGINT)
