-- Recipients of the window's messages that are spam traps of the inventory (an address, or a whole domain;
-- a trap address inside a trap domain counts once).
WITH scoped AS ({{scoped}}),
outcomes AS ({{window_outcomes}})
SELECT DISTINCT o.account, o.message_key, o.qid, o.message_id, o.sasl_username, o.client_ip, o.sender_domain,
       o.first_attempt AS ts, o.rcpt AS recipient, o.final_status
FROM outcomes o
JOIN inventory_traps t
  ON (t.kind = 'address' AND t.value = o.rcpt)
  OR (t.kind = 'domain' AND t.value = o.recipient_domain)
