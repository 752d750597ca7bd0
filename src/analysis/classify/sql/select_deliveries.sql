-- Classifier inputs and current verdicts of every delivery attempt.
SELECT file_id, line_no, status, dsn, reply_code, reply, smtp_stage, relay_host, recipient_domain,
       provider, reason, severity
FROM deliveries
