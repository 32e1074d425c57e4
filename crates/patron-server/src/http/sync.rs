//! Replication endpoints (HQ side, authenticated by a store's sync token), the
//! sync status of any node, store registration and the overdraft report.

use super::error::{ApiError, Result};
use super::extract::{Allowed, ApiJson, Authed, perm};
use crate::app::AppState;
use crate::wire::{NodeRoleView, SyncPeerView, SyncStatusView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use patron_domain::Username;
use patron_domain::replication;
use patron_domain::{Permission, StoreId};
use patron_storage::Refusal;
use patron_storage::ops::Op;
use patron_storage::{NodeRole, StoreInfo};
use patron_sync::{
    CodesRequest, CodesResponse, FeedResponse, OpResult, PushRequest, PushResponse, SignedOp,
    TOKEN_PREFIX, WireChange, now_ms,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A store authenticated by its sync token.
pub struct SyncPeer(pub StoreInfo);

impl FromRequestParts<AppState> for SyncPeer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if state.node.role != NodeRole::Hq {
            return Err(ApiError::NotFound);
        }
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 256)
            .ok_or(ApiError::Unauthenticated("a store sync token is required"))?;
        let store = state
            .storage
            .store_for_token(&crate::auth::hash_token(token))
            .await?
            .ok_or(ApiError::Unauthenticated(
                "unknown or revoked store sync token",
            ))?;
        // A token is bound to its store: a node started as S02 with S01's
        // token is refused, not served as S01.
        let claimed = parts
            .headers
            .get(STORE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if claimed != store.id {
            tracing::warn!(token_of = %store.id, claimed, "refused: sync token used by another store id");
            return Err(ApiError::Unauthenticated(
                "this sync token belongs to another store",
            ));
        }
        if let Some(who) = parts.extensions.get::<crate::security::Who>() {
            who.set(&format!("store:{}", store.id));
        }
        let version = |name: &str| -> Result<u32> {
            match parts.headers.get(name) {
                None => Ok(1),
                Some(v) => v
                    .to_str()
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| ApiError::BadRequest(format!("{name} is not a number"))),
            }
        };
        let spoken = version(patron_sync::PROTOCOL_HEADER)?;
        let oldest = version(patron_sync::PROTOCOL_MIN_HEADER)?;
        if let Err(why) = patron_sync::protocol_check(spoken, oldest) {
            tracing::warn!(store = %store.id, spoken, oldest, "refused: sync protocol mismatch");
            return Err(ApiError::UpgradeRequired(why));
        }
        Ok(SyncPeer(store))
    }
}

/// The header a store names itself in; it must match its token's store.
pub const STORE_HEADER: &str = patron_sync::STORE_HEADER;

const MAX_PUSH: usize = 5_000;
/// The largest push HQ reads. A store sends pages of at most 512 KiB.
pub const MAX_PUSH_BODY: usize = 8 * 1024 * 1024;

/// A store's operations. Each is checked here — readable, signed by the
/// user it names with the key HQ holds for them, and within that user's rights
/// at this store — and then re-applied through the same rules as HQ's own API
/// (`Storage::apply_ops`). A refused operation is recorded with its reason
/// and answered as refused; the page is acknowledged either way.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", security(("store_token" = [])),
    request_body(content = PushRequest, description = "A page of the store's signed operations (docs/sync.md)"),
    responses((status = 200, body = PushResponse, description = "Each operation applied or refused"), super::error::ProblemResponses))]
