-- Complaints of the staged batch (_evidence_keys.k) that the store already holds.
SELECT DISTINCT c.complaint_id FROM complaints c JOIN _evidence_keys s ON s.k = c.complaint_id
