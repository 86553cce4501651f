//! The HTTPS server: TLS (given or self-signed), HTTP/1.1 and HTTP/2, routing of
//! `/version`, discovery, health, `/metrics` and the REST paths, request metrics.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::registry::{self, Resource, Subresource};
use crate::rest::{self, ListOptions, Rest, WriteContext};
use crate::status::ApiError;
use crate::wire::{self, Event, ListPage};
use crate::{discovery, openapi, storage::Storage};

pub type Body = BoxBody<Bytes, Infallible>;

/// Upstream's limit on request bodies (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    dry_run: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: String,
    component: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    verb: String,
    dry_run: String,
    group: String,
    version: String,
    resource: String,
    subresource: String,
    scope: String,
    component: String,
}

fn duration_histogram() -> Histogram {
    // Upstream's buckets for apiserver_request_duration_seconds.
    Histogram::new([
        0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0,
        30.0, 45.0, 60.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabel {
    pub resource: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    /// `apiserver_storage_objects`: objects stored per resource, refreshed periodically.
    pub storage_objects: Family<ResourceLabel, prometheus_client::metrics::gauge::Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            durations.clone(),
        );
        let storage_objects = Family::<ResourceLabel, prometheus_client::metrics::gauge::Gauge>::default();
        registry.register(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            storage_objects.clone(),
        );
        Metrics { registry, requests, durations, storage_objects }
    }
}

/// Shared server state.
pub struct State {
    pub rest: Rest,
    pub metrics: Metrics,
    /// Set once the default namespaces exist.
    pub bootstrapped: AtomicBool,
    /// Set when shutdown starts (`/readyz` fails from then on).
    pub shutting_down: AtomicBool,
    pub server_address: String,
    pub cancel: CancellationToken,
    /// Authentication and authorization (`crate::auth`).
    pub auth: crate::auth::Auth,
    /// Set once the bootstrap RBAC policy is written (when RBAC is enabled).
    pub rbac_bootstrapped: AtomicBool,
}

impl State {
    pub fn new(
        storage: Storage,
        server_address: String,
        cancel: CancellationToken,
        auth: crate::auth::Auth,
    ) -> Arc<State> {
        let cacher = crate::cache::Cacher::new(storage.clone(), Default::default(), cancel.clone());
        let mut metrics = Metrics::new();
        cacher.metrics().register(&mut metrics.registry);
        crate::admission::webhook::metrics().register(&mut metrics.registry);
        Arc::new(State {
            rest: Rest { cacher: Some(cacher), storage },
            metrics,
            bootstrapped: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            server_address,
            cancel,
            auth,
            rbac_bootstrapped: AtomicBool::new(false),
        })
    }
}

/// Builds the serving TLS config from files, or a self-signed certificate for
/// `localhost`, the loopback addresses and the `kubernetes` service names; with
/// `client_auth`, clients are asked for (not required to send) a certificate.
pub fn tls_config(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
    extra_sans: &[String],
    client_auth: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let alpn: &[&[u8]] = &[b"h2", b"http/1.1"];
    let builder = match client_auth {
        Some(v) => rustls::ServerConfig::builder().with_client_cert_verifier(v),
        None => rustls::ServerConfig::builder().with_no_client_auth(),
    };
    if let (Some(c), Some(k)) = (cert, key) {
        let certs = component_base::tls::load_certs(c)?;
        let key = component_base::tls::load_key(k)?;
        let mut cfg = builder.with_single_cert(certs, key)?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        return Ok(Arc::new(cfg));
    }
    let mut sans: Vec<String> =
        ["localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    sans.extend(extra_sans.iter().cloned());
    let generated = rcgen::generate_simple_self_signed(sans)?;
    let cert_der = generated.cert.der().clone();
    let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let mut cfg = builder.with_single_cert(vec![cert_der], key_der)?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// Accepts TLS connections until `cancel` fires.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, state: Arc<State>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let cancel = state.cancel.clone();
    loop {
        let (tcp, peer): (_, SocketAddr) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let cancel = state.cancel.clone();
            // The client certificate is verified once per connection.
            let identity = Arc::new(state.auth.connection_identity(tls.get_ref().1.peer_certificates()));
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                let identity = identity.clone();
                async move { Ok::<_, Infallible>(handle(state, req, &identity).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), svc);
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "connection ended") },
                _ = cancel.cancelled() => {}
            }
        });
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-cache, private")
        .body(Full::new(body.into()).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    full(status, "application/json", serde_json::to_vec(v).unwrap_or_default())
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.to_status())
}

