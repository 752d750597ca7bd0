-- Each recipient of the window's messages with its final attempt (the last one decides, as in the
-- store's recipient_outcomes view, but computed over the window's deliveries only).
SELECT x.*
FROM (
    SELECT s.account, s.message_key, s.qid, s.message_id, s.first_seen, s.sasl_username, s.client_ip,
           s.sender_domain, lower(d.recipient) AS rcpt, lower(d.recipient_domain) AS recipient_domain,
           d.provider, d.status AS final_status, d.severity, d.reason, d.dsn,
           MIN(d.ts) OVER (PARTITION BY d.message_key, d.recipient) AS first_attempt,
           ROW_NUMBER() OVER (PARTITION BY d.message_key, d.recipient
                              ORDER BY d.ts DESC, d.file_id DESC, d.line_no DESC) AS rn
    FROM deliveries d
    JOIN scoped s ON s.message_key = d.message_key
    WHERE s.first_seen >= $since
) x
WHERE x.rn = 1
