//! The store server: opens the data directory, starts the Raft member and the watch
//! hub, and serves the etcd v3 gRPC API and its JSON gateway on the client URLs, the
//! peer transport on the peer URLs, plus `/health` and `/metrics` on the metrics URLs.

mod cluster;
pub mod config;
pub mod errors;
mod gateway;
mod grpc;
pub mod metrics;
mod validate;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use component_base::{HttpResponse, Shutdown};
use proto::etcdserverpb::{AlarmRequest, AlarmType, LeaseRevokeRequest, ResponseHeader, alarm_request::AlarmAction};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tonic::Status;

use crate::apply::{Request, Response, StateMachine};
use crate::backend::{Backend, Bucket, SledBackend, WriteBatch};
use crate::membership::{META_CLUSTER_ID, META_MEMBER_ID, META_TERM};
use crate::raft::{self, RaftHandle};
use crate::watch::WatchHub;
pub use config::Config;
use metrics::Metrics;

/// The version this server reports (etcd's API level it implements).
pub const SERVER_VERSION: &str = "3.5.0";
pub const CLUSTER_VERSION: &str = "3.5.0";

/// The member's identity, fixed at bootstrap and kept in the data directory.
#[derive(Clone, Debug)]
pub struct Identity {
    pub member_id: u64,
    pub cluster_id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
}

/// Everything the RPC handlers share.
pub struct Server {
    pub cfg: Config,
    pub sm: Arc<StateMachine>,
    pub hub: Arc<WatchHub>,
    /// Every write goes through Raft, a single member included.
    pub raft: RaftHandle,
    pub metrics: Arc<Metrics>,
    pub id: Identity,
    db_size: AtomicI64,
}

fn hash_id(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().unwrap_or([1; 8])).max(1)
}

/// A member's id, from its peer URLs and the cluster token (as etcd derives it).
pub fn member_id_for(peer_urls: &[String], token: &str) -> u64 {
    let mut sorted = peer_urls.to_vec();
    sorted.sort();
    hash_id(&[sorted.join("").as_bytes(), token.as_bytes()])
}

/// How a member's start began.
enum Start {
    /// A new data directory in a new cluster: bootstrap the initial members.
    New,
    /// A new data directory joining an existing cluster: the members it reported.
    Joined(Vec<proto::etcdserverpb::Member>),
    /// The data directory was in use before.
    Restart,
}

fn read_u64(b: &dyn Backend, key: &[u8]) -> anyhow::Result<Option<u64>> {
    Ok(b.get(Bucket::Meta, key)?.and_then(|v| v.try_into().ok().map(u64::from_be_bytes)))
}

