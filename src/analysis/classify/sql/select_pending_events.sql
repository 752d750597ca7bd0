-- Classifier inputs and current verdicts of carried events that classify_events classified at ingest.
SELECT file_id, line_no, status, dsn, reply_code, reply, smtp_stage, relay_host,
       CASE WHEN recipient LIKE '%@%' THEN lower(regexp_extract(recipient, '@([^@]*)$', 1)) END AS recipient_domain,
       provider, reason, severity
FROM pending_events
WHERE kind IN ('delivery', 'reject') OR (kind = 'cleanup_action' AND action IN ('reject', 'milter-reject'))
