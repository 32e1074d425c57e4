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
pub use patron_storage::ops::{OpResult, SignedOp};
use serde::{Deserialize, Serialize};

/// Prefix of store sync tokens, so they cannot be mistaken for user tokens.
pub const TOKEN_PREFIX: &str = "pst_";

/// The header in which a store names itself; HQ refuses a token sent under
/// another store's name.
pub const STORE_HEADER: &str = "x-patron-store";

/// The replication protocol this build speaks, and the oldest it still
/// speaks. A store sends both on every request; HQ serves it when their ranges
/// meet and otherwise answers 426 saying which side to upgrade. A store from
/// before the protocol had a number sends neither: it speaks version 1.
pub const PROTOCOL: u32 = 1;
pub const PROTOCOL_MIN: u32 = 1;
pub const PROTOCOL_HEADER: &str = "x-patron-protocol";
pub const PROTOCOL_MIN_HEADER: &str = "x-patron-protocol-min";

/// Whether HQ (speaking `PROTOCOL_MIN..=PROTOCOL`) serves a store speaking
/// `store_min..=store`; `Err` says which side must be upgraded.
pub fn protocol_check(store: u32, store_min: u32) -> Result<(), String> {
    if store < PROTOCOL_MIN {
        return Err(format!(
            "this store speaks sync protocol {store}; HQ needs at least {PROTOCOL_MIN}: upgrade the store to HQ's Patron release"
        ));
    }
    if store_min > PROTOCOL {
        return Err(format!(
            "this store needs sync protocol {store_min} or later; HQ speaks up to {PROTOCOL}: upgrade HQ first"
        ));
    }
    Ok(())
}

/// How a store reaches HQ: the address, its token and id on every request,
/// and which certificates it trusts (the public roots, plus a CA file for an
/// HQ with its own certificate authority).
#[derive(Clone)]
pub struct HqLink {
    url: String,
    http: reqwest::Client,
}

impl HqLink {
    /// `ca_pem`: PEM certificates to trust besides the public roots.
    pub fn new(url: &str, token: &str, store: &str, ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let url = url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "HQ's address must start with http:// or https://, not {url:?}"
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the sync token contains characters a header cannot carry".to_owned())?;
        auth.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        headers.insert(
            STORE_HEADER,
            reqwest::header::HeaderValue::from_str(store)
                .map_err(|_| "the store id contains characters a header cannot carry".to_owned())?,
        );
        headers.insert(
            PROTOCOL_HEADER,
            reqwest::header::HeaderValue::from(PROTOCOL),
        );
        headers.insert(
            PROTOCOL_MIN_HEADER,
            reqwest::header::HeaderValue::from(PROTOCOL_MIN),
        );
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the CA file is not PEM certificates: {e}"))?;
            if certs.is_empty() {
                return Err("the CA file holds no certificate".into());
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self { url, http })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// One change in HQ's feed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WireChange {
    /// Its position in the feed.
    pub seq: i64,
    /// What changed: `customer`, `ledger`, `order`, `group`, `user`, … (docs/sync.md).
    pub kind: String,
    /// The id of the changed record.
    pub entity: String,
    /// The record as it now is; its shape depends on `kind`.
    #[schema(value_type = Object)]
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

/// A page of a store's outbox: what its users did, each operation signed by
/// the user who did it (docs/sync.md, "Trust").
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// At most 5,000 per page, at most 8 MiB in all.
    #[schema(max_items = 5000)]
    pub ops: Vec<SignedOp>,
    /// The store's outbox position these operations reach.
    pub up_to: i64,
}

/// HQ's answer: every operation applied or refused (with the reason); the page
/// is acknowledged either way, so one refused operation never stops a link.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PushResponse {
    pub results: Vec<OpResult>,
    /// HQ's clock, for the store's offset estimate.
    pub hq_time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedResponse {
    pub changes: Vec<WireChange>,
    /// The position to ask from next (the last change's, or `after`).
    pub last: i64,
    /// The newest position in HQ's feed when the page was read.
    pub head: i64,
    /// HQ's clock, for the store's offset estimate.
    pub hq_time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// How many customer numbers to lease.
    #[schema(minimum = 1, maximum = 10000)]
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CodesResponse {
    /// The first customer number leased.
    pub first: u64,
    /// The last, inclusive.
    pub last: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeEntry {
    /// `points` or `credit`.
    #[schema(pattern = "^(points|credit)$")]
    pub account: String,
    /// What is redeemed (positive).
    #[schema(minimum = 1)]
    pub amount: i64,
}

/// Asks HQ to authorise an order's redemption. The entries' ids follow from
/// the order id, so asking twice is asking once. Signed by the cashier making
/// the sale, like their operations: a store's token alone cannot hold a
/// customer's balance.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub customer_id: String,
    pub order_id: String,
    pub entries: Vec<AuthorizeEntry>,
    pub actor: String,
    /// [`authorize_text`] signed with the actor's operation key.
    pub sig: String,
}

/// What an authorisation's signature covers.
pub fn authorize_text(store: &str, req: &AuthorizeRequest) -> String {
    let entries: Vec<String> = req
        .entries
        .iter()
        .map(|e| format!("{}={}", e.account, e.amount))
        .collect();
    format!(
        "authorize\n{store}\n{}\n{}\n{}\n{}",
        req.actor,
        req.customer_id,
        req.order_id,
        entries.join(",")
    )
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    pub order_id: String,
    pub actor: String,
    /// [`release_text`] signed with the actor's operation key.
    pub sig: String,
}

/// What a release's signature covers.
pub fn release_text(store: &str, req: &ReleaseRequest) -> String {
    format!("release\n{store}\n{}\n{}", req.actor, req.order_id)
}

/// Downloads HQ's snapshot to `dest` (a new store's first start). Written to a
/// temporary name and renamed when complete, so a cut download leaves nothing
/// that could be mistaken for a database.
pub async fn download_snapshot(link: &HqLink, dest: &std::path::Path) -> Result<u64, String> {
    use std::io::Write;
    let url = format!("{}/api/v1/sync/snapshot", link.url());
    let mut resp = link
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HQ answered {}", resp.status()));
    }
    let part = dest.with_extension("download");
    let mut file = std::fs::File::create(&part).map_err(|e| e.to_string())?;
    let mut total = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        file.write_all(&chunk).map_err(|e| e.to_string())?;
        total += chunk.len() as u64;
    }
    file.sync_all().map_err(|e| e.to_string())?;
    std::fs::rename(&part, dest).map_err(|e| e.to_string())?;
    Ok(total)
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