pub async fn push(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
    body: std::result::Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<PushResponse>> {
    let body = body.map_err(|e| match super::extract::body_error(e) {
        ApiError::TooLarge(_) => ApiError::TooLarge(MAX_PUSH_BODY),
        other => other,
    })?;
    let req: PushRequest = super::extract::parse_json(&body)?;
    if req.ops.len() > MAX_PUSH {
        return Err(ApiError::field(
            "ops",
            format!("at most {MAX_PUSH} operations per push"),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let mut users: HashMap<String, Option<(patron_storage::User, Option<String>)>> = HashMap::new();
    let mut checked = Vec::with_capacity(req.ops.len());
    let mut early = Vec::new();
    let mut results: Vec<OpResult> = Vec::with_capacity(req.ops.len());
    for signed in &req.ops {
        match check_op(&state, &store.id, signed, &mut users).await? {
            Ok(op) => {
                results.push(OpResult {
                    seq: signed.seq,
                    id: Some(op.id),
                    refused: None,
                });
                checked.push(op);
            }
            Err(refusal) => {
                tracing::warn!(store = %store.id, reason = %refusal.reason, "refused a store's operation");
                results.push(OpResult {
                    seq: signed.seq,
                    id: refusal.op_id,
                    refused: Some(refusal.reason.clone()),
                });
                early.push(refusal);
            }
        }
    }
    let applied = state
        .storage
        .apply_ops(&store.id, checked, early, now)
        .await?;
    let mut applied = applied.into_iter();
    for r in results.iter_mut().filter(|r| r.refused.is_none()) {
        if let Some(a) = applied.next() {
            r.refused = a.refused;
        }
    }
    state
        .storage
        .touch_store(&store.id, Some(req.up_to), None)
        .await?;
    Ok(Json(PushResponse {
        results,
        hq_time_ms: now_ms(),
    }))
}

/// Reads and verifies one signed operation; `Ok(Err(refusal))` when HQ will
/// not apply it.
async fn check_op(
    state: &AppState,
    store: &str,
    signed: &SignedOp,
    users: &mut HashMap<String, Option<(patron_storage::User, Option<String>)>>,
) -> Result<std::result::Result<Op, Refusal>> {
    let refuse = |op: Option<&Op>, reason: String| Refusal {
        op_id: op.map(|o| o.id).or_else(|| {
            serde_json::from_str::<Value>(&signed.op)
                .ok()
                .and_then(|v| {
                    v.get("id")?
                        .as_str()
                        .and_then(|s| uuid::Uuid::parse_str(s).ok())
                })
        }),
        store: store.to_owned(),
        kind: op
            .map(|o| o.body.kind().as_str().to_owned())
            .unwrap_or_else(|| "unreadable".into()),
        entity: op.map(|o| o.body.entity()).unwrap_or_default(),
        actor: op.map(|o| o.actor.clone()).unwrap_or_default(),
        reason: reason.chars().take(1_000).collect(),
        at: OffsetDateTime::now_utc(),
    };
    if signed.op.len() > 256 * 1024 {
        return Ok(Err(refuse(None, "the operation is over 256 KiB".into())));
    }
    let op: Op = match serde_json::from_str(&signed.op) {
        Ok(op) => op,
        Err(e) => return Ok(Err(refuse(None, format!("unreadable operation: {e}")))),
    };
    if op.store != store {
        return Ok(Err(refuse(
            Some(&op),
            format!(
                "an operation of store {} sent with the token of {store}",
                op.store
            ),
        )));
    }
    let Ok(username) = Username::parse(&op.actor) else {
        return Ok(Err(refuse(
            Some(&op),
            "the acting user's name is not a username".into(),
        )));
    };
    if !users.contains_key(username.as_str()) {
        let found = state.storage.user_op_key(&username).await?;
        users.insert(username.as_str().to_owned(), found);
    }
    let mut needed = vec![replication::permission_for(op.body.kind())];
    if let patron_storage::ops::OpBody::Order {
        override_limits: true,
        ..
    } = &op.body
    {
        needed.push(Permission::LimitsOverride);
    }
    let found = users.get(username.as_str()).and_then(Option::as_ref);
    Ok(
        match signed_and_allowed(&username, found, store, &signed.op, &signed.sig, &needed) {
            Ok(()) => Ok(op),
            Err(reason) => Err(refuse(Some(&op), reason)),
        },
    )
}

/// Whether `username` (as HQ holds them, with their operation key) signed
/// `text`, and may do what needs `needed` at `store`; otherwise why not.
fn signed_and_allowed(
    username: &Username,
    found: Option<&(patron_storage::User, Option<String>)>,
    store: &str,
    text: &str,
    sig: &str,
    needed: &[Permission],
) -> std::result::Result<(), String> {
    let Some((user, key)) = found else {
        return Err(format!("HQ knows no user {username}"));
    };
    let Some(key) = key.as_deref().and_then(patron_storage::ops::key_from_hex) else {
        return Err(format!(
            "HQ holds no signing key for {username} yet: they sign in once at HQ, or their password is set again"
        ));
    };
    if !patron_storage::ops::verify(&key, text, sig) {
        return Err(format!(
            "not signed by {username}: a store's token alone cannot act for a user"
        ));
    }
    let acting = replication::ActingUser {
        role: user.role.clone(),
        active: user.active,
        store: user.store.as_deref(),
    };
    replication::may_act(&acting, store, needed).map_err(|why| format!("{username}: {why}"))
}

/// Refused operations: at HQ, every store's; at a store, its own.
#[utoipa::path(get, path = "/api/v1/sync/refusals", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::RefusalList), super::error::ProblemResponses))]
pub async fn refusals(
    State(state): State<AppState>,
    user: Authed,
) -> Result<Json<crate::wire::RefusalList>> {
    user.require(Permission::CustomersView)?;
    let items = state
        .storage
        .refusals(1_000)
        .await?
        .iter()
        .map(crate::wire::RefusalView::from)
        .collect();
    Ok(Json(crate::wire::RefusalList { items }))
}

#[utoipa::path(get, path = "/api/v1/sync/feed", tag = "sync", security(("store_token" = [])),
    params(("after" = Option<i64>, Query, minimum = 0, description = "The feed position the store has applied"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 10000),
           ("wait" = Option<i64>, Query, minimum = 0, maximum = 60, description = "Seconds to wait for a change (long poll)")),
    responses((status = 200, body = patron_sync::FeedResponse, description = "A page of HQ's feed (docs/sync.md)"), super::error::ProblemResponses))]
pub async fn feed(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
    params: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<axum::response::Response> {
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let num = |k: &str, default: i64, max: i64| -> Result<i64> {
        match params.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::field(k, format!("must be a whole number from 0 to {max}"))
                }),
        }
    };
    let after = num("after", 0, i64::MAX)?;
    let limit = num("limit", 1_000, 10_000)?.max(1) as usize;
    let wait = num("wait", 0, 60)?;
    // The store has applied everything up to `after`: its confirmation. Written
    // down at most every 5 s per store, so hundreds of stores polling do not
    // turn into hundreds of writes per change.
    let due = state.contacts.lock().map_or(true, |mut m| {
        let now = std::time::Instant::now();
        match m.get(&store.id) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(5) => false,
            _ => {
                m.insert(store.id.clone(), now);
                true
            }
        }
    });
    // A position past HQ's head confirms nothing: not written down.
    if due && after <= *state.storage.feed_head().borrow() {
        state
            .storage
            .touch_store(&store.id, None, Some(after))
            .await?;
    }
    let mut head = state.storage.feed_head();
    if *head.borrow_and_update() <= after && wait > 0 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
        while *head.borrow_and_update() <= after {
            if tokio::time::timeout_at(deadline, head.changed())
                .await
                .is_err()
            {
                break;
            }
        }
    }
    // One page build per position: the first request builds it while the
    // others wait on the lock, then they all send the same bytes.
    let current = *head.borrow();
    let mut cache = state.feed_cache.lock().await;
    let body = match cache
        .as_ref()
        .filter(|c| c.after == after && c.limit == limit && c.head == current)
    {
        Some(c) => c.body.clone(),
        None => {
            let page = state.storage.feed(after, limit).await?;
            let resp = FeedResponse {
                changes: page.changes.into_iter().map(WireChange::from).collect(),
                last: page.last,
                head: page.head,
                hq_time_ms: now_ms(),
            };
            let body = axum::body::Bytes::from(
                serde_json::to_vec(&resp).map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            *cache = Some(crate::app::FeedCache {
                after,
                limit,
                head: current,
                body: body.clone(),
            });
            body
        }
    };
    drop(cache);
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[utoipa::path(post, path = "/api/v1/sync/authorize", tag = "sync", security(("store_token" = [])),
    request_body(content = patron_sync::AuthorizeRequest, description = "Signed by the cashier"),
    responses((status = 200, body = AuthorizedView), super::error::ProblemResponses))]
pub async fn authorize(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
    ApiJson(req): ApiJson<patron_sync::AuthorizeRequest>,
) -> Result<Json<AuthorizedView>> {
    let customer = uuid::Uuid::parse_str(&req.customer_id)
        .map_err(|_| ApiError::field("customer_id", "is not an id"))?;
    if req.order_id.is_empty() || req.order_id.len() > 100 {
        return Err(ApiError::field("order_id", "must be 1 to 100 characters"));
    }
    signed_by_a_user(
        &state,
        &store.id,
        &req.actor,
        &req.sig,
        &patron_sync::authorize_text(&store.id, &req),
    )
    .await?;
    if req.entries.len() > 2 {
        return Err(ApiError::field("entries", "at most one per account"));
    }
    let mut entries = Vec::new();
    for (i, e) in req.entries.iter().enumerate() {
        let account = patron_domain::loyalty::Account::parse(&e.account).ok_or_else(|| {
            ApiError::field(&format!("entries[{i}].account"), "must be points or credit")
        })?;
        if entries.iter().any(|(a, _)| *a == account) {
            return Err(ApiError::field(
                &format!("entries[{i}].account"),
                "appears twice",
            ));
        }
        if !(1..=patron_storage::MAX_AMOUNT).contains(&e.amount) {
            return Err(ApiError::field(
                &format!("entries[{i}].amount"),
                "must be from 0.01 to 100,000,000.00",
            ));
        }
        entries.push((account, e.amount));
    }
    state
        .storage
        .authorize_redemption(
            &store.id,
            &req.actor,
            customer,
            &req.order_id,
            entries,
            OffsetDateTime::now_utc(),
        )
        .await?;
    Ok(Json(AuthorizedView { authorized: true }))
}

#[utoipa::path(post, path = "/api/v1/sync/release", tag = "sync", security(("store_token" = [])),
    request_body(content = patron_sync::ReleaseRequest, description = "Signed by the cashier"),
    responses((status = 200, body = ReleasedView), super::error::ProblemResponses))]
