-- DMARC report coverage: per reporter, policy domain and report day (the day its period starts), how many
-- reports, records and messages, and how many passed, over the reports whose period starts in
-- [$since, $until). Gaps between a reporter's days show reports that never arrived (or were not ingested).
SELECT rep.org_name,
       rep.domain,
       CAST(date_trunc('day', rep.date_begin) AS DATE) AS day,
       CAST(COUNT(DISTINCT rep.report_key) AS BIGINT) AS reports,
       CAST(COUNT(rec.record_no) AS BIGINT) AS records,
       COALESCE(CAST(SUM(rec.message_count) AS BIGINT), 0) AS messages,
       COALESCE(CAST(SUM(CASE WHEN rec.dmarc_pass THEN rec.message_count ELSE 0 END) AS BIGINT), 0) AS passed,
       MIN(rep.date_begin) AS first_begin,
       MAX(rep.date_end) AS last_end
FROM dmarc_reports rep
LEFT JOIN dmarc_records rec ON rec.report_key = rep.report_key
WHERE ($since IS NULL OR rep.date_begin >= $since)
  AND ($until IS NULL OR rep.date_begin < $until)
GROUP BY rep.org_name, rep.domain, CAST(date_trunc('day', rep.date_begin) AS DATE)
ORDER BY rep.org_name, rep.domain, day