/// What a request is, for metrics and logs.
struct RequestInfo {
    verb: &'static str,
    group: &'static str,
    version: &'static str,
    resource: String,
    subresource: &'static str,
    scope: &'static str,
}

/// A parsed REST path under `/api/v1` or `/apis/<group>/<version>`.
struct RestPath {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<Subresource>,
}

fn parse_rest_path(group: &str, version: &str, segs: &[&str]) -> Result<RestPath, ApiError> {
    let (ns, rest): (Option<String>, &[&str]) = match segs {
        // namespaces/<name>/status and /finalize are the namespace's own subresources.
        ["namespaces", _, sub] if group.is_empty() && Subresource::parse(sub).is_some() => (None, segs),
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_string()), rest),
        _ => (None, segs),
    };
    let (res, name, sub) = match rest {
        [res] => (*res, None, None),
        [res, name] => (*res, Some((*name).to_string()), None),
        [res, name, sub] => (*res, Some((*name).to_string()), Some(*sub)),
        _ => return Err(ApiError::no_route()),
    };
    let resource = registry::lookup(group, version, res).ok_or_else(ApiError::no_route)?;
    if ns.is_some() && !resource.namespaced {
        return Err(ApiError::no_route());
    }
    let subresource = match sub {
        None => None,
        Some(s) => Some(Subresource::parse(s).filter(|s| resource.has(*s)).ok_or_else(ApiError::no_route)?),
    };
    Ok(RestPath { resource, namespace: ns, name, subresource })
}

/// Reads a request body, at most [`MAX_BODY`] bytes.
async fn read_raw_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let body = Limited::new(req.into_body(), MAX_BODY).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::too_large()
        } else {
            ApiError::bad_request(format!("reading the request body: {e}"))
        }
    })?;
    Ok(body.to_bytes())
}

/// Reads a request body (JSON, or protobuf of `schema`) and returns it as JSON bytes.
async fn read_body(req: Request<Incoming>, schema: &[crate::protobuf::Field]) -> Result<Bytes, ApiError> {
    let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_string();
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let bytes = read_raw_body(req).await?;
    if bytes.is_empty() {
        return Ok(bytes);
    }
    match media.as_str() {
        "application/json" | "" | "*/*" => Ok(bytes),
        "application/yaml" => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::bad_request("error converting YAML to JSON: invalid UTF-8"))?;
            let v: Value = serde_saphyr::from_str(text).map_err(|e| {
                // Upstream's words and body summary; the resource's kind is put in front
                // by the caller (`unrecognized_yaml`).
                let summary = crate::decode_error::summarize(&bytes);
                ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e} ({summary})"))
            })?;
            Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
        }
        "application/vnd.kubernetes.protobuf" => {
            let v = crate::protobuf::decode_object(&bytes, schema).map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
        }
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ])),
    }
}

/// A YAML body that does not parse: upstream names the type it was decoding.
fn unrecognized_yaml(mut e: ApiError, res: &registry::Resource) -> ApiError {
    if e.message.starts_with("error converting YAML to JSON") {
        e.message = format!("the object provided is unrecognized (must be of type {}): {}", res.kind, e.message);
    }
    e
}

/// The shape a client asked for in the first entry of `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Full,
    /// `as=Table;g=meta.k8s.io`
    Table,
    /// `as=PartialObjectMetadata[List];g=meta.k8s.io`
    Metadata,
}

fn requested_shape(req: &Request<Incoming>) -> Shape {
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = accept.split(',').next().unwrap_or("");
    let params: Vec<&str> = first.split(';').map(str::trim).collect();
    if !params.contains(&"g=meta.k8s.io") {
        return Shape::Full;
    }
    if params.contains(&"as=Table") {
        Shape::Table
    } else if params.contains(&"as=PartialObjectMetadata") || params.contains(&"as=PartialObjectMetadataList") {
        Shape::Metadata
    } else {
        Shape::Full
    }
}

