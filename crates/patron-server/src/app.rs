//! One way to start Patron: [`Application::build`] binds the port and wires the
//! router; `patron serve`, the integration tests and `patron bench` all use it.

use crate::auth::Sessions;
use patron_storage::{NodeInfo, Storage};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub sessions: Sessions,
    /// HQ, or the store this node serves.
    pub node: NodeInfo,
    /// A store node's link to HQ.
    pub sync: Option<Arc<patron_sync::SyncHandle>>,
    /// HQ: the last feed page served, shared by every store asking for the
    /// same position (hundreds wake at once on each change).
    pub feed_cache: Arc<tokio::sync::Mutex<Option<FeedCache>>>,
    /// HQ: when each store's contact was last written down.
    pub contacts: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
    /// Failed sign-ins per client address and per account from an address.
    pub login_throttle: Arc<crate::auth::LoginThrottle>,
    /// Sign-ins, refusals and account changes, written in batches.
    pub security: Arc<crate::security::SecurityLog>,
    /// Request counts and timings for `/metrics`.
    pub metrics: Arc<crate::observe::Metrics>,
    /// When `/readyz` turns red.
    pub readiness: crate::observe::Readiness,
}

/// A serialised feed page and what it answers.
pub struct FeedCache {
    pub after: i64,
    pub limit: usize,
    pub head: i64,
    pub body: axum::body::Bytes,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    storage: Arc<dyn Storage>,
    tls: Option<crate::tls::TlsConfig>,
    limits: crate::serve::Limits,
    mailer: Option<crate::receipts::Mailer>,
}

impl Application {
    /// Binds `listen` (port 0 picks a free port) and prepares the API over `storage`.
    pub async fn build(storage: Arc<dyn Storage>, listen: SocketAddr) -> anyhow::Result<Self> {
        Self::build_with_sync(storage, listen, None).await
    }

    /// As [`Application::build`], for a store node with its running sync client.
    pub async fn build_with_sync(
        storage: Arc<dyn Storage>,
        listen: SocketAddr,
        sync: Option<Arc<patron_sync::SyncHandle>>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        Self::build_on(listener, storage, sync).await
    }

    /// As [`Application::build_with_sync`], on a port already bound (the one
    /// a starting node answered `/readyz` on while its database was upgraded).
    pub async fn build_on(
        listener: TcpListener,
        storage: Arc<dyn Storage>,
        sync: Option<Arc<patron_sync::SyncHandle>>,
    ) -> anyhow::Result<Self> {
        let node = storage.node().await?;
        let state = AppState {
            sessions: Sessions::new(storage.clone()),
            storage: storage.clone(),
            node,
            sync,
            feed_cache: Arc::default(),
            contacts: Arc::default(),
            login_throttle: Arc::default(),
            security: crate::security::SecurityLog::start(storage.clone()),
            metrics: Arc::default(),
            readiness: crate::observe::Readiness::default(),
        };
        Ok(Self {
            listener,
            state,
            storage,
            tls: None,
            limits: crate::serve::Limits::default(),
            mailer: None,
        })
    }

    /// Serves HTTPS with `tls` (plain HTTP when `None`).
    pub fn with_tls(mut self, tls: Option<crate::tls::TlsConfig>) -> Self {
        self.tls = tls;
        self
    }

    /// Replaces the connection limits and timeouts (tests use short ones).
    pub fn with_limits(mut self, limits: crate::serve::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// When `/readyz` turns red.
    pub fn with_readiness(mut self, readiness: crate::observe::Readiness) -> Self {
        self.state.readiness = readiness;
        self
    }

    /// Sends receipt emails through this mail server (none without one).
    pub fn with_mailer(mut self, mailer: Option<crate::receipts::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::scheduler::spawn(self.storage.clone());
        if let Some(m) = self.mailer {
            crate::receipts::spawn(self.storage.clone(), m);
        }
        crate::serve::serve(
            self.listener,
            crate::http::router(self.state),
            self.tls,
            self.limits,
            shutdown,
        )
        .await;
        Ok(())
    }

    /// Starts serving on a background task; returns the bound address. For tests
    /// and benchmarks, which stop the server by dropping the runtime.
    pub fn spawn(self) -> anyhow::Result<SocketAddr> {
        let addr = self.local_addr()?;
        if let Some(m) = self.mailer {
            crate::receipts::spawn(self.storage.clone(), m);
        }
        tokio::spawn(crate::serve::serve(
            self.listener,
            crate::http::router(self.state),
            self.tls,
            self.limits,
            std::future::pending(),
        ));
        Ok(addr)
    }
}

/// Completes on Ctrl-C or SIGTERM (what service managers and containers send).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
