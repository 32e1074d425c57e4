-- A merged-away record points at the customer it became (the survivor's id),
-- so its code and id keep finding them and a store's late changes land there.
ALTER TABLE customers ADD COLUMN merged_into TEXT;
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- A merge moves a person's entries to the survivor: the entries themselves
-- (amount, kind, dates, lots) stay immutable; only whose they are may change.
DROP TRIGGER ledger_no_update;
CREATE TRIGGER ledger_no_update
BEFORE UPDATE OF seq, id, account, kind, amount, at, order_id, store, actor, reason,
                 available_at, expires_at, lot_seq, once_key, hlc, provisional ON ledger
WHEN OLD.provisional = 0
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
