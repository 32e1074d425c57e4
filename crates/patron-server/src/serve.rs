//! The connection loop: what `axum::serve` does, plus the bounds a server on
//! the open internet needs (issue 10, "Bounded connections").
//!
//! - at most `max_connections` connections at once, sized below the process's
//!   open-file limit; more wait in the kernel's accept queue (served later,
//!   never refused for a lack of file handles). With HTTP/1.1 one connection
//!   carries one request at a time, so this is also the cap on requests in
//!   flight;
//! - a request head must arrive within `header_timeout` (slow-loris), a body
//!   within `body_timeout` of its start, and a connection with no traffic
//!   either way for `idle_timeout` is closed;
//! - TLS (optional) with a handshake deadline;
//! - the few errors hyper answers itself (a head too large, a URI too long,
//!   an unparsable request) go out as problem+json like every other error;
//! - on shutdown, no new connections; requests in flight finish (30 s at most).

use crate::tls::TlsConfig;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// The largest request head (request line and headers) read; larger is a 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: connection_cap(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// File handles kept for everything that is not a client connection: the
/// database (writer and readers, each with its WAL and shared memory), the
/// listener, logs, a snapshot being streamed, the runtime's own.
const RESERVED_FILES: u64 = 96;

/// Connections allowed at once: the open-file limit (raised to the hard limit
/// first, as a service may) less what the node itself needs.
pub fn connection_cap() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (limit.current, limit.maximum)
        && max > cur
    {
        let raised = rustix::process::Rlimit {
            current: Some(max.min(1 << 20)),
            maximum: Some(max),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit = raised;
        }
    }
    let files = limit.current.unwrap_or(1 << 20);
    files.saturating_sub(RESERVED_FILES).clamp(16, 100_000) as usize
}

/// Serves `router` on `listener` until `shutdown` completes, then drains;
/// hands the listener back (a node starting up passes it on to the full API).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<TlsConfig>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> TcpListener {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file handles, or a connection reset before it was
                    // accepted: wait a moment, never stop serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                    {
                        Ok(Ok(tls)) => connection(tls, remote, router, limits, watcher).await,
                        Ok(Err(e)) => {
                            tracing::debug!(client = %remote, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(client = %remote, "TLS handshake timed out"),
                    }
                }
                None => connection(tcp, remote, router, limits, watcher).await,
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("requests still running after the drain period were cut");
        }
    }
    listener
}

async fn connection<IO>(
    io: IO,
    remote: SocketAddr,
    router: axum::Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(remote));
        let req = req.map(|b| axum::body::Body::new(DeadlineBody::new(b, limits.body_timeout)));
        let mut router = router.clone();
        async move {
            use tower_service::Service;
            router.call(req).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .writev(false);
    let conn =
        builder.serve_connection(TokioIo::new(Guarded::new(io, limits.idle_timeout)), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(client = %remote, error = %e, "connection ended");
    }
}

/// A request body that must arrive whole within a deadline: a client
/// trickling a byte every few seconds cannot hold a connection forever.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        ready!(self.deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The error a request body that missed its deadline ends with.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// A connection's byte stream with an idle deadline (no bytes either way for
/// that long ends it) and hyper's own bodiless error answers rewritten as
/// problem+json.
struct Guarded<IO> {
    io: IO,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    /// When bytes last moved either way.
    last: Instant,
    /// A rewritten answer still being written, and how much of hyper's
    /// buffer it stands for.
    pending: Option<(Vec<u8>, usize)>,
}

impl<IO> Guarded<IO> {
    fn new(io: IO, idle: Duration) -> Self {
        Self {
            io,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            last: Instant::now(),
            pending: None,
        }
    }

    /// Traffic moves the deadline lazily: only the time is noted here, and the
    /// timer is re-armed when it fires early (a timer-wheel update on every
    /// read and write cost more than the rest of this wrapper).
    fn touch(&mut self) {
        self.last = Instant::now();
    }

    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last + self.idle;
            if Instant::now() >= due {
                return true;
            }
            self.deadline.as_mut().reset(due);
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the connection was idle too long")
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.idle_expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none()
            && let Some(answer) = problem_for_hyper_error(buf)
        {
            self.pending = Some((answer, buf.len()));
        }
        if let Some((mut answer, stands_for)) = self.pending.take() {
            while !answer.is_empty() {
                match Pin::new(&mut self.io).poll_write(cx, &answer) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        answer.drain(..n);
                        self.touch();
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        self.pending = Some((answer, stands_for));
                        return Poll::Pending;
                    }
                }
            }
            return Poll::Ready(Ok(stands_for.min(buf.len())));
        }
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.idle_expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// hyper answers a request it cannot parse (400), a head beyond
/// [`MAX_HEAD_BYTES`] (431) or a URI too long (414) itself, with an empty
/// body, before any handler runs. Such an answer is recognised by its status
/// line and the absence of a content type (every answer of ours has one) and
/// replaced by the problem+json the rest of the API gives.
fn problem_for_hyper_error(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, title, detail) = match buf.get(..13)? {
        b"HTTP/1.1 400 " | b"HTTP/1.0 400 " => {
            (400, "Bad Request", "the request could not be read as HTTP")
        }
        b"HTTP/1.1 414 " | b"HTTP/1.0 414 " => {
            (414, "URI Too Long", "the request's URI is too long")
        }
        b"HTTP/1.1 431 " | b"HTTP/1.0 431 " => (
            431,
            "Request Header Fields Too Large",
            "the request's headers are too large (64 KiB at most in all)",
        ),
        _ => return None,
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if head.contains("\r\ncontent-type:") || !head.contains("\r\ncontent-length: 0") {
        return None;
    }
    let slug = match status {
        400 => "bad-request",
        414 => "uri-too-long",
        _ => "headers-too-large",
    };
    let body = serde_json::json!({
        "type": format!("/problems/{slug}"),
        "title": title,
        "status": status,
        "detail": detail,
    })
    .to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_errors_are_rewritten() {
        let hyper431 =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(problem_for_hyper_error(hyper431).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "));
        assert!(out.contains("application/problem+json"));
        assert!(out.contains("\"status\":431"));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(problem_for_hyper_error(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(problem_for_hyper_error(ok).is_none());
        assert!(problem_for_hyper_error(b"HTTP/1.1 4").is_none());
    }
}
