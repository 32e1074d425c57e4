//! The store's side of sync: three loops sharing one link to HQ.
//!
//! - pull: long-polls HQ's feed after the durable pull cursor and applies each
//!   page with the cursor in one transaction (a new store starts at 0: HQ's
//!   compacted feed is its snapshot);
//! - push: sends the store's outbox (its users' signed operations) after the
//!   push cursor, in pages HQ accepts, woken by every local commit; records
//!   HQ's refusals and moves the cursor only after HQ answered;
//! - codes: keeps a reserve of leased customer codes.
//!
//! Errors never stop a loop: the link is marked offline, logged once, and
//! retried with exponential backoff (100 ms to 5 s).

use crate::{CodesRequest, CodesResponse, FeedResponse, PushRequest, PushResponse, now_ms};
use patron_storage::{Peer, Storage};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PULL_CURSOR: &str = "pull_cursor";
const PUSH_CURSOR: &str = "push_cursor";
const PAGE: usize = 2_000;
const LONG_POLL_SECS: u64 = 20;
const CODE_RESERVE: u64 = 250;
const CODE_BLOCK: u64 = 1_000;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What `GET /api/v1/sync/status` shows of a store's link to HQ.
#[derive(Debug, Clone, Default)]
pub struct LinkStatus {
    pub online: bool,
    pub last_contact: Option<OffsetDateTime>,
    /// HQ's feed head as last seen, and how far this store has applied it.
    pub hq_head: i64,
    pub pulled: i64,
    /// This store's own feed head and how far HQ has confirmed it.
    pub local_head: i64,
    pub pushed: i64,
    pub offset_ms: i64,
    pub last_error: Option<String>,
}

/// The link's on/off switch. Production leaves it on; tests cut it to make a
/// partition (every request in flight is abandoned, none is sent).
#[derive(Debug)]
pub struct Link {
    up: watch::Sender<bool>,
}

impl Link {
    fn new() -> Self {
        Self {
            up: watch::channel(true).0,
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    async fn wait_up(&self) {
        let mut rx = self.up.subscribe();
        let _ = rx.wait_for(|up| *up).await;
    }

    async fn wait_down(&self) {
        let mut rx = self.up.subscribe();
        let _ = rx.wait_for(|up| !*up).await;
    }
}

pub struct SyncClient {
    storage: Arc<dyn Storage>,
    hq: String,
    http: reqwest::Client,
}

pub struct SyncHandle {
    pub status: Arc<Mutex<LinkStatus>>,
    pub link: Arc<Link>,
    client: Arc<SyncClient>,
    tasks: Vec<JoinHandle<()>>,
}

/// HQ's answer to a redemption the store wants to make while online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Recorded at HQ under the store's entry ids.
    Authorized,
    /// HQ's balance does not cover it: (field, message).
    Refused(String, String),
    /// HQ could not be asked: the store decides alone, within its offline cap.
    Unreachable,
}

impl SyncHandle {
    pub fn online(&self) -> bool {
        self.link.is_up() && self.status.lock().map(|s| s.online).unwrap_or(false)
    }

    pub fn last_contact(&self) -> Option<OffsetDateTime> {
        self.status.lock().ok().and_then(|s| s.last_contact)
    }

    /// Asks HQ to authorise and record an order's redemption (2 s at most).
    /// A late answer is harmless: the authorisation is tied to the order id,
    /// so the sale, committed offline meanwhile, meets it at HQ as its own.
    pub async fn authorize(&self, req: &crate::AuthorizeRequest) -> AuthorizeOutcome {
        if !self.link.is_up() {
            return AuthorizeOutcome::Unreachable;
        }
        let c = &self.client;
        let resp = c
            .http
            .post(format!("{}/api/v1/sync/authorize", c.hq))
            .json(req)
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => AuthorizeOutcome::Authorized,
            Ok(r) if r.status().as_u16() == 422 => {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let field = body["field"].as_str().unwrap_or("redeem_points").to_owned();
                let msg = body["errors"][0]["message"]
                    .as_str()
                    .unwrap_or("HQ refused the redemption")
                    .to_owned();
                AuthorizeOutcome::Refused(field, msg)
            }
            _ => AuthorizeOutcome::Unreachable,
        }
    }

