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
    router: axum::Router,
    storage: Arc<dyn Storage>,
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
        let node = storage.node().await?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let state = AppState {
            sessions: Sessions::new(storage.clone()),
            storage: storage.clone(),
            node,
            sync,
            feed_cache: Arc::default(),
            contacts: Arc::default(),
            login_throttle: Arc::default(),
        };
        Ok(Self {
            listener,
            router: crate::http::router(state),
            storage,
        })
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
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        Ok(())
    }

    /// Starts serving on a background task; returns the bound address. For tests
    /// and benchmarks, which stop the server by dropping the runtime.
    pub fn spawn(self) -> anyhow::Result<SocketAddr> {
        let addr = self.local_addr()?;
        tokio::spawn(async move {
            let app = self
                .router
                .into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(self.listener, app).await {
                tracing::error!(error = %e, "server stopped");
            }
        });
        Ok(addr)
    }
}
