//! A node answers from the moment it binds its port: while it opens (and
//! perhaps upgrades) its database or downloads HQ's snapshot, `/healthz` says
//! it is alive, `/readyz` says it is not ready and why, and everything else is
//! a 503 to retry. A health check therefore never kills a node in the middle
//! of a long migration, and a load balancer sends it nothing yet.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// The port, bound, served by the starting router until [`Starting::finish`].
pub struct Starting {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<TcpListener>,
    doing: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Starting {
    pub async fn bind(
        listen: SocketAddr,
        tls: Option<crate::tls::TlsConfig>,
        limits: crate::serve::Limits,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let doing = Arc::new(Mutex::new("opening the database".to_owned()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve::serve(
            listener,
            router(doing.clone()),
            tls,
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            stop,
            server,
            doing,
            addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `/readyz` says the node is doing.
    pub fn doing(&self, what: &str) {
        if let Ok(mut d) = self.doing.lock() {
            *d = what.to_owned();
        }
    }

    /// Stops answering for the starting node (requests in flight finish) and
    /// hands back the port for the full API.
    pub async fn finish(self) -> anyhow::Result<TcpListener> {
        let _ = self.stop.send(());
        self.server
            .await
            .map_err(|e| anyhow::anyhow!("the starting server failed: {e}"))
    }
}

fn router(doing: Arc<Mutex<String>>) -> Router {
    let reason = move || {
        let doing = doing.lock().map(|d| d.clone()).unwrap_or_default();
        format!("starting: {doing}")
    };
    let for_ready = reason.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let reasons = vec![for_ready()];
                async move {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(crate::observe::ReadyView {
                            ready: false,
                            reasons,
                        }),
                    )
                }
            }),
        )
        .fallback(move || {
            let detail = reason();
            async move { crate::http::error::ApiError::Starting(detail) }
        })
}
