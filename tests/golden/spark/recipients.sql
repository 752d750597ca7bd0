/* One row per recipient of a message (the unit every rate counts), built from its delivery attempts. */
/* The recipient is dated by its FIRST attempt (a cohort: later retries and the outcome stay with it); */
/* its outcome and its relay/provider come from its LAST attempt, as in the recipient_outcomes view. */
/* Rows without a message_key (uncorrelated attempts) are told apart by queue ID. */
SELECT
  r.message_key,
  r.recipient,
  r.first_attempt AS t,
  DATE_TRUNC('HOUR', r.first_attempt) AS hour,
  DATE_TRUNC('DAY', r.first_attempt) AS day,
  r.account,
  r.sasl_username,
  r.sender_domain,
  r.client_ip,
  r.recipient_domain,
  r.provider,
  r.relay_ip,
  r.relay_host,
  CASE WHEN r.status IN ('sent', 'delivered') THEN 1 ELSE 0 END AS is_delivered,
  CASE WHEN r.status = 'bounced' THEN 1 ELSE 0 END AS is_bounced,
  CASE WHEN r.status = 'bounced' AND r.severity = 'hard' THEN 1 ELSE 0 END AS is_hard_bounced,
  CASE
    WHEN r.status = 'bounced' AND (
      r.severity IS NULL OR r.severity <> 'hard'
    )
    THEN 1
    ELSE 0
  END AS is_soft_bounced,
  CASE WHEN r.deferrals > 0 THEN 1 ELSE 0 END AS is_deferred,
  CASE
    WHEN r.status = 'expired'
    OR (
      r.status IN ('deferred', 'softbounce') AND NOT r.expired_at IS NULL
    )
    THEN 1
    ELSE 0
  END AS is_expired,
  CASE
    WHEN r.status IN ('deferred', 'softbounce') AND r.expired_at IS NULL
    THEN 1
    ELSE 0
  END AS is_pending
FROM (
  SELECT
    a.*,
    MIN(a.t) OVER w AS first_attempt,
    SUM(CASE WHEN a.status IN ('deferred', 'softbounce') THEN 1 ELSE 0 END) OVER w AS deferrals,
    ROW_NUMBER() OVER (
      PARTITION BY a.qid, a.recipient, a.message_key
      ORDER BY a.t DESC, a.file_id DESC, a.line_no DESC
    ) AS rn
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
  WINDOW w AS (
    PARTITION BY a.qid, a.recipient, a.message_key
    ORDER BY a.t DESC, a.file_id DESC, a.line_no DESC
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
  )
) AS r
WHERE
  r.rn = 1
