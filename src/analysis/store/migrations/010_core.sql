-- Core relay-log schema. One row per real-world thing; timestamps are UTC TIMESTAMPTZ.
-- Fact tables carry no PRIMARY KEY: their keys are unique by construction (file_id, line_no / message_key,
-- checked by the tests) and DuckDB's index maintenance would cost more than the whole parse.
-- Portable subset: no HUGEINT/UNION/MAP, so every table exports to engine-neutral Parquet.

CREATE TABLE IF NOT EXISTS ingest_files (
    file_id        BIGINT PRIMARY KEY,
    path           VARCHAR NOT NULL,          -- as given (for people); identity is the fingerprint
    format         VARCHAR NOT NULL,          -- postfix | arf | dmarc | ses | sendgrid | mailgun | postmark
    fingerprint    VARCHAR NOT NULL,          -- sha256 of the first fingerprint_len decompressed bytes
    fingerprint_len BIGINT NOT NULL,          -- 64 KiB, or less for a file that was shorter when first seen
    compression    VARCHAR,                   -- gzip | bzip2 | xz | zstd | NULL
    raw_size       BIGINT,                    -- on-disk size when last read
    raw_sig        VARCHAR,                   -- sha256 of size + first/last 64 KiB on disk: unchanged-file fast path
    bytes_read     BIGINT NOT NULL,           -- decompressed bytes consumed so far (resume offset)
    tail_hash      VARCHAR,                   -- sha256 of the 64 KiB before bytes_read (a grown file must match)
    lines_read     BIGINT NOT NULL,
    lines_parsed   BIGINT NOT NULL,
    lines_quarantined BIGINT NOT NULL,
    lines_other    BIGINT NOT NULL,           -- lines of other programs (opendkim, amavis, ...)
    first_ts       TIMESTAMPTZ,
    last_ts        TIMESTAMPTZ,
    year_rule      VARCHAR,                   -- how years were assigned to year-less timestamps
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         VARCHAR NOT NULL           -- done
);

CREATE TABLE IF NOT EXISTS quarantine (
    file_id     BIGINT NOT NULL,
    line_no     BIGINT NOT NULL,              -- 1-based within the decompressed file
    reason      VARCHAR NOT NULL,
    raw         VARCHAR NOT NULL              -- the line (invalid UTF-8 bytes as \xNN escapes, capped)
);

-- Parsed Postfix events of messages not complete yet: still queued at the end of the last file read, or
-- begun before the log started (kept a while for an older file that may bring their first lines). The
-- next ingest continues correlation from here; everything complete lives in messages/deliveries/rejections.
CREATE TABLE IF NOT EXISTS pending_events (
    file_id      BIGINT NOT NULL,
    line_no      BIGINT NOT NULL,
    ts           TIMESTAMPTZ NOT NULL,
    host         VARCHAR NOT NULL,
    instance     VARCHAR NOT NULL,            -- first syslog-name component: postfix, postfix-out, ...
    service      VARCHAR,                     -- master.cf service when logged: submission, smtps, ...
    daemon       VARCHAR NOT NULL,            -- smtpd, cleanup, qmgr, smtp, lmtp, local, postscreen, ...
    pid          INTEGER,
    qid          VARCHAR,                     -- NULL for NOQUEUE lines
    kind         VARCHAR NOT NULL,            -- see ingest/postfix.py EVENT_KINDS
    client_host  VARCHAR,
    client_ip    VARCHAR,
    client_port  INTEGER,
    sasl_method  VARCHAR,
    sasl_username VARCHAR,
    uid          BIGINT,                      -- pickup uid=
    message_id   VARCHAR,
    sender       VARCHAR,                     -- envelope from, '' for the null sender <>
    size         BIGINT,
    nrcpt        INTEGER,
    recipient    VARCHAR,
    orig_to      VARCHAR,
    relay        VARCHAR,                     -- as logged: host[ip]:port, none, local, private/dovecot-lmtp ...
    relay_host   VARCHAR,
    relay_ip     VARCHAR,
    relay_port   INTEGER,
    conn_use     INTEGER,
    delay        DOUBLE,
    delay_a      DOUBLE,
    delay_b      DOUBLE,
    delay_c      DOUBLE,
    delay_d      DOUBLE,
    dsn          VARCHAR,
    status       VARCHAR,                     -- sent, deferred, bounced, expired, deliverable, undeliverable, softbounce
    action       VARCHAR,                     -- cleanup/smtpd/postsuper action: reject, warning, hold, discard, ...
    reply        VARCHAR,                     -- text in parentheses after status= / reject text
    reply_code   INTEGER,                     -- SMTP reply code found in the text
    smtp_stage   VARCHAR,                     -- RCPT TO, MAIL FROM, DATA, end of DATA, CONNECT, ...
    next_qid     VARCHAR,                     -- "queued as X" in a 250 reply: the next hop's queue ID
    ndr_qid      VARCHAR,                     -- bounce: "sender non-delivery notification: X"
    helo         VARCHAR,
    proto        VARCHAR,
    provider     VARCHAR,                     -- classify: mailbox provider (deliveries and rejects)
    reason       VARCHAR,                     -- classify: Sisimai v5 reason
    severity     VARCHAR,                     -- classify: hard | soft
    message_key  VARCHAR,                     -- the (partial) message these events were last emitted as
    headless     BOOLEAN                      -- the segment began without an origin line
);

