-- (account, SASL username, client IP) pairs seen before the window, with their message counts.
WITH scoped AS ({{scoped}})
SELECT account, sasl_username, client_ip, COUNT(*) AS messages
FROM scoped
WHERE first_seen < $since
GROUP BY account, sasl_username, client_ip
