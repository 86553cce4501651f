//! A small HTTP/1.1 server for admin endpoints (`/healthz`, `/livez`, `/readyz`,
//! `/metrics`, and whatever a component adds). Handlers are plain functions of the
//! path and query; anything richer belongs to the component's own server.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A response from an admin handler.
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Self { status, content_type: "text/plain; charset=utf-8", body: body.into() }
    }
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Self { status, content_type: "application/json", body: body.into() }
    }
    pub fn not_found() -> Self {
        Self::text(404, "404 page not found\n")
    }
}

/// Maps (method, path, query) to a response.
pub type AdminHandler = Arc<dyn Fn(&str, &str, Option<&str>) -> HttpResponse + Send + Sync>;

/// Serves `handler` on `listener` until `cancel` fires.
pub async fn serve_http(listener: TcpListener, handler: AdminHandler, cancel: CancellationToken) {
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => { tracing::warn!(error = %e, "admin accept failed"); continue; }
            },
        };
        let handler = handler.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let r = handler(req.method().as_str(), req.uri().path(), req.uri().query());
                    let resp = Response::builder()
                        .status(r.status)
                        .header("content-type", r.content_type)
                        .body(Full::new(r.body))
                        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
}

/// Encodes a prometheus-client registry in the text exposition format.
pub fn encode_metrics(registry: &prometheus_client::registry::Registry) -> HttpResponse {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        return HttpResponse::text(500, "metrics encoding failed\n");
    }
    HttpResponse { status: 200, content_type: "text/plain; version=0.0.4; charset=utf-8", body: out.into() }
}