pub async fn release(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
    ApiJson(req): ApiJson<patron_sync::ReleaseRequest>,
) -> Result<Json<ReleasedView>> {
    if req.order_id.is_empty() || req.order_id.len() > 100 {
        return Err(ApiError::field("order_id", "must be 1 to 100 characters"));
    }
    signed_by_a_user(
        &state,
        &store.id,
        &req.actor,
        &req.sig,
        &patron_sync::release_text(&store.id, &req),
    )
    .await?;
    let n = state
        .storage
        .release_redemption(
            &store.id,
            &req.actor,
            &req.order_id,
            OffsetDateTime::now_utc(),
        )
        .await?;
    Ok(Json(ReleasedView { released: n }))
}

/// Refuses a request a store makes for a cashier (an authorisation, a release)
/// unless that user signed it and may sell at this store: a store's token
/// alone cannot hold or free a customer's balance.
async fn signed_by_a_user(
    state: &AppState,
    store: &str,
    actor: &str,
    sig: &str,
    text: &str,
) -> Result<()> {
    let username = Username::parse(actor).map_err(|_| ApiError::Refused("unknown user".into()))?;
    let found = state.storage.user_op_key(&username).await?;
    signed_and_allowed(
        &username,
        found.as_ref(),
        store,
        text,
        sig,
        &[Permission::OrdersCreate],
    )
    .map_err(ApiError::Refused)
}

