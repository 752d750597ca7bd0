-- Complaints matched to the window's messages, dated by the message (like the delivered denominator).
WITH scoped AS ({{scoped}})
SELECT s.account, s.message_key, s.qid, s.message_id, s.sasl_username, s.client_ip, s.sender_domain,
       c.complaint_id, c.received_at AS ts, c.feedback_type, c.provider, c.source_ip
FROM complaints c
JOIN scoped s ON s.message_key = c.message_key
WHERE s.first_seen >= $since
