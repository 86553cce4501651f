//! Peer transport: raft-rs messages as opaque bytes over a long-lived gRPC stream per
//! peer. Each peer has a bounded queue that drops when full (Raft retransmits), so a
//! slow or dead peer never blocks the Raft thread.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use proto::raftpb::raft_transport_client::RaftTransportClient;
use proto::raftpb::raft_transport_server::RaftTransport;
use proto::raftpb::{
    Done, JoinMember, JoinRequest, JoinResponse, ProbeRequest, ProbeResponse, RaftEnvelope, SnapshotChunk,
};
use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use futures::FutureExt;

use super::{Inbox, Input};
use crate::apply::StateMachine;
use crate::server::metrics::Metrics;

/// What a member answers a peer that was removed from the cluster.
pub const MEMBER_REMOVED: &str = "etcdserver: the member has been permanently removed from the cluster";

/// Dialing a peer: give up after this, retry after at most `MAX_BACKOFF`.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_millis(250);
/// Liveness pings on an established peer connection.
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// Messages queued per peer before new ones are dropped.
const PEER_QUEUE: usize = 4096;
/// How often each member measures its round trip to each peer.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Snapshot data travels in pieces of this size.
const SNAPSHOT_CHUNK: usize = 1 << 20;
/// A received snapshot is synced to disk every this many bytes.
const SNAPSHOT_SYNC_EVERY: u64 = 8 << 20;
/// A snapshot claiming more data than this is refused (etcd's largest backend quota).
const SNAPSHOT_MAX: u64 = 8 << 30;

/// One queued message; snapshots report whether they went out.
enum Outgoing {
    Encoded(Vec<u8>),
    /// Sent on a `Snapshot` call of its own, in chunks, off the Raft round: a snapshot
    /// carries the whole state.
    Snapshot(Box<Message>),
}

impl Outgoing {
    fn is_snapshot(&self) -> bool {
        matches!(self, Outgoing::Snapshot(_))
    }
}

/// The first chunk of a snapshot: the message without its data, and the data's size.
fn snapshot_head(mut m: Message, me: u64, cluster_id: u64, size: u64) -> SnapshotChunk {
    m.mut_snapshot().data = Default::default();
    SnapshotChunk { from: me, cluster_id, message: m.write_to_bytes().unwrap_or_default(), size, data: Vec::new() }
}

/// The chunks of a snapshot message whose data is in memory: the head, then the data
/// (each piece copied only when it is sent).
fn snapshot_chunks(mut m: Message, me: u64, cluster_id: u64) -> impl Iterator<Item = SnapshotChunk> + Send {
    let data = std::mem::take(&mut m.mut_snapshot().data);
    let first = snapshot_head(m, me, cluster_id, data.len() as u64);
    let pieces = (0..data.len().div_ceil(SNAPSHOT_CHUNK)).map(move |i| {
        let piece = &data[i * SNAPSHOT_CHUNK..data.len().min((i + 1) * SNAPSHOT_CHUNK)];
        SnapshotChunk { data: piece.to_vec(), ..Default::default() }
    });
    std::iter::once(first).chain(pieces)
}

/// The chunks of a snapshot message, from a blocking task that makes each as the
/// stream takes it: the head, then the data, from memory or from the file the data
/// refers to. A failed read ends the stream short (the receiver refuses it). Returns
/// the data's size too.
fn chunk_stream(
    m: Message,
    me: u64,
    cluster_id: u64,
) -> std::io::Result<(u64, tokio_stream::wrappers::ReceiverStream<SnapshotChunk>)> {
    use std::io::Read;
    let (tx, rx) = mpsc::channel(2);
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let Some(path) = crate::membership::referenced_snapshot_file(&m.get_snapshot().data) else {
        let size = m.get_snapshot().data.len() as u64;
        let chunks = snapshot_chunks(m, me, cluster_id);
        tokio::task::spawn_blocking(move || {
            for c in chunks {
                if tx.blocking_send(c).is_err() {
                    return;
                }
            }
        });
        return Ok((size, stream));
    };
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let _ = tx.try_send(snapshot_head(m, me, cluster_id, size));
    tokio::task::spawn_blocking(move || {
        let mut left = size;
        while left > 0 {
            let mut data = vec![0; SNAPSHOT_CHUNK.min(left as usize)];
            if file.read_exact(&mut data).is_err() {
                return;
            }
            left -= data.len() as u64;
            if tx.blocking_send(SnapshotChunk { data, ..Default::default() }).is_err() {
                return;
            }
        }
    });
    Ok((size, stream))
}

