-- Inventory (data/inventory.toml mirrored by analysis.inventory.store_inventory) and DNS health history.
-- Other areas join on these tables: SASL username -> account is inventory_sasl_users.

CREATE TABLE IF NOT EXISTS inventory_accounts (
    account_id   VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL              -- active | suspended | closed
);

CREATE TABLE IF NOT EXISTS inventory_sasl_users (
    sasl_username VARCHAR PRIMARY KEY,         -- as configured; compare with lower() on both sides
    account_id    VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS inventory_domains (
    domain       VARCHAR PRIMARY KEY,          -- verified sending domain, lower case, no trailing dot
    account_id   VARCHAR NOT NULL,
    return_path  VARCHAR                       -- custom envelope (MAIL FROM) domain, if any
);

CREATE TABLE IF NOT EXISTS inventory_selectors (
    domain       VARCHAR NOT NULL,
    selector     VARCHAR NOT NULL,
    PRIMARY KEY (domain, selector)
);

CREATE TABLE IF NOT EXISTS inventory_relay_ips (
    ip           VARCHAR PRIMARY KEY,          -- canonical text form
    ip_version   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS inventory_relay_hosts (
    hostname     VARCHAR PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS inventory_relay_settings (
    key          VARCHAR NOT NULL,             -- spf_include | envelope_domain | dkim_cname_suffix | source | loaded_at
    value        VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS inventory_dnsbl_zones (
    zone         VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,             -- ip | domain
    decoder      VARCHAR NOT NULL              -- generic | spamhaus-zen | spamhaus-dbl
);

CREATE TABLE IF NOT EXISTS inventory_traps (
    kind         VARCHAR NOT NULL,             -- domain | address
    value        VARCHAR NOT NULL,             -- lower-case domain, or local@domain
    PRIMARY KEY (kind, value)
);

-- One row per (run, subject, check): what a DNS health check saw.
CREATE TABLE IF NOT EXISTS dns_observations (
    run_id       VARCHAR NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    subject      VARCHAR NOT NULL,             -- domain or relay IP
    check_name   VARCHAR NOT NULL,             -- spf, dkim:<selector>, dmarc, mx, ptr, mta_sts, tls_rpt, bimi, dnsbl:<zone>
    state        VARCHAR NOT NULL,             -- present | missing | invalid | temperror | listed | not_listed
    severity     VARCHAR NOT NULL,             -- worst finding: ok | info | warn | error
    record       VARCHAR,                      -- the record text evaluated (for diffs)
    data_json    VARCHAR NOT NULL,             -- structured facts (key bits, policy, listing codes)
    nameserver   VARCHAR,
    PRIMARY KEY (run_id, subject, check_name)
);

CREATE TABLE IF NOT EXISTS dns_findings (
    run_id       VARCHAR NOT NULL,
    subject      VARCHAR NOT NULL,
    check_name   VARCHAR NOT NULL,
    seq          INTEGER NOT NULL,
    code         VARCHAR NOT NULL,
    severity     VARCHAR NOT NULL,
    message      VARCHAR NOT NULL,
    fix          VARCHAR NOT NULL,
    PRIMARY KEY (run_id, subject, check_name, seq)
);
