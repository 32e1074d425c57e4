-- Databases created before sync: put everything that existed into the feed, so
-- a new store's bootstrap (HQ's feed from the start) receives it too.
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'setting', key FROM settings WHERE key != 'code_next';
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'user', username FROM users ORDER BY id;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'customer_type', id FROM customer_types;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'limit_profile', id FROM limit_profiles;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'group', id FROM groups WHERE kind IN ('manual', 'auto') OR updated_at > 0;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'customer', id FROM customers ORDER BY seq;
INSERT OR IGNORE INTO membership_clocks (group_id, customer_seq, member, hlc)
  SELECT m.group_id, m.customer_seq, 1, '' FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.kind = 'manual';
INSERT OR IGNORE INTO feed (kind, entity)
  SELECT 'membership', m.group_id || ':' || c.id FROM membership_clocks m JOIN customers c ON c.seq = m.customer_seq;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'order', id FROM orders ORDER BY seq;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'ledger', id FROM ledger ORDER BY seq;
INSERT OR IGNORE INTO feed (kind, entity) SELECT 'return', id FROM returns ORDER BY seq;
