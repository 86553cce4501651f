//! The client listener: one port serving the gRPC API (HTTP/2) and, like etcd, the
//! JSON gateway (`POST /v3/...`, base64 keys and values, int64 as strings) plus
//! `/health`, `/version` and `/metrics`, over plain TCP or TLS.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use component_base::h2_compat::AuthorityFix;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use proto::etcdserverpb as pb;
use proto::etcdserverpb::{
    auth_server::AuthServer, cluster_server::ClusterServer, kv_server::KvServer, lease_server::LeaseServer,
    maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use proto::etcdserverpb::{
    cluster_server::Cluster, kv_server::Kv, lease_server::Lease, maintenance_server::Maintenance,
};
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tower::ServiceExt;

use super::grpc::Services;
use super::{CLUSTER_VERSION, Server};
use crate::backend::Bucket;
use crate::bolt;

/// tonic's own decode limit; the etcd limit is enforced (with etcd's errors) inside.
const TONIC_MAX_MESSAGE: usize = 64 << 20;
/// Largest JSON body the gateway reads.
const GATEWAY_MAX_BODY: usize = 8 << 20;

pub async fn serve_client(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    server: Arc<Server>,
    cancel: CancellationToken,
) {
    let svcs = Services(server.clone());
    let routes = tonic::service::Routes::new(KvServer::new(svcs.clone()).max_decoding_message_size(TONIC_MAX_MESSAGE))
        .add_service(WatchServer::new(svcs.clone()).max_decoding_message_size(TONIC_MAX_MESSAGE))
        .add_service(LeaseServer::new(svcs.clone()))
        .add_service(ClusterServer::new(svcs.clone()))
        .add_service(MaintenanceServer::new(svcs.clone()).max_encoding_message_size(usize::MAX))
        .add_service(AuthServer::new(svcs.clone()))
        .prepare();
    serve_connections(listener, tls, cancel, move |req: Request<Incoming>| {
        let routes = routes.clone();
        let svcs = svcs.clone();
        async move {
            let is_grpc = req
                .headers()
                .get(http::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
            if is_grpc {
                // A learner serves only Status and serializable reads (as etcd's does).
                let path = req.uri().path();
                if svcs.0.raft.status.learner.load(std::sync::atomic::Ordering::Acquire)
                    && path != "/etcdserverpb.Maintenance/Status"
                    && path != "/etcdserverpb.KV/Range"
                {
                    return Ok(super::errors::not_supported_for_learner().into_http());
                }
                return routes.oneshot(req).await;
            }
            Ok::<_, Infallible>(handle_http(svcs, req).await)
        }
    })
    .await
}

/// Accepts connections (TLS when configured) and serves HTTP/1.1 and HTTP/2 (with or
/// without TLS) with `service` until `cancel` fires.
pub async fn serve_connections<F, Fut>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    cancel: CancellationToken,
    service: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let stream = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let cancel = cancel.clone();
        let service = hyper::service::service_fn(service.clone());
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http2().max_concurrent_streams(Some(u32::MAX)).initial_connection_window_size(Some(4 << 20));
            match acceptor {
                // etcd's older Go clients send "http://host:port" as the HTTP/2
                // :authority; h2_compat repairs such connections before hyper sees them.
                Some(a) => match a.accept(stream).await {
                    Ok(tls) => {
                        let io = TokioIo::new(AuthorityFix::new(tls));
                        let conn = builder.serve_connection(io, service);
                        tokio::select! { _ = conn => {}, _ = cancel.cancelled() => {} }
                    }
                    Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                },
                None => {
                    let conn = builder.serve_connection(TokioIo::new(AuthorityFix::new(stream)), service);
                    tokio::select! { _ = conn => {}, _ = cancel.cancelled() => {} }
                }
            }
        });
    }
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Body::new(Full::new(body.into())))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// grpc-gateway's HTTP status for a gRPC code.
fn http_status(code: tonic::Code) -> u16 {
    use tonic::Code::*;
    match code {
        Ok => 200,
        Cancelled => 499,
        InvalidArgument | OutOfRange => 400,
        FailedPrecondition => 412,
        DeadlineExceeded => 504,
        NotFound => 404,
        AlreadyExists | Aborted => 409,
        PermissionDenied => 403,
        Unauthenticated => 401,
        ResourceExhausted => 429,
        Unimplemented => 501,
        Unavailable => 503,
        _ => 500,
    }
}

