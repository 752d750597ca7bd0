-- Attempt and refusal EVENTS per time bucket (a recipient retried five times counts five deferrals
-- here; rates.sql counts recipients).
WITH events AS (
    SELECT a.status AS outcome, a.t, a.hour, a.day, a.account, a.sasl_username, a.sender_domain,
           a.client_ip, a.recipient_domain, a.provider, a.relay_ip, a.relay_host
    FROM ({{attempts}}) a
    UNION ALL
    SELECT 'rejected', j.t, j.hour, j.day, j.account, j.sasl_username, j.sender_domain,
           j.client_ip, j.recipient_domain, j.provider, j.relay_ip, j.relay_host
    FROM ({{rejects}}) j
)
SELECT {{bucket}} AS bucket,
       CAST(SUM(CASE WHEN outcome IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS BIGINT) AS sent,
       CAST(SUM(CASE WHEN outcome = 'bounced' THEN 1 ELSE 0 END) AS BIGINT) AS bounced,
       CAST(SUM(CASE WHEN outcome IN ('deferred', 'softbounce') THEN 1 ELSE 0 END) AS BIGINT) AS deferred,
       CAST(SUM(CASE WHEN outcome = 'expired' THEN 1 ELSE 0 END) AS BIGINT) AS expired,
       CAST(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END) AS BIGINT) AS rejected
FROM events
WHERE {{where}}
GROUP BY {{bucket}}
ORDER BY {{bucket}}
