-- Classifier inputs and current verdicts of every refusal (no delivery status, no relay: our refusal).
-- Cleanup holds, discards and warnings are our own policy actions, not refusals: ingest leaves them
-- unclassified and so does this.
SELECT file_id, line_no, CAST(NULL AS VARCHAR) AS status, dsn, reply_code, reply, smtp_stage,
       CAST(NULL AS VARCHAR) AS relay_host, recipient_domain, provider, reason, severity
FROM rejections
WHERE daemon <> 'cleanup' OR action IN ('reject', 'milter-reject')