    /// Gives back an order's authorised redemption whose sale failed (best
    /// effort: HQ also releases authorisations whose sale never arrives).
    pub async fn release(&self, req: &crate::ReleaseRequest) {
        let c = &self.client;
        let r = c
            .http
            .post(format!("{}/api/v1/sync/release", c.hq))
            .json(req)
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if !matches!(&r, Ok(r) if r.status().is_success()) {
            tracing::error!("could not release an authorised redemption at HQ");
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl SyncClient {
    /// A client for `link` (HQ's address, this store's token and id, TLS trust).
    pub fn new(storage: Arc<dyn Storage>, link: &crate::HqLink) -> Self {
        Self {
            storage,
            hq: link.url().to_owned(),
            http: link.http().clone(),
        }
    }

    pub fn spawn(self) -> SyncHandle {
        let me = Arc::new(self);
        let status = Arc::new(Mutex::new(LinkStatus::default()));
        let link = Arc::new(Link::new());
        let tasks = vec![
            tokio::spawn(pull_loop(me.clone(), status.clone(), link.clone())),
            tokio::spawn(push_loop(me.clone(), status.clone(), link.clone())),
            tokio::spawn(codes_loop(me.clone(), status.clone(), link.clone())),
        ];
        SyncHandle {
            status,
            link,
            client: me,
            tasks,
        }
    }

    async fn cursor(&self, key: &str) -> i64 {
        match self.storage.sync_value(key).await {
            Ok(v) => v.and_then(|v| v.parse().ok()).unwrap_or(0),
            Err(_) => 0,
        }
    }
}

fn update(status: &Mutex<LinkStatus>, f: impl FnOnce(&mut LinkStatus)) {
    if let Ok(mut s) = status.lock() {
        f(&mut s);
    }
}

/// Marks the link up after a successful exchange, logging the transition.
fn contact(status: &Mutex<LinkStatus>) {
    update(status, |s| {
        if !s.online {
            tracing::info!("HQ reachable: syncing");
        }
        s.online = true;
        s.last_error = None;
        s.last_contact = Some(OffsetDateTime::now_utc());
    });
}

/// What HQ said when it refused: its status and, from a problem body, the
/// detail (e.g. which side must be upgraded), so the operator reads the cause.
async fn refusal(r: reqwest::Response) -> String {
    let code = r.status();
    let text = r.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned));
    match detail {
        Some(d) => format!("HQ answered {code}: {d}"),
        None if text.is_empty() => format!("HQ answered {code}"),
        None => format!(
            "HQ answered {code}: {}",
            text.chars().take(300).collect::<String>()
        ),
    }
}

fn failure(status: &Mutex<LinkStatus>, what: &str, err: String) {
    update(status, |s| {
        if s.online || s.last_error.is_none() {
            tracing::warn!(error = %err, "{what} failed: HQ unreachable or refusing; working offline and retrying");
        }
        s.online = false;
        s.last_error = Some(err);
    });
}

async fn backoff(current: &mut Duration, link: &Link) {
    tokio::select! {
        _ = tokio::time::sleep(*current) => {}
        _ = link.wait_down() => {}
    }
    *current = (*current * 2).min(MAX_BACKOFF);
}

async fn pull_loop(c: Arc<SyncClient>, status: Arc<Mutex<LinkStatus>>, link: Arc<Link>) {
    let mut delay = Duration::from_millis(100);
    loop {
        link.wait_up().await;
        let after = c.cursor(PULL_CURSOR).await;
        update(&status, |s| s.pulled = after);
        let req = c
            .http
            .get(format!("{}/api/v1/sync/feed", c.hq))
            .query(&[
                ("after", after.to_string()),
                ("limit", PAGE.to_string()),
                ("wait", LONG_POLL_SECS.to_string()),
            ])
            .timeout(Duration::from_secs(LONG_POLL_SECS + 10))
            .send();
        let sent_at = now_ms();
        let resp = tokio::select! {
            r = req => r,
            _ = link.wait_down() => { failure(&status, "pull", "link cut".into()); continue; }
        };
        let page = match resp {
            Ok(r) if r.status().is_success() => match r.json::<FeedResponse>().await {
                Ok(p) => p,
                Err(e) => {
                    failure(&status, "pull", e.to_string());
                    backoff(&mut delay, &link).await;
                    continue;
                }
            },
            Ok(r) => {
                failure(&status, "pull", refusal(r).await);
                backoff(&mut delay, &link).await;
                continue;
            }
            Err(e) => {
                failure(&status, "pull", e.to_string());
                backoff(&mut delay, &link).await;
                continue;
            }
        };
        if !link.is_up() {
            continue;
        }
        // The store's clock follows HQ's: the offset keeps its stamps comparable
        // (set before the page is applied, so a clock that jumped while the
        // link was down is corrected before its own stamps are weighed),
        // with everyone else's even when the shop PC's clock is wrong.
        let rtt = now_ms() - sent_at;
        let offset = page.hq_time_ms - now_ms() + rtt.min(1_000) / 2;
        let current = c.cursor("clock_offset_ms").await;
        if (offset - current).abs() > 500 {
            let _ = c
                .storage
                .set_sync_value("clock_offset_ms", &offset.to_string())
                .await;
        }
        let users_changed = page
            .changes
            .iter()
            .any(|ch| ch.kind == "user" || ch.kind == "role");
        let changes: Vec<_> = page.changes.into_iter().map(Into::into).collect();
        if (page.last > after || !changes.is_empty())
            && let Err(e) = c
                .storage
                .apply_changes(&Peer::Hq, changes, Some((PULL_CURSOR.into(), page.last)))
                .await
        {
            tracing::error!(error = %e, after, "applying HQ's changes failed; will retry");
            failure(&status, "apply", e.to_string());
            backoff(&mut delay, &link).await;
            continue;
        }
        // Password hashes are not in the feed (it is the same for every
        // store): after a user changed, this store asks for its own users'.
        if (users_changed || after == 0)
            && let Err(e) = fetch_credentials(&c).await
        {
            failure(&status, "credentials", e);
            backoff(&mut delay, &link).await;
            continue;
        }
        contact(&status);
        update(&status, |s| {
            s.pulled = page.last;
            s.hq_head = page.head;
            s.offset_ms = offset;
        });
        delay = Duration::from_millis(100);
    }
}

/// Takes HQ's password hashes for the users who may sign in here; sessions of
/// users whose hash changed or went end.
async fn fetch_credentials(c: &SyncClient) -> Result<(), String> {
    let r = c
        .http
        .get(format!("{}/api/v1/sync/credentials", c.hq))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HQ answered {} for credentials", r.status()));
    }
    let creds: Vec<patron_storage::Credential> = r.json().await.map_err(|e| e.to_string())?;
    let ended = c
        .storage
        .adopt_credentials(creds)
        .await
        .map_err(|e| e.to_string())?;
    if !ended.is_empty() {
        tracing::info!(users = ?ended, "credentials changed at HQ: their sessions here ended");
    }
    Ok(())
}

