SELECT audit_id, logged_at, os_user, command, params_json, counts_json, status
FROM audit_log
WHERE ($since IS NULL OR logged_at >= $since) AND ($needle IS NULL OR strpos(params_json, $needle) > 0)
ORDER BY audit_id
