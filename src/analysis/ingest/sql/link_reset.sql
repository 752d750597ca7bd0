-- Feedback-loop complaints are re-linked from scratch each time (new sends may have arrived since);
-- ESP complaints carry their message key from the export itself and keep it.
UPDATE complaints SET message_key = NULL, match_method = NULL WHERE source = 'arf'
