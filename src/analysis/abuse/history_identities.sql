-- (account, SASL username, client IP, sender domain) seen before the window, with their message counts.
WITH scoped AS ({{scoped}})
SELECT account, sasl_username, client_ip, sender_domain, COUNT(*) AS messages
FROM scoped
WHERE first_seen < $since
GROUP BY account, sasl_username, client_ip, sender_domain
