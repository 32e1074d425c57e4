//! What an operator watches a node by: a request id on every log line and
//! problem body, `GET /metrics` (Prometheus text format) and `GET /readyz`.

use crate::app::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request this task is answering, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

/// A caller's own id is kept when it is short and plain (a proxy's or a
/// register's, to follow one sale through both logs); otherwise one is made.
fn request_id_from(req: &Request) -> Arc<str> {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::now_v7().simple().to_string()))
}

// Labels borrow what they can: counting a request allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TimingLabels {
    method: &'static str,
    route: Arc<str>,
}

/// A bounded set of method labels (a client may send any token as a method).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

static UNMATCHED: std::sync::LazyLock<Arc<str>> =
    std::sync::LazyLock::new(|| Arc::from("unmatched"));

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabels {
    file: &'static str,
}

/// The counters kept while serving; everything else is read at scrape time.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    latency: Family<TimingLabels, Histogram>,
    logins_refused: Family<ReasonLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<TimingLabels, Histogram>::new_with_constructor(
            (|| {
                Histogram::new([
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ])
            }) as fn() -> Histogram,
        );
        let logins_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "patron_http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        registry.register(
            "patron_http_request_duration_seconds",
            "Time from the request's head to its answer, by route template",
            latency.clone(),
        );
        registry.register(
            "patron_logins_refused",
            "Sign-ins refused: wrong-password (or unknown/inactive user), throttled, other-store",
            logins_refused.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            logins_refused,
        }
    }
}

