-- Feedback-loop complaints that name the message they are about (the only ones a send can own);
-- a not-spam report is the opposite of a complaint.
SELECT c.message_key, lower(c.original_rcpt_to) AS rcpt
FROM complaints c
WHERE c.message_key IS NOT NULL AND (c.feedback_type IS NULL OR lower(c.feedback_type) <> 'not-spam')
