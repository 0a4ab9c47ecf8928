//! The metrics endpoint: `GET /metrics` (Prometheus text, see [`crate::metrics`]) and
//! `GET /healthz` (`200 ok` while connected to the broker and consuming, else
//! `503 disconnected`), on hyper's HTTP/1 server. Anything else is 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

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
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(respond(&req, &*shared)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
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
