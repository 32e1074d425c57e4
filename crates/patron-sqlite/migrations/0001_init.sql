-- Node-wide settings and counters, one row per key.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- `seq` is this node's private row number (compact keys for indexes and cursors);
-- `id` is the global identity that other nodes and the API use.
CREATE TABLE customers (
    seq                   INTEGER PRIMARY KEY,
    id                    TEXT    NOT NULL UNIQUE,
    code                  TEXT    NOT NULL,
    first_name            TEXT    NOT NULL,
    last_name             TEXT    NOT NULL,
    email                 TEXT,
    email_key             TEXT,
    phone                 TEXT,
    phone_rev             TEXT,
    tax_id                TEXT,
    address_line1         TEXT,
    address_line2         TEXT,
    address_city          TEXT,
    address_region        TEXT,
    address_postal_code   TEXT,
    address_country       TEXT,
    date_of_birth         TEXT,
    notes                 TEXT,
    marketing_consent     INTEGER NOT NULL DEFAULT 0,
    medical_card_number   TEXT,
    medical_issuing_state TEXT,
    medical_expiry        TEXT,
    id_number             TEXT,
    id_issuing_state      TEXT,
    id_issuing_country    TEXT,
    id_expiry             TEXT,
    origin_store          TEXT,
    active                INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    -- Folded search keys (lowercase ASCII): see patron_domain::search.
    full_key              TEXT    NOT NULL,
    name_head             TEXT    NOT NULL,
    sort_key              TEXT    NOT NULL
);

-- The list order is (sort_key, seq): this index yields it directly, so a page or
-- a last-name prefix stops after `limit` rows however many customers match.
CREATE INDEX customers_by_sort  ON customers (sort_key);
-- Prefix ranges on other keys must be re-sorted by sort_key: these indexes carry
-- (sort_key, active) so that sort runs on the index alone, without touching rows.
CREATE INDEX customers_by_full  ON customers (full_key, sort_key, active);
-- A one-word query ("john") would match tens of thousands of first names, and
-- sorting them all costs milliseconds. Equality on the name's first three
-- letters reads them already in alphabetical order; full_key is checked on the
-- index entry, so the scan stops after a page of hits.
CREATE INDEX customers_by_head  ON customers (name_head, sort_key, full_key, active);
CREATE INDEX customers_by_phone ON customers (phone_rev, sort_key, active) WHERE phone_rev IS NOT NULL;
CREATE UNIQUE INDEX customers_by_email ON customers (email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX customers_by_code ON customers (code);
CREATE INDEX customers_by_origin ON customers (origin_store, sort_key) WHERE origin_store IS NOT NULL;

-- Substring search: trigrams of "full_key email". Contentless (the text lives in
-- `customers`) and detail=none (no positions): candidates are re-checked against
-- the row, so the index only has to be small and fast to build.
CREATE VIRTUAL TABLE customer_fts USING fts5(
    text, content = '', contentless_delete = 1, detail = 'none', tokenize = 'trigram'
);

CREATE TABLE customer_audit (
    id           INTEGER PRIMARY KEY,
    customer_seq INTEGER NOT NULL REFERENCES customers (seq),
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    field        TEXT,
    old_value    TEXT,
    new_value    TEXT
);
CREATE INDEX customer_audit_by_customer ON customer_audit (customer_seq, id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
