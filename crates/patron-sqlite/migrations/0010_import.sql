-- Migration imports. A row's identity in the system it came from (its id
-- there, or a digest of the row): the same file imported again finds its
-- rows here and skips them. HQ-only knowledge; it does not replicate.
ALTER TABLE customers ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX customers_by_import_key ON customers (import_key) WHERE import_key IS NOT NULL;
-- The lifetime spend and visits a customer brought from that system. They
-- are part of total_spent/visits from the start; every node sets them when
-- the customer arrives, then adds orders as usual.
ALTER TABLE customers ADD COLUMN opening_spent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN opening_visits INTEGER NOT NULL DEFAULT 0;
