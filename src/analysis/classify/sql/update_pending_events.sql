-- Write back the changed verdicts (reclassified is a registered frame of changed rows only).
UPDATE pending_events
SET provider = reclassified.provider, reason = reclassified.reason, severity = reclassified.severity
FROM reclassified
WHERE pending_events.file_id = reclassified.file_id AND pending_events.line_no = reclassified.line_no
