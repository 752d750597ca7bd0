-- The messages of the window, one row each (identities, evidence).
WITH scoped AS ({{scoped}})
SELECT message_key, host, qid, message_id, first_seen, account, inventory_account, sasl_username, client_ip,
       sender_domain
FROM scoped
WHERE first_seen >= $since
