//! The JSON shape of a node's view of replication (`GET /sync/status`). HQ
//! lists its stores; a store lists its one peer, HQ. The fields only one side
//! has are left out on the other.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeRoleView {
    Hq,
    Store,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatusView {
    /// `HQ`, or the store's id.
    pub node: String,
    pub role: NodeRoleView,
    /// HQ: the newest position in its feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_head: Option<i64>,
    /// A store: customer numbers left in its leased blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes_left: Option<u64>,
    pub peers: Vec<SyncPeerView>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SyncPeerView {
    /// At HQ: the store's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// At HQ: the store's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At a store: `HQ`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// At HQ: seen within 30 s (a store with its feed open checks in at least
    /// every 20 s). At a store: the last exchange with HQ succeeded.
    pub online: bool,
    /// RFC 3339; `null` if never.
    pub last_contact: Option<String>,
    pub seconds_since_contact: Option<i64>,
    /// Feed changes the store has not applied yet.
    pub lag_changes: i64,
    /// The feed position the store has applied.
    pub pulled_seq: i64,
    /// At HQ: the store's outbox position HQ has received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed_seq: Option<i64>,
    /// At a store: its own changes not yet sent to HQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_outbound: Option<i64>,
    /// At a store: HQ's clock minus the store's, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    /// At a store: why the last exchange failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Operations HQ refused (`GET /api/v1/sync/refusals` says why).
    pub refused: u64,
}
