-- Each observation beside the previous one of the same (subject, check): the substrate of `dns diff`.
-- Parameter 1: only pairs whose later observation is at or after this time (NULL = all).
WITH ordered AS (
    SELECT
        subject,
        check_name,
        run_id,
        observed_at,
        state,
        severity,
        record,
        data_json,
        LAG(run_id) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_run_id,
        LAG(observed_at) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_observed_at,
        LAG(state) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_state,
        LAG(severity) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_severity,
        LAG(record) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_record,
        LAG(data_json) OVER (PARTITION BY subject, check_name ORDER BY observed_at, run_id) AS prev_data_json
    FROM dns_observations
)
SELECT
    subject, check_name, run_id, observed_at, state, severity, record, data_json,
    prev_run_id, prev_observed_at, prev_state, prev_severity, prev_record, prev_data_json
FROM ordered
WHERE prev_run_id IS NOT NULL
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR observed_at >= CAST(? AS TIMESTAMPTZ))
ORDER BY observed_at, subject, check_name
