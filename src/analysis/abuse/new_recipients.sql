-- Evidence for never-seen recipients: each account's first $cap window messages to a recipient it had not
-- attempted before the window (the recipient's domain only: addresses are personal data). Outcomes do not
-- matter here, so the window's deliveries are read without the last-attempt window function.
WITH scoped AS ({{scoped}}),
seen AS ({{history_recipients}}),
win AS (
    SELECT DISTINCT s.account, s.qid, s.message_id, s.first_seen, lower(d.recipient) AS rcpt,
           lower(d.recipient_domain) AS recipient_domain
    FROM deliveries d
    JOIN scoped s ON s.message_key = d.message_key
    WHERE s.first_seen >= $since
),
fresh AS (
    SELECT w.account, w.qid, w.message_id, w.first_seen AS ts, w.recipient_domain,
           ROW_NUMBER() OVER (PARTITION BY w.account ORDER BY w.first_seen, w.qid) AS rn
    FROM win w
    LEFT JOIN seen h ON h.account = w.account AND h.rcpt = w.rcpt
    WHERE h.rcpt IS NULL
)
SELECT account, qid, message_id, ts, recipient_domain FROM fresh WHERE rn <= $cap
