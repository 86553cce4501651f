//! The `apiserver`: the Kubernetes API (the legacy group and named groups) over HTTPS, with its state in
//! an etcd v3 store (ours or a real etcd), in upstream's key layout and JSON encoding.
//!
//! Data path: `server` (TLS, routing, discovery, health, metrics) → `rest` (the generic
//! registry: metadata, validation, optimistic concurrency, watch translation; generic
//! subresources in `subresource`) driven by `registry` (groups, resources and their
//! strategies, one file per group) → `storage` (etcd KV and Watch), with LIST and WATCH
//! served by `cache` (a watch cache per resource, fed by one store watch, holding each
//! object as its JSON) and encoded item by item by `wire` (LIST bodies streamed in
//! chunks, watch events as lines). Errors are `status::ApiError`, rendered as upstream
//! `Status` objects. Custom resources join the registry at run time: `crdcontroller`
//! follows the stored CRDs and publishes their resources through `registry::custom`.
//! The apiserver is stateless: everything it serves comes from the store.

pub mod admission;
pub mod auth;
pub mod cache;
pub mod config;
pub mod crdcontroller;
pub mod decode_error;
pub mod discovery;
pub mod managedfields;
pub mod merging;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod rest;
pub mod schema;
pub mod selector;
pub mod server;
pub mod status;
pub mod storage;
pub mod subresource;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use component_base::Shutdown;

pub use config::Config;
use server::State;
use storage::Storage;

/// The namespaces upstream's system-namespaces controller keeps.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// A started apiserver.
pub struct Running {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Running {
    /// Flips `/readyz`, stops accepting and waits for tracked tasks.
    pub async fn stop(self, shutdown: &Shutdown) {
        self.state.shutting_down.store(true, Ordering::Release);
        shutdown.cancel();
        if !shutdown.wait(Duration::from_secs(5)).await {
            tracing::warn!("some tasks did not stop within 5 s");
        }
    }
}

/// Binds the secure port and starts serving; creating the system namespaces is retried
/// in the background until the store answers (`/readyz` waits for it).
pub async fn start(cfg: Config, shutdown: &Shutdown) -> anyhow::Result<Running> {
    let etcd_tls = match &cfg.etcd_cafile {
        Some(ca) => {
            let identity = cfg.etcd_certfile.as_deref().zip(cfg.etcd_keyfile.as_deref());
            Some(component_base::tls::client_config(ca, identity, &[b"h2"])?)
        }
        None => None,
    };
    let storage = Storage::connect(&cfg.etcd_servers, etcd_tls)?;
    let extra_sans: Vec<String> = cfg.advertise_address.iter().map(|a| a.to_string()).collect();
    let auth = auth::Auth::from_config(&cfg)?;
    let tls = server::tls_config(
        cfg.tls_cert_file.as_deref(),
        cfg.tls_private_key_file.as_deref(),
        &extra_sans,
        auth.tls_verifier(),
    )?;
    let listener = tokio::net::TcpListener::bind((cfg.bind_address, cfg.secure_port))
        .await
        .map_err(|e| anyhow::anyhow!("binding {}:{}: {e}", cfg.bind_address, cfg.secure_port))?;
    let addr = listener.local_addr()?;
    let advertise = cfg.advertise_address.unwrap_or(if cfg.bind_address.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        cfg.bind_address
    });
    registry::core::services::configure(cfg.service_config()?);
    admission::configure(&cfg.enable_admission_plugins, &cfg.disable_admission_plugins);
    admission::configure_from_file(cfg.admission_control_config_file.as_deref(), true).map_err(anyhow::Error::msg)?;
    admission::webhook::route_to_endpoints(cfg.enable_aggregator_routing);
    let state =
        State::new(storage.clone(), SocketAddr::new(advertise, addr.port()).to_string(), shutdown.token(), auth);
    if let Some(cacher) = &state.rest.cacher {
        // Like upstream, every resource's watch cache starts with the server.
        for r in registry::all() {
            cacher.get(&r.prefix());
        }
    }
    shutdown.spawn(server::serve(listener, tls, state.clone()));
    let boot = state.clone();
    let token = shutdown.token();
    shutdown.spawn(async move {
        tokio::select! {
            _ = ensure_system_namespaces(&boot) => {}
            _ = token.cancelled() => {}
        }
    });
    if state.auth.rbac_enabled() {
        let cache = state.auth.rbac_cache.clone();
        let storage = storage.clone();
        let token = shutdown.token();
        shutdown.spawn(async move {
            tokio::select! {
                _ = cache.run(&storage) => {}
                _ = token.cancelled() => {}
            }
        });
        let boot = state.clone();
        let token = shutdown.token();
        shutdown.spawn(async move {
            tokio::select! {
                _ = ensure_rbac_bootstrap(&boot) => {}
                _ = token.cancelled() => {}
            }
        });
    }
    // The CRD controllers (naming, establishing, finalizing) and the served custom resources.
    let crds = state.rest.clone();
    let token = shutdown.token();
    shutdown.spawn(async move {
        tokio::select! {
            _ = crdcontroller::run(crds) => {}
            _ = token.cancelled() => {}
        }
    });
    let counter = state.clone();
    let token = shutdown.token();
    shutdown.spawn(async move {
        tokio::select! {
            _ = count_objects(&counter) => {}
            _ = token.cancelled() => {}
        }
    });
    tracing::info!(%addr, etcd = ?cfg.etcd_servers, "serving securely");
    Ok(Running { addr, state })
}

