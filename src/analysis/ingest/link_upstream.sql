-- A message created by another message's "250 ... queued as QID" (content filter, or a second instance on
-- the same host) points back to it. $since: the earliest first_seen or "queued as" time among the rows
-- written since the last step (the loader tracks it), so earlier messages are not looked at again.
UPDATE messages SET upstream_key = up.message_key
FROM (
    SELECT d.message_key, d.host, d.next_qid, d.ts
    FROM deliveries d
    WHERE d.next_qid IS NOT NULL AND d.source = 'postfix' AND d.ts >= $since - INTERVAL 10 MINUTE
) up
WHERE messages.upstream_key IS NULL
  AND messages.first_seen >= $since - INTERVAL 10 MINUTE
  AND up.host = messages.host
  AND up.next_qid = messages.qid
  AND up.message_key <> messages.message_key
  AND messages.first_seen BETWEEN up.ts - INTERVAL 10 MINUTE AND up.ts + INTERVAL 10 MINUTE
