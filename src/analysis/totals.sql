-- Relay totals, counted as pflogsumm counts them where it counts the same thing (see README "Totals").
-- Parameters: $since, $until (TIMESTAMPTZ or NULL). Portable subset: CASE/COUNT/SUM, no DuckDB-only syntax.
WITH d AS (
    SELECT * FROM deliveries
    WHERE source = 'postfix'
      AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
), m AS (
    SELECT * FROM messages
    WHERE ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
), r AS (
    SELECT * FROM rejections
    WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
)
SELECT
    (SELECT COUNT(*) FROM m WHERE origin IS NOT NULL) AS received,
    (SELECT COUNT(*) FROM d WHERE status = 'sent' AND (reply IS NULL OR reply NOT LIKE '%forwarded as %')) AS delivered,
    (SELECT COUNT(*) FROM d WHERE status = 'sent' AND reply LIKE '%forwarded as %') AS forwarded,
    (SELECT COUNT(DISTINCT message_key) FROM d WHERE status = 'deferred') AS deferred,
    (SELECT COUNT(*) FROM d WHERE status = 'deferred') AS deferrals,
    (SELECT COUNT(*) FROM d WHERE status = 'bounced') AS bounced,
    (SELECT COUNT(*) FROM m WHERE expired_at IS NOT NULL) AS expired,
    (SELECT COUNT(*) FROM r WHERE action = 'reject' OR (daemon = 'cleanup' AND action = 'milter-reject')) AS rejected,
    (SELECT COUNT(*) FROM r WHERE action = 'reject_warning'
        OR (daemon = 'cleanup' AND action = 'warning' AND smtp_stage IN ('header', 'body', 'END-OF-MESSAGE'))) AS reject_warnings,
    (SELECT COUNT(*) FROM r WHERE action IN ('hold', 'milter-hold')) AS held,
    (SELECT COUNT(*) FROM r WHERE action IN ('discard', 'milter-discard')) AS discarded,
    (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM m WHERE origin IS NOT NULL) AS bytes_received,
    (SELECT COUNT(DISTINCT CASE WHEN sender = '' THEN 'from=<>'
                                WHEN sender LIKE '%@%' THEN regexp_extract(sender, '^(.*)@', 1) || '@' || lower(regexp_extract(sender, '@([^@]*)$', 1))
                                ELSE sender END)
       FROM m WHERE origin IS NOT NULL AND sender IS NOT NULL) AS senders,
    (SELECT COUNT(DISTINCT CASE WHEN recipient LIKE '%@%' THEN regexp_extract(recipient, '^(.*)@', 1) || '@' || lower(regexp_extract(recipient, '@([^@]*)$', 1))
                                ELSE recipient END)
       FROM d WHERE status = 'sent') AS recipients,
    (SELECT COUNT(*) FROM m) AS messages,
    (SELECT COUNT(*) FROM d) AS delivery_attempts
