-- ESP messages of one file (staged as _esp_messages, one row per message_key) that the store already
-- holds: the same ESP message shows up in several exports (send in one, delivery in the next), so widen
-- the time span and keep the first non-NULL value of each descriptive column. (messages has no primary
-- key to upsert on: update, then insert the rest.)
UPDATE messages AS m
SET first_seen = LEAST(m.first_seen, s.first_seen),
    last_seen = GREATEST(m.last_seen, s.last_seen),
    client_ip = COALESCE(m.client_ip, s.client_ip),
    sasl_username = COALESCE(m.sasl_username, s.sasl_username),
    message_id = COALESCE(m.message_id, s.message_id),
    sender = COALESCE(m.sender, s.sender),
    sender_domain = COALESCE(m.sender_domain, s.sender_domain),
    nrcpt = GREATEST(COALESCE(m.nrcpt, 0), COALESCE(s.nrcpt, 0))
FROM _esp_messages s
WHERE m.message_key = s.message_key
