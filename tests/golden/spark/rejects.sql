/* One row per refusal by this relay (NOQUEUE, postscreen, cleanup and milter rejects), with the same */
/* dimension columns as attempts.sql. Relay dimensions are NULL: a refused message never reaches a relay. */
/* The sender domain comes from the message when the reject has one, else from the logged from=<...>. */
SELECT
  j.ts AS t,
  DATE_TRUNC('HOUR', j.ts) AS hour,
  DATE_TRUNC('DAY', j.ts) AS day,
  j.severity,
  j.reason,
  j.dsn,
  j.reply,
  m.account,
  m.sasl_username,
  COALESCE(m.sender_domain, LOWER(NULLIF(REGEXP_EXTRACT(j.sender, '@([^@]+)$'), ''))) AS sender_domain,
  COALESCE(j.client_ip, m.client_ip) AS client_ip,
  j.recipient_domain,
  j.provider,
  CAST(NULL AS STRING) AS relay_ip,
  CAST(NULL AS STRING) AS relay_host
FROM rejections AS j
LEFT JOIN messages AS m
  ON m.message_key = j.message_key
WHERE
  LOWER(j.action) LIKE '%reject%'
