-- Privacy: the audit trail of every command that reads or changes personal data (issue 8).
-- Parameters are stored with e-mail addresses replaced by keyed hashes (analysis.privacy.audit), so the
-- log itself can be kept longer than the data it describes.

CREATE TABLE IF NOT EXISTS audit_log (
    audit_id     BIGINT NOT NULL,            -- 1, 2, ... in order of writing (one writer at a time)
    logged_at    TIMESTAMPTZ NOT NULL,       -- when the command finished
    os_user      VARCHAR NOT NULL,           -- the operating-system user who ran it
    command      VARCHAR NOT NULL,           -- ingest | export | report | privacy export | privacy erase | retention apply
    params_json  VARCHAR NOT NULL,           -- parameters as JSON, addresses as "hmac:<hex>"
    counts_json  VARCHAR NOT NULL,           -- row counts as JSON (rows read, written, removed per table)
    status       VARCHAR NOT NULL            -- ok | dry-run | failed
);