/// The most operation text one push carries. HQ accepts far more
/// (`MAX_PUSH_BODY`); a page this size costs HQ one short transaction.
const PUSH_BYTES: usize = 512 * 1024;

async fn push_loop(c: Arc<SyncClient>, status: Arc<Mutex<LinkStatus>>, link: Arc<Link>) {
    let mut delay = Duration::from_millis(100);
    let mut head = c.storage.feed_head();
    // Halved when HQ answers 413 (a proxy with a smaller limit), down to one
    // operation a page; a backlog of any size then still drains.
    let mut budget = PUSH_BYTES;
    loop {
        link.wait_up().await;
        let cursor = c.cursor(PUSH_CURSOR).await;
        let local_head = *head.borrow_and_update();
        update(&status, |s| {
            s.pushed = cursor;
            s.local_head = local_head;
        });
        let page = match c.storage.outbox(cursor, PAGE, budget).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed");
                backoff(&mut delay, &link).await;
                continue;
            }
        };
        if page.ops.is_empty() {
            tokio::select! {
                _ = head.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let body = PushRequest {
            ops: page.ops.clone(),
            up_to: page.last,
        };
        let req = c
            .http
            .post(format!("{}/api/v1/sync/push", c.hq))
            .json(&body)
            .timeout(Duration::from_secs(60))
            .send();
        let resp = tokio::select! {
            r = req => r,
            _ = link.wait_down() => { failure(&status, "push", "link cut".into()); continue; }
        };
        match resp {
            Ok(r) if r.status().is_success() => {
                let answer = match r.json::<PushResponse>().await {
                    Ok(a) => a,
                    Err(e) => {
                        failure(&status, "push", format!("unreadable answer: {e}"));
                        backoff(&mut delay, &link).await;
                        continue;
                    }
                };
                // HQ's refusals are kept here too, so the store's users see
                // which of their work did not count, and why.
                let refusals = refusals_of(&page.ops, &answer.results);
                if !refusals.is_empty() {
                    tracing::warn!(
                        count = refusals.len(),
                        "HQ refused operations of this store"
                    );
                    if let Err(e) = c.storage.record_refusals(refusals).await {
                        tracing::error!(error = %e, "saving HQ's refusals failed");
                        backoff(&mut delay, &link).await;
                        continue;
                    }
                }
                if let Err(e) = c.storage.acknowledge_outbox(page.last).await {
                    tracing::error!(error = %e, "saving the push cursor failed");
                }
                contact(&status);
                update(&status, |s| s.pushed = page.last);
                delay = Duration::from_millis(100);
                budget = (budget * 2).min(PUSH_BYTES);
            }
            Ok(r) if r.status() == reqwest::StatusCode::PAYLOAD_TOO_LARGE => {
                budget = (budget / 2).max(1);
                failure(
                    &status,
                    "push",
                    format!("HQ answered 413; pages of at most {budget} bytes now"),
                );
            }
            Ok(r) => {
                failure(&status, "push", refusal(r).await);
                backoff(&mut delay, &link).await;
            }
            Err(e) => {
                failure(&status, "push", e.to_string());
                backoff(&mut delay, &link).await;
            }
        }
    }
}

