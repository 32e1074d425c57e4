//! The security log (issue 10, SPEC §7): every sign-in and sign-out, every
//! refused request (401/403), every change to an account or a store's token;
//! who, from where, when.
//!
//! Events go through a bounded queue to one task that writes them in batches:
//! a flood of refused requests costs the writer one short transaction per
//! batch, never one per request, and can never make a request wait. When the
//! queue is full, events are counted and the count is logged as an event.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use patron_storage::{OffsetDateTime, SecurityEvent, Storage};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const QUEUE: usize = 10_000;
const BATCH: usize = 1_000;

enum Msg {
    Event(SecurityEvent),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

pub struct SecurityLog {
    tx: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

/// Why a request was refused, attached to a 401/403 response by `ApiError`.
#[derive(Clone)]
pub struct RefusalReason(pub String);

/// Filled in by the `Authed` extractor: who the request turned out to be.
#[derive(Clone, Default)]
pub struct Who(pub Arc<Mutex<Option<String>>>);

impl Who {
    pub fn set(&self, username: &str) {
        if let Ok(mut w) = self.0.lock() {
            *w = Some(username.to_owned());
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|w| w.clone())
    }
}

impl SecurityLog {
    /// Starts the writing task on the current runtime.
    pub fn start(storage: Arc<dyn Storage>) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<Msg>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = dropped.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = Vec::new();
                let mut waiting = Vec::new();
                let mut next = Some(first);
                while let Some(m) = next {
                    match m {
                        Msg::Event(e) => batch.push(e),
                        Msg::Flush(done) => waiting.push(done),
                    }
                    next = if batch.len() < BATCH {
                        rx.try_recv().ok()
                    } else {
                        None
                    };
                }
                let n = lost.swap(0, Ordering::Relaxed);
                if n > 0 {
                    batch.push(event(
                        "log-overflow",
                        None,
                        None,
                        format!("{n} security events were not recorded: too many at once"),
                    ));
                }
                if !batch.is_empty()
                    && let Err(e) = storage.record_security_events(batch).await
                {
                    tracing::error!(error = %e, "writing the security log failed");
                }
                for w in waiting {
                    let _ = w.send(());
                }
            }
        });
        Arc::new(Self { tx, dropped })
    }

    pub fn record(
        &self,
        kind: &str,
        username: Option<&str>,
        client: Option<std::net::IpAddr>,
        detail: impl Into<String>,
    ) {
        let e = event(kind, username, client, detail.into());
        if self.tx.try_send(Msg::Event(e)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every event recorded before this call is written, so a
    /// report shows what just happened.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn event(
    kind: &str,
    username: Option<&str>,
    client: Option<std::net::IpAddr>,
    detail: String,
) -> SecurityEvent {
    SecurityEvent {
        id: 0,
        at: OffsetDateTime::now_utc(),
        kind: kind.to_owned(),
        username: username.map(str::to_owned),
        client: client.map(|c| c.to_string()),
        detail: detail.chars().take(500).collect(),
    }
}

/// Records every 401 and 403 the API answers, with the user when known.
pub async fn record_refusals(
    State(log): State<Arc<SecurityLog>>,
    mut req: Request,
    next: Next,
) -> Response {
    // Sign-ins record their own, richer events.
    if req.uri().path() == "/api/v1/auth/login" {
        return next.run(req).await;
    }
    let who = Who::default();
    req.extensions_mut().insert(who.clone());
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let what = format!("{} {}", req.method(), req.uri().path());
    let resp = next.run(req).await;
    let kind = match resp.status().as_u16() {
        401 => "unauthenticated",
        403 => "forbidden",
        _ => return resp,
    };
    let reason = resp
        .extensions()
        .get::<RefusalReason>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    log.record(
        kind,
        who.get().as_deref(),
        client,
        format!("{what}: {reason}"),
    );
    resp
}
