-- DMARC aggregate rows for the inventory's verified domains, reports overlapping the window; a source is
-- known when it is one of the inventory's relay IPs.
SELECT d.account_id AS account, lower(r.header_from) AS header_from, r.source_ip, r.message_count,
       r.dmarc_pass, rep.org_name, rep.report_id, rep.date_begin, rep.date_end,
       CASE WHEN ri.ip IS NULL THEN FALSE ELSE TRUE END AS known_source
FROM dmarc_records r
JOIN dmarc_reports rep ON rep.report_key = r.report_key
JOIN inventory_domains d ON d.domain = lower(r.header_from)
LEFT JOIN inventory_relay_ips ri ON ri.ip = r.source_ip
WHERE rep.date_end > $since AND rep.date_begin < $until