-- One row per accepted message life: (host, instance, qid) split at `removed` and at a new origin line.
CREATE TABLE IF NOT EXISTS messages (
    message_key   VARCHAR NOT NULL,           -- host/instance/qid/epoch-of-first-line (unique by construction)
    host          VARCHAR NOT NULL,
    instance      VARCHAR NOT NULL,
    qid           VARCHAR NOT NULL,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    origin        VARCHAR,                    -- smtpd | pickup | NULL (started before the log)
    service       VARCHAR,
    client_host   VARCHAR,
    client_ip     VARCHAR,
    client_port   INTEGER,
    sasl_method   VARCHAR,
    sasl_username VARCHAR,
    uid           BIGINT,
    message_id    VARCHAR,
    sender        VARCHAR,
    sender_domain VARCHAR,
    size          BIGINT,
    nrcpt         INTEGER,
    queued_at     TIMESTAMPTZ,                -- first qmgr from= line
    removed_at    TIMESTAMPTZ,
    expired_at    TIMESTAMPTZ,
    cleanup_action VARCHAR,                   -- reject | hold | discard | ... (last such action)
    cleanup_reply VARCHAR,
    upstream_key  VARCHAR,                    -- the message whose 250 "queued as" created this one
    account       VARCHAR                     -- inventory account (NULL until inventory is loaded)
);

-- One row per delivery attempt (a delivery-agent status= line).
CREATE TABLE IF NOT EXISTS deliveries (
    file_id       BIGINT NOT NULL,
    line_no       BIGINT NOT NULL,
    message_key   VARCHAR,
    ts            TIMESTAMPTZ NOT NULL,
    host          VARCHAR NOT NULL,
    instance      VARCHAR NOT NULL,
    daemon        VARCHAR NOT NULL,
    qid           VARCHAR NOT NULL,
    recipient     VARCHAR,
    recipient_domain VARCHAR,
    orig_to       VARCHAR,
    relay         VARCHAR,
    relay_host    VARCHAR,
    relay_ip      VARCHAR,
    relay_port    INTEGER,
    conn_use      INTEGER,
    delay         DOUBLE,
    delay_a       DOUBLE,
    delay_b       DOUBLE,
    delay_c       DOUBLE,
    delay_d       DOUBLE,
    dsn           VARCHAR,
    status        VARCHAR NOT NULL,
    reply         VARCHAR,
    reply_code    INTEGER,
    smtp_stage    VARCHAR,
    next_qid      VARCHAR,
    provider      VARCHAR,                    -- mailbox provider (classify)
    reason        VARCHAR,                    -- Sisimai v5 reason name (classify)
    severity      VARCHAR,                    -- hard | soft (failed/deferred attempts only)
    source        VARCHAR NOT NULL DEFAULT 'postfix'
);

-- Mail refused before or at queueing: smtpd/postscreen NOQUEUE rejects, cleanup and milter rejects.
CREATE TABLE IF NOT EXISTS rejections (
    file_id       BIGINT NOT NULL,
    line_no       BIGINT NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    host          VARCHAR NOT NULL,
    instance      VARCHAR NOT NULL,
    daemon        VARCHAR NOT NULL,
    qid           VARCHAR,
    message_key   VARCHAR,
    action        VARCHAR NOT NULL,           -- reject | milter-reject | discard | ...
    smtp_stage    VARCHAR,                    -- RCPT, DATA, CONNECT, END-OF-MESSAGE, header, body, ...
    client_host   VARCHAR,
    client_ip     VARCHAR,
    client_port   INTEGER,
    reply_code    INTEGER,
    dsn           VARCHAR,
    reply         VARCHAR,
    sender        VARCHAR,
    recipient     VARCHAR,
    recipient_domain VARCHAR,
    helo          VARCHAR,
    proto         VARCHAR,
    provider      VARCHAR,
    reason        VARCHAR,
    severity      VARCHAR
);

-- Each recipient's final outcome per message: the last attempt decides; a still-deferred recipient of an
-- expired message is 'expired', of a message still queued 'pending'.
CREATE OR REPLACE VIEW recipient_outcomes AS
WITH ranked AS (
    SELECT d.*,
           COUNT(*) OVER (PARTITION BY d.message_key, d.recipient) AS attempts,
           MIN(d.ts) OVER (PARTITION BY d.message_key, d.recipient) AS first_attempt,
           ROW_NUMBER() OVER (PARTITION BY d.message_key, d.recipient
                              ORDER BY d.ts DESC, d.file_id DESC, d.line_no DESC) AS rn
    FROM deliveries d
)
SELECT r.message_key, r.host, r.instance, r.qid, r.recipient, r.recipient_domain, r.orig_to,
       r.attempts, r.first_attempt, r.ts AS last_attempt, r.status AS last_status,
       CASE
         WHEN r.status = 'deferred' AND m.expired_at IS NOT NULL THEN 'expired'
         WHEN r.status = 'deferred' THEN 'pending'
         ELSE r.status
       END AS final_status,
       r.dsn, r.reply_code, r.reply, r.smtp_stage, r.relay_host, r.relay_ip, r.provider, r.reason, r.severity,
       r.delay, m.sender, m.sender_domain, m.sasl_username, m.client_ip, m.account, r.source
FROM ranked r
LEFT JOIN messages m ON m.message_key = r.message_key
WHERE r.rn = 1;
