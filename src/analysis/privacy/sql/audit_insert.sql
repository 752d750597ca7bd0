INSERT INTO audit_log (audit_id, logged_at, os_user, command, params_json, counts_json, status)
SELECT COALESCE(MAX(audit_id), 0) + 1, $at, $os_user, $command, $params_json, $counts_json, $status
FROM audit_log