/// Sends one snapshot and tells Raft whether it arrived.
async fn send_snapshot(mut client: RaftTransportClient<tonic::transport::Channel>, m: Message, ctx: SnapshotCtx) {
    let index = m.get_snapshot().get_metadata().index;
    let (bytes, chunks) = match chunk_stream(m, ctx.me, ctx.cluster_id) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(to = format!("{:x}", ctx.peer), index, error = %e, "reading a snapshot to send failed");
            let _ = ctx.inbox.queue(Input::SnapshotSent(ctx.peer, false));
            return;
        }
    };
    let t = std::time::Instant::now();
    let ok = match client.snapshot(chunks).await {
        Ok(_) => {
            tracing::info!(
                to = format!("{:x}", ctx.peer),
                index,
                bytes,
                elapsed_ms = t.elapsed().as_millis() as u64,
                "sent a snapshot"
            );
            true
        }
        Err(e) => {
            tracing::warn!(to = format!("{:x}", ctx.peer), index, error = %e, "sending a snapshot failed");
            false
        }
    };
    let _ = ctx.inbox.queue(Input::SnapshotSent(ctx.peer, ok));
}

#[derive(Clone)]
struct SnapshotCtx {
    me: u64,
    cluster_id: u64,
    peer: u64,
    inbox: Inbox,
}

struct Peer {
    url: String,
    queue: mpsc::Sender<Outgoing>,
}

pub struct Transport {
    me: u64,
    cluster_id: u64,
    peers: HashMap<u64, Peer>,
    runtime: tokio::runtime::Handle,
    tls: Option<Arc<rustls::ClientConfig>>,
    cancel: CancellationToken,
    inbox: Inbox,
    metrics: Arc<Metrics>,
}

impl Transport {
    pub fn new(
        me: u64,
        cluster_id: u64,
        runtime: tokio::runtime::Handle,
        tls: Option<Arc<rustls::ClientConfig>>,
        cancel: CancellationToken,
        inbox: Inbox,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { me, cluster_id, peers: HashMap::new(), runtime, tls, cancel, inbox, metrics }
    }

    /// Makes the peer set `peers` (id, peer URL): starts a sender task for each new or
    /// moved peer; dropping a queue ends its task.
    pub fn set_peers(&mut self, peers: &[(u64, String)]) {
        self.peers.retain(|id, p| peers.iter().any(|(i, u)| i == id && *u == p.url));
        for (id, url) in peers {
            if *id == self.me || self.peers.contains_key(id) {
                continue;
            }
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            self.peers.insert(*id, Peer { url: url.clone(), queue: tx });
            let ctx = PeerCtx {
                me: self.me,
                cluster_id: self.cluster_id,
                peer: *id,
                url: url.clone(),
                inbox: self.inbox.clone(),
                metrics: self.metrics.clone(),
            };
            self.runtime.spawn(peer_loop(ctx, rx, self.tls.clone(), self.cancel.clone()));
        }
    }

    pub fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            let snapshot = m.get_msg_type() == MessageType::MsgSnapshot;
            let Some(p) = self.peers.get(&m.to) else {
                if snapshot {
                    let _ = self.inbox.queue(Input::SnapshotSent(m.to, false));
                }
                continue;
            };
            let to = m.to;
            let out = if snapshot {
                Outgoing::Snapshot(Box::new(m))
            } else {
                let Ok(bytes) = m.write_to_bytes() else {
                    continue;
                };
                Outgoing::Encoded(bytes)
            };
            if p.queue.try_send(out).is_err() {
                tracing::trace!(to = format!("{to:x}"), "peer queue full; dropping a raft message");
                if snapshot {
                    let _ = self.inbox.queue(Input::SnapshotSent(to, false));
                }
            }
        }
    }
}

