-- Who wrote each of a customer's fields last, as "user (node)", beside the
-- fields' clocks: HQ sends it with the record, so every node's audit trail
-- names the person and the store that made a change, not the sync link.
ALTER TABLE customers ADD COLUMN field_by TEXT;
