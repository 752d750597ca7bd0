-- One row per delivery attempt, with the message-level dimensions joined in.
-- Address-verification probes (deliverable/undeliverable) and ESP drops (suppressed before sending)
-- are not delivery attempts and are left out.
SELECT d.message_key,
       d.qid,
       d.recipient,
       d.file_id,
       d.line_no,
       d.ts AS t,
       date_trunc('hour', d.ts) AS hour,
       date_trunc('day', d.ts) AS day,
       lower(d.status) AS status,
       d.severity,
       d.reason,
       d.dsn,
       d.reply,
       d.delay,
       d.delay_a,
       d.delay_b,
       d.delay_c,
       d.delay_d,
       m.expired_at,
       m.account,
       m.sasl_username,
       m.sender_domain,
       m.client_ip,
       d.recipient_domain,
       d.provider,
       d.relay_ip,
       d.relay_host
FROM deliveries d
LEFT JOIN messages m ON m.message_key = d.message_key
WHERE lower(d.status) NOT IN ('deliverable', 'undeliverable', 'dropped')
