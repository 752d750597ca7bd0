-- Bounced and deferred attempts for the window's messages (policy rejections, deferral storms, evidence).
WITH scoped AS ({{scoped}})
SELECT s.account, s.message_key, s.qid, s.message_id, s.sasl_username, s.client_ip, s.sender_domain,
       d.ts, lower(d.recipient) AS rcpt, d.recipient_domain, d.provider, d.status, d.dsn, d.reply_code,
       substr(d.reply, 1, 600) AS reply, d.reason, d.severity
FROM deliveries d
JOIN scoped s ON s.message_key = d.message_key
WHERE s.first_seen >= $since AND d.status IN ('bounced', 'deferred')
