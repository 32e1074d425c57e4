//! Replication between a store node and HQ (docs/sync.md): the JSON messages
//! both sides exchange, and the store's client that pushes its own changes and
//! follows HQ's feed.
//!
//! Every message is idempotent and every cursor durable: a page of HQ's feed is
//! applied and the pull cursor saved in one transaction; the push cursor moves
//! only after HQ has committed a page, and a page sent twice changes nothing.

mod client;

pub use client::{AuthorizeOutcome, Link, LinkStatus, SyncClient, SyncHandle};

use patron_storage::Change;
use serde::{Deserialize, Serialize};

/// Prefix of store sync tokens, so they cannot be mistaken for user tokens.
pub const TOKEN_PREFIX: &str = "pst_";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireChange {
    pub seq: i64,
    pub kind: String,
    pub entity: String,
    pub body: serde_json::Value,
}

impl From<Change> for WireChange {
    fn from(c: Change) -> Self {
        Self {
            seq: c.seq,
            kind: c.kind,
            entity: c.entity,
            body: c.body,
        }
    }
}

impl From<WireChange> for Change {
    fn from(c: WireChange) -> Self {
        Self {
            seq: c.seq,
            kind: c.kind,
            entity: c.entity,
            body: c.body,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub changes: Vec<WireChange>,
    /// The store's feed position these changes reach.
    pub up_to: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushResponse {
    pub applied: u64,
    pub conflicts: u64,
    pub overdrafts: u64,
    /// HQ's clock, for the store's offset estimate.
    pub hq_time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedResponse {
    pub changes: Vec<WireChange>,
    pub last: i64,
    pub head: i64,
    pub hq_time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodesResponse {
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeEntry {
    pub id: String,
    /// `points` or `credit`.
    pub account: String,
    /// What is redeemed (positive).
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub customer_id: String,
    pub order_id: String,
    pub entries: Vec<AuthorizeEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub ids: Vec<String>,
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