fn shape_event(shape: Shape, res: &Resource, ev: Event) -> Event {
    match shape {
        Shape::Full => ev,
        _ if ev.kind == "ERROR" => ev,
        Shape::Table => Event::new(ev.kind, &to_table(res, &ev.object_value())),
        Shape::Metadata => Event::new(ev.kind, &partial_metadata(&ev.object_value())),
    }
}

/// A LIST's response in the requested shape: small lists in one piece, big ones
/// streamed in chunks as their items are encoded (never whole in memory).
fn list_response(shape: Shape, res: &'static Resource, page: ListPage) -> Response<Body> {
    let convert = page.convert.clone();
    let meta_k8s = Value::from("meta.k8s.io/v1");
    let chunks: Box<dyn Iterator<Item = Bytes> + Send + Sync> = match shape {
        Shape::Full => Box::new(wire::Chunks::new(page.head(), page.items, move |i, out| {
            wire::write_item(i, convert.as_ref(), out)
        })),
        Shape::Table => {
            let cols = Value::Array(table_columns(res));
            let head = wire::envelope(
                &[
                    ("kind", &Value::from("Table")),
                    ("apiVersion", &meta_k8s),
                    ("metadata", &page.metadata),
                    ("columnDefinitions", &cols),
                ],
                "rows",
            );
            Box::new(wire::Chunks::new(head, page.items, move |i, out| {
                let _ = serde_json::to_writer(&mut *out, &table_row(res, &wire::item_value(i, convert.as_ref())));
            }))
        }
        Shape::Metadata => {
            let head = wire::envelope(
                &[
                    ("kind", &Value::from("PartialObjectMetadataList")),
                    ("apiVersion", &meta_k8s),
                    ("metadata", &page.metadata),
                ],
                "items",
            );
            Box::new(wire::Chunks::new(head, page.items, move |i, out| {
                let _ = serde_json::to_writer(&mut *out, &partial_metadata(&wire::item_value(i, convert.as_ref())));
            }))
        }
    };
    let mut chunks = chunks.peekable();
    let first = chunks.next().unwrap_or_default();
    if chunks.peek().is_none() {
        return full(StatusCode::OK, "application/json", first);
    }
    let body = futures::stream::iter(std::iter::once(first).chain(chunks)).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(BodyExt::boxed(StreamBody::new(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>, identity: &crate::auth::ConnIdentity) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let mut info =
        RequestInfo { verb: "get", group: "", version: "", resource: String::new(), subresource: "", scope: "" };
    let span = tracing::debug_span!("request", %method, path, user = tracing::field::Empty);
    let filtered = crate::auth::filter(
        &state.auth,
        &state.rest.storage,
        &method,
        &path,
        query.as_deref(),
        req.headers(),
        identity,
    )
    .instrument(span.clone())
    .await;
    let resp = match filtered {
        Ok(user) => {
            span.record("user", user.name.as_str());
            req.extensions_mut().insert(crate::auth::RequestUser(user));
            route(&state, req, &method, &path, query.as_deref(), &mut info).instrument(span).await
        }
        Err(e) => error_response(&e),
    };
    let code = resp.status().as_u16().to_string();
    if !info.resource.is_empty() {
        let dl = DurationLabels {
            // Upstream's `cleanVerb`: LIST and WATCH, else the HTTP method.
            verb: match info.verb {
                "create" => "POST".into(),
                "update" => "PUT".into(),
                v => v.to_ascii_uppercase(),
            },
            dry_run: String::new(),
            group: info.group.into(),
            version: info.version.into(),
            resource: info.resource.clone(),
            subresource: info.subresource.into(),
            scope: info.scope.into(),
            component: "apiserver".into(),
        };
        let rl = RequestLabels {
            verb: dl.verb.clone(),
            dry_run: String::new(),
            group: dl.group.clone(),
            version: dl.version.clone(),
            resource: dl.resource.clone(),
            subresource: dl.subresource.clone(),
            scope: dl.scope.clone(),
            component: "apiserver".into(),
            code,
        };
        state.metrics.requests.get_or_create(&rl).inc();
        if info.verb != "watch" {
            state.metrics.durations.get_or_create(&dl).observe(start.elapsed().as_secs_f64());
        }
    }
    tracing::debug!(%method, path, status = resp.status().as_u16(), elapsed_ms = start.elapsed().as_millis() as u64, "request");
    resp
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    info: &mut RequestInfo,
) -> Response<Body> {
    let path = path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => json_response(StatusCode::OK, &discovery::version()),
        [root @ ("api" | "apis")] => {
            let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
            let mut resp = match discovery::aggregated_version(accept) {
                Some(v) => {
                    let doc =
                        if *root == "api" { discovery::aggregated_core(v) } else { discovery::aggregated_groups(v) };
                    full(
                        StatusCode::OK,
                        &discovery::aggregated_content_type(v),
                        serde_json::to_vec(&doc).unwrap_or_default(),
                    )
                }
                None if *root == "api" => {
                    json_response(StatusCode::OK, &discovery::api_versions(&state.server_address))
                }
                None => json_response(StatusCode::OK, &discovery::api_groups()),
            };
            resp.headers_mut().insert("vary", http::HeaderValue::from_static("Accept"));
            resp
        }
        ["api", "v1"] => json_response(StatusCode::OK, &discovery::core_v1_resources()),
        ["apis", group] => match registry::group(group).filter(|g| !g.name.is_empty()) {
            Some(g) => json_response(StatusCode::OK, &discovery::api_group(g)),
            None => error_response(&ApiError::no_route()),
        },
        ["apis", group, version] => match registry::group(group).filter(|g| !g.name.is_empty()) {
            Some(g) => match g.versions.iter().find(|v| v.version == *version) {
                Some(gv) => json_response(StatusCode::OK, &discovery::group_version_resources(g, gv)),
                None => error_response(&ApiError::no_route()),
            },
            None => error_response(&ApiError::no_route()),
        },
        ["openapi", "v3"] => json_response(StatusCode::OK, &openapi::v3_index()),
        ["openapi", "v3", gv @ ..] => match openapi::v3_document(&gv.join("/")) {
            Some((body, hash)) => {
                let mut resp = full(StatusCode::OK, "application/json", body.to_vec());
                // A document asked for by its current hash never changes.
                if query.is_some_and(|q| q.split('&').any(|kv| kv == format!("hash={hash}"))) {
                    resp.headers_mut().insert("cache-control", http::HeaderValue::from_static("public, immutable"));
                }
                resp
            }
            None => error_response(&ApiError::no_route()),
        },
        ["openapi", "v2"] => {
            let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
            if accept.is_empty() || accept.contains("json") || accept.contains("*/*") {
                full(StatusCode::OK, "application/json", openapi::v2_document().to_vec())
            } else {
                // The protobuf form (gnostic) is not served.
                full(StatusCode::NOT_ACCEPTABLE, "text/plain", b"only application/json is served".to_vec())
            }
        }
        ["metrics"] => {
            let r = component_base::admin::encode_metrics(&state.metrics.registry);
            full(StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK), r.content_type, r.body)
        }
        [kind @ ("healthz" | "livez" | "readyz"), rest @ ..] => health(state, kind, rest, query).await,
        [".well-known", "openid-configuration"] | ["openid", "v1", "jwks"] if !state.auth.sa_keys.is_empty() => {
            let (doc, content_type) = crate::auth::review::issuer_discovery(&state.auth, &state.server_address, &segs);
            let mut resp = full(StatusCode::OK, content_type, serde_json::to_vec(&doc).unwrap_or_default());
            resp.headers_mut().insert("cache-control", http::HeaderValue::from_static("public, max-age=3600"));
            resp
        }
        ["api", "v1", "namespaces", ns, "serviceaccounts", name, "token"] if method == Method::POST => {
            let body = match read_body(req, crate::auth::review::TOKEN_REQUEST).await {
                Ok(b) => b,
                Err(e) => return error_response(&e),
            };
            match crate::auth::review::token_request(&state.auth, &state.rest.storage, ns, name, &body).await {
                Ok(v) => json_response(StatusCode::CREATED, &v),
                Err(e) => error_response(&e),
            }
        }
        [
            "apis",
            group @ (crate::auth::review::AUTHENTICATION | crate::auth::review::AUTHORIZATION),
            "v1",
            rest @ ..,
        ] if !rest.is_empty() => {
            if method != Method::POST {
                return error_response(&ApiError::method_not_allowed());
            }
            let user = req.extensions().get::<crate::auth::RequestUser>().map(|u| u.0.clone()).unwrap_or_default();
            let schema = crate::auth::review::schema(rest.last().copied().unwrap_or_default());
            let body = match read_body(req, schema).await {
                Ok(b) => b,
                Err(e) => return error_response(&e),
            };
            match crate::auth::review::handle(&state.auth, &state.rest.storage, &user, group, rest, &body).await {
                Some(Ok(v)) => json_response(StatusCode::CREATED, &v),
                Some(Err(e)) => error_response(&e),
                None => error_response(&ApiError::no_route()),
            }
        }
        ["api", "v1", rest @ ..] | ["apis", _, _, rest @ ..] => {
            let (group, version) = match segs.as_slice() {
                ["apis", g, v, ..] => (*g, *v),
                _ => ("", "v1"),
            };
            let rp = match parse_rest_path(group, version, rest) {
                Ok(rp) => rp,
                Err(e) => return error_response(&e),
            };
            info.group = rp.resource.group;
            info.version = rp.resource.version;
            info.subresource = rp.subresource.map_or("", Subresource::name);
            info.resource = rp.resource.name.to_string();
            info.scope = match (&rp.name, &rp.namespace) {
                (Some(_), _) => "resource",
                (None, Some(_)) => "namespace",
                (None, None) => "cluster",
            };
            // Admission webhooks' warnings go back on failed requests too.
            let webhook_warnings = crate::admission::webhook::Warnings::default();
            let call = rest_call(state, req, method, query, &rp, info);
            let mut resp = match crate::admission::webhook::WARNINGS.scope(webhook_warnings.clone(), call).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            };
            for w in webhook_warnings.take() {
                let quoted = serde_json::to_string(&w).unwrap_or_default();
                if let Ok(v) = http::HeaderValue::from_str(&format!("299 - {quoted}")) {
                    resp.headers_mut().append("warning", v);
                }
            }
            if let Some(w) = rp.resource.warning
                && let Ok(v) = http::HeaderValue::from_str(&format!("299 - {}", serde_json::Value::from(w)))
            {
                resp.headers_mut().append("warning", v);
            }
            resp
        }
        _ => error_response(&ApiError::no_route()),
    }
}

