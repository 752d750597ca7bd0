-- Feedback-loop complaints that name the message they are about (the only ones a send can own).
SELECT c.message_key, lower(c.original_rcpt_to) AS rcpt
FROM complaints c
WHERE c.message_key IS NOT NULL
