-- One row per refusal by this relay (NOQUEUE, postscreen, cleanup and milter rejects), with the same
-- dimension columns as attempts.sql. Relay dimensions are NULL: a refused message never reaches a relay.
-- The sender domain comes from the message when the reject has one, else from the logged from=<...>.
SELECT j.ts AS t,
       date_trunc('hour', j.ts) AS hour,
       date_trunc('day', j.ts) AS day,
       j.severity,
       j.reason,
       j.dsn,
       j.reply,
       m.account,
       m.sasl_username,
       COALESCE(m.sender_domain, lower(NULLIF(regexp_extract(j.sender, '@([^@]+)$', 1), ''))) AS sender_domain,
       COALESCE(j.client_ip, m.client_ip) AS client_ip,
       j.recipient_domain,
       j.provider,
       CAST(NULL AS VARCHAR) AS relay_ip,
       CAST(NULL AS VARCHAR) AS relay_host
FROM rejections j
LEFT JOIN messages m ON m.message_key = j.message_key
WHERE lower(j.action) LIKE '%reject%'
