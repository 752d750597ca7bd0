-- DMARC pass rate per header-from domain over the reports whose period starts in [$since, $until).
-- A message passes DMARC when either aligned identifier (policy_evaluated dkim/spf) passed.
SELECT rec.header_from,
       CAST(SUM(rec.message_count) AS BIGINT) AS messages,
       CAST(SUM(CASE WHEN rec.dmarc_pass THEN rec.message_count ELSE 0 END) AS BIGINT) AS passed,
       CAST(SUM(CASE WHEN rec.dmarc_pass THEN 0 ELSE rec.message_count END) AS BIGINT) AS failed,
       CAST(SUM(CASE WHEN rec.dkim_aligned = 'pass' THEN rec.message_count ELSE 0 END) AS BIGINT) AS dkim_aligned_pass,
       CAST(SUM(CASE WHEN rec.spf_aligned = 'pass' THEN rec.message_count ELSE 0 END) AS BIGINT) AS spf_aligned_pass,
       CAST(SUM(CASE WHEN rec.disposition = 'quarantine' THEN rec.message_count ELSE 0 END) AS BIGINT) AS quarantined,
       CAST(SUM(CASE WHEN rec.disposition = 'reject' THEN rec.message_count ELSE 0 END) AS BIGINT) AS rejected,
       CAST(COUNT(DISTINCT rec.source_ip) AS BIGINT) AS sources,
       CAST(COUNT(DISTINCT rep.report_key) AS BIGINT) AS reports
FROM dmarc_records rec
JOIN dmarc_reports rep ON rep.report_key = rec.report_key
WHERE ($since IS NULL OR rep.date_begin >= $since)
  AND ($until IS NULL OR rep.date_begin < $until)
GROUP BY rec.header_from
ORDER BY messages DESC, rec.header_from