async fn rest_call(
    state: &Arc<State>,
    req: Request<Incoming>,
    method: &Method,
    query: Option<&str>,
    rp: &RestPath,
    info: &mut RequestInfo,
) -> Result<Response<Body>, ApiError> {
    let rest = &state.rest;
    let res = rp.resource;
    let ns = rp.namespace.as_deref();
    let shape = requested_shape(&req);
    let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let admit = crate::auth::escalation::admit(state, &req, res, ns);
    let requester = req.extensions().get::<crate::auth::RequestUser>().map(|u| u.0.clone());
    // One object; lists go through `list_response`.
    let render = |v: Value, code: StatusCode| match shape {
        Shape::Full => json_response(code, &v),
        Shape::Table => json_response(code, &to_table(res, &v)),
        Shape::Metadata => json_response(code, &partial_metadata(&v)),
    };
    if let (Some(sub), Some(name)) = (rp.subresource, &rp.name) {
        if res.namespaced && ns.is_none() {
            return Err(ApiError::no_route());
        }
        let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
        ctx.user = requester.clone();
        ctx.subresource = Some(sub.name());
        ctx.admit = crate::auth::certificates::admit(state, requester.as_ref(), res, sub);
        let (verb, obj, code) = match (sub, method) {
            (Subresource::Binding, &Method::POST) => {
                let body = read_body(req, crate::registry::proto::BINDING).await?;
                ("create", rest.bind(res, ns, name, &body, &mut ctx).await?, StatusCode::CREATED)
            }
            (Subresource::Eviction, &Method::POST) => {
                let body = read_body(req, crate::registry::proto::EVICTION).await?;
                ("create", rest.evict(res, ns, name, &body, &mut ctx).await?, StatusCode::CREATED)
            }
            (Subresource::Binding | Subresource::Eviction, _) => return Err(ApiError::method_not_allowed()),
            (_, &Method::GET) => ("get", rest.get_subresource(res, sub, ns, name).await?, StatusCode::OK),
            (_, &Method::PUT) => {
                let schema = if sub == Subresource::Scale { crate::registry::proto::SCALE } else { res.proto };
                let body = read_body(req, schema).await?;
                ("update", rest.update_subresource(res, sub, ns, name, &body, &mut ctx).await?, StatusCode::OK)
            }
            (_, &Method::PATCH) => {
                let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                let body = read_raw_body(req).await?;
                ("patch", rest.patch_subresource(res, sub, ns, name, &media, &body, &mut ctx).await?, StatusCode::OK)
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        info.verb = verb;
        let resp = if sub == Subresource::Status { render(obj, code) } else { json_response(code, &obj) };
        return Ok(with_warnings(resp, &ctx));
    }
    match (method, &rp.name) {
        (&Method::GET, None) => {
            let opts = ListOptions::parse(query)?;
            if opts.watch {
                info.verb = "watch";
                let events = rest.watch(res, rp.namespace.clone(), &opts).await?;
                let cancel = state.cancel.clone();
                let body = events
                    .map(move |ev| shape_event(shape, res, ev))
                    .map(|ev| Ok::<_, Infallible>(Frame::data(ev.line())))
                    .take_until(async move { cancel.cancelled().await });
                return Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .header("cache-control", "no-cache, private")
                    .body(BodyExt::boxed(StreamBody::new(body)))
                    .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed())));
            }
            info.verb = "list";
            Ok(list_response(shape, res, rest.list_page(res, ns, &opts).await?))
        }
        (&Method::POST, None) => {
            info.verb = "create";
            if res.namespaced && ns.is_none() {
                return Err(ApiError::method_not_allowed());
            }
            if res.group.is_empty() && res.name == "bindings" {
                // The legacy bindings collection binds the pod the Binding names.
                let body = read_body(req, crate::registry::proto::BINDING).await?;
                let mut ctx = WriteContext::from_query(query)?;
                let name = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|b| b["metadata"]["name"].as_str().map(String::from));
                let pods = registry::find("pods").expect("pods are registered");
                let out = rest.bind(pods, ns, name.as_deref().unwrap_or_default(), &body, &mut ctx).await?;
                return Ok(json_response(StatusCode::CREATED, &out));
            }
            let body = read_body(req, res.proto).await.map_err(|e| unrecognized_yaml(e, res))?;
            let body = crate::auth::certificates::with_requester(res, requester.as_ref(), body);
            let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
            ctx.user = requester.clone();
            ctx.admit = admit.clone().or_else(|| crate::auth::certificates::admit_create(res));
            let obj = rest.create(res, ns, &body, &mut ctx).await?;
            Ok(with_warnings(render(obj, StatusCode::CREATED), &ctx))
        }
        (&Method::GET, Some(name)) => {
            if res.namespaced && ns.is_none() {
                return Err(ApiError::no_route());
            }
            info.verb = "get";
            Ok(render(rest.get(res, ns, name).await?, StatusCode::OK))
        }
        (&Method::PUT, Some(name)) => {
            info.verb = "update";
            let body = read_body(req, res.proto).await.map_err(|e| unrecognized_yaml(e, res))?;
            let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
            ctx.user = requester.clone();
            ctx.admit = admit.clone();
            let obj = rest.update(res, ns, name, &body, &mut ctx).await?;
            Ok(with_warnings(render(obj, StatusCode::OK), &ctx))
        }
        (&Method::DELETE, Some(name)) => {
            info.verb = "delete";
            let body = read_body(req, crate::protobuf::DELETE_OPTIONS).await?;
            let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
            ctx.user = requester.clone();
            let out = rest.delete(res, ns, name, &body, &mut ctx).await?;
            Ok(with_warnings(json_response(StatusCode::OK, &out), &ctx))
        }
        (&Method::PATCH, Some(name)) => {
            info.verb = "patch";
            let ct = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            let body = read_raw_body(req).await?;
            let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
            ctx.user = requester.clone();
            ctx.admit = admit.clone();
            let obj = rest.patch(res, ns, name, &media, &body, &mut ctx).await?;
            Ok(with_warnings(render(obj, StatusCode::OK), &ctx))
        }
        (&Method::DELETE, None) if res.verbs.contains(&"deletecollection") => {
            info.verb = "deletecollection";
            let opts = ListOptions::parse(query)?;
            let body = read_body(req, crate::protobuf::DELETE_OPTIONS).await?;
            let mut ctx = WriteContext::from_query(query)?.with_user_agent(&user_agent);
            ctx.user = requester.clone();
            let out = rest.delete_collection(res, ns, &opts, &body, &mut ctx).await?;
            Ok(with_warnings(json_response(StatusCode::OK, &out), &ctx))
        }
        _ => {
            // Read the body first: answering before it is read resets the HTTP/2 stream,
            // which some clients (curl) report as a failed transfer.
            let _ = read_raw_body(req).await;
            Err(ApiError::method_not_allowed())
        }
    }
}