/// Loads the identity from the data directory, or creates it on first start: in a new
/// cluster the member id comes from the peer URLs and cluster token and the cluster id
/// from the member ids (like etcd); a member joining an existing cluster asks the other
/// members which member it is (it must have been added with MemberAdd). Returns the
/// identity and how this start began.
async fn bootstrap(cfg: &Config, backend: &dyn Backend) -> anyhow::Result<(Identity, Start)> {
    let peer_urls: Vec<String> = cfg.initial_advertise_peer_urls.iter().map(config::trim).collect();
    let client_urls: Vec<String> = cfg.advertise_client_urls.iter().map(config::trim).collect();
    // The ids of this member in the new cluster the flags describe.
    let new_ids = || -> anyhow::Result<(u64, u64)> {
        let mut ids: Vec<u64> =
            cfg.initial_members()?.iter().map(|(_, urls)| member_id_for(urls, &cfg.initial_cluster_token)).collect();
        ids.sort_unstable();
        let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_be_bytes()).collect();
        Ok((member_id_for(&peer_urls, &cfg.initial_cluster_token), hash_id(&[&bytes])))
    };
    let mut start = Start::New;
    let (member_id, cluster_id) = match (read_u64(backend, META_MEMBER_ID)?, read_u64(backend, META_CLUSTER_ID)?) {
        (Some(m), Some(c)) => {
            // A data directory in use: --initial-cluster-state no longer matters, except
            // that a member of a new cluster which stopped before its first state was
            // written may still bootstrap it (the same state every member starts from).
            if !(cfg.initial_cluster_state == "new" && new_ids()? == (m, c)) {
                start = Start::Restart;
            }
            (m, c)
        }
        _ if cfg.initial_cluster_state == "existing" => {
            let others: Vec<String> = cfg
                .initial_members()?
                .into_iter()
                .filter(|(_, urls)| urls.iter().all(|u| !peer_urls.contains(u)))
                .filter_map(|(_, urls)| urls.into_iter().next())
                .collect();
            let r = raft::transport::join(&others, &peer_urls, peer_client_tls(cfg)?)
                .await
                .context("joining the existing cluster (--initial-cluster-state existing)")?;
            let joined = r
                .members
                .into_iter()
                .map(|m| proto::etcdserverpb::Member {
                    id: m.id,
                    peer_ur_ls: m.peer_urls,
                    is_learner: m.is_learner,
                    ..Default::default()
                })
                .collect();
            start = Start::Joined(joined);
            tracing::info!(
                member_id = format!("{:x}", r.member_id),
                cluster_id = format!("{:x}", r.cluster_id),
                "joining an existing cluster"
            );
            (r.member_id, r.cluster_id)
        }
        _ => new_ids()?,
    };
    let term = read_u64(backend, META_TERM)?.unwrap_or(1) + 1;
    let mut b = WriteBatch::default();
    b.put(Bucket::Meta, META_MEMBER_ID.to_vec(), member_id.to_be_bytes().to_vec());
    b.put(Bucket::Meta, META_CLUSTER_ID.to_vec(), cluster_id.to_be_bytes().to_vec());
    b.put(Bucket::Meta, META_TERM.to_vec(), term.to_be_bytes().to_vec());
    backend.write(b)?;
    backend.flush()?;
    Ok((Identity { member_id, cluster_id, name: cfg.name.clone(), peer_urls, client_urls }, start))
}

