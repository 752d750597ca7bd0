-- One row per recipient of a message (the unit every rate counts), built from its delivery attempts.
-- The recipient is dated by its FIRST attempt (a cohort: later retries and the outcome stay with it);
-- its outcome and its relay/provider come from its LAST attempt, as in the recipient_outcomes view.
-- Rows without a message_key (uncorrelated attempts) are told apart by queue ID.
SELECT r.message_key,
       r.recipient,
       r.first_attempt AS t,
       date_trunc('hour', r.first_attempt) AS hour,
       date_trunc('day', r.first_attempt) AS day,
       r.account,
       r.sasl_username,
       r.sender_domain,
       r.client_ip,
       r.recipient_domain,
       r.provider,
       r.relay_ip,
       r.relay_host,
       CASE WHEN r.status IN ('sent', 'delivered') THEN 1 ELSE 0 END AS is_delivered,
       CASE WHEN r.status = 'bounced' THEN 1 ELSE 0 END AS is_bounced,
       CASE WHEN r.status = 'bounced' AND r.severity = 'hard' THEN 1 ELSE 0 END AS is_hard_bounced,
       CASE WHEN r.status = 'bounced' AND (r.severity IS NULL OR r.severity <> 'hard') THEN 1 ELSE 0 END
           AS is_soft_bounced,
       CASE WHEN r.deferrals > 0 THEN 1 ELSE 0 END AS is_deferred,
       CASE WHEN r.status = 'expired' OR (r.status IN ('deferred', 'softbounce') AND r.expired_at IS NOT NULL)
            THEN 1 ELSE 0 END AS is_expired,
       CASE WHEN r.status IN ('deferred', 'softbounce') AND r.expired_at IS NULL THEN 1 ELSE 0 END AS is_pending
FROM (
    SELECT a.*,
           MIN(a.t) OVER w AS first_attempt,
           SUM(CASE WHEN a.status IN ('deferred', 'softbounce') THEN 1 ELSE 0 END) OVER w AS deferrals,
           ROW_NUMBER() OVER (PARTITION BY a.qid, a.recipient, a.message_key
                              ORDER BY a.t DESC, a.file_id DESC, a.line_no DESC) AS rn
    FROM ({{attempts}}) a
    -- One partitioning and ordering for all three, so the engine sorts once; the full frame makes MIN
    -- and SUM see every attempt of the recipient despite the ORDER BY (ROW_NUMBER takes no frame).
    WINDOW w AS (PARTITION BY a.qid, a.recipient, a.message_key
                 ORDER BY a.t DESC, a.file_id DESC, a.line_no DESC
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
) r
WHERE r.rn = 1
