//! The etcd v3 gRPC services over the shared [`Server`].

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use prost::Message;
use proto::etcdserverpb as pb;
use proto::etcdserverpb::{
    auth_server::Auth, cluster_server::Cluster, kv_server::Kv, lease_server::Lease, maintenance_server::Maintenance,
    watch_server::Watch,
};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::config::GRPC_OVERHEAD_BYTES;
use super::{CLUSTER_VERSION, SERVER_VERSION, Server, errors, validate};
use crate::apply::{self, Request as Proposal, Response as Applied};
use crate::lease::MAX_LEASE_TTL;

/// One handle implementing every service.
#[derive(Clone)]
pub struct Services(pub Arc<Server>);

type Resp<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl Services {
    /// grpc-go rejects messages over the receive limit before any handler runs; tonic's
    /// own limit is set higher so that the answer can carry grpc-go's exact message.
    fn check_size<M: Message>(&self, m: &M) -> Result<usize, Status> {
        let len = m.encoded_len();
        let max = self.0.cfg.max_request_bytes + GRPC_OVERHEAD_BYTES;
        if len > max {
            return Err(errors::message_too_large(len, max));
        }
        Ok(len)
    }

    fn unary<T>(&self, svc: &str, method: &str, r: Result<T, Status>) -> Resp<T> {
        self.0.metrics.handled(svc, method, &r);
        r.map(Response::new)
    }

    async fn propose(&self, req: Proposal, size: usize) -> Result<Applied, Status> {
        self.0.propose(req, size).await
    }

    fn range(&self, r: &pb::RangeRequest) -> Result<pb::RangeResponse, Status> {
        validate::range(r)?;
        if !r.serializable && self.0.raft.status.learner.load(std::sync::atomic::Ordering::Acquire) {
            return Err(errors::not_supported_for_learner());
        }
        self.0.metrics.range_total.inc();
        let mvcc = &self.0.sm.mvcc;
        let mut resp = apply::range_with(&|k, e, o| mvcc.range(k, e, o), r)?;
        resp.header = Some(self.0.header(resp.header.map_or(0, |h| h.revision)));
        Ok(resp)
    }
}

fn with_header<T>(s: &Server, mut resp: T, h: impl FnOnce(&mut T) -> &mut Option<pb::ResponseHeader>) -> T {
    let slot = h(&mut resp);
    let rev = slot.as_ref().map_or(0, |x| x.revision);
    *slot = Some(s.header(rev));
    resp
}

/// Fills the member identity into a txn response's header. Like etcd, the headers of
/// the responses inside a txn carry only their revision.
fn fix_txn_headers(s: &Server, t: &mut pb::TxnResponse) {
    let rev = t.header.as_ref().map_or(0, |h| h.revision);
    t.header = Some(s.header(rev));
}

#[tonic::async_trait]
impl Kv for Services {
    async fn range(&self, req: Request<pb::RangeRequest>) -> Resp<pb::RangeResponse> {
        let r = req.into_inner();
        let out = async {
            self.check_size(&r)?;
            if !r.serializable {
                self.0.read_barrier().await?;
            }
            Services::range(self, &r)
        }
        .await;
        self.unary("KV", "Range", out)
    }

