-- The IPs our mail leaves from: the inventory's relay IPs plus the ESPs' reported sending IPs.
CREATE OR REPLACE TEMP TABLE _link_relay_ips AS
SELECT CAST(ip AS VARCHAR) AS ip FROM inventory_relay_ips WHERE ip IS NOT NULL
UNION
SELECT ip FROM esp_events WHERE ip IS NOT NULL
