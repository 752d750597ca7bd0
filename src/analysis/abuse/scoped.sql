-- Messages from the start of the history to the end of the window, each with its abuse account: the
-- inventory account of its SASL username, else the SASL username, else the envelope sender domain.
-- Null-sender mail (bounces the relay itself writes) belongs to nobody and is left out. A drill-down
-- (the scope slot: one SASL username, sender domain or client IP) narrows the window only: the history stays
-- the account's whole history, so the narrowed mail is judged against the account's own baseline.
SELECT s.*
FROM (
    SELECT m.message_key, m.host, m.qid, m.message_id, m.first_seen, m.sasl_username, m.client_ip,
           NULLIF(lower(m.sender_domain), '') AS sender_domain,
           su.account_id AS inventory_account,
           COALESCE(su.account_id, m.sasl_username, NULLIF(lower(m.sender_domain), '')) AS account
    FROM messages m
    LEFT JOIN inventory_sasl_users su ON lower(su.sasl_username) = lower(m.sasl_username)
    WHERE m.first_seen >= $history_start AND m.first_seen < $until
) s
WHERE s.account IS NOT NULL AND (s.first_seen < $since OR {{scope}})