    async fn put(&self, req: Request<pb::PutRequest>) -> Resp<pb::PutResponse> {
        let r = req.into_inner();
        let out = async {
            let size = self.check_size(&r)?;
            validate::put(&r)?;
            self.0.metrics.put_total.inc();
            match self.propose(Proposal::Put(r), size).await? {
                Applied::Put(p) => Ok(with_header(&self.0, p, |p| &mut p.header)),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("KV", "Put", out)
    }

    async fn delete_range(&self, req: Request<pb::DeleteRangeRequest>) -> Resp<pb::DeleteRangeResponse> {
        let r = req.into_inner();
        let out = async {
            let size = self.check_size(&r)?;
            validate::delete_range(&r)?;
            self.0.metrics.delete_total.inc();
            match self.propose(Proposal::DeleteRange(r), size).await? {
                Applied::DeleteRange(p) => Ok(with_header(&self.0, p, |p| &mut p.header)),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("KV", "DeleteRange", out)
    }

    async fn txn(&self, req: Request<pb::TxnRequest>) -> Resp<pb::TxnResponse> {
        let r = req.into_inner();
        let out = async {
            let size = self.check_size(&r)?;
            validate::txn(&r, self.0.cfg.max_txn_ops)?;
            self.0.metrics.txn_total.inc();
            match self.propose(Proposal::Txn(r), size).await? {
                Applied::Txn(mut t) => {
                    fix_txn_headers(&self.0, &mut t);
                    Ok(t)
                }
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("KV", "Txn", out)
    }

    async fn compact(&self, req: Request<pb::CompactionRequest>) -> Resp<pb::CompactionResponse> {
        let r = req.into_inner();
        let out = async {
            match self.propose(Proposal::Compaction(r), 0).await? {
                Applied::Compaction(p) => Ok(with_header(&self.0, p, |p| &mut p.header)),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("KV", "Compact", out)
    }
}

#[tonic::async_trait]
impl Watch for Services {
    type WatchStream = BoxStream<pb::WatchResponse>;

    async fn watch(&self, req: Request<Streaming<pb::WatchRequest>>) -> Resp<Self::WatchStream> {
        self.0.metrics.started("bidi_stream", "Watch", "Watch");
        let mut incoming = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let hub = self.0.hub.clone();
        let stream_id = hub.open_stream(tx.clone());
        self.0.metrics.watch_streams.inc();
        let metrics = self.0.metrics.clone();
        tokio::spawn(async move {
            while let Some(msg) = incoming.next().await {
                let Ok(msg) = msg else { break };
                match msg.request_union {
                    Some(pb::watch_request::RequestUnion::CreateRequest(c)) => hub.create(stream_id, c),
                    Some(pb::watch_request::RequestUnion::CancelRequest(c)) => hub.cancel(stream_id, c.watch_id),
                    Some(pb::watch_request::RequestUnion::ProgressRequest(_)) => hub.request_progress(stream_id),
                    None => {}
                }
            }
            hub.close_stream(stream_id);
            metrics.watch_streams.dec();
        });
        let out = ReceiverStream::new(rx).map(Ok::<_, Status>);
        Ok(Response::new(Box::pin(out)))
    }
}

#[tonic::async_trait]
impl Lease for Services {
    async fn lease_grant(&self, req: Request<pb::LeaseGrantRequest>) -> Resp<pb::LeaseGrantResponse> {
        let mut r = req.into_inner();
        let out = async {
            if r.ttl > MAX_LEASE_TTL {
                return Err(errors::lease_ttl_too_large());
            }
            // The id is chosen before proposing, so applying stays deterministic.
            while r.id == 0 || self.0.sm.lessor.exists(r.id) {
                if r.id != 0 {
                    return Err(apply::ApplyError::LeaseExists.into());
                }
                r.id = (rand::random::<u64>() >> 1) as i64;
            }
            self.0.metrics.lease_granted.inc();
            match self.propose(Proposal::LeaseGrant(r), 0).await? {
                Applied::LeaseGrant(p) => Ok(with_header(&self.0, p, |p| &mut p.header)),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("Lease", "LeaseGrant", out)
    }

    async fn lease_revoke(&self, req: Request<pb::LeaseRevokeRequest>) -> Resp<pb::LeaseRevokeResponse> {
        let r = req.into_inner();
        let out = async {
            match self.propose(Proposal::LeaseRevoke(r), 0).await? {
                Applied::LeaseRevoke(p) => Ok(with_header(&self.0, p, |p| &mut p.header)),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("Lease", "LeaseRevoke", out)
    }

    type LeaseKeepAliveStream = BoxStream<pb::LeaseKeepAliveResponse>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Resp<Self::LeaseKeepAliveStream> {
        self.0.metrics.started("bidi_stream", "Lease", "LeaseKeepAlive");
        let server = self.0.clone();
        let incoming = req.into_inner();
        let out = futures::StreamExt::then(incoming, move |m| {
            let server = server.clone();
            async move {
                let m = m?;
                // An unknown or expired lease is answered with TTL 0, as etcd does.
                let ttl = server.renew_lease(m.id).await?;
                server.metrics.lease_renewed.inc();
                Ok(pb::LeaseKeepAliveResponse {
                    header: Some(server.header(server.sm.mvcc.published_rev())),
                    id: m.id,
                    ttl,
                })
            }
        });
        Ok(Response::new(Box::pin(out)))
    }

    async fn lease_time_to_live(&self, req: Request<pb::LeaseTimeToLiveRequest>) -> Resp<pb::LeaseTimeToLiveResponse> {
        let r = req.into_inner();
        let header = Some(self.0.header(self.0.sm.mvcc.published_rev()));
        let out = match self.0.sm.lessor.time_to_live(r.id) {
            Some(t) => Ok(pb::LeaseTimeToLiveResponse {
                header,
                id: r.id,
                ttl: t.remaining,
                granted_ttl: t.granted,
                keys: if r.keys { t.keys } else { Vec::new() },
            }),
            None => Ok(pb::LeaseTimeToLiveResponse { header, id: r.id, ttl: -1, ..Default::default() }),
        };
        self.unary("Lease", "LeaseTimeToLive", out)
    }

    async fn lease_leases(&self, _req: Request<pb::LeaseLeasesRequest>) -> Resp<pb::LeaseLeasesResponse> {
        let leases = self.0.sm.lessor.ids().into_iter().map(|id| pb::LeaseStatus { id }).collect();
        let out = Ok(pb::LeaseLeasesResponse { header: Some(self.0.header(self.0.sm.mvcc.published_rev())), leases });
        self.unary("Lease", "LeaseLeases", out)
    }
}

impl Services {
    fn cur_header(&self) -> Option<pb::ResponseHeader> {
        Some(self.0.header(self.0.sm.mvcc.published_rev()))
    }
}

#[tonic::async_trait]
impl Cluster for Services {
    async fn member_add(&self, req: Request<pb::MemberAddRequest>) -> Resp<pb::MemberAddResponse> {
        let r = req.get_ref();
        let out = self.0.member_add(&r.peer_ur_ls, r.is_learner).await.map(|m| pb::MemberAddResponse {
            header: Some(self.0.header(0)),
            member: Some(m),
            members: self.0.member_list(),
        });
        self.unary("Cluster", "MemberAdd", out)
    }

    async fn member_remove(&self, req: Request<pb::MemberRemoveRequest>) -> Resp<pb::MemberRemoveResponse> {
        let out = self
            .0
            .member_remove(req.get_ref().id)
            .await
            .map(|()| pb::MemberRemoveResponse { header: Some(self.0.header(0)), members: self.0.member_list() });
        self.unary("Cluster", "MemberRemove", out)
    }

    async fn member_update(&self, req: Request<pb::MemberUpdateRequest>) -> Resp<pb::MemberUpdateResponse> {
        let r = req.get_ref();
        let out = self
            .0
            .member_update(r.id, &r.peer_ur_ls)
            .await
            .map(|()| pb::MemberUpdateResponse { header: Some(self.0.header(0)), members: self.0.member_list() });
        self.unary("Cluster", "MemberUpdate", out)
    }

    async fn member_list(&self, _req: Request<pb::MemberListRequest>) -> Resp<pb::MemberListResponse> {
        // etcd's cluster service headers carry no revision.
        let out = Ok(pb::MemberListResponse { header: Some(self.0.header(0)), members: self.0.member_list() });
        self.unary("Cluster", "MemberList", out)
    }

    async fn member_promote(&self, req: Request<pb::MemberPromoteRequest>) -> Resp<pb::MemberPromoteResponse> {
        let out = self
            .0
            .member_promote(req.get_ref().id)
            .await
            .map(|()| pb::MemberPromoteResponse { header: Some(self.0.header(0)), members: self.0.member_list() });
        self.unary("Cluster", "MemberPromote", out)
    }
}

/// Snapshot stream chunk size, as etcd sends it.
const SNAPSHOT_CHUNK: usize = 32 * 1024;

#[tonic::async_trait]
impl Maintenance for Services {
    async fn alarm(&self, req: Request<pb::AlarmRequest>) -> Resp<pb::AlarmResponse> {
        let r = req.into_inner();
        let out = async {
            if r.action == pb::alarm_request::AlarmAction::Get as i32 {
                // etcd puts every alarm request through Raft, listing too: the answer
                // reflects everything committed when it arrived.
                self.0.read_barrier().await?;
                // etcd answers alarm requests without a header.
                let alarms = self.0.sm.alarms();
                return Ok(pb::AlarmResponse { header: None, alarms });
            }
            match self.propose(Proposal::Alarm(r), 0).await? {
                Applied::Alarm(p) => Ok(pb::AlarmResponse { header: None, ..p }),
                _ => Err(Status::internal("unexpected response")),
            }
        }
        .await;
        self.unary("Maintenance", "Alarm", out)
    }

    async fn status(&self, _req: Request<pb::StatusRequest>) -> Resp<pb::StatusResponse> {
        let s = &self.0;
        let errors =
            s.sm.alarms()
                .iter()
                .map(|a| {
                    let t = pb::AlarmType::try_from(a.alarm).map_or("UNKNOWN", |t| t.as_str_name());
                    format!("memberID:{} alarm:{t} ", a.member_id)
                })
                .collect();
        let out = Ok(pb::StatusResponse {
            header: self.cur_header(),
            version: SERVER_VERSION.into(),
            db_size: s.db_size(),
            leader: s.leader(),
            raft_index: s.raft_index(),
            raft_term: s.term(),
            raft_applied_index: s.sm.applied_index(),
            errors,
            db_size_in_use: s.db_size(),
            is_learner: s.raft.status.learner.load(std::sync::atomic::Ordering::Acquire),
        });
        self.unary("Maintenance", "Status", out)
    }

    async fn defragment(&self, _req: Request<pb::DefragmentRequest>) -> Resp<pb::DefragmentResponse> {
        // sled reclaims space itself; a defragment is a flush.
        let mvcc = &self.0.sm.mvcc;
        let out = mvcc
            .write_back()
            .and_then(|_| mvcc.backend().flush())
            .map(|_| pb::DefragmentResponse { header: self.cur_header() })
            .map_err(|e| Status::internal(e.to_string()));
        self.unary("Maintenance", "Defragment", out)
    }

    async fn hash(&self, _req: Request<pb::HashRequest>) -> Resp<pb::HashResponse> {
        // Everything applied, read at one point (see `Mvcc::read_backend`).
        let hashed = self.0.sm.mvcc.read_backend(|backend| {
            let mut h = 0u32;
            for b in crate::backend::Bucket::ALL {
                h = crc32c::crc32c_append(h, b.name());
                backend.for_each(b, b"", None, &mut |k, v| {
                    h = crc32c::crc32c_append(crc32c::crc32c_append(h, k), v);
                    true
                })?;
            }
            Ok::<_, crate::backend::BackendError>(h)
        });
        let out = match hashed.and_then(|h| h) {
            Err(e) => Err(Status::internal(e.to_string())),
            Ok(hash) => Ok(pb::HashResponse { header: self.cur_header(), hash }),
        };
        self.unary("Maintenance", "Hash", out)
    }

    async fn hash_kv(&self, req: Request<pb::HashKvRequest>) -> Resp<pb::HashKvResponse> {
        let out = self.0.sm.mvcc.hash_kv(req.get_ref().revision).map_err(Status::from).map(|(hash, rev, compact)| {
            pb::HashKvResponse { header: self.cur_header(), hash, compact_revision: compact, hash_revision: rev }
        });
        self.unary("Maintenance", "HashKV", out)
    }

    type SnapshotStream = BoxStream<pb::SnapshotResponse>;

    async fn snapshot(&self, _req: Request<pb::SnapshotRequest>) -> Resp<Self::SnapshotStream> {
        self.0.metrics.started("server_stream", "Maintenance", "Snapshot");
        let server = self.0.clone();
        let data = tokio::task::spawn_blocking(move || super::gateway::snapshot_bytes(&server))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        let header = self.cur_header();
        let total = data.len();
        let chunks: Vec<Result<pb::SnapshotResponse, Status>> = data
            .chunks(SNAPSHOT_CHUNK)
            .enumerate()
            .map(|(i, c)| {
                let sent = (i * SNAPSHOT_CHUNK + c.len()) as u64;
                Ok(pb::SnapshotResponse {
                    header,
                    remaining_bytes: total as u64 - sent,
                    blob: c.to_vec(),
                    version: CLUSTER_VERSION.into(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn move_leader(&self, req: Request<pb::MoveLeaderRequest>) -> Resp<pb::MoveLeaderResponse> {
        let target = req.get_ref().target_id;
        let h = &self.0.raft;
        let r = if !self.0.sm.conf_state().voters.contains(&target) {
            Err(errors::member_not_found())
        } else if !self.0.is_leader() {
            Err(Status::failed_precondition("etcdserver: not leader"))
        } else if target == self.0.id.member_id {
            Ok(pb::MoveLeaderResponse { header: self.cur_header() })
        } else {
            let _ = h.transfer_leader(target);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            while h.leader() != target && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            if h.leader() == target {
                Ok(pb::MoveLeaderResponse { header: self.cur_header() })
            } else {
                Err(super::errors::request_timed_out())
            }
        };
        self.unary("Maintenance", "MoveLeader", r)
    }
}

#[tonic::async_trait]
impl Auth for Services {
    async fn auth_enable(&self, _req: Request<pb::AuthEnableRequest>) -> Resp<pb::AuthEnableResponse> {
        self.unary(
            "Auth",
            "AuthEnable",
            Err(Status::unimplemented("etcdserver: authentication is not supported by this server")),
        )
    }

    async fn auth_disable(&self, _req: Request<pb::AuthDisableRequest>) -> Resp<pb::AuthDisableResponse> {
        self.unary("Auth", "AuthDisable", Ok(pb::AuthDisableResponse { header: self.cur_header() }))
    }

    async fn auth_status(&self, _req: Request<pb::AuthStatusRequest>) -> Resp<pb::AuthStatusResponse> {
        self.unary(
            "Auth",
            "AuthStatus",
            Ok(pb::AuthStatusResponse { header: self.cur_header(), enabled: false, auth_revision: 0 }),
        )
    }

    async fn authenticate(&self, _req: Request<pb::AuthenticateRequest>) -> Resp<pb::AuthenticateResponse> {
        self.unary("Auth", "Authenticate", Err(errors::auth_not_enabled()))
    }
}
