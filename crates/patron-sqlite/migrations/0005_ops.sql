-- Stores send operations, HQ re-checks them (docs/sync.md, "Trust").

-- A store: what its users did, in order, signed, waiting for HQ. Rows HQ has
-- acknowledged are deleted; AUTOINCREMENT keeps positions from ever being
-- reused after that.
CREATE TABLE outbox (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    id   TEXT NOT NULL UNIQUE,
    op   TEXT NOT NULL,
    sig  TEXT NOT NULL
);

-- HQ: every operation it applied or refused, so one sent twice counts once.
CREATE TABLE applied_ops (
    id      TEXT PRIMARY KEY,
    store   TEXT NOT NULL,
    refused TEXT,
    at      INTEGER NOT NULL
) WITHOUT ROWID;

-- Refused operations: at HQ, what it refused and from which store; at a
-- store, what HQ refused of its own, shown to its users.
CREATE TABLE refusals (
    id      INTEGER PRIMARY KEY,
    op_id   TEXT,
    store   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    entity  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    reason  TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX refusals_by_op ON refusals (op_id) WHERE op_id IS NOT NULL;
CREATE INDEX refusals_by_entity ON refusals (entity);

-- HQ: each user's operation key (derived from their password), which checks
-- the operations a store says they performed. Never sent to a store.
ALTER TABLE users ADD COLUMN op_key TEXT;

-- Why an overdraft was recorded (a balance below zero, a redemption beyond the
-- offline cap without HQ's authorisation).
ALTER TABLE overdrafts ADD COLUMN reason TEXT;

-- HQ: when a store's operations last arrived. A later operation stamped by a
-- clock beyond the skew bound cannot have been made before this moment, and
-- is dated no later than it (docs/sync.md, "Clock skew").
ALTER TABLE stores ADD COLUMN pushed_at INTEGER;

-- A store's store-credit top-ups in the last day, against its daily cap.
CREATE INDEX ledger_topups_by_store ON ledger (store, at) WHERE kind = 'top-up';

-- A store's own sales and entries are provisional until HQ's copy arrives: HQ
-- re-prices a store's sale against its own data, and its record replaces the
-- store's. Only a provisional entry may change, once; the ledger stays
-- append-only for everything HQ has confirmed (and at HQ for everything).
ALTER TABLE ledger ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER ledger_no_update;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger WHEN OLD.provisional = 0
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