/// A consistent copy of HQ's database for a new store: much faster than
/// replaying the feed entity by entity. The store drops what is HQ's alone
/// and follows the feed from the copy's position.
#[utoipa::path(get, path = "/api/v1/sync/snapshot", tag = "sync", security(("store_token" = [])),
    responses((status = 200, content_type = "application/vnd.sqlite3", description = "A SQLite database file for the asking store"), super::error::ProblemResponses))]
pub async fn snapshot(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
) -> Result<axum::response::Response> {
    let dir = tempfile::tempdir().map_err(|e| ApiError::Internal(e.to_string()))?;
    let path = dir.path().join("snapshot.db");
    let started = std::time::Instant::now();
    state.storage.snapshot_into(&path, &store.id).await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .len();
    tracing::info!(store = %store.id, bytes = len, ms = started.elapsed().as_millis() as u64, "snapshot made");
    // The temporary directory lives as long as the stream, then goes.
    let stream = futures_util::stream::unfold((file, dir), |(mut file, dir)| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)),
                    (file, dir),
                ))
            }
            Err(e) => Some((Err(e), (file, dir))),
        }
    });
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/vnd.sqlite3")
        .header(axum::http::header::CONTENT_LENGTH, len)
        .body(axum::body::Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[utoipa::path(post, path = "/api/v1/sync/codes", tag = "sync", security(("store_token" = [])),
    request_body = CodesRequest,
    responses((status = 200, body = patron_sync::CodesResponse, description = "The leased block of customer numbers"), super::error::ProblemResponses))]
pub async fn codes(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
    ApiJson(req): ApiJson<CodesRequest>,
) -> Result<Json<CodesResponse>> {
    if !(1..=10_000).contains(&req.count) {
        return Err(ApiError::field("count", "must be from 1 to 10,000"));
    }
    let (first, last) = state.storage.lease_codes(&store.id, req.count).await?;
    tracing::info!(store = %store.id, first, last, "leased customer codes");
    Ok(Json(CodesResponse { first, last }))
}

fn ts(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

/// This node's view of replication.
#[utoipa::path(get, path = "/api/v1/sync/status", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = SyncStatusView, description = "The node's role, its peers, lag and pending changes"), super::error::ProblemResponses))]
pub async fn status(State(state): State<AppState>, user: Authed) -> Result<Json<SyncStatusView>> {
    user.require(Permission::CustomersView)?;
    sync_status(&state).await.map(Json)
}

/// The node's view of its peers: what `status` answers and `/metrics` reports.
pub async fn sync_status(state: &AppState) -> Result<SyncStatusView> {
    let now = OffsetDateTime::now_utc();
    let counts = state.storage.refusal_counts().await?;
    let refused = |store: &str| {
        counts
            .iter()
            .find(|(s, _)| s == store)
            .map_or(0, |(_, n)| *n)
    };
    match state.node.role {
        NodeRole::Hq => {
            let head = *state.storage.feed_head().borrow();
            let stores = state.storage.stores().await?;
            let peers = stores
                .iter()
                .map(|s| {
                    let seconds = s.last_seen.map(|t| (now - t).whole_seconds());
                    SyncPeerView {
                        store: Some(s.id.clone()),
                        name: Some(s.name.clone()),
                        // A store with its feed open checks in at least every 20 s.
                        online: seconds.is_some_and(|x| x <= 30),
                        last_contact: ts(s.last_seen),
                        seconds_since_contact: seconds,
                        lag_changes: (head - s.pulled_seq).max(0),
                        pulled_seq: s.pulled_seq,
                        pushed_seq: Some(s.pushed_seq),
                        refused: refused(&s.id),
                        ..SyncPeerView::default()
                    }
                })
                .collect();
            Ok(SyncStatusView {
                node: "HQ".into(),
                role: NodeRoleView::Hq,
                feed_head: Some(head),
                codes_left: None,
                peers,
            })
        }
        NodeRole::Store => {
            let local_head = *state.storage.feed_head().borrow();
            let link = state
                .sync
                .as_ref()
                .and_then(|h| h.status.lock().ok().map(|s| s.clone()))
                .unwrap_or_default();
            let pushed: i64 = state
                .storage
                .sync_value("push_cursor")
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let seconds = link.last_contact.map(|t| (now - t).whole_seconds());
            Ok(SyncStatusView {
                node: state.node.id.clone(),
                role: NodeRoleView::Store,
                feed_head: None,
                codes_left: Some(state.storage.codes_left().await?),
                peers: vec![SyncPeerView {
                    peer: Some("HQ".into()),
                    online: link.online,
                    last_contact: ts(link.last_contact),
                    seconds_since_contact: seconds,
                    lag_changes: (link.hq_head - link.pulled).max(0),
                    pulled_seq: link.pulled,
                    pending_outbound: Some((local_head - pushed).max(0)),
                    clock_offset_ms: Some(link.offset_ms),
                    last_error: link.last_error,
                    refused: counts.iter().map(|(_, n)| n).sum::<u64>(),
                    ..SyncPeerView::default()
                }],
            })
        }
    }
}

#[utoipa::path(get, path = "/api/v1/reports/overdrafts", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::OverdraftList), super::error::ProblemResponses))]
pub async fn overdrafts(
    State(state): State<AppState>,
    _user: Allowed<perm::ReportsView>,
) -> Result<Json<crate::wire::OverdraftList>> {
    let items = state
        .storage
        .overdrafts()
        .await?
        .iter()
        .map(crate::wire::OverdraftView::from)
        .collect();
    Ok(Json(crate::wire::OverdraftList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreInput {
    /// Letters, digits, `-` and `_`; stored uppercase.
    #[schema(
        example = "S01",
        min_length = 1,
        max_length = 16,
        pattern = "^[A-Za-z0-9_-]+$"
    )]
    id: String,
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// A new sync token: shown once, stored only as its hash.
pub fn new_store_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    use base64::Engine;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Register a store; its sync token is in the answer, once.
#[utoipa::path(post, path = "/api/v1/stores", tag = "stores", security(("bearer" = [])),
    request_body = StoreInput,
    responses((status = 201, body = StoreTokenView), super::error::ProblemResponses))]
pub async fn register_store(
    State(state): State<AppState>,
    _user: Allowed<perm::StoresManage>,
    ApiJson(input): ApiJson<StoreInput>,
) -> Result<(StatusCode, Json<StoreTokenView>)> {
    if state.node.role != NodeRole::Hq {
        return Err(ApiError::Conflict {
            field: "node".into(),
            message: "stores are registered at HQ".into(),
        });
    }
    let id = StoreId::parse(&input.id).map_err(|e| ApiError::field("id", e.message))?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "must be 1 to 100 characters"));
    }
    let token = new_store_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let s = state
        .storage
        .register_store(&id, &name, &crate::auth::hash_token(&token))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(StoreTokenView {
            id: s.id,
            name: s.name,
            token,
        }),
    ))
}

