-- One row per complaint, dated by when its report was written (received_at), with the dimensions of the
-- send it was matched to: account, SASL user, sender domain and client from the message; provider and
-- relay from the complained recipient's attempts, else the provider the feedback loop belongs to.
-- Unmatched complaints keep only what the report says (no account, no sender domain).
WITH hits AS (
    SELECT d.message_key,
           lower(d.recipient) AS rcpt,
           MAX(d.provider) AS provider,
           MAX(d.relay_ip) AS relay_ip,
           MAX(d.relay_host) AS relay_host
    FROM deliveries d
    JOIN (SELECT DISTINCT message_key FROM complaints WHERE message_key IS NOT NULL) k
      ON k.message_key = d.message_key
    GROUP BY d.message_key, lower(d.recipient)
),
facts AS (
    SELECT c.complaint_id,
           c.received_at AS t,
           date_trunc('hour', c.received_at) AS hour,
           date_trunc('day', c.received_at) AS day,
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
    FROM complaints c
    LEFT JOIN messages m ON m.message_key = c.message_key
    LEFT JOIN hits h ON h.message_key = c.message_key AND h.rcpt = lower(c.original_rcpt_to)
)
SELECT *
FROM facts
WHERE {{where}}
ORDER BY t, complaint_id
