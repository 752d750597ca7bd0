-- Unique recipients of the window's messages per account, mailbox provider and recipient domain, by final
-- outcome, and how many the account never attempted before the window (within the history).
WITH scoped AS ({{scoped}}),
outcomes AS ({{window_outcomes}}),
seen AS ({{history_recipients}})
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
GROUP BY w.account, w.provider, w.recipient_domain
