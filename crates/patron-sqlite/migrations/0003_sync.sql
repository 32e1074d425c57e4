-- Replication between HQ and store nodes (docs/sync.md).

-- This node: role ('hq' | 'store'), id ('HQ' or the store id), its hybrid
-- logical clock, cursors, the HQ link of a store, the code blocks it holds.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The change feed: one row per entity that changed, moved to the end each time it
-- changes again (state-based: a reader gets the entity's current state and clocks).
CREATE TABLE feed (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,
    entity TEXT NOT NULL,
    UNIQUE (kind, entity)
);

-- Per-field last-writer-wins: `hlc` stamps every field at creation; `field_hlc`
-- (JSON) holds the stamps of fields written since.
ALTER TABLE customers ADD COLUMN hlc TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN field_hlc TEXT;

ALTER TABLE ledger ADD COLUMN hlc TEXT;
ALTER TABLE orders ADD COLUMN hlc TEXT;
ALTER TABLE returns ADD COLUMN hlc TEXT;
ALTER TABLE returns ADD COLUMN store TEXT;

-- Manual memberships, last-writer-wins per (group, customer); removals are kept
-- as `member = 0` so a late, older add cannot bring a member back.
CREATE TABLE membership_clocks (
    group_id     TEXT NOT NULL,
    customer_seq INTEGER NOT NULL REFERENCES customers(seq),
    member       INTEGER NOT NULL,
    hlc          TEXT NOT NULL,
    PRIMARY KEY (group_id, customer_seq)
) WITHOUT ROWID;

-- Emails are unique where customers are created and edited; two stores that
-- sign up the same person offline keep two records (HQ may merge them).
DROP INDEX customers_by_email;
CREATE INDEX customers_by_email ON customers (email_key) WHERE email_key IS NOT NULL;

-- Users of one store log in only there; HQ users (store NULL) everywhere.
ALTER TABLE users ADD COLUMN store TEXT;

-- HQ: the stores it serves and their sync credentials (SHA-256 of the token).
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER,
    pushed_seq  INTEGER NOT NULL DEFAULT 0,
    pulled_seq  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Customer code blocks: at HQ, every block leased to a store; at a store, the
-- blocks it holds and how far it has used them.
CREATE TABLE code_blocks (
    store     TEXT NOT NULL,
    first     INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    next      INTEGER NOT NULL,
    leased_at INTEGER NOT NULL,
    PRIMARY KEY (store, first)
) WITHOUT ROWID;

-- Balances that went below zero when offline redemptions met at HQ.
CREATE TABLE overdrafts (
    id           INTEGER PRIMARY KEY,
    customer_seq INTEGER NOT NULL REFERENCES customers(seq),
    account      TEXT NOT NULL,
    balance      INTEGER NOT NULL,
    entry_id     TEXT NOT NULL UNIQUE,
    store        TEXT,
    detected_at  INTEGER NOT NULL
);
