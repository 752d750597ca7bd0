-- Steps 2 and 3: a delivered attempt to the complaining recipient inside the time window: from a day
-- before to an hour after the receiver's Arrival-Date, or in the week before the report when the report
-- gives no arrival date. Parameters: $match_method, and $need_ip (TRUE: the complaint's Source-IP must be
-- one of our relay IPs). The attempt closest in time wins.
UPDATE complaints AS c
SET message_key = pick.message_key, match_method = $match_method
FROM (
    SELECT complaint_id, message_key
    FROM (
        SELECT c2.complaint_id, d.message_key,
               ROW_NUMBER() OVER (
                   PARTITION BY c2.complaint_id
                   ORDER BY ABS(EPOCH(d.ts) - EPOCH(COALESCE(c2.arrival_date, c2.received_at))), d.message_key
               ) AS rn
        FROM complaints c2
        JOIN deliveries d
          ON lower(d.recipient) = lower(c2.original_rcpt_to)
         AND d.status = 'sent'
         AND d.message_key IS NOT NULL
         AND (
              (c2.arrival_date IS NOT NULL
               AND d.ts BETWEEN c2.arrival_date - INTERVAL 1 DAY AND c2.arrival_date + INTERVAL 1 HOUR)
           OR (c2.arrival_date IS NULL AND c2.received_at IS NOT NULL
               AND d.ts BETWEEN c2.received_at - INTERVAL 7 DAY AND c2.received_at)
         )
        WHERE c2.source = 'arf' AND c2.message_key IS NULL AND c2.original_rcpt_to IS NOT NULL
          AND (NOT $need_ip OR c2.source_ip IN (SELECT ip FROM _link_relay_ips))
    ) ranked
    WHERE rn = 1
) pick
WHERE c.complaint_id = pick.complaint_id