impl Server {
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.id.cluster_id,
            member_id: self.id.member_id,
            revision,
            raft_term: self.term(),
        }
    }

    pub fn term(&self) -> u64 {
        self.raft.status.term.load(Ordering::Acquire)
    }

    /// The current leader's member id (0: none known).
    pub fn leader(&self) -> u64 {
        self.raft.leader()
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == self.id.member_id
    }

    /// The Raft commit index.
    pub fn raft_index(&self) -> u64 {
        self.raft.status.commit.load(Ordering::Acquire)
    }

    /// Before a linearizable read: wait until this member has applied everything the
    /// cluster had committed when the read arrived.
    pub async fn read_barrier(&self) -> Result<(), Status> {
        match tokio::time::timeout(self.request_timeout(), self.raft.read_index()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(raft::Unavailable::Busy)) => Err(errors::too_many_requests()),
            Ok(Err(raft::Unavailable::NoLeader)) => Err(errors::leader_changed()),
            Err(_) => Err(errors::request_timed_out()),
        }
    }

    /// etcd's request timeout: 5 s plus two election timeouts.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(5) + Duration::from_millis(2 * self.cfg.election_timeout)
    }

    /// Renews a lease; returns its TTL, 0 when unknown. The leader's lessor decides
    /// expiry, so a follower sends the renewal through the log (every member renews).
    pub async fn renew_lease(&self, id: i64) -> Result<i64, Status> {
        if self.is_leader() {
            return Ok(self.sm.lessor.renew(id).unwrap_or(0));
        }
        match self.submit(Request::LeaseRenew(proto::etcdserverpb::LeaseKeepAliveRequest { id })).await? {
            Response::LeaseRenew(r) => Ok(r.ttl),
            _ => Err(Status::internal("unexpected response")),
        }
    }

    pub(crate) async fn submit(&self, req: Request) -> Result<Response, Status> {
        let out = match tokio::time::timeout(self.request_timeout(), self.raft.propose(req)).await {
            Ok(Ok(out)) => out,
            Ok(Err(raft::Unavailable::Busy)) => return Err(errors::too_many_requests()),
            Ok(Err(raft::Unavailable::NoLeader)) => return Err(errors::no_leader()),
            Err(_) => return Err(errors::request_timed_out()),
        };
        out.map_err(Status::from)
    }

    pub fn db_size(&self) -> i64 {
        self.db_size.load(Ordering::Relaxed)
    }

    /// A leader about to stop (or to be removed) first transfers leadership to another
    /// voter, so the cluster does not wait an election timeout to notice it is gone.
    pub(crate) async fn hand_over_leadership(&self) {
        let h = &self.raft;
        if !h.is_leader() {
            return;
        }
        let voters = self.sm.conf_state().voters;
        let Some(target) = voters.into_iter().find(|id| *id != self.id.member_id) else {
            return;
        };
        let _ = h.transfer_leader(target);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(2 * self.cfg.election_timeout);
        // Wait until the new leader is established (we have heard from it), not merely
        // until we stepped down.
        while h.leader() != target && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if h.leader() != target {
            tracing::warn!("leadership transfer did not complete");
        } else {
            tracing::info!(to = format!("{:x}", h.leader()), "handed leadership over");
        }
    }

    /// Flushes the backend and tells Raft which applied index is now durable there (the
    /// log may then be compacted up to it).
    fn flush_backend(&self) {
        // What the backend holds now (the applied index in memory may be ahead of it,
        // mid-group): only that becomes durable with this flush.
        let applied = self.sm.mvcc.written();
        if applied <= self.raft.status.flushed.load(Ordering::Acquire) {
            return;
        }
        let t = std::time::Instant::now();
        match self.sm.mvcc.backend().flush() {
            Ok(()) => {
                self.metrics.commit_duration.observe(t.elapsed().as_secs_f64());
                // An installed snapshot may have moved it further meanwhile.
                self.raft.status.flushed.fetch_max(applied, Ordering::AcqRel);
            }
            Err(e) => {
                tracing::error!(error = %e, "flushing the backend failed: the store cannot continue safely");
                std::process::exit(1);
            }
        }
    }

    fn refresh_db_size(&self) {
        let s = self.sm.mvcc.backend().size_on_disk() as i64;
        self.db_size.store(s, Ordering::Relaxed);
    }

    /// Proposes a state change and waits until it is applied and durable. Requests
    /// that add data are refused (and NOSPACE raised) when over the quota.
    pub async fn propose(&self, req: Request, size: usize) -> Result<Response, Status> {
        if size > self.cfg.max_request_bytes {
            return Err(errors::request_too_large());
        }
        if req.adds_data() {
            let cost = size as i64 + 256;
            if self.sm.no_space() {
                return Err(errors::no_space());
            }
            if self.db_size() + cost > self.cfg.quota_bytes() {
                let alarm = AlarmRequest {
                    action: AlarmAction::Activate as i32,
                    member_id: self.id.member_id,
                    alarm: AlarmType::Nospace as i32,
                };
                tracing::warn!(
                    db_size = self.db_size(),
                    quota = self.cfg.quota_bytes(),
                    "database space exceeded; raising NOSPACE"
                );
                let _ = self.submit(Request::Alarm(alarm)).await;
                return Err(errors::no_space());
            }
        }
        self.submit(req).await
    }

    fn metrics_text(&self) -> HttpResponse {
        let m = &self.metrics;
        m.has_leader.set(i64::from(self.leader() != 0));
        m.is_leader.set(i64::from(self.is_leader()));
        m.db_size.set(self.db_size());
        m.db_size_in_use.set(self.db_size());
        m.keys_total.set(self.sm.mvcc.keys_total() as i64);
        m.current_revision.set(self.sm.mvcc.published_rev());
        m.compact_revision.set(self.sm.mvcc.compact_rev());
        m.watchers.set(self.hub.watcher_count() as i64);
        m.quota_bytes.set(self.cfg.quota_bytes());
        component_base::admin::encode_metrics(&m.registry)
    }

    /// etcd's `/health`: healthy when there is a leader and no alarm is raised.
    fn health(&self) -> HttpResponse {
        if self.leader() == 0 {
            return HttpResponse::json(503, r#"{"health":"false","reason":"RAFT NO LEADER"}"#);
        }
        let alarms = self.sm.alarms();
        if alarms.is_empty() {
            HttpResponse::json(200, r#"{"health":"true"}"#)
        } else {
            let names: Vec<String> = alarms
                .iter()
                .map(|a| AlarmType::try_from(a.alarm).map_or("UNKNOWN".into(), |t| t.as_str_name().to_string()))
                .collect();
            HttpResponse::json(503, format!(r#"{{"health":"false","reason":"ALARM {}"}}"#, names.join(",")))
        }
    }

    /// Handles the non-gRPC paths every etcd listener answers.
    pub fn admin(&self, path: &str) -> Option<HttpResponse> {
        Some(match path {
            "/health" | "/livez" | "/readyz" | "/healthz" => self.health(),
            "/metrics" => self.metrics_text(),
            "/version" => HttpResponse::json(
                200,
                format!(r#"{{"etcdserver":"{SERVER_VERSION}","etcdcluster":"{CLUSTER_VERSION}"}}"#),
            ),
            _ => return None,
        })
    }
}

/// A started server: its bound addresses, and a handle to wait for it to stop.
pub struct Running {
    pub client_addrs: Vec<SocketAddr>,
    pub metrics_addrs: Vec<SocketAddr>,
    pub server: Arc<Server>,
    raft_cancel: tokio_util::sync::CancellationToken,
}

async fn bind(url: &url::Url) -> anyhow::Result<TcpListener> {
    let host = url.host_str().unwrap_or("localhost");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(0);
    let l = TcpListener::bind((host, port)).await.with_context(|| format!("listening on {url}"))?;
    Ok(l)
}

/// Opens the store and binds every listener; serving runs until `shutdown` fires.
pub async fn start(cfg: Config, shutdown: &Shutdown) -> anyhow::Result<Running> {
    cfg.validate()?;
    let dir = cfg.data_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    let backend: Arc<dyn Backend> =
        Arc::new(SledBackend::open(&dir.join("member").join("db")).context("opening the backend")?);
    let (id, how) = bootstrap(&cfg, backend.as_ref()).await?;
    let sm = Arc::new(StateMachine::open(backend, cfg.min_lease_ttl()).context("loading the state")?);
    let snap_dir = dir.join("member").join("snap");
    std::fs::create_dir_all(&snap_dir).with_context(|| format!("creating {}", snap_dir.display()))?;
    sm.finish_interrupted_install(&snap_dir).context("finishing an interrupted snapshot install")?;
    if sm.applied_index() > 0 && sm.conf_state().voters.is_empty() && sm.conf_state().learners.is_empty() {
        anyhow::bail!(
            "{} was written by an older version of the store (no Raft configuration); it cannot be opened",
            dir.display()
        );
    }
    let metrics = Arc::new(Metrics::new(SERVER_VERSION));
    let raft_status: Arc<OnceLock<Arc<raft::RaftStatus>>> = Arc::default();
    let header = {
        let (cluster_id, member_id) = (id.cluster_id, id.member_id);
        let status = raft_status.clone();
        Arc::new(move |revision| {
            let raft_term = status.get().map_or(0, |s| s.term.load(Ordering::Acquire));
            ResponseHeader { cluster_id, member_id, revision, raft_term }
        })
    };
    // etcd fragments watch responses above the gRPC receive limit, not the request limit.
    let fragment_above = cfg.max_request_bytes + config::GRPC_OVERHEAD_BYTES;
    let hub = WatchHub::new(sm.clone(), header, fragment_above);
    let raft_cancel = tokio_util::sync::CancellationToken::new();
    let initial: Vec<proto::etcdserverpb::Member> = cfg
        .initial_members()?
        .into_iter()
        .map(|(_, peer_urls)| proto::etcdserverpb::Member {
            id: member_id_for(&peer_urls, &cfg.initial_cluster_token),
            peer_ur_ls: peer_urls,
            ..Default::default()
        })
        .collect();
    let new_cluster = matches!(how, Start::New);
    let thread_cfg = raft::ThreadConfig {
        node: raft::NodeConfig {
            id: id.member_id,
            election_ticks: (cfg.election_timeout / cfg.heartbeat_interval.max(1)) as usize,
            snapshot_count: cfg.snapshot_count,
            bootstrap: new_cluster.then(|| initial.clone()),
            election_range: None,
            id_seed: rand::random(),
            snap_dir: Some(snap_dir),
        },
        heartbeat: Duration::from_millis(cfg.heartbeat_interval),
        peer_tls: peer_client_tls(&cfg)?,
        cluster_id: id.cluster_id,
        // Who to talk to until the state says (a restarted member that never received
        // the cluster's state knows only the flags).
        members: match how {
            Start::Joined(ms) => ms,
            Start::New | Start::Restart => initial,
        },
        on_removed: shutdown.token(),
    };
    let wal_dir = dir.join("member").join("wal");
    // Raft outlives the first shutdown signal long enough to hand leadership over.
    let (handle, peer) =
        raft::start(thread_cfg, &wal_dir, sm.clone(), hub.clone(), metrics.clone(), raft_cancel.clone())
            .context("starting raft")?;
    let _ = raft_status.set(handle.status.clone());
    let server = Arc::new(Server { cfg: cfg.clone(), sm, hub, raft: handle, metrics, id, db_size: AtomicI64::new(0) });
    for url in &cfg.listen_peer_urls {
        let l = bind(url).await?;
        let svc = proto::raftpb::raft_transport_server::RaftTransportServer::new(peer.clone())
            .max_decoding_message_size(1 << 30);
        let routes = tonic::service::Routes::new(svc).prepare();
        shutdown.spawn(gateway::serve_connections(l, peer_server_tls(&cfg)?, shutdown.token(), move |req| {
            let routes = routes.clone();
            async move { tower::ServiceExt::oneshot(routes, req).await }
        }));
    }
    server.refresh_db_size();
    tracing::info!(
        name = %server.id.name,
        member_id = format!("{:x}", server.id.member_id),
        cluster_id = format!("{:x}", server.id.cluster_id),
        revision = server.sm.mvcc.published_rev(),
        applied_index = server.sm.applied_index(),
        "store member ready"
    );

    let mut client_addrs = Vec::new();
    for url in &cfg.listen_client_urls {
        let l = bind(url).await?;
        client_addrs.push(l.local_addr()?);
        let tls = if url.scheme() == "https" {
            let ca = if cfg.client_cert_auth { cfg.trusted_ca_file.as_deref() } else { None };
            let (Some(cert), Some(key)) = (cfg.cert_file.as_deref(), cfg.key_file.as_deref()) else {
                anyhow::bail!("{url} needs --cert-file and --key-file");
            };
            Some(component_base::tls::server_config(cert, key, ca, &[b"h2", b"http/1.1"])?)
        } else {
            None
        };
        shutdown.spawn(gateway::serve_client(l, tls, server.clone(), shutdown.token()));
    }
    let mut metrics_addrs = Vec::new();
    for url in &cfg.listen_metrics_urls {
        let l = bind(url).await?;
        metrics_addrs.push(l.local_addr()?);
        let s = server.clone();
        let handler: component_base::AdminHandler =
            Arc::new(move |_, path, _| s.admin(path).unwrap_or_else(HttpResponse::not_found));
        shutdown.spawn(component_base::serve_http(l, handler, shutdown.token()));
    }
    shutdown.spawn(background(server.clone(), shutdown.clone()));
    shutdown.spawn(publish_attributes(server.clone(), shutdown.clone()));
    Ok(Running { client_addrs, metrics_addrs, server, raft_cancel })
}

/// The peer listener's TLS: `--peer-cert-file`/`--peer-key-file`, and with
/// `--peer-client-cert-auth` every peer must present a certificate signed by
/// `--peer-trusted-ca-file` before any byte reaches the Raft decoder.
fn peer_server_tls(cfg: &Config) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let (Some(cert), Some(key)) = (cfg.peer_cert_file.as_deref(), cfg.peer_key_file.as_deref()) else {
        return Ok(None);
    };
    let ca = if cfg.peer_client_cert_auth { cfg.peer_trusted_ca_file.as_deref() } else { None };
    Ok(Some(component_base::tls::server_config(cert, key, ca, &[b"h2"])?))
}

/// How this member dials its peers: mutual TLS when peer certificates are configured.
fn peer_client_tls(cfg: &Config) -> anyhow::Result<Option<Arc<rustls::ClientConfig>>> {
    let (Some(cert), Some(key), Some(ca)) =
        (cfg.peer_cert_file.as_deref(), cfg.peer_key_file.as_deref(), cfg.peer_trusted_ca_file.as_deref())
    else {
        return Ok(None);
    };
    Ok(Some(component_base::tls::client_config(ca, Some((cert, key)), &[b"h2"])?))
}

/// Announces this member's name and client URLs through the log (retrying until a
/// leader accepts it), so every member's MemberList shows them.
async fn publish_attributes(server: Arc<Server>, shutdown: Shutdown) {
    let me = proto::etcdserverpb::Member {
        id: server.id.member_id,
        name: server.id.name.clone(),
        peer_ur_ls: server.id.peer_urls.clone(),
        client_ur_ls: server.id.client_urls.clone(),
        is_learner: false,
    };
    loop {
        if server.sm.published_members().contains(&me) {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = server.submit(Request::PublishMember(me.clone())) => {
                if r.is_ok() {
                    tracing::info!("published this member's attributes to the cluster");
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lease expiry, db size sampling and periodic watch progress.
async fn background(server: Arc<Server>, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut progress = tokio::time::interval(server.cfg.watch_progress_notify_interval.max(Duration::from_millis(100)));
    progress.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = progress.tick() => server.hub.notify_progress(),
            _ = tick.tick() => {
                let s = server.clone();
                let _ = tokio::task::spawn_blocking(move || s.flush_backend()).await;
                server.refresh_db_size();
                // Only the leader expires leases (its revocations go through the log).
                if !server.is_leader() {
                    continue;
                }
                for id in server.sm.lessor.expired() {
                    tracing::debug!(lease = id, "lease expired; revoking");
                    if server.submit(Request::LeaseRevoke(LeaseRevokeRequest { id })).await.is_ok() {
                        server.metrics.lease_revoked.inc();
                    }
                }
            }
        }
    }
}

impl Running {
    /// Waits for the serving tasks to stop (after cancellation), then for the apply
    /// thread to drain, so everything acknowledged is on disk.
    pub async fn stop(self, shutdown: &Shutdown) {
        shutdown.cancel();
        self.server.hand_over_leadership().await;
        self.raft_cancel.cancel();
        if !shutdown.wait(Duration::from_secs(10)).await {
            tracing::warn!("some tasks did not stop within 10s");
        }
        // Everything acknowledged is already durable (WAL or Raft log); this flush only
        // spares the next start a replay.
        if let Err(e) = self.server.sm.mvcc.write_back().and_then(|_| self.server.sm.mvcc.backend().flush()) {
            tracing::error!(error = %e, "final flush failed");
        }
    }
}
