-- IPs whose latest DNSBL observation before the end of the window says listed.
SELECT o.subject AS ip, o.check_name, o.observed_at
FROM dns_observations o
JOIN (
    SELECT subject, check_name, MAX(observed_at) AS last_at
    FROM dns_observations
    WHERE check_name LIKE 'dnsbl:%' AND observed_at < $until
    GROUP BY subject, check_name
) l ON l.subject = o.subject AND l.check_name = o.check_name AND l.last_at = o.observed_at
WHERE o.state = 'listed'
