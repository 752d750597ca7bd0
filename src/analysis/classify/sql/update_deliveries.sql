-- Write back the changed verdicts (reclassified is a registered frame of changed rows only).
UPDATE deliveries
SET provider = reclassified.provider, reason = reclassified.reason, severity = reclassified.severity
FROM reclassified
WHERE deliveries.file_id = reclassified.file_id AND deliveries.line_no = reclassified.line_no