/// Refreshes `apiserver_storage_objects` every 10 s (a count-only range per resource).
async fn count_objects(state: &State) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tick.tick().await;
        // Create-only resources (the reviews) store nothing.
        for r in registry::all().filter(|r| r.verbs.contains(&"list")) {
            match state.rest.storage.count(r.prefix().as_bytes()).await {
                Ok(n) => {
                    let label = server::ResourceLabel { resource: r.qualified_name() };
                    state.metrics.storage_objects.get_or_create(&label).set(n);
                }
                Err(e) => tracing::debug!(error = %e, resource = r.name, "counting stored objects failed"),
            }
        }
    }
}

/// Upstream's `rbac/bootstrap-roles` post-start hook: the default roles and bindings,
/// retried until the store answers.
async fn ensure_rbac_bootstrap(state: &State) {
    let mut delay = Duration::from_millis(100);
    loop {
        match auth::bootstrap::ensure(&state.rest.storage).await {
            Ok(n) => {
                tracing::info!(created = n, "bootstrap RBAC policy in place");
                state.rbac_bootstrapped.store(true, Ordering::Release);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "waiting for etcd to write the bootstrap RBAC policy");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Creates a system object when missing; rewrites a reconciled one that differs.
async fn keep_object(state: &State, b: &registry::Bootstrap) -> Result<(), status::ApiError> {
    let name = b.body["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let mut ctx = rest::WriteContext::default();
    match state.rest.get(b.resource, b.namespace, &name).await {
        Ok(current) => {
            let differs = ["subsets", "endpoints", "ports", "addressType"].iter().any(|f| current[f] != b.body[f]);
            if b.reconcile && differs {
                let mut body = b.body.clone();
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
                state.rest.update(b.resource, b.namespace, &name, body.to_string().as_bytes(), &mut ctx).await?;
                tracing::info!(resource = b.resource.name, name, "updated system object");
            }
            Ok(())
        }
        Err(e) if e.code == 404 => {
            match state.rest.create(b.resource, b.namespace, b.body.to_string().as_bytes(), &mut ctx).await {
                Ok(_) => {
                    tracing::info!(resource = b.resource.name, name, "created system object");
                    Ok(())
                }
                Err(e) if e.reason == "AlreadyExists" => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

async fn ensure_system_namespaces(state: &State) {
    let ns = registry::find("namespaces").expect("namespaces are registered");
    let mut delay = Duration::from_millis(100);
    'retry: loop {
        for name in SYSTEM_NAMESPACES {
            match state.rest.storage.get(ns.key(None, name).as_bytes()).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for etcd to create the system namespaces");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                    continue 'retry;
                }
            }
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match state.rest.create(ns, None, body.to_string().as_bytes(), &mut rest::WriteContext::default()).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => {
                    tracing::warn!(error = %e.message, namespace = name, "creating system namespace failed");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                    continue 'retry;
                }
            }
        }
        // The objects the apiserver keeps (system priority classes, the kubernetes
        // service and its endpoints).
        let me: SocketAddr = state.server_address.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 6443)));
        for b in registry::bootstrap_objects(me.ip(), me.port()) {
            if let Err(e) = keep_object(state, &b).await {
                let name = b.body["metadata"]["name"].as_str().unwrap_or_default();
                tracing::warn!(error = %e.message, resource = b.resource.name, name, "keeping a system object failed");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                continue 'retry;
            }
        }
        // Namespaces left Terminating by an earlier process are finished now.
        let all = state.rest.list(ns, None, &rest::ListOptions::default()).await;
        for item in all.iter().flat_map(|l| l["items"].as_array().cloned().unwrap_or_default()) {
            if item["metadata"]["deletionTimestamp"].is_string()
                && let Some(name) = item["metadata"]["name"].as_str()
            {
                state.rest.finalize_namespace(name).await;
            }
        }
        state.bootstrapped.store(true, Ordering::Release);
        return;
    }
}
