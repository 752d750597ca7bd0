-- DMARC pass rate per sending source IP (and whether it is one of ours) over the reports whose period
-- starts in [$since, $until). _known_ips is staged by the caller: our relay IPs and known senders.
SELECT rec.source_ip,
       CASE WHEN k.ip IS NULL THEN FALSE ELSE TRUE END AS known,
       MIN(k.label) AS known_as,
       CAST(SUM(rec.message_count) AS BIGINT) AS messages,
       CAST(SUM(CASE WHEN rec.dmarc_pass THEN rec.message_count ELSE 0 END) AS BIGINT) AS passed,
       CAST(SUM(CASE WHEN rec.dmarc_pass THEN 0 ELSE rec.message_count END) AS BIGINT) AS failed,
       CAST(COUNT(DISTINCT rec.header_from) AS BIGINT) AS domains,
       MIN(rec.header_from) AS example_domain,
       CAST(COUNT(DISTINCT rep.org_name) AS BIGINT) AS reporters
FROM dmarc_records rec
JOIN dmarc_reports rep ON rep.report_key = rec.report_key
LEFT JOIN (SELECT ip, MIN(label) AS label FROM _known_ips GROUP BY ip) k ON k.ip = rec.source_ip
WHERE ($since IS NULL OR rep.date_begin >= $since)
  AND ($until IS NULL OR rep.date_begin < $until)
GROUP BY rec.source_ip, CASE WHEN k.ip IS NULL THEN FALSE ELSE TRUE END
ORDER BY messages DESC, rec.source_ip
