/* One row per delivery attempt, with the message-level dimensions joined in. */
/* Address-verification probes (deliverable/undeliverable) and ESP drops (suppressed before sending) */
/* are not delivery attempts and are left out. */
SELECT
  d.message_key,
  d.qid,
  d.recipient,
  d.file_id,
  d.line_no,
  d.ts AS t,
  DATE_TRUNC('HOUR', d.ts) AS hour,
  DATE_TRUNC('DAY', d.ts) AS day,
  LOWER(d.status) AS status,
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
FROM deliveries AS d
LEFT JOIN messages AS m
  ON m.message_key = d.message_key
WHERE
  NOT LOWER(d.status) IN ('deliverable', 'undeliverable', 'dropped')
