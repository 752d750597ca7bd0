/* Recipient counts per group: the numerators and denominators of every rate (see ../DEFINITIONS.md). */
/* Recipients are dated by their first attempt; refusals by their own time. A recipient complained when */
/* a complaint names it (or names only its message: then the message's first delivered recipient). */
WITH recipients AS (
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
), complaint_src AS (
  /* Feedback-loop complaints that name the message they are about (the only ones a send can own); */
  /* a not-spam report is the opposite of a complaint. */
  SELECT
    c.message_key,
    LOWER(c.original_rcpt_to) AS rcpt
  FROM complaints AS c
  WHERE
    NOT c.message_key IS NULL
    AND (
      c.feedback_type IS NULL OR LOWER(c.feedback_type) <> 'not-spam'
    )
), complaint_hits AS (
  SELECT
    r.message_key,
    r.recipient
  FROM recipients AS r
  JOIN complaint_src AS c
    ON c.message_key = r.message_key AND c.rcpt = LOWER(r.recipient)
  WHERE
    r.is_delivered = 1
  UNION
  SELECT
    r.message_key,
    MIN(r.recipient) AS recipient
  FROM recipients AS r
  JOIN complaint_src AS c
    ON c.message_key = r.message_key
  WHERE
    r.is_delivered = 1 AND c.rcpt IS NULL
  GROUP BY
    r.message_key
), facts AS (
  SELECT
    r.t,
    r.hour,
    r.day,
    r.account,
    r.sasl_username,
    r.sender_domain,
    r.client_ip,
    r.recipient_domain,
    r.provider,
    r.relay_ip,
    r.relay_host,
    1 AS n_attempted,
    r.is_delivered,
    r.is_bounced,
    r.is_hard_bounced,
    r.is_soft_bounced,
    r.is_deferred,
    r.is_expired,
    r.is_pending,
    0 AS n_rejected,
    CASE WHEN h.message_key IS NULL THEN 0 ELSE 1 END AS is_complained
  FROM recipients AS r
  LEFT JOIN complaint_hits AS h
    ON h.message_key = r.message_key AND h.recipient = r.recipient
  UNION ALL
  SELECT
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
    j.relay_host,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0
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
  sender_domain,
  day,
  CAST(SUM(n_attempted) AS BIGINT) AS attempted,
  CAST(SUM(is_delivered) AS BIGINT) AS delivered,
  CAST(SUM(is_bounced) AS BIGINT) AS bounced,
  CAST(SUM(is_hard_bounced) AS BIGINT) AS hard_bounced,
  CAST(SUM(is_soft_bounced) AS BIGINT) AS soft_bounced,
  CAST(SUM(is_deferred) AS BIGINT) AS deferred,
  CAST(SUM(is_expired) AS BIGINT) AS expired,
  CAST(SUM(is_pending) AS BIGINT) AS pending,
  CAST(SUM(n_rejected) AS BIGINT) AS rejected,
  CAST(SUM(is_complained) AS BIGINT) AS complained
FROM facts
WHERE
  1 = 1 AND t >= :since AND t < :until AND provider = :w0
GROUP BY
  sender_domain,
  day
