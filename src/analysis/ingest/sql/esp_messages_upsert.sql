-- ESP messages seen in one file (staged as _esp_messages, one row per message_key) merged into `messages`:
-- the same ESP message shows up in several exports (send in one, delivery in the next), so widen the
-- time span and keep the first non-NULL value of each descriptive column.
INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, origin, client_ip,
                      sasl_username, message_id, sender, sender_domain, nrcpt)
SELECT message_key, host, instance, qid, first_seen, last_seen, origin, client_ip,
       sasl_username, message_id, sender, sender_domain, nrcpt
FROM _esp_messages
ON CONFLICT (message_key) DO UPDATE SET
    first_seen = LEAST(messages.first_seen, excluded.first_seen),
    last_seen = GREATEST(messages.last_seen, excluded.last_seen),
    client_ip = COALESCE(messages.client_ip, excluded.client_ip),
    sasl_username = COALESCE(messages.sasl_username, excluded.sasl_username),
    message_id = COALESCE(messages.message_id, excluded.message_id),
    sender = COALESCE(messages.sender, excluded.sender),
    sender_domain = COALESCE(messages.sender_domain, excluded.sender_domain),
    nrcpt = GREATEST(COALESCE(messages.nrcpt, 0), COALESCE(excluded.nrcpt, 0))
