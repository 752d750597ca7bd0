-- Recipient counts per group: the numerators and denominators of every rate (see ../DEFINITIONS.md).
-- Recipients are dated by their first attempt; refusals by their own time. A recipient complained when
-- a complaint names it (or names only its message: then the message's first delivered recipient).
WITH recipients AS (
{{recipients}}
),
complaint_src AS (
{{complaints}}
),
complaint_hits AS (
    SELECT r.message_key, r.recipient
    FROM recipients r
    JOIN complaint_src c ON c.message_key = r.message_key AND c.rcpt = lower(r.recipient)
    WHERE r.is_delivered = 1
    UNION
    SELECT r.message_key, MIN(r.recipient) AS recipient
    FROM recipients r
    JOIN complaint_src c ON c.message_key = r.message_key
    WHERE r.is_delivered = 1 AND c.rcpt IS NULL
    GROUP BY r.message_key
),
facts AS (
    SELECT r.t, r.hour, r.day, r.account, r.sasl_username, r.sender_domain, r.client_ip,
           r.recipient_domain, r.provider, r.relay_ip, r.relay_host,
           1 AS n_attempted, r.is_delivered, r.is_bounced, r.is_hard_bounced, r.is_soft_bounced,
           r.is_deferred, r.is_expired, r.is_pending, 0 AS n_rejected,
           CASE WHEN h.message_key IS NULL THEN 0 ELSE 1 END AS is_complained
    FROM recipients r
    LEFT JOIN complaint_hits h ON h.message_key = r.message_key AND h.recipient = r.recipient
    UNION ALL
    SELECT j.t, j.hour, j.day, j.account, j.sasl_username, j.sender_domain, j.client_ip,
           j.recipient_domain, j.provider, j.relay_ip, j.relay_host,
           0, 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM ({{rejects}}) j
)
SELECT {{by_select}}
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
WHERE {{where}}
{{group_by}}
