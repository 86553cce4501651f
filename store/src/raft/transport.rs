//! Peer transport: raft-rs messages as opaque bytes over a long-lived gRPC stream per
//! peer. Each peer has a bounded queue that drops when full (Raft retransmits), so a
//! slow or dead peer never blocks the Raft thread.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use proto::raftpb::raft_transport_client::RaftTransportClient;
use proto::raftpb::raft_transport_server::RaftTransport;
use proto::raftpb::{Done, RaftEnvelope};
use protobuf::Message as _;
use raft::eraftpb::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use super::Input;

/// Messages queued per peer before new ones are dropped.
const PEER_QUEUE: usize = 4096;

pub struct Transport {
    peers: HashMap<u64, mpsc::Sender<Vec<u8>>>,
}

impl Transport {
    /// Starts one sender task per peer (`id`, peer URL).
    pub fn start(
        me: u64,
        peers: &[(u64, String)],
        runtime: &tokio::runtime::Handle,
        tls: Option<Arc<rustls::ClientConfig>>,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let mut map = HashMap::new();
        for (id, url) in peers {
            if *id == me {
                continue;
            }
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            map.insert(*id, tx);
            runtime.spawn(peer_loop(me, *id, url.clone(), rx, tls.clone(), cancel.clone()));
        }
        Arc::new(Self { peers: map })
    }

    pub fn send(&self, msgs: Vec<Message>) {
        for m in msgs {
            if let Some(q) = self.peers.get(&m.to) {
                let Ok(bytes) = m.write_to_bytes() else {
                    continue;
                };
                if q.try_send(bytes).is_err() {
                    tracing::trace!(to = format!("{:x}", m.to), "peer queue full; dropping a raft message");
                }
            }
        }
    }
}

async fn peer_loop(
    me: u64,
    peer: u64,
    url: String,
    mut queue: mpsc::Receiver<Vec<u8>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let endpoint = match tonic::transport::Endpoint::from_shared(url.clone()) {
            Ok(e) => e.connect_timeout(Duration::from_secs(1)).tcp_nodelay(true),
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
                // Drain what piled up meanwhile: Raft will resend what matters.
                while queue.try_recv().is_ok() {}
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        let (stx, srx) = mpsc::channel::<RaftEnvelope>(256);
        let mut client = RaftTransportClient::new(channel).max_encoding_message_size(usize::MAX);
        let call = tokio::spawn(async move { client.stream(tokio_stream::wrappers::ReceiverStream::new(srx)).await });
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return,
                m = queue.recv() => m,
            };
            let Some(bytes) = next else { return };
            if call.is_finished() || stx.send(RaftEnvelope { from: me, message: bytes }).await.is_err() {
                break;
            }
        }
        tracing::debug!(peer = format!("{peer:x}"), "peer stream ended; reconnecting");
    }
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
    pub inbox: SyncSender<Input>,
    pub members: Arc<std::sync::RwLock<Vec<u64>>>,
}

#[tonic::async_trait]
impl RaftTransport for PeerService {
    async fn stream(&self, req: Request<Streaming<RaftEnvelope>>) -> Result<Response<Done>, Status> {
        let mut s = req.into_inner();
        while let Some(env) = s.message().await? {
            let Ok(m) = Message::parse_from_bytes(&env.message) else {
                tracing::warn!("undecodable raft message from a peer; dropping");
                continue;
            };
            let known = self.members.read().map(|ms| ms.contains(&m.from)).unwrap_or(false);
            if m.from != env.from || !known {
                tracing::warn!(from = env.from, "raft message from an unknown member; dropping");
                continue;
            }
            if self.inbox.try_send(Input::Message(Box::new(m))).is_err() {
                tracing::trace!("raft inbox full; dropping a message");
            }
        }
        Ok(Response::new(Done {}))
    }
}
