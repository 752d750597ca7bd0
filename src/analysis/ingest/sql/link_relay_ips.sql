-- The IPs our mail leaves from, without an inventory: the ESPs' reported sending IPs.
CREATE OR REPLACE TEMP TABLE _link_relay_ips AS
SELECT DISTINCT ip FROM esp_events WHERE ip IS NOT NULL
