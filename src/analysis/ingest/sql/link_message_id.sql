-- Step 1: the original's Message-ID names the message. A Message-ID can belong to several queue lives
-- (a content filter re-queues the mail), so prefer the life that delivered to the complaining recipient,
-- then the submission itself (no upstream life: it carries the SASL user and account the complaint is
-- held against), then the one closest in time to the complaint.
UPDATE complaints AS c
SET message_key = pick.message_key, match_method = 'message_id'
FROM (
    SELECT complaint_id, message_key
    FROM (
        SELECT c2.complaint_id, m.message_key,
               ROW_NUMBER() OVER (
                   PARTITION BY c2.complaint_id
                   ORDER BY CASE WHEN d.message_key IS NULL THEN 1 ELSE 0 END,
                            CASE WHEN m.upstream_key IS NULL THEN 0 ELSE 1 END,
                            ABS(EPOCH(m.first_seen) - EPOCH(COALESCE(c2.arrival_date, c2.received_at, m.first_seen))),
                            m.message_key
               ) AS rn
        FROM complaints c2
        JOIN messages m
          ON TRIM(BOTH '<> ' FROM m.message_id) = c2.message_id
        LEFT JOIN (
            SELECT DISTINCT message_key, lower(recipient) AS rcpt FROM deliveries WHERE status = 'sent'
        ) d ON d.message_key = m.message_key AND d.rcpt = lower(c2.original_rcpt_to)
        WHERE c2.source = 'arf' AND c2.message_key IS NULL AND c2.message_id IS NOT NULL
    ) ranked
    WHERE rn = 1
) pick
WHERE c.complaint_id = pick.complaint_id
