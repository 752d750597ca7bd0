-- The most recent observation of every (subject, check).
WITH ranked AS (
    SELECT
        o.*,
        ROW_NUMBER() OVER (PARTITION BY subject, check_name ORDER BY observed_at DESC, run_id DESC) AS rn
    FROM dns_observations AS o
)
SELECT run_id, observed_at, subject, check_name, state, severity, record, data_json, nameserver
FROM ranked
WHERE rn = 1
ORDER BY subject, check_name