struct PeerCtx {
    me: u64,
    cluster_id: u64,
    peer: u64,
    url: String,
    inbox: Inbox,
    metrics: Arc<Metrics>,
}

impl PeerCtx {
    fn report(&self, m: &Outgoing, ok: bool) {
        if m.is_snapshot() {
            let _ = self.inbox.queue(Input::SnapshotSent(self.peer, ok));
        }
    }
}

/// The request stream of one connection: pulls straight from the peer's queue (no
/// intermediate channel, so a message costs one task wake-up on its way out). The queue
/// outlives connections; a stream only borrows it while it is polled.
struct Pull {
    queue: Arc<std::sync::Mutex<mpsc::Receiver<Outgoing>>>,
    ctx: SnapshotCtx,
    /// Snapshots go out on calls of their own over the same connection.
    client: RaftTransportClient<tonic::transport::Channel>,
}

impl futures::Stream for Pull {
    type Item = RaftEnvelope;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            return match q.poll_recv(cx) {
                std::task::Poll::Ready(Some(Outgoing::Encoded(bytes))) => std::task::Poll::Ready(Some(RaftEnvelope {
                    from: self.ctx.me,
                    message: bytes,
                    cluster_id: self.ctx.cluster_id,
                })),
                std::task::Poll::Ready(Some(Outgoing::Snapshot(m))) => {
                    tokio::spawn(send_snapshot(self.client.clone(), *m, self.ctx.clone()));
                    continue;
                }
                std::task::Poll::Ready(None) => std::task::Poll::Ready(None),
                std::task::Poll::Pending => std::task::Poll::Pending,
            };
        }
    }
}

async fn peer_loop(
    ctx: PeerCtx,
    queue: mpsc::Receiver<Outgoing>,
    tls: Option<Arc<rustls::ClientConfig>>,
    cancel: CancellationToken,
) {
    let url = ctx.url.clone();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let drain = |ctx: &PeerCtx| {
        // Drop what piled up while disconnected: Raft resends what matters.
        let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
        while let Ok(m) = q.try_recv() {
            ctx.report(&m, false);
        }
        q.is_closed()
    };
    let mut backoff = Duration::from_millis(50);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let endpoint = match tonic::transport::Endpoint::from_shared(url.clone()) {
            // HTTP/2 pings find a connection the network silently stopped carrying (a
            // partition): it is dropped with what it queued, rather than delivering stale
            // messages seconds later from TCP retransmissions, and a fresh connection is
            // made as soon as the network heals.
            Ok(e) => e
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(PING_INTERVAL)
                .keep_alive_timeout(PING_TIMEOUT)
                .keep_alive_while_idle(true),
            Err(e) => {
                tracing::error!(peer = %url, error = %e, "invalid peer URL");
                return;
            }
        };
        let connected = match &tls {
            Some(cfg) => endpoint.connect_with_connector(tls_connector(cfg.clone())).await,
            None => endpoint.connect().await,
        };
        let channel = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(peer = %url, error = %e, "peer unreachable; retrying");
                if drain(&ctx) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let mut client = RaftTransportClient::new(channel).max_encoding_message_size(usize::MAX);
        let pull = Pull {
            queue: queue.clone(),
            ctx: SnapshotCtx { me: ctx.me, cluster_id: ctx.cluster_id, peer: ctx.peer, inbox: ctx.inbox.clone() },
            client: client.clone(),
        };
        let prober = probe(client.clone(), &ctx);
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = client.stream(pull) => r,
            never = prober => match never {},
        };
        match outcome {
            Err(status) if status.message() == MEMBER_REMOVED => {
                tracing::warn!(peer = format!("{:x}", ctx.peer), "{MEMBER_REMOVED}");
                let _ = ctx.inbox.queue(Input::Removed);
                return;
            }
            // The queue was closed (the peer left the configuration).
            Ok(_) if queue.lock().unwrap_or_else(|e| e.into_inner()).is_closed() => return,
            _ => {}
        }
        tracing::debug!(peer = format!("{:x}", ctx.peer), "peer stream ended; reconnecting");
        if drain(&ctx) {
            return;
        }
    }
}

