-- Reply texts of failed and deferred attempts and of refusals, counted per distinct raw text; the
-- caller masks addresses/IDs/numbers and regroups (regex dialects differ between engines).
WITH events AS (
    SELECT a.status AS outcome, a.reply, a.reason, a.severity, a.dsn, a.t, a.hour, a.day,
           a.account, a.sasl_username, a.sender_domain, a.client_ip, a.recipient_domain, a.provider,
           a.relay_ip, a.relay_host
    FROM ({{attempts}}) a
    UNION ALL
    SELECT 'rejected', j.reply, j.reason, j.severity, j.dsn, j.t, j.hour, j.day,
           j.account, j.sasl_username, j.sender_domain, j.client_ip, j.recipient_domain, j.provider,
           j.relay_ip, j.relay_host
    FROM ({{rejects}}) j
)
SELECT reply, reason, severity, dsn, CAST(COUNT(*) AS BIGINT) AS n
FROM events
WHERE reply IS NOT NULL AND outcome IN ({{statuses}}) AND {{where}}
GROUP BY reply, reason, severity, dsn
