-- Findings of the most recent observation of every (subject, check), worst first.
WITH ranked AS (
    SELECT
        run_id,
        subject,
        check_name,
        observed_at,
        ROW_NUMBER() OVER (PARTITION BY subject, check_name ORDER BY observed_at DESC, run_id DESC) AS rn
    FROM dns_observations
)
SELECT r.subject, r.check_name, r.observed_at, f.code, f.severity, f.message, f.fix
FROM ranked AS r
JOIN dns_findings AS f
  ON f.run_id = r.run_id AND f.subject = r.subject AND f.check_name = r.check_name
WHERE r.rn = 1
ORDER BY
    CASE f.severity WHEN 'error' THEN 0 WHEN 'warn' THEN 1 WHEN 'info' THEN 2 ELSE 3 END,
    r.subject, r.check_name, f.seq
