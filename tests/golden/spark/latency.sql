/* Delivery latency of successful attempts (status sent), in seconds: Postfix's delay and its four */
/* parts (a: before the active queue, b: queue manager, c: connection setup, d: transmission). */
/* Continuous quantiles (linear interpolation, like Spark's exact percentile()). */
SELECT
  sender_domain,
  day,
  CAST(COUNT(*) AS BIGINT) AS n,
  PERCENTILE(delay, 0.5) AS delay_p50,
  PERCENTILE(delay, 0.9) AS delay_p90,
  PERCENTILE(delay, 0.99) AS delay_p99,
  PERCENTILE(delay_a, 0.5) AS delay_a_p50,
  PERCENTILE(delay_a, 0.9) AS delay_a_p90,
  PERCENTILE(delay_a, 0.99) AS delay_a_p99,
  PERCENTILE(delay_b, 0.5) AS delay_b_p50,
  PERCENTILE(delay_b, 0.9) AS delay_b_p90,
  PERCENTILE(delay_b, 0.99) AS delay_b_p99,
  PERCENTILE(delay_c, 0.5) AS delay_c_p50,
  PERCENTILE(delay_c, 0.9) AS delay_c_p90,
  PERCENTILE(delay_c, 0.99) AS delay_c_p99,
  PERCENTILE(delay_d, 0.5) AS delay_d_p50,
  PERCENTILE(delay_d, 0.9) AS delay_d_p90,
  PERCENTILE(delay_d, 0.99) AS delay_d_p99
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
WHERE
  a.status IN ('sent', 'delivered')
  AND 1 = 1
  AND t >= :since
  AND t < :until
  AND provider = :w0
GROUP BY
  sender_domain,
  day
