-- Evidence beside the relay logs: feedback-loop complaints, raw ESP events, DMARC aggregate reports.
-- ESP sends/deliveries/bounces also land in the core messages/deliveries tables (source = the ESP).
-- Engine-neutral types only; lists are flattened into child rows or delimited strings.

-- One row per complaint: an ARF/JMRP report, or an ESP complaint event (one per complaining recipient).
CREATE TABLE IF NOT EXISTS complaints (
    complaint_id       VARCHAR PRIMARY KEY,     -- hash of the report bytes (ARF) or of the event (ESP)
    file_id            BIGINT NOT NULL,
    record_no          BIGINT NOT NULL,         -- message number in an mbox, record number in an export
    received_at        TIMESTAMPTZ,             -- when the report was written (its Date header / event time);
                                                -- first timestamp column, so the Parquet export partitions by it
    arrival_date       TIMESTAMPTZ,             -- when the receiver took the original message
    feedback_type      VARCHAR NOT NULL,        -- abuse | fraud | other | virus | not-spam | auth-failure | opt-out
    report_variant     VARCHAR NOT NULL,        -- arf | jmrp | esp
    user_agent         VARCHAR,
    version            VARCHAR,
    source_ip          VARCHAR,                 -- the IP that sent the original message to the receiver
    reporting_mta      VARCHAR,
    original_mail_from VARCHAR,
    original_rcpt_to   VARCHAR,                 -- first Original-Rcpt-To (the complaining recipient)
    rcpt_count         INTEGER,                 -- how many Original-Rcpt-To fields the report had
    rcpt_domain        VARCHAR,
    reported_domain    VARCHAR,
    message_id         VARCHAR,                 -- Message-ID of the original, without angle brackets
    auth_results       VARCHAR,
    auth_failure       VARCHAR,                 -- RFC 6591 Auth-Failure: dkim | spf | dmarc | ...
    incidents          INTEGER,
    subject            VARCHAR,
    source             VARCHAR NOT NULL,        -- arf | ses | sendgrid | mailgun | postmark
    provider           VARCHAR,                 -- the feedback loop's operator (yahoo, microsoft, ...)
    esp_message_id     VARCHAR,                 -- ESP complaints: the ESP's message id
    message_key        VARCHAR,                 -- the matched message, NULL if unmatched
    match_method       VARCHAR                  -- message_id | rcpt_time_ip | rcpt_time | NULL
);

-- One row per canonical ESP event (an export record about n recipients gives n rows).
CREATE TABLE IF NOT EXISTS esp_events (
    file_id          BIGINT NOT NULL,
    event_no         BIGINT NOT NULL,           -- 1-based over the file's canonical events (= deliveries.line_no)
    record_no        BIGINT NOT NULL,           -- 1-based over the file's records (JSON lines / array items)
    source           VARCHAR NOT NULL,          -- ses | sendgrid | mailgun | postmark
    event_type       VARCHAR NOT NULL,          -- the ESP's own name: Bounce, delivered, SpamComplaint, ...
    kind             VARCHAR NOT NULL,          -- send | delivery | bounce | deferral | complaint | dropped | open | click | unsubscribe | other
    event_time       TIMESTAMPTZ NOT NULL,
    message_id       VARCHAR,                   -- the ESP's message id
    smtp_message_id  VARCHAR,                   -- the Message-ID header, when the ESP reports it
    message_key      VARCHAR,                   -- '<source>/<message_id>'
    recipient        VARCHAR,
    sender           VARCHAR,
    status           VARCHAR,                   -- sent | bounced | deferred | dropped (delivery outcomes only)
    severity         VARCHAR,                   -- hard | soft
    reason           VARCHAR,                   -- Sisimai v5 reason when the ESP's type says it
    bounce_type      VARCHAR,
    bounce_subtype   VARCHAR,
    diagnostic_code  VARCHAR,
    smtp_response    VARCHAR,
    dsn              VARCHAR,
    reply_code       INTEGER,
    ip               VARCHAR,                   -- the ESP's sending IP, when reported
    client_ip        VARCHAR,                   -- who submitted the message to the ESP
    remote_mta       VARCHAR,                   -- the receiving MX, when the ESP names it
    remote_mta_ip    VARCHAR,
    reporting_mta    VARCHAR,                   -- the MTA that wrote the DSN (SES: its own sending host)
    user_agent       VARCHAR,
    raw_json         VARCHAR NOT NULL,          -- the record as received, capped at 4 KiB
    event_key        VARCHAR NOT NULL           -- content hash; an event re-sent by a webhook is stored once
);  -- no PRIMARY KEY: (file_id, event_no) and event_key are unique by construction, like the core fact tables