/// Measures the round trip to the peer over the connection at `PROBE_INTERVAL`, as
/// etcd's prober does for `etcd_network_peer_round_trip_time_seconds`.
async fn probe(mut client: RaftTransportClient<tonic::transport::Channel>, ctx: &PeerCtx) -> std::convert::Infallible {
    loop {
        let start = std::time::Instant::now();
        let req = ProbeRequest { from: ctx.me, cluster_id: ctx.cluster_id };
        if client.probe(req).await.is_ok() {
            ctx.metrics.observe_peer_rtt(ctx.peer, start.elapsed().as_secs_f64());
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Asks the members at `urls` which member `peer_urls` is (see `Join`).
pub async fn join(
    urls: &[String],
    peer_urls: &[String],
    tls: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<JoinResponse> {
    let mut last_err = anyhow::anyhow!("no other member to ask");
    for url in urls {
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())?.connect_timeout(Duration::from_secs(2));
        let connected = match &tls {
            Some(cfg) => endpoint.connect_with_connector(tls_connector(cfg.clone())).await,
            None => endpoint.connect().await,
        };
        let channel = match connected {
            Ok(c) => c,
            Err(e) => {
                last_err = anyhow::anyhow!("{url}: {e}");
                continue;
            }
        };
        match RaftTransportClient::new(channel).join(JoinRequest { peer_urls: peer_urls.to_vec() }).await {
            Ok(r) => return Ok(r.into_inner()),
            Err(s) => last_err = anyhow::anyhow!("{url}: {}", s.message()),
        }
    }
    Err(last_err)
}

/// Dials peers over mutual TLS: the peer certificate both authenticates this member
/// and verifies the peer against `--peer-trusted-ca-file`.
fn tls_connector(
    cfg: Arc<rustls::ClientConfig>,
) -> impl tower::Service<
    http::Uri,
    Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    Error = std::io::Error,
    Future = impl Send,
> + Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let cfg = cfg.clone();
        async move {
            let host = uri.host().unwrap_or("localhost").trim_start_matches('[').trim_end_matches(']').to_string();
            let port = uri.port_u16().unwrap_or(2380);
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let name = rustls_pki_types::ServerName::try_from(host)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        }
    })
}

/// The receiving side: decodes messages and hands them to the Raft thread.
#[derive(Clone)]
pub struct PeerService {
    pub inbox: Inbox,
    /// Members messages are accepted from.
    pub known: Arc<RwLock<Vec<u64>>>,
    pub sm: Arc<StateMachine>,
    pub cluster_id: u64,
    /// Where received snapshots are kept until installed.
    pub snap_dir: std::path::PathBuf,
}

/// Writes a snapshot's data chunks to `part` (synced), checking they add up to `size`.
async fn receive_snapshot(s: &mut Streaming<SnapshotChunk>, part: &std::path::Path, size: u64) -> Result<(), Status> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| Status::internal(format!("writing a snapshot: {e}"));
    let mut f = tokio::fs::File::create(part).await.map_err(io)?;
    let (mut got, mut synced) = (0u64, 0u64);
    while let Some(chunk) = s.message().await? {
        got += chunk.data.len() as u64;
        if got > size {
            return Err(Status::invalid_argument("snapshot data beyond its size"));
        }
        f.write_all(&chunk.data).await.map_err(io)?;
        // Synced as it comes: one sync of the whole file at the end would write it all
        // at once and hold up every other sync on the disk (the log's, for a start).
        if got - synced >= SNAPSHOT_SYNC_EVERY {
            f.sync_data().await.map_err(io)?;
            synced = got;
        }
    }
    if got != size {
        return Err(Status::invalid_argument(format!("snapshot data ended at {got} of {size} bytes")));
    }
    f.sync_all().await.map_err(io)
}

