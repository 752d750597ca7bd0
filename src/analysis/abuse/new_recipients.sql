-- Evidence for never-seen recipients: each account's first $cap window messages to a recipient it had not
-- attempted before the window (the recipient's domain only: addresses are personal data).
WITH scoped AS ({{scoped}}),
outcomes AS ({{window_outcomes}}),
seen AS ({{history_recipients}}),
fresh AS (
    SELECT w.account, w.qid, w.message_id, w.first_seen AS ts, w.recipient_domain,
           ROW_NUMBER() OVER (PARTITION BY w.account ORDER BY w.first_seen, w.qid) AS rn
    FROM outcomes w
    LEFT JOIN seen h ON h.account = w.account AND h.rcpt = w.rcpt
    WHERE h.rcpt IS NULL
)
SELECT account, qid, message_id, ts, recipient_domain FROM fresh WHERE rn <= $cap
