-- Rebuild messages, deliveries and queue-ID'd rejections for the (host, instance, qid) groups in
-- `touched` from every stored event of those groups. A group splits into lives at each origin line
-- (smtpd client= / pickup) and after each `removed`, so a reused short queue ID yields two messages.
-- Statements are separated by lines holding only two semicolons.

-- Slim first: the window runs over keys only; the wide columns join back by (file_id, line_no).
CREATE OR REPLACE TEMP TABLE life_map AS
WITH scoped AS (
    SELECT e.file_id, e.line_no, e.host, e.instance, e.qid, e.kind, e.ts
    FROM postfix_events e
    SEMI JOIN touched t ON t.host = e.host AND t.instance = e.instance AND t.qid = e.qid
    WHERE e.qid IS NOT NULL
), grp AS (
    SELECT scoped.*,
           LAG(kind) OVER (PARTITION BY host, instance, qid ORDER BY ts, file_id, line_no) AS prev_kind
    FROM scoped
)
SELECT file_id, line_no,
       SUM(CASE WHEN kind IN ('client', 'pickup') OR prev_kind = 'removed' THEN 1 ELSE 0 END)
           OVER (PARTITION BY host, instance, qid ORDER BY ts, file_id, line_no
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS life
FROM grp
;;
CREATE OR REPLACE TEMP TABLE life_events AS
SELECT e.*, m.life
FROM postfix_events e
JOIN life_map m ON m.file_id = e.file_id AND m.line_no = e.line_no
;;
CREATE OR REPLACE TEMP TABLE lives AS
WITH agg AS (
SELECT host, instance, qid, life,
       host || '/' || instance || '/' || qid || '/' || CAST(CAST(epoch(MIN(ts)) AS BIGINT) AS VARCHAR) AS base_key,
       MIN(ts) AS first_seen,
       MAX(ts) AS last_seen,
       MAX(CASE WHEN kind = 'client' THEN 'smtpd' WHEN kind = 'pickup' THEN 'pickup' END) AS origin,
       MAX(CASE WHEN kind = 'client' THEN service END) AS service,
       MAX(CASE WHEN kind = 'client' THEN client_host END) AS client_host,
       MAX(CASE WHEN kind = 'client' THEN client_ip END) AS client_ip,
       MAX(CASE WHEN kind = 'client' THEN client_port END) AS client_port,
       MAX(CASE WHEN kind = 'client' THEN sasl_method END) AS sasl_method,
       MAX(CASE WHEN kind = 'client' THEN sasl_username END) AS sasl_username,
       MAX(CASE WHEN kind = 'pickup' THEN uid END) AS uid,
       MAX(CASE WHEN kind = 'message_id' THEN message_id END) AS message_id,
       COALESCE(MAX(CASE WHEN kind = 'queued' THEN sender END),
                MAX(CASE WHEN kind = 'pickup' THEN sender END),
                MAX(CASE WHEN kind = 'expired' THEN sender END)) AS sender,
       MAX(CASE WHEN kind = 'queued' THEN size END) AS size,
       MAX(CASE WHEN kind = 'queued' THEN nrcpt END) AS nrcpt,
       MIN(CASE WHEN kind = 'queued' THEN ts END) AS queued_at,
       MAX(CASE WHEN kind = 'removed' THEN ts END) AS removed_at,
       MIN(CASE WHEN kind = 'expired' THEN ts END) AS expired_at,
       MAX(CASE WHEN kind = 'cleanup_action' AND action IN ('reject', 'milter-reject', 'discard', 'milter-discard', 'hold', 'milter-hold', 'redirect')
                THEN action END) AS cleanup_action,
       MAX(CASE WHEN kind = 'cleanup_action' AND action IN ('reject', 'milter-reject', 'discard', 'milter-discard', 'hold', 'milter-hold', 'redirect')
                THEN reply END) AS cleanup_reply
FROM life_events
GROUP BY host, instance, qid, life
)
-- Two lives of one queue ID starting in the same second (only in damaged or synthetic logs) stay apart.
SELECT agg.*,
       CASE WHEN ROW_NUMBER() OVER (PARTITION BY base_key ORDER BY life) = 1 THEN base_key
            ELSE base_key || '.' || CAST(ROW_NUMBER() OVER (PARTITION BY base_key ORDER BY life) - 1 AS VARCHAR)
       END AS message_key
FROM agg
;;
DELETE FROM messages
WHERE EXISTS (SELECT 1 FROM touched t WHERE t.host = messages.host AND t.instance = messages.instance AND t.qid = messages.qid)
;;
DELETE FROM deliveries
WHERE source = 'postfix'
  AND EXISTS (SELECT 1 FROM touched t WHERE t.host = deliveries.host AND t.instance = deliveries.instance AND t.qid = deliveries.qid)
;;
DELETE FROM rejections
WHERE qid IS NOT NULL
  AND EXISTS (SELECT 1 FROM touched t WHERE t.host = rejections.host AND t.instance = rejections.instance AND t.qid = rejections.qid)
;;
INSERT INTO messages (message_key, host, instance, qid, first_seen, last_seen, origin, service, client_host,
                      client_ip, client_port, sasl_method, sasl_username, uid, message_id, sender, sender_domain,
                      size, nrcpt, queued_at, removed_at, expired_at, cleanup_action, cleanup_reply, account)
SELECT lv.message_key, lv.host, lv.instance, lv.qid, lv.first_seen, lv.last_seen, lv.origin, lv.service,
       lv.client_host, lv.client_ip, lv.client_port, lv.sasl_method, lv.sasl_username, lv.uid, lv.message_id,
       lv.sender, lv.sender_domain, lv.size, lv.nrcpt, lv.queued_at, lv.removed_at, lv.expired_at,
       lv.cleanup_action, lv.cleanup_reply,
       -- The inventory account of the SASL user, else of the envelope sender's (verified) domain.
       COALESCE(su.account_id, sd.account_id)
FROM (
    SELECT lives.*,
           CASE WHEN sender LIKE '%@%' THEN lower(regexp_extract(sender, '@([^@]*)$', 1)) END AS sender_domain
    FROM lives
) lv
LEFT JOIN inventory_sasl_users su ON lower(su.sasl_username) = lower(lv.sasl_username)
LEFT JOIN inventory_domains sd ON sd.domain = lv.sender_domain
;;
INSERT INTO deliveries (file_id, line_no, message_key, ts, host, instance, daemon, qid, recipient, recipient_domain,
                        orig_to, relay, relay_host, relay_ip, relay_port, conn_use, delay, delay_a, delay_b, delay_c,
                        delay_d, dsn, status, reply, reply_code, smtp_stage, next_qid, provider, reason, severity, source)
SELECT e.file_id, e.line_no, l.message_key, e.ts, e.host, e.instance, e.daemon, e.qid, e.recipient,
       CASE WHEN e.recipient LIKE '%@%' THEN lower(regexp_extract(e.recipient, '@([^@]*)$', 1)) END,
       e.orig_to, e.relay, e.relay_host, e.relay_ip, e.relay_port, e.conn_use, e.delay, e.delay_a, e.delay_b,
       e.delay_c, e.delay_d, e.dsn, e.status, e.reply, e.reply_code, e.smtp_stage, e.next_qid,
       e.provider, e.reason, e.severity, 'postfix'
FROM life_events e
JOIN lives l ON l.host = e.host AND l.instance = e.instance AND l.qid = e.qid AND l.life = e.life
WHERE e.kind = 'delivery'
;;
INSERT INTO rejections (file_id, line_no, ts, host, instance, daemon, qid, message_key, action, smtp_stage,
                        client_host, client_ip, client_port, reply_code, dsn, reply, sender, recipient,
                        recipient_domain, helo, proto, provider, reason, severity)
SELECT e.file_id, e.line_no, e.ts, e.host, e.instance, e.daemon, e.qid, l.message_key, e.action, e.smtp_stage,
       e.client_host, e.client_ip, e.client_port, e.reply_code, e.dsn, e.reply, e.sender, e.recipient,
       CASE WHEN e.recipient LIKE '%@%' THEN lower(regexp_extract(e.recipient, '@([^@]*)$', 1)) END,
       e.helo, e.proto, e.provider, e.reason, e.severity
FROM life_events e
JOIN lives l ON l.host = e.host AND l.instance = e.instance AND l.qid = e.qid AND l.life = e.life
WHERE e.kind = 'reject'
   OR (e.kind = 'cleanup_action' AND e.action IN ('reject', 'milter-reject', 'discard', 'milter-discard', 'hold', 'milter-hold'))
;;
-- A message created by another message's "250 ... queued as QID" (content filter or second instance on
-- the same host) points back to it.
UPDATE messages SET upstream_key = up.message_key
FROM (
    SELECT d.message_key, d.host, d.qid, d.next_qid, d.ts
    FROM deliveries d
    WHERE d.next_qid IS NOT NULL AND d.source = 'postfix'
) up
WHERE messages.upstream_key IS NULL
  AND up.host = messages.host
  AND up.next_qid = messages.qid
  AND up.message_key <> messages.message_key
  AND messages.first_seen BETWEEN up.ts - INTERVAL 10 MINUTE AND up.ts + INTERVAL 10 MINUTE
  AND (EXISTS (SELECT 1 FROM touched t WHERE t.host = messages.host AND t.qid = messages.qid)
       OR EXISTS (SELECT 1 FROM touched t WHERE t.host = up.host AND t.qid = up.qid))
