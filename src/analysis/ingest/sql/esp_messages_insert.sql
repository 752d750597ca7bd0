-- ESP messages of one file that the store does not hold yet (run after esp_messages_update.sql).
INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, origin, client_ip,
                      sasl_username, message_id, sender, sender_domain, nrcpt)
SELECT s.message_key, s.host, s.instance, s.qid, s.first_seen, s.last_seen, s.origin, s.client_ip,
       s.sasl_username, s.message_id, s.sender, s.sender_domain, s.nrcpt
FROM _esp_messages s
WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.message_key = s.message_key)
