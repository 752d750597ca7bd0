-- Sending domains verified per inventory account (and their return-path domains); the relay's own
-- envelope domain (account '') is verified for everyone.
SELECT account_id AS account, domain, return_path FROM inventory_domains
UNION ALL
SELECT '' AS account, value AS domain, NULL AS return_path FROM inventory_relay_settings WHERE key = 'envelope_domain'