CREATE TABLE IF NOT EXISTS dmarc_reports (
    report_key        VARCHAR PRIMARY KEY,      -- sha256 of org_name + report_id
    org_name          VARCHAR NOT NULL,
    email             VARCHAR,
    extra_contact_info VARCHAR,
    report_id         VARCHAR NOT NULL,
    date_begin        TIMESTAMPTZ,
    date_end          TIMESTAMPTZ,
    version           VARCHAR,
    xml_namespace     VARCHAR,                  -- urn:ietf:params:xml:ns:dmarc-2.0 for RFC 9990 reports
    generator         VARCHAR,
    errors            VARCHAR,                  -- report_metadata/error entries joined by ' | '
    domain            VARCHAR,
    adkim             VARCHAR,
    aspf              VARCHAR,
    p                 VARCHAR,
    sp                VARCHAR,
    np                VARCHAR,
    pct               INTEGER,
    fo                VARCHAR,
    testing           VARCHAR,
    discovery_method  VARCHAR,
    record_count      BIGINT NOT NULL,
    message_count     BIGINT NOT NULL,
    file_id           BIGINT NOT NULL,
    UNIQUE (org_name, report_id)
);

CREATE TABLE IF NOT EXISTS dmarc_records (
    report_key        VARCHAR NOT NULL,
    record_no         BIGINT NOT NULL,          -- position of the <record> in the report
    file_id           BIGINT NOT NULL,
    source_ip         VARCHAR NOT NULL,
    message_count     BIGINT NOT NULL,          -- <count>
    disposition       VARCHAR,                  -- none | quarantine | reject (| pass in some reports)
    dkim_aligned      VARCHAR,                  -- policy_evaluated/dkim: pass | fail
    spf_aligned       VARCHAR,                  -- policy_evaluated/spf: pass | fail
    dmarc_pass        BOOLEAN NOT NULL,         -- either aligned result passed
    header_from       VARCHAR,
    envelope_from     VARCHAR,
    envelope_to       VARCHAR,
    dkim_domains      VARCHAR,                  -- auth_results/dkim domains, ' ' separated, in order
    dkim_selectors    VARCHAR,
    dkim_results      VARCHAR,
    spf_domains       VARCHAR,
    spf_scopes        VARCHAR,
    spf_results       VARCHAR,
    override_reasons  VARCHAR,                  -- policy_evaluated/reason/type values, ' ' separated
    override_comments VARCHAR,                  -- their comments joined by ' | '
    PRIMARY KEY (report_key, record_no)
);

-- Each auth_results entry of each record, unflattened, for per-domain/selector questions.
CREATE TABLE IF NOT EXISTS dmarc_auth_results (
    report_key    VARCHAR NOT NULL,
    record_no     BIGINT NOT NULL,
    seq           INTEGER NOT NULL,             -- position among the record's dkim+spf entries
    method        VARCHAR NOT NULL,             -- dkim | spf
    domain        VARCHAR,
    selector      VARCHAR,
    scope         VARCHAR,
    result        VARCHAR,
    human_result  VARCHAR,
    PRIMARY KEY (report_key, record_no, seq)
);