/// The refusals in HQ's answer, described from the store's own operations.
fn refusals_of(
    ops: &[patron_storage::ops::SignedOp],
    results: &[crate::OpResult],
) -> Vec<patron_storage::Refusal> {
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    for r in results {
        let Some(reason) = &r.refused else {
            continue;
        };
        let op = ops
            .iter()
            .filter(|o| o.seq == r.seq)
            .find_map(|o| serde_json::from_str::<patron_storage::ops::Op>(&o.op).ok());
        out.push(patron_storage::Refusal {
            op_id: r.id.or(op.as_ref().map(|o| o.id)),
            store: op.as_ref().map(|o| o.store.clone()).unwrap_or_default(),
            kind: op
                .as_ref()
                .map(|o| o.body.kind().as_str().to_owned())
                .unwrap_or_default(),
            entity: op.as_ref().map(|o| o.body.entity()).unwrap_or_default(),
            actor: op.as_ref().map(|o| o.actor.clone()).unwrap_or_default(),
            reason: reason.chars().take(1_000).collect(),
            at: now,
        });
    }
    out
}

async fn codes_loop(c: Arc<SyncClient>, status: Arc<Mutex<LinkStatus>>, link: Arc<Link>) {
    let mut delay = Duration::from_millis(100);
    loop {
        link.wait_up().await;
        let left = c.storage.codes_left().await.unwrap_or(0);
        if left >= CODE_RESERVE {
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        let resp = c
            .http
            .post(format!("{}/api/v1/sync/codes", c.hq))
            .json(&CodesRequest { count: CODE_BLOCK })
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => match r.json::<CodesResponse>().await {
                Ok(block) => {
                    if let Err(e) = c.storage.add_code_block(block.first, block.last).await {
                        tracing::error!(error = %e, "saving a code block failed");
                    } else {
                        tracing::info!(
                            first = block.first,
                            last = block.last,
                            "leased customer codes from HQ"
                        );
                    }
                    delay = Duration::from_millis(100);
                }
                Err(e) => {
                    failure(&status, "code lease", e.to_string());
                    backoff(&mut delay, &link).await;
                }
            },
            Ok(r) => {
                failure(&status, "code lease", refusal(r).await);
                backoff(&mut delay, &link).await;
            }
            Err(e) => {
                failure(&status, "code lease", e.to_string());
                backoff(&mut delay, &link).await;
            }
        }
    }
}
