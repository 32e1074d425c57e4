-- Loyalty: customer types, groups, purchase-limit profiles, the ledger, orders
-- and returns. Money columns are integer minor units; quantities thousandths.

CREATE TABLE customer_types (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    tax_exempt     INTEGER NOT NULL DEFAULT 0,
    discount_kind  TEXT NOT NULL DEFAULT 'none',   -- none | percent | fixed
    discount_value INTEGER NOT NULL DEFAULT 0      -- basis points or minor units
) WITHOUT ROWID;

-- Customer totals kept beside the record so rules over a million customers are
-- one table scan. total_spent/visits/last_visit change only with orders and
-- returns, in their transactions; points_balance mirrors the ledger sum (the
-- conformance suite checks it never drifts).
ALTER TABLE customers ADD COLUMN type_id TEXT REFERENCES customer_types(id);
ALTER TABLE customers ADD COLUMN total_spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN visits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN last_visit TEXT;
ALTER TABLE customers ADD COLUMN points_balance INTEGER NOT NULL DEFAULT 0;

CREATE TABLE limit_profiles (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    limits TEXT NOT NULL                      -- JSON array of limits
) WITHOUT ROWID;

CREATE TABLE groups (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description   TEXT,
    kind          TEXT NOT NULL,              -- common | manual | auto | system
    rule          TEXT,
    program       TEXT NOT NULL DEFAULT '{"kind":"none"}',  -- JSON
    spend_limit_amount INTEGER,
    spend_limit_period TEXT,
    min_age       INTEGER,
    limit_profile TEXT REFERENCES limit_profiles(id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE group_members (
    group_id     TEXT NOT NULL REFERENCES groups(id),
    customer_seq INTEGER NOT NULL REFERENCES customers(seq),
    PRIMARY KEY (group_id, customer_seq)
) WITHOUT ROWID;
CREATE INDEX group_members_by_customer ON group_members (customer_seq, group_id);

CREATE TABLE ledger (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    customer_seq INTEGER NOT NULL REFERENCES customers(seq),
    account      TEXT NOT NULL,               -- points | credit
    kind         TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    order_id     TEXT,
    store        TEXT,
    actor        TEXT NOT NULL,
    reason       TEXT,
    available_at INTEGER,
    expires_at   INTEGER,
    lot_seq      INTEGER,
    -- Once-only entries (registration, birthday per year, manual retries) carry a key.
    once_key     TEXT UNIQUE
);
CREATE INDEX ledger_by_customer ON ledger (customer_seq, account, seq);
CREATE INDEX ledger_expiring ON ledger (expires_at) WHERE expires_at IS NOT NULL;

-- The ledger is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;

CREATE TABLE orders (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    customer_seq  INTEGER NOT NULL REFERENCES customers(seq),
    fingerprint   TEXT NOT NULL,
    at            INTEGER NOT NULL,
    store         TEXT,
    actor         TEXT NOT NULL,
    subtotal      INTEGER NOT NULL,
    discount      INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    points_redeemed INTEGER NOT NULL,
    credit_redeemed INTEGER NOT NULL,
    earned        INTEGER NOT NULL,
    tax_exempt    INTEGER NOT NULL,
    discounts     TEXT NOT NULL,              -- JSON array of reasons
    overrides     TEXT NOT NULL,              -- JSON array of overridden refusals
    refunded_net  INTEGER NOT NULL DEFAULT 0,
    points_refunded INTEGER NOT NULL DEFAULT 0,
    credit_refunded INTEGER NOT NULL DEFAULT 0,
    earned_reversed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX orders_by_customer ON orders (customer_seq, at);

CREATE TABLE order_lines (
    order_seq  INTEGER NOT NULL REFERENCES orders(seq),
    line_no    INTEGER NOT NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    category   TEXT NOT NULL,
    quantity   INTEGER NOT NULL,
    unit       TEXT NOT NULL,
    unit_price INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    net        INTEGER NOT NULL,
    returned   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_seq, line_no)
) WITHOUT ROWID;

CREATE TABLE returns (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    order_seq   INTEGER NOT NULL REFERENCES orders(seq),
    fingerprint TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    lines       TEXT NOT NULL,                -- JSON [[line, quantity, net], …]
    net         INTEGER NOT NULL,
    points_refund INTEGER NOT NULL,
    credit_refund INTEGER NOT NULL,
    money_refund  INTEGER NOT NULL,
    earned_reversal INTEGER NOT NULL,
    unrecovered_points INTEGER NOT NULL
);
CREATE INDEX returns_by_order ON returns (order_seq);

INSERT INTO groups (id, name, description, kind, rule, created_at, updated_at) VALUES
  ('00000000-0000-0000-0000-000000000001', 'Common', 'Every customer', 'common', NULL, 0, 0),
  ('00000000-0000-0000-0000-000000000002', 'Medical', 'Customers with a valid medical card', 'system', 'has_medical_card', 0, 0),
  ('00000000-0000-0000-0000-000000000003', 'Recreational', 'Customers without a valid medical card', 'system', 'not has_medical_card', 0, 0);
INSERT INTO group_members (group_id, customer_seq)
  SELECT '00000000-0000-0000-0000-000000000002', seq FROM customers
   WHERE medical_card_number IS NOT NULL AND (medical_expiry IS NULL OR medical_expiry >= date('now'));
INSERT INTO group_members (group_id, customer_seq)
  SELECT '00000000-0000-0000-0000-000000000003', seq FROM customers
   WHERE NOT (medical_card_number IS NOT NULL AND (medical_expiry IS NULL OR medical_expiry >= date('now')));
