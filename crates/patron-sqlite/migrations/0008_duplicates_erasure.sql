-- Likely-same-person keys (patron_domain::duplicates): the ID document number
-- without punctuation, and the folded name with the date of birth. Phone and
-- email are already indexed for search (phone_rev, email_key). Filled for
-- existing rows by the migration's Rust step (folding needs deunicode).
ALTER TABLE customers ADD COLUMN id_key TEXT;
ALTER TABLE customers ADD COLUMN person_key TEXT;
CREATE INDEX customers_by_id_key ON customers (id_key) WHERE id_key IS NOT NULL;
CREATE INDEX customers_by_person ON customers (person_key) WHERE person_key IS NOT NULL;
-- When the person's data was erased (a privacy request); NULL: never.
ALTER TABLE customers ADD COLUMN erased_at INTEGER;
