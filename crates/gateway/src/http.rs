//! The metrics endpoint: `GET /metrics` (Prometheus text, see [`crate::metrics`]) and
//! `GET /healthz` (`200 ok` while connected to the broker and consuming, else
//! `503 disconnected`), on hyper's HTTP/1 server. Anything else is 404.
//!
//! The endpoint must not become a way to starve the gateway of file descriptors or tasks,
//! whoever can reach it:
//!
//! - at most [`MAX_CONNECTIONS`] connections at once; one more is closed at once, unanswered;
//! - a client has [`HEADER_TIMEOUT`] to send a request's headers (a slowloris connection
//!   that never finishes them is closed), and a connection lasts at most
//!   [`CONNECTION_TIMEOUT`] in all (keep-alive included; a scraper reconnects);
//! - an accept error (out of file descriptors: `EMFILE`) waits before the next accept,
//!   100 ms doubling to [`MAX_ACCEPT_BACKOFF`] while accepts keep failing, and is logged
//!   once per run of failures, instead of spinning.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::log;

/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection may last in all.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait after a failed accept.
pub const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What the endpoint reports; the service implements it, so this module needs nothing of
/// the service's (imports run one way: service → http).
pub trait Health: Send + Sync + 'static {
    /// The Prometheus text of every metric.
    fn metrics_text(&self) -> String;
    /// Whether the gateway is connected to the broker and consuming.
    fn healthy(&self) -> bool;
}

/// Binds `addr` (an error now if it cannot) and serves in the background.
pub async fn serve<S: Health>(addr: SocketAddr, shared: Arc<S>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut backoff: Option<Duration> = None;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = None;
                    stream
                }
                Err(e) => {
                    let wait = match backoff {
                        None => {
                            log::warn("metrics-accept-failed", &[("error", &e.to_string())]);
                            Duration::from_millis(100)
                        }
                        Some(d) => (d * 2).min(MAX_ACCEPT_BACKOFF),
                    };
                    backoff = Some(wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            // Over the limit: closed at once (dropped), unanswered.
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(respond(&req, &*shared)) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            });
        }
    });
    Ok(bound)
}

fn respond<B, S: Health>(req: &Request<B>, shared: &S) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics_text(),
        ),
        (&Method::GET, "/healthz") if shared.healthy() => {
            reply(StatusCode::OK, "text/plain", "ok\n".into())
        }
        (&Method::GET, "/healthz") => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "disconnected\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}
