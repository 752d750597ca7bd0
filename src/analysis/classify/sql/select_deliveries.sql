-- Classifier inputs and current verdicts of every relay-log delivery attempt. ESP rows are left alone:
-- their reason may come from the ESP's own bounce type, which a reply-text rule must not overwrite.
SELECT file_id, line_no, status, dsn, reply_code, reply, smtp_stage, relay_host, recipient_domain,
       provider, reason, severity
FROM deliveries
WHERE source = 'postfix'
