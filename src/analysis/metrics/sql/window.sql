-- The extent of the data a summary covers: first and last attempt, messages and recipients attempted.
SELECT MIN(t) AS first_attempt,
       MAX(t) AS last_attempt,
       CAST(COUNT(DISTINCT message_key) AS BIGINT) AS messages
FROM ({{recipients}}) r
WHERE {{where}}
