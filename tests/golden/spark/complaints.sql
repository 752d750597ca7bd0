/* Feedback-loop complaints that name the message they are about (the only ones a send can own); */
/* a not-spam report is the opposite of a complaint. */
SELECT
  c.message_key,
  LOWER(c.original_rcpt_to) AS rcpt
FROM complaints AS c
WHERE
  NOT c.message_key IS NULL
  AND (
    c.feedback_type IS NULL OR LOWER(c.feedback_type) <> 'not-spam'
  )
