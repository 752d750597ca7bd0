/* Attempt and refusal EVENTS per time bucket (a recipient retried five times counts five deferrals */
/* here; rates.sql counts recipients). */
WITH events AS (
  SELECT
    a.status AS outcome,
    a.t,
    a.hour,
    a.day,
    a.account,
    a.sasl_username,
    a.sender_domain,
    a.client_ip,
    a.recipient_domain,
    a.provider,
    a.relay_ip,
    a.relay_host
  FROM (
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
  ) AS a
  UNION ALL
  SELECT
    'rejected',
    j.t,
    j.hour,
    j.day,
    j.account,
    j.sasl_username,
    j.sender_domain,
    j.client_ip,
    j.recipient_domain,
    j.provider,
    j.relay_ip,
    j.relay_host
  FROM (
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
  ) AS j
)
SELECT
  hour AS bucket,
  CAST(SUM(CASE WHEN outcome IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS BIGINT) AS sent,
  CAST(SUM(CASE WHEN outcome = 'bounced' THEN 1 ELSE 0 END) AS BIGINT) AS bounced,
  CAST(SUM(CASE WHEN outcome IN ('deferred', 'softbounce') THEN 1 ELSE 0 END) AS BIGINT) AS deferred,
  CAST(SUM(CASE WHEN outcome = 'expired' THEN 1 ELSE 0 END) AS BIGINT) AS expired,
  CAST(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) AS rejected
FROM events
WHERE
  1 = 1 AND t >= :since AND t < :until AND provider = :w0
GROUP BY
  hour
ORDER BY
  hour NULLS LAST
