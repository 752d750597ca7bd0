-- Content fingerprint of everything recipients.sql reads (DuckDB-only, not a metric: it decides whether
-- a stored recipient_facts table still matches its sources). Any insert, delete or update of a read
-- column (a reclassified severity, an account mapped by an inventory load) changes it.
SELECT (SELECT CAST(COUNT(*) AS VARCHAR) || ':' || COALESCE(CAST(SUM(hash(message_key, qid, recipient, file_id,
                line_no, ts, status, severity, provider, relay_ip, relay_host, recipient_domain)) AS VARCHAR), '')
        FROM deliveries)
       || '/' ||
       (SELECT CAST(COUNT(*) AS VARCHAR) || ':' || COALESCE(CAST(SUM(hash(message_key, account, sasl_username,
                sender_domain, client_ip, expired_at)) AS VARCHAR), '')
        FROM messages) AS stamp
