/* One row per complaint, dated by when its report was written (received_at), with the dimensions of the */
/* send it was matched to: account, SASL user, sender domain and client from the message; provider and */
/* relay from the complained recipient's attempts, else the provider the feedback loop belongs to. */
/* Unmatched complaints keep only what the report says (no account, no sender domain). */
WITH hits AS (
  SELECT
    d.message_key,
    LOWER(d.recipient) AS rcpt,
    MAX(d.provider) AS provider,
    MAX(d.relay_ip) AS relay_ip,
    MAX(d.relay_host) AS relay_host
  FROM deliveries AS d
  JOIN (
    SELECT DISTINCT
      message_key
    FROM complaints
    WHERE
      NOT message_key IS NULL
  ) AS k
    ON k.message_key = d.message_key
  GROUP BY
    d.message_key,
    LOWER(d.recipient)
), facts AS (
  SELECT
    c.complaint_id,
    c.received_at AS t,
    DATE_TRUNC('HOUR', c.received_at) AS hour,
    DATE_TRUNC('DAY', c.received_at) AS day,
    c.feedback_type,
    c.report_variant,
    c.source,
    c.user_agent,
    c.reporting_mta,
    c.match_method,
    CASE WHEN c.message_key IS NULL THEN FALSE ELSE TRUE END AS matched,
    m.account,
    m.sasl_username,
    m.sender_domain,
    m.client_ip,
    c.rcpt_domain AS recipient_domain,
    COALESCE(h.provider, c.provider) AS provider,
    h.relay_ip,
    h.relay_host,
    c.message_key,
    c.original_rcpt_to,
    c.reported_domain
  FROM complaints AS c
  LEFT JOIN messages AS m
    ON m.message_key = c.message_key
  LEFT JOIN hits AS h
    ON h.message_key = c.message_key AND h.rcpt = LOWER(c.original_rcpt_to)
)
SELECT
  *
FROM facts
WHERE
  1 = 1 AND t >= :since AND t < :until AND provider = :w0
ORDER BY
  t NULLS LAST,
  complaint_id NULLS LAST