impl Metrics {
    pub fn login_refused(&self, reason: &'static str) {
        self.logins_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    fn answered(&self, method: &'static str, route: Arc<str>, status: u16, took: Duration) {
        self.latency
            .get_or_create(&TimingLabels {
                method,
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RouteLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

/// The route template a request matched, carried out on its response.
#[derive(Clone)]
struct RouteTag(Arc<str>);

/// Inside the router: tags the response with the matched route template (a
/// fixed set, unlike raw paths, so metric labels stay bounded).
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| Arc::<str>::from(p.as_str()));
    let mut resp = next.run(req).await;
    if let Some(route) = route {
        resp.extensions_mut().insert(RouteTag(route));
    }
    resp
}

/// Outermost: gives the request its id and span (every log line of the
/// request carries both), counts and times it, and returns the id.
pub async fn observe_request(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let id = request_id_from(&req);
    if uri_len > crate::http::MAX_URI_BYTES {
        return REQUEST_ID
            .scope(id, async {
                crate::http::error::ApiError::UriTooLong(crate::http::MAX_URI_BYTES).into_response()
            })
            .await;
    }
    let method = method_label(req.method());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let started = Instant::now();
    let header_id = HeaderValue::from_str(&id).ok();
    let mut resp = REQUEST_ID
        .scope(id, next.run(req).instrument(span.clone()))
        .await;
    let took = started.elapsed();
    let route = resp
        .extensions()
        .get::<RouteTag>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| UNMATCHED.clone());
    let status = resp.status().as_u16();
    metrics.answered(method, route, status, took);
    span.in_scope(|| {
        tracing::debug!(status, micros = took.as_micros() as u64, "answered");
    });
    if let Some(v) = header_id {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// A count as a gauge holds it (gauges are signed).
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Figures read when Prometheus asks, from the database and the sync link.
async fn scrape(state: &AppState) -> Result<String, crate::http::error::ApiError> {
    let mut registry = Registry::default();
    let stats = state.storage.stats();
    let files = Family::<FileLabels, Gauge>::default();
    files
        .get_or_create(&FileLabels { file: "database" })
        .set(gauge_value(stats.database_bytes));
    files
        .get_or_create(&FileLabels { file: "wal" })
        .set(gauge_value(stats.wal_bytes));
    registry.register(
        "patron_database_bytes",
        "Size of the database file and of its write-ahead log",
        files,
    );
    let gauge = |v: u64| {
        let g = Gauge::<i64>::default();
        g.set(gauge_value(v));
        g
    };
    registry.register(
        "patron_writer_queue_depth",
        "Writes waiting for the database writer",
        gauge(stats.writer_queue),
    );
    registry.register(
        "patron_disk_full",
        "1 while writes fail because the database's disk is full",
        gauge(u64::from(stats.disk_full)),
    );
    registry.register_collector(Box::new(BatchSizes(stats)));

    let view = crate::http::sync::sync_status(state).await?;
    let lag = Family::<StoreLabels, Gauge>::default();
    let behind = Family::<StoreLabels, Gauge>::default();
    let pending = Family::<StoreLabels, Gauge>::default();
    let refused = Family::<StoreLabels, Gauge>::default();
    let online = Family::<StoreLabels, Gauge>::default();
    for p in &view.peers {
        let store = StoreLabels {
            store: p.store.clone().or(p.peer.clone()).unwrap_or_default(),
        };
        if let Some(s) = p.seconds_since_contact {
            lag.get_or_create(&store).set(s);
        }
        behind.get_or_create(&store).set(p.lag_changes);
        if let Some(n) = p.pending_outbound {
            pending.get_or_create(&store).set(n);
        }
        refused.get_or_create(&store).set(gauge_value(p.refused));
        online.get_or_create(&store).set(i64::from(p.online));
    }
    registry.register(
        "patron_sync_seconds_since_contact",
        "Seconds since the peer (a store at HQ; HQ at a store) was last heard from",
        lag,
    );
    registry.register(
        "patron_sync_behind_changes",
        "Changes of HQ's feed the peer has not applied yet",
        behind,
    );
    registry.register(
        "patron_sync_pending_outbound",
        "At a store: changes made here that HQ has not confirmed yet",
        pending,
    );
    registry.register(
        "patron_sync_refused_changes",
        "Changes from the store that HQ refused (kept in the refusals log)",
        refused,
    );
    registry.register(
        "patron_sync_online",
        "1 when the peer was heard from recently",
        online,
    );

    let mut out = String::new();
    let fail = |_| crate::http::error::ApiError::Internal("encoding the metrics failed".into());
    prometheus_client::encoding::prometheus_text::encode(&mut out, &state.metrics.registry)
        .map_err(fail)?;
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).map_err(fail)?;
    Ok(out)
}

/// The writer's batch sizes as a histogram, from the counts it keeps.
#[derive(Debug)]
struct BatchSizes(patron_storage::StorageStats);

impl prometheus_client::collector::Collector for BatchSizes {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = patron_storage::WRITER_BATCH_BUCKETS
            .iter()
            .zip(&self.0.batch_buckets)
            .map(|(le, n)| (*le as f64, *n))
            .collect();
        let mut m = encoder.encode_descriptor(
            "patron_writer_batch_size",
            "Writes committed together in one transaction",
            None,
            prometheus_client::metrics::MetricType::Histogram,
        )?;
        m.encode_histogram::<NoLabelSet>(
            self.0.batched_writes as f64,
            self.0.batches,
            &buckets,
            None,
        )
    }
}

/// Prometheus text format (0.0.4). Operational figures only (counts, sizes,
/// store ids): no customer data, so it needs no sign-in, like `/healthz`.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, content_type = "text/plain", body = String,
        description = "Metrics in the Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match scrape(&state).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// When `/readyz` turns red.
#[derive(Clone, Debug)]
pub struct Readiness {
    /// A store whose HQ has been unreachable this long stops being ready (it
    /// still sells; a load balancer may prefer a node that is in touch).
    pub hq_unreachable_after: Duration,
    pub started: Instant,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            hq_unreachable_after: Duration::from_secs(120),
            started: Instant::now(),
        }
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReadyView {
    pub ready: bool,
    /// Why not, one sentence each.
    pub reasons: Vec<String>,
}

/// Ready to take traffic: the database takes writes, and (at a store) HQ has
/// been heard from recently enough. 503 with the reasons otherwise.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, body = ReadyView), (status = 503, body = ReadyView)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut reasons = Vec::new();
    if state.storage.stats().disk_full {
        // Probing is what notices space came back: writes resume by themselves.
        match state.storage.probe_write().await {
            Ok(()) => {}
            Err(patron_storage::StorageError::DiskFull) => {
                reasons.push("the disk holding the database is full: free space on it".to_owned())
            }
            Err(e) => reasons.push(format!("the database does not take writes: {e}")),
        }
    }
    if let Some(sync) = &state.sync {
        let link = sync.status.lock().map(|s| s.clone()).unwrap_or_default();
        let limit = state.readiness.hq_unreachable_after;
        let silent_for = match link.last_contact {
            Some(t) => (time::OffsetDateTime::now_utc() - t)
                .try_into()
                .unwrap_or(Duration::ZERO),
            None => state.readiness.started.elapsed(),
        };
        if !link.online && silent_for > limit {
            reasons.push(format!(
                "HQ has not been reached for {} s (the limit is {} s){}",
                silent_for.as_secs(),
                limit.as_secs(),
                link.last_error
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    let ready = reasons.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(ReadyView { ready, reasons })).into_response()
}