/// Messages handed to the node in one round at most, from one stream.
const STREAM_BATCH: usize = 256;

impl PeerService {
    /// Checks one envelope: None for a message to drop, an error to end the stream.
    fn accept(&self, env: RaftEnvelope) -> Result<Option<Message>, Status> {
        if env.cluster_id != self.cluster_id {
            tracing::warn!(
                from = format!("{:x}", env.from),
                cluster = format!("{:x}", env.cluster_id),
                "refusing raft messages from a member of another cluster"
            );
            return Err(Status::failed_precondition("etcdserver: cluster ID mismatch"));
        }
        let Ok(m) = Message::parse_from_bytes(&env.message) else {
            tracing::warn!("undecodable raft message from a peer; dropping");
            return Ok(None);
        };
        let known = self.known.read().map(|ms| ms.contains(&m.from)).unwrap_or(false);
        if !known && m.from == env.from && self.sm.is_removed(m.from) {
            return Err(Status::failed_precondition(MEMBER_REMOVED));
        }
        if m.from != env.from || !known {
            tracing::debug!(from = format!("{:x}", env.from), "raft message from an unknown member; dropping");
            return Ok(None);
        }
        Ok(Some(m))
    }
}

#[tonic::async_trait]
impl RaftTransport for PeerService {
    async fn stream(&self, req: Request<Streaming<RaftEnvelope>>) -> Result<Response<Done>, Status> {
        let mut s = req.into_inner();
        while let Some(env) = s.message().await? {
            // Take whatever else already arrived, so a busy stream is handled in one round
            // (one sync of the log) rather than one round per message.
            let mut batch = Vec::new();
            let mut next = Some(env);
            while let Some(env) = next.take() {
                match self.accept(env)? {
                    // Snapshots come by the Snapshot call only (their data is a file
                    // of this member's once received).
                    Some(m) if m.get_msg_type() == MessageType::MsgSnapshot => {
                        tracing::warn!(from = format!("{:x}", m.from), "a snapshot on the message stream; dropping it");
                    }
                    Some(m) => batch.push(Input::Message(Box::new(m))),
                    None => {}
                }
                if batch.len() < STREAM_BATCH {
                    next = s.message().now_or_never().transpose()?.flatten();
                }
            }
            if !batch.is_empty() && self.inbox.submit(batch).is_err() {
                tracing::trace!("raft inbox full; dropping messages");
            }
        }
        Ok(Response::new(Done {}))
    }