/// Adds the request's warnings as `Warning: 299 - "<text>"` headers.
fn with_warnings(mut resp: Response<Body>, ctx: &WriteContext) -> Response<Body> {
    for w in &ctx.warnings {
        let quoted = serde_json::to_string(w).unwrap_or_default();
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - {quoted}")) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

fn partial_metadata(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"].clone(),
    })
}

/// A `meta.k8s.io/v1` Table of one object, with the resource's columns.
fn to_table(res: &Resource, v: &Value) -> Value {
    let mut meta = serde_json::json!({});
    if let Some(rv) = v["metadata"].get("resourceVersion") {
        meta["resourceVersion"] = rv.clone();
    }
    serde_json::json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": table_columns(res),
        "rows": [table_row(res, v)],
    })
}

/// A Table's `columnDefinitions`.
fn table_columns(res: &Resource) -> Vec<Value> {
    res.columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name, "type": c.ty, "format": c.format, "description": c.description, "priority": c.priority,
            })
        })
        .collect()
}

/// A Table row of one object.
fn table_row(res: &Resource, o: &Value) -> Value {
    serde_json::json!({"cells": res.row_cells(o), "object": partial_metadata(o)})
}

/// `/healthz`, `/livez`, `/readyz` (and `/<kind>/<check>`), as upstream renders them.
async fn health(state: &Arc<State>, kind: &str, rest: &[&str], query: Option<&str>) -> Response<Body> {
    let etcd_ok =
        tokio::time::timeout(Duration::from_secs(2), state.rest.storage.ping()).await.is_ok_and(|r| r.is_ok());
    let bootstrapped = state.bootstrapped.load(Ordering::Acquire);
    let mut checks: Vec<(&str, bool)> = vec![("ping", true), ("log", true), ("etcd", etcd_ok)];
    if kind == "readyz" {
        checks.push(("etcd-readiness", etcd_ok));
        checks.push(("informer-sync", true));
    }
    checks.push(("poststarthook/start-system-namespaces-controller", bootstrapped));
    checks.push(("poststarthook/bootstrap-controller", bootstrapped));
    checks.push(("poststarthook/crd-informer-synced", registry::custom::synced()));
    if state.auth.rbac_enabled() {
        checks.push(("poststarthook/rbac/bootstrap-roles", state.rbac_bootstrapped.load(Ordering::Acquire)));
    }
    if kind == "readyz" {
        checks.push(("shutdown", !state.shutting_down.load(Ordering::Acquire)));
    }
    if let [check] = rest {
        return match checks.iter().find(|(n, _)| n == check) {
            Some((_, true)) => full(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
            Some((n, false)) => full(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("internal server error: {n} check failed\n"),
            ),
            None => error_response(&ApiError::no_route()),
        };
    }
    let exclude: Vec<String> =
        rest::form_pairs(query).into_iter().filter(|(k, _)| k == "exclude").map(|(_, v)| v).collect();
    let verbose = rest::form_pairs(query).iter().any(|(k, _)| k == "verbose");
    let mut out = String::new();
    let mut failed = false;
    for (name, ok) in &checks {
        if exclude.iter().any(|e| e == name) {
            out.push_str(&format!("[+]{name} excluded: ok\n"));
        } else if *ok {
            out.push_str(&format!("[+]{name} ok\n"));
        } else {
            failed = true;
            out.push_str(&format!("[-]{name} failed: reason withheld\n"));
        }
    }
    if failed {
        out.push_str(&format!("{kind} check failed\n"));
        return full(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", out);
    }
    if verbose {
        out.push_str(&format!("{kind} check passed\n"));
        return full(StatusCode::OK, "text/plain; charset=utf-8", out);
    }
    full(StatusCode::OK, "text/plain; charset=utf-8", "ok")
}
