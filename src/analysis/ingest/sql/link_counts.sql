-- Complaints per match method; unmatched ones are kept and counted.
SELECT COALESCE(match_method, 'unmatched') AS method, CAST(COUNT(*) AS BIGINT) AS n
FROM complaints
GROUP BY COALESCE(match_method, 'unmatched')