/// grpc-gateway's error body, fields in its order (a struct, so the order does not
/// depend on serde_json's map features).
#[derive(serde::Serialize)]
struct GatewayError<'a> {
    error: &'a str,
    message: &'a str,
    code: i32,
}

fn error_json(s: &tonic::Status) -> Response<Body> {
    let body = GatewayError { error: s.message(), message: s.message(), code: s.code() as i32 };
    full(http_status(s.code()), "application/json", serde_json::to_vec(&body).unwrap_or_default())
}

fn to_json<T: serde::Serialize>(r: Result<tonic::Response<T>, tonic::Status>) -> Response<Body> {
    match r {
        Ok(resp) => match serde_json::to_vec(resp.get_ref()) {
            Ok(b) => full(200, "application/json", b),
            Err(e) => error_json(&tonic::Status::internal(e.to_string())),
        },
        Err(s) => error_json(&s),
    }
}

fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, tonic::Status> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| tonic::Status::invalid_argument(e.to_string()))
}

macro_rules! unary {
    ($trait:ident :: $method:ident, $svcs:expr, $body:expr) => {
        match parse($body) {
            Ok(req) => to_json($trait::$method($svcs, tonic::Request::new(req)).await),
            Err(s) => error_json(&s),
        }
    };
}

async fn handle_http(svcs: Services, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if let Some(r) = svcs.0.admin(&path) {
        return full(r.status, r.content_type, r.body);
    }
    // etcd serves the gateway under /v3, and the older /v3beta and /v3alpha prefixes.
    let Some(rest) = ["/v3/", "/v3beta/", "/v3alpha/"].iter().find_map(|p| path.strip_prefix(p)) else {
        return full(404, "text/plain", "404 page not found\n");
    };
    let rest = rest.to_string();
    if req.method() != http::Method::POST {
        return full(405, "text/plain", "Method Not Allowed\n");
    }
    let body = match http_body_util::Limited::new(req.into_body(), GATEWAY_MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error_json(&tonic::Status::invalid_argument(e.to_string())),
    };
    let s = &svcs;
    match rest.as_str() {
        "kv/range" => unary!(Kv::range, s, &body),
        "kv/put" => unary!(Kv::put, s, &body),
        "kv/deleterange" => unary!(Kv::delete_range, s, &body),
        "kv/txn" => unary!(Kv::txn, s, &body),
        "kv/compaction" => unary!(Kv::compact, s, &body),
        "lease/grant" => unary!(Lease::lease_grant, s, &body),
        "lease/revoke" | "kv/lease/revoke" => unary!(Lease::lease_revoke, s, &body),
        "lease/timetolive" | "kv/lease/timetolive" => unary!(Lease::lease_time_to_live, s, &body),
        "lease/leases" | "kv/lease/leases" => unary!(Lease::lease_leases, s, &body),
        "cluster/member/list" => unary!(Cluster::member_list, s, &body),
        "maintenance/status" => unary!(Maintenance::status, s, &body),
        "maintenance/alarm" => unary!(Maintenance::alarm, s, &body),
        "maintenance/defragment" => unary!(Maintenance::defragment, s, &body),
        "maintenance/hash" => match parse::<pb::HashKvRequest>(&body) {
            Ok(r) if r.revision != 0 => to_json(Maintenance::hash_kv(s, tonic::Request::new(r)).await),
            Ok(_) => to_json(Maintenance::hash(s, tonic::Request::new(pb::HashRequest {})).await),
            Err(e) => error_json(&e),
        },
        "watch" => watch(s, &body),
        "lease/keepalive" => keep_alive(s, &body).await,
        _ => full(404, "text/plain", "404 page not found\n"),
    }
}

