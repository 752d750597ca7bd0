-- Unique recipients of the window's messages per account, mailbox provider and recipient domain, by final
-- outcome, and how many the account never attempted before the window (within the history).
WITH scoped AS ({{scoped}}),
outcomes AS (
    SELECT s.account, s.first_seen, lower(o.recipient) AS rcpt, o.provider,
           lower(o.recipient_domain) AS recipient_domain, o.final_status, o.severity, o.reason, o.dsn
    FROM recipient_outcomes o
    JOIN scoped s ON s.message_key = o.message_key
),
seen AS (
    SELECT DISTINCT account, rcpt FROM outcomes WHERE first_seen < $since
)
SELECT w.account, w.provider, w.recipient_domain,
       COUNT(*) AS attempted,
       COUNT(DISTINCT w.rcpt) AS distinct_recipients,
       CAST(SUM(CASE WHEN w.final_status = 'sent' THEN 1 ELSE 0 END) AS BIGINT) AS delivered,
       CAST(SUM(CASE WHEN w.final_status = 'bounced' AND w.severity = 'hard' THEN 1 ELSE 0 END) AS BIGINT)
           AS hard_bounced,
       CAST(SUM(CASE WHEN w.final_status = 'bounced'
                      AND (w.reason = 'userunknown' OR w.dsn = '5.1.1' OR w.dsn = '5.1.10') THEN 1 ELSE 0 END)
            AS BIGINT) AS unknown_user,
       CAST(SUM(CASE WHEN h.rcpt IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS new_recipients
FROM outcomes w
LEFT JOIN seen h ON h.account = w.account AND h.rcpt = w.rcpt
WHERE w.first_seen >= $since
GROUP BY w.account, w.provider, w.recipient_domain
