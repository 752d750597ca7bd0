-- The store's write generation: every transaction that changes stored facts takes the next number
-- (analysis.store.db.write_transaction), so a reader can tell in a millisecond whether anything was written
-- since a derived table (recipient_facts) was built, instead of hashing every row it was built from.
-- A sequence, not a table: it holds no data to retain, export or erase, COPY FROM DATABASE keeps its
-- value, and a rolled-back number is only skipped (a spurious change, never a missed one).
CREATE SEQUENCE IF NOT EXISTS write_generation START 1;