/// A streamed gateway response: one `{"result": ...}` JSON object per line.
fn stream_body(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let s = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::new(StreamBody::new(s)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn result_line<T: serde::Serialize>(m: &T) -> Bytes {
    let mut v = serde_json::to_vec(&serde_json::json!({ "result": m })).unwrap_or_default();
    v.push(b'\n');
    v.into()
}

fn watch(svcs: &Services, body: &[u8]) -> Response<Body> {
    let req: pb::WatchRequest = match parse(body) {
        Ok(r) => r,
        Err(e) => return error_json(&e),
    };
    let hub = svcs.0.hub.clone();
    let (tx, mut rx) = mpsc::channel::<pb::WatchResponse>(1024);
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(16);
    let stream_id = hub.open_stream(tx);
    match req.request_union {
        Some(pb::watch_request::RequestUnion::CreateRequest(c)) => hub.create(stream_id, c),
        Some(pb::watch_request::RequestUnion::ProgressRequest(_)) => hub.request_progress(stream_id),
        _ => {}
    }
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if out_tx.send(result_line(&m)).await.is_err() {
                break;
            }
        }
        hub.close_stream(stream_id);
    });
    stream_body(out_rx)
}

async fn keep_alive(svcs: &Services, body: &[u8]) -> Response<Body> {
    let req: pb::LeaseKeepAliveRequest = match parse(body) {
        Ok(r) => r,
        Err(e) => return error_json(&e),
    };
    let server = &svcs.0;
    // The same renewal as the gRPC stream: through the log when this member follows.
    let ttl = match server.renew_lease(req.id).await {
        Ok(ttl) => ttl,
        Err(e) => return error_json(&e),
    };
    let resp =
        pb::LeaseKeepAliveResponse { header: Some(server.header(server.sm.mvcc.published_rev())), id: req.id, ttl };
    full(200, "application/json", result_line(&resp))
}

/// The Snapshot RPC's payload: the state as a bbolt database in etcd's bucket layout
/// (so `etcdctl snapshot status/restore` accept it), followed by its SHA-256, as etcd
/// appends it.
pub fn snapshot_bytes(server: &Server) -> Result<Vec<u8>, tonic::Status> {
    let internal = |e: &dyn std::fmt::Display| tonic::Status::internal(e.to_string());
    // Everything applied, read at one point (see `Mvcc::read_backend`).
    let [meta, alarm, key, lease] = server
        .sm
        .mvcc
        .read_backend(|backend| {
            [Bucket::Meta, Bucket::Alarm, Bucket::Key, Bucket::Lease].map(|b| backend.scan(b, b"", None))
        })
        .map_err(|e| internal(&e))?
        .map(|r| r.map_err(|e| internal(&e)));
    let meta: Vec<(Vec<u8>, Vec<u8>)> = meta?
        .into_iter()
        .filter(|(k, _)| {
            [
                crate::mvcc::META_CONSISTENT_INDEX,
                crate::mvcc::META_FINISHED_COMPACT,
                crate::mvcc::META_SCHEDULED_COMPACT,
            ]
            .contains(&k.as_slice())
        })
        .collect();
    let member = serde_json::json!({
        "id": server.id.member_id,
        "peerURLs": server.id.peer_urls,
        "name": server.id.name,
        "clientURLs": server.id.client_urls,
    });
    let bucket = |name: &str, items: Vec<(Vec<u8>, Vec<u8>)>| bolt::Bucket { name: name.as_bytes().to_vec(), items };
    let buckets = vec![
        bucket("alarm", alarm?),
        bucket("auth", vec![(b"authRevision".to_vec(), 1u64.to_be_bytes().to_vec())]),
        bucket("authRoles", vec![]),
        bucket("authUsers", vec![]),
        bucket("cluster", vec![(b"clusterVersion".to_vec(), CLUSTER_VERSION.as_bytes().to_vec())]),
        bucket("key", key?),
        bucket("lease", lease?),
        bucket("members", vec![(format!("{:x}", server.id.member_id).into_bytes(), member.to_string().into_bytes())]),
        bucket("members_removed", vec![]),
        bucket("meta", meta),
    ];
    let mut out = Vec::new();
    bolt::write_db(&mut out, &buckets).map_err(|e| internal(&e))?;
    let digest = sha2::Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}