    async fn snapshot(&self, req: Request<Streaming<SnapshotChunk>>) -> Result<Response<Done>, Status> {
        let mut s = req.into_inner();
        let Some(first) = s.message().await? else {
            return Err(Status::invalid_argument("an empty snapshot stream"));
        };
        if first.size > SNAPSHOT_MAX {
            return Err(Status::invalid_argument(format!("a snapshot of {} bytes is too large", first.size)));
        }
        let (size, env) =
            (first.size, RaftEnvelope { from: first.from, message: first.message, cluster_id: first.cluster_id });
        let Some(mut m) = self.accept(env)? else {
            return Err(Status::failed_precondition("snapshot refused"));
        };
        if m.get_msg_type() != MessageType::MsgSnapshot {
            return Err(Status::invalid_argument("not a snapshot message"));
        }
        // The data goes to a file as it arrives, not into memory; Raft gets a reference
        // to it, and the install reads it from there.
        let index = m.get_snapshot().get_metadata().index;
        let path = crate::membership::snapshot_file(&self.snap_dir, index);
        let part = path.with_extension(format!("{:016x}.part", rand::random::<u64>()));
        if let Err(e) = receive_snapshot(&mut s, &part, size).await {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tokio::fs::rename(&part, &path).await.map_err(|e| Status::internal(format!("keeping a snapshot: {e}")))?;
        if let Ok(d) = tokio::fs::File::open(&self.snap_dir).await {
            let _ = d.sync_all().await;
        }
        m.mut_snapshot().data = crate::membership::snapshot_file_reference(&path).into();
        // Installing it takes a while: the Raft thread does it, not this runtime's worker.
        if self.inbox.queue(Input::Message(Box::new(m))).is_err() {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(Status::unavailable("raft inbox full"));
        }
        Ok(Response::new(Done {}))
    }

    async fn probe(&self, req: Request<ProbeRequest>) -> Result<Response<ProbeResponse>, Status> {
        if req.get_ref().cluster_id != self.cluster_id {
            return Err(Status::failed_precondition("etcdserver: cluster ID mismatch"));
        }
        Ok(Response::new(ProbeResponse {}))
    }

    async fn join(&self, req: Request<JoinRequest>) -> Result<Response<JoinResponse>, Status> {
        let mut want: Vec<String> =
            req.into_inner().peer_urls.iter().map(|u| u.trim_end_matches('/').to_string()).collect();
        want.sort();
        let members = self.sm.members();
        let me = members.iter().find(|m| {
            let mut have: Vec<String> = m.peer_ur_ls.iter().map(|u| u.trim_end_matches('/').to_string()).collect();
            have.sort();
            have == want
        });
        let Some(me) = me else {
            return Err(Status::not_found(format!(
                "no member with peer URLs {} in the cluster (add it with MemberAdd first)",
                want.join(",")
            )));
        };
        Ok(Response::new(JoinResponse {
            cluster_id: self.cluster_id,
            member_id: me.id,
            members: members
                .iter()
                .map(|m| JoinMember { id: m.id, peer_urls: m.peer_ur_ls.clone(), is_learner: m.is_learner })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_travels_in_chunks_that_reassemble() {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgSnapshot);
        m.to = 2;
        m.mut_snapshot().mut_metadata().index = 42;
        let data: Vec<u8> = (0..SNAPSHOT_CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        m.mut_snapshot().data = data.clone().into();
        let chunks: Vec<SnapshotChunk> = snapshot_chunks(m, 1, 7).collect();
        assert_eq!(chunks.len(), 4, "the message, then three pieces of data");
        let first = &chunks[0];
        assert_eq!((first.from, first.cluster_id, first.size), (1, 7, data.len() as u64));
        let head = Message::parse_from_bytes(&first.message).unwrap();
        assert!(head.get_snapshot().data.is_empty(), "the data is not in the message");
        assert_eq!(head.get_snapshot().get_metadata().index, 42);
        let joined: Vec<u8> = chunks[1..].iter().flat_map(|c| c.data.iter().copied()).collect();
        assert_eq!(joined, data);
    }

    #[tokio::test]
    async fn a_snapshot_in_a_file_is_sent_from_the_file() {
        use futures::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.snap");
        let data: Vec<u8> = (0..SNAPSHOT_CHUNK + 5).map(|i| (i % 7) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgSnapshot);
        m.mut_snapshot().mut_metadata().index = 9;
        m.mut_snapshot().data = crate::membership::snapshot_file_reference(&path).into();
        let (size, stream) = chunk_stream(m, 1, 7).unwrap();
        let chunks: Vec<SnapshotChunk> = stream.collect().await;
        assert_eq!((size, chunks.len()), (data.len() as u64, 3), "the head, then two pieces");
        assert_eq!(chunks[0].size, size);
        let head = Message::parse_from_bytes(&chunks[0].message).unwrap();
        assert!(head.get_snapshot().data.is_empty(), "the reference does not travel");
        assert_eq!(head.get_snapshot().get_metadata().index, 9);
        let joined: Vec<u8> = chunks[1..].iter().flat_map(|c| c.data.iter().copied()).collect();
        assert_eq!(joined, data);
    }
}
