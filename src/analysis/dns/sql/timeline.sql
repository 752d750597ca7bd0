-- Every observation's worst severity over time, for the history chart.
SELECT observed_at, run_id, subject, check_name, state, severity
FROM dns_observations
ORDER BY observed_at, subject, check_name
