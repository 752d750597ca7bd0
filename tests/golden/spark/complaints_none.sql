/* Stand-in for complaints.sql when the complaints table does not exist yet: no rows, same columns. */
SELECT
  CAST(NULL AS STRING) AS message_key,
  CAST(NULL AS STRING) AS rcpt
WHERE
  1 = 0