/// The registered stores.
#[utoipa::path(get, path = "/api/v1/stores", tag = "stores", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::StoreList), super::error::ProblemResponses))]
pub async fn list_stores(
    State(state): State<AppState>,
    _user: Allowed<perm::CustomersView>,
) -> Result<Json<crate::wire::StoreList>> {
    let stores = state.storage.stores().await?;
    Ok(Json(crate::wire::StoreList {
        items: stores.iter().map(crate::wire::StoreView::from).collect(),
    }))
}

/// The password hashes of the users who may sign in at the asking store, and
/// no one else's. A store asks after every page that changed a user.
#[utoipa::path(get, path = "/api/v1/sync/credentials", tag = "sync", security(("store_token" = [])),
    responses((status = 200, body = [crate::wire::CredentialView], description = "The users who may sign in at the asking store"), super::error::ProblemResponses))]
pub async fn credentials(
    State(state): State<AppState>,
    SyncPeer(store): SyncPeer,
) -> Result<Json<Vec<patron_storage::Credential>>> {
    Ok(Json(state.storage.store_credentials(&store.id).await?))
}

/// HQ authorised an order's redemption (and recorded it against the order).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuthorizedView {
    pub authorized: bool,
}

/// How many authorised redemptions were given back.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReleasedView {
    pub released: u64,
}

