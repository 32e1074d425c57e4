//! Types of replication between HQ and store nodes (docs/sync.md).

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    Hq,
    Store,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `HQ`, or the store's id.
    pub id: String,
    pub role: NodeRole,
}

impl NodeInfo {
    pub fn store(&self) -> Option<&str> {
        (self.role == NodeRole::Store).then_some(self.id.as_str())
    }
}

/// One entity in a feed page: its kind, id, and current state with clocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: String,
    pub entity: String,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedPage {
    pub changes: Vec<Change>,
    /// The cursor to ask from next (the last seq in the page, or `after`).
    pub last: i64,
    /// The newest seq in the feed when the page was read.
    pub head: i64,
}

/// Where applied changes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// HQ's feed, applied at a store.
    Hq,
    /// A store's push, applied at HQ: may write only as that store.
    Store(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: u64,
    /// Incoming field values older than the local ones (kept in the audit trail).
    pub conflicts: u64,
    pub overdrafts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_seen: Option<OffsetDateTime>,
    /// The store's own feed position HQ has applied.
    pub pushed_seq: i64,
    /// HQ's feed position the store has confirmed.
    pub pulled_seq: i64,
    /// When its token was revoked; a revoked store is answered nothing.
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdraft {
    pub customer_id: uuid::Uuid,
    pub code: String,
    pub account: String,
    pub balance: i64,
    pub entry_id: String,
    pub store: Option<String>,
    pub detected_at: OffsetDateTime,
    /// Why it was recorded (a balance below zero, the offline cap passed).
    pub reason: Option<String>,
}
