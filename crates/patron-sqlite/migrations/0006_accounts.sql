-- Accounts that can be taken back (issue 10): roles as data, revocable store
-- tokens, a security log.

-- A chain's own roles: a name and its permissions (comma-separated names).
-- The built-in roles (admin, manager, cashier) live in code. A deleted role
-- stays as a tombstone so its deletion replicates; its users hold nothing.
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- A revoked store token answers nothing until the token is rotated.
ALTER TABLE stores ADD COLUMN revoked_at INTEGER;

-- Who signed in, out, was refused, or had their account changed; from where
-- and when. Local to each node.
CREATE TABLE security_events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    username TEXT,
    client   TEXT,
    detail   TEXT NOT NULL
);
CREATE INDEX security_events_by_kind ON security_events (kind, id);
CREATE INDEX security_events_by_user ON security_events (username, id);