/// A store's new sync token, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StoreTokenView {
    pub id: String,
    pub name: String,
    /// Give it to the store node (`PATRON_SYNC_TOKEN` or `--token-file`); the old one stops working now.
    pub token: String,
}

/// Replace a store's sync token: the old one stops working at once, and a
/// revoked store works again with the new one.
#[utoipa::path(post, path = "/api/v1/stores/{id}/rotate-token", tag = "stores", security(("bearer" = [])),
    params(("id" = String, Path, description = "A store id, e.g. S01")),
    responses((status = 200, body = StoreTokenView), super::error::ProblemResponses))]
pub async fn rotate_token(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Allowed(user, _): Allowed<perm::StoresManage>,
    super::extract::ApiPath(id): super::extract::ApiPath<String>,
) -> Result<Json<StoreTokenView>> {
    hq_only(&state)?;
    let token = new_store_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let s = state
        .storage
        .rotate_store_token(&user.actor(), id.trim(), &crate::auth::hash_token(&token))
        .await?;
    state.security.record(
        "store-token",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("rotated the sync token of store {}", s.id),
    );
    Ok(Json(StoreTokenView {
        id: s.id,
        name: s.name,
        token,
    }))
}

/// Revoke a store's sync token: HQ answers nothing it sends until a new
/// token is issued.
#[utoipa::path(post, path = "/api/v1/stores/{id}/revoke", tag = "stores", security(("bearer" = [])),
    params(("id" = String, Path, description = "A store id, e.g. S01")),
    responses((status = 200, body = crate::wire::StoreView), super::error::ProblemResponses))]
pub async fn revoke(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Allowed(user, _): Allowed<perm::StoresManage>,
    super::extract::ApiPath(id): super::extract::ApiPath<String>,
) -> Result<Json<crate::wire::StoreView>> {
    hq_only(&state)?;
    let s = state.storage.revoke_store(&user.actor(), id.trim()).await?;
    state.security.record(
        "store-token",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("revoked the sync token of store {}", s.id),
    );
    Ok(Json(crate::wire::StoreView::from(&s)))
}

/// Refuses configuration writes on a store node: HQ owns them.
pub fn hq_only(state: &AppState) -> Result<()> {
    if state.node.role == NodeRole::Hq {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            field: "node".into(),
            message: "this is managed at HQ; store nodes receive it through sync".into(),
        })
    }
}
