-- New message rows (registered frame _msgs) with their inventory account: the SASL user's account, else
-- the account that verified the envelope sender's domain (accounts.sql applies the same rule later).
INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, origin, service, client_host,
                      client_ip, client_port, sasl_method, sasl_username, uid, message_id, sender, sender_domain,
                      size, nrcpt, queued_at, removed_at, expired_at, cleanup_action, cleanup_reply, account)
SELECT m.message_key, m.host, m.instance, m.qid, m.first_seen, m.last_seen, m.origin, m.service, m.client_host,
       m.client_ip, m.client_port, m.sasl_method, m.sasl_username, m.uid, m.message_id, m.sender, m.sender_domain,
       m.size, m.nrcpt, m.queued_at, m.removed_at, m.expired_at, m.cleanup_action, m.cleanup_reply,
       COALESCE(su.account_id, sd.account_id)
FROM _msgs m
LEFT JOIN inventory_sasl_users su ON lower(su.sasl_username) = lower(m.sasl_username)
LEFT JOIN inventory_domains sd ON sd.domain = m.sender_domain
