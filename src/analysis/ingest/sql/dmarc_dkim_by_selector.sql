-- DKIM results per signing domain and selector as receivers saw them, weighted by message count, over
-- the reports whose period starts in [$since, $until): which keys sign the mail, and which fail.
SELECT a.domain,
       a.selector,
       CAST(SUM(rec.message_count) AS BIGINT) AS messages,
       CAST(SUM(CASE WHEN a.result = 'pass' THEN rec.message_count ELSE 0 END) AS BIGINT) AS passed,
       CAST(SUM(CASE WHEN a.result = 'pass' THEN 0 ELSE rec.message_count END) AS BIGINT) AS failed,
       CAST(COUNT(DISTINCT rec.header_from) AS BIGINT) AS header_from_domains,
       CAST(COUNT(DISTINCT rec.source_ip) AS BIGINT) AS sources
FROM dmarc_auth_results a
JOIN dmarc_records rec ON rec.report_key = a.report_key AND rec.record_no = a.record_no
JOIN dmarc_reports rep ON rep.report_key = a.report_key
WHERE a.method = 'dkim'
  AND ($since IS NULL OR rep.date_begin >= $since)
  AND ($until IS NULL OR rep.date_begin < $until)
GROUP BY a.domain, a.selector
ORDER BY messages DESC, a.domain, a.selector
