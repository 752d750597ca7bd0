-- ESP events of the staged batch (_evidence_keys.k) that the store already holds.
SELECT DISTINCT e.event_key FROM esp_events e JOIN _evidence_keys s ON s.k = e.event_key
