-- Write back the changed verdicts (reclassified is a registered frame of changed rows only).
UPDATE rejections
SET provider = reclassified.provider, reason = reclassified.reason, severity = reclassified.severity
FROM reclassified
WHERE rejections.file_id = reclassified.file_id AND rejections.line_no = reclassified.line_no
