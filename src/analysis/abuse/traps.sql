-- Recipients of the window's messages that are spam traps of the inventory (an address, or a whole domain;
-- a trap address inside a trap domain counts once).
WITH scoped AS ({{scoped}})
SELECT DISTINCT s.account, s.message_key, s.qid, s.message_id, s.sasl_username, s.client_ip, s.sender_domain,
       o.first_attempt AS ts, lower(o.recipient) AS recipient, o.final_status
FROM recipient_outcomes o
JOIN scoped s ON s.message_key = o.message_key
JOIN inventory_traps t
  ON (t.kind = 'address' AND t.value = lower(o.recipient))
  OR (t.kind = 'domain' AND t.value = lower(o.recipient_domain))
WHERE s.first_seen >= $since
