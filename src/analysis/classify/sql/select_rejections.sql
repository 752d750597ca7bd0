-- Classifier inputs and current verdicts of every rejection (no delivery status, no relay: our refusal).
SELECT file_id, line_no, CAST(NULL AS VARCHAR) AS status, dsn, reply_code, reply, smtp_stage,
       CAST(NULL AS VARCHAR) AS relay_host, recipient_domain, provider, reason, severity
FROM rejections
