-- Receipt emails waiting for the mail server: queued with the sale or
-- return (same transaction), sent and retried by the node afterwards.
CREATE TABLE receipt_outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('order', 'return')),
    reference TEXT NOT NULL,
    recipient TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    last_error TEXT,
    done_at INTEGER,
    UNIQUE (kind, reference)
);
CREATE INDEX receipt_outbox_due ON receipt_outbox (next_at) WHERE state = 'pending';
