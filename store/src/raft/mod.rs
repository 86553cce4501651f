//! Replication: one OS thread owns the raft-rs `RawNode`. Proposals, read-index
//! requests and peer messages arrive on one bounded inbox; committed entries are applied
//! through the same [`StateMachine::apply`] the single-member path uses.
//!
//! Handling a `Ready` (the order is load-bearing):
//! 1. send the leader's messages (they may go out before the local append);
//! 2. persist new entries and the hard state to the backend, then flush;
//! 3. send the messages that required persistence (votes, append responses);
//! 4. apply committed entries (one batch each, with their log index), flush, publish
//!    the new revision to readers, notify watchers, answer the proposers;
//! 5. advance, then handle the light ready the same way (commit index, messages,
//!    more committed entries), and answer read-index requests whose index is applied.
//!
//! Nothing is acknowledged, and no reader sees anything, before it is durable here and
//! committed by a quorum.

mod logger;
pub mod storage;
pub mod transport;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeV2, Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{RawNode, StateRole};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyError, Request, Response, StateMachine};
use crate::backend::{Backend, WriteBatch};
use crate::server::metrics::Metrics;
use crate::watch::WatchHub;
use transport::{PeerService, Transport};

/// Inputs to the Raft thread.
pub enum Input {
    Propose(Request, oneshot::Sender<Result<Response, ApplyError>>),
    ReadIndex(oneshot::Sender<()>),
    Message(Box<Message>),
    TransferLeader(u64),
}

/// What other threads can read about the node without asking it.
#[derive(Default)]
pub struct RaftStatus {
    pub leader: AtomicU64,
    pub term: AtomicU64,
    pub commit: AtomicU64,
    pub applied: AtomicU64,
}

#[derive(Clone)]
pub struct RaftHandle {
    inbox: SyncSender<Input>,
    pub status: Arc<RaftStatus>,
    pub id: u64,
}

/// Why a request did not get through Raft.
#[derive(Debug)]
pub enum Unavailable {
    /// No leader known, or the proposal was dropped by a leader change.
    NoLeader,
    /// The inbox is full or the node stopped.
    Busy,
}

impl RaftHandle {
    pub async fn propose(&self, req: Request) -> Result<Result<Response, ApplyError>, Unavailable> {
        let (tx, rx) = oneshot::channel();
        match self.inbox.try_send(Input::Propose(req, tx)) {
            Ok(()) => rx.await.map_err(|_| Unavailable::NoLeader),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(Unavailable::Busy),
        }
    }

    /// Waits until this member has applied everything committed when the call was made
    /// (confirmed by a quorum through the leader): a linearizable read may follow.
    pub async fn read_index(&self) -> Result<(), Unavailable> {
        let (tx, rx) = oneshot::channel();
        self.inbox.try_send(Input::ReadIndex(tx)).map_err(|_| Unavailable::Busy)?;
        rx.await.map_err(|_| Unavailable::NoLeader)
    }

    pub fn transfer_leader(&self, to: u64) -> Result<(), Unavailable> {
        self.inbox.try_send(Input::TransferLeader(to)).map_err(|_| Unavailable::Busy)
    }

    pub fn leader(&self) -> u64 {
        self.status.leader.load(Ordering::Acquire)
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == self.id
    }
}

pub struct NodeConfig {
    pub id: u64,
    /// Every initial member: (id, peer URL).
    pub peers: Vec<(u64, String)>,
    pub heartbeat: Duration,
    pub election_ticks: usize,
    /// Client TLS for dialing peers (mutual TLS), when configured.
    pub peer_tls: Option<Arc<rustls::ClientConfig>>,
}

/// Starts the Raft thread and the peer senders; returns the handle and the service to
/// mount on the peer listener.
pub fn start(
    cfg: NodeConfig,
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<(RaftHandle, PeerService)> {
    let backend = sm.mvcc.backend().clone();
    let voters: Vec<u64> = cfg.peers.iter().map(|(id, _)| *id).collect();
    let storage = storage::load(backend.as_ref(), &voters)?;
    let raft_cfg = raft::Config {
        id: cfg.id,
        election_tick: cfg.election_ticks,
        heartbeat_tick: 1,
        applied: sm.applied_index(),
        pre_vote: true,
        check_quorum: true,
        max_size_per_msg: 1 << 20,
        max_inflight_msgs: 256,
        ..Default::default()
    };
    raft_cfg.validate()?;
    let node = RawNode::new(&raft_cfg, storage.clone(), &logger::logger(cfg.id))?;
    let (inbox, rx) = std::sync::mpsc::sync_channel(16 * 1024);
    let status = Arc::new(RaftStatus::default());
    status.applied.store(sm.applied_index(), Ordering::Release);
    let runtime = tokio::runtime::Handle::current();
    let transport = Transport::start(cfg.id, &cfg.peers, &runtime, cfg.peer_tls.clone(), cancel.clone());
    let members = Arc::new(RwLock::new(voters));
    let mut thread = RaftThread {
        node,
        storage,
        backend,
        sm,
        hub,
        metrics,
        transport,
        status: status.clone(),
        waiters: HashMap::new(),
        read_waiters: HashMap::new(),
        pending_reads: Vec::new(),
        next_id: (cfg.id & 0xffff) << 48,
        heartbeat: cfg.heartbeat,
        cancel,
    };
    std::thread::Builder::new().name("raft".into()).spawn(move || thread.run(rx))?;
    let handle = RaftHandle { inbox: inbox.clone(), status, id: cfg.id };
    Ok((handle, PeerService { inbox, members }))
}

struct RaftThread {
    node: RawNode<MemStorage>,
    storage: MemStorage,
    backend: Arc<dyn Backend>,
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
    transport: Arc<Transport>,
    status: Arc<RaftStatus>,
    waiters: HashMap<u64, oneshot::Sender<Result<Response, ApplyError>>>,
    read_waiters: HashMap<u64, oneshot::Sender<()>>,
    /// (index to reach, read id), from read states.
    pending_reads: Vec<(u64, u64)>,
    next_id: u64,
    heartbeat: Duration,
    cancel: CancellationToken,
}

fn fatal(what: &str, e: &dyn std::fmt::Display) -> ! {
    tracing::error!(error = %e, "{what}: the store cannot continue safely");
    std::process::exit(1);
}

impl RaftThread {
    fn run(&mut self, rx: Receiver<Input>) {
        let mut last_tick = Instant::now();
        let mut role = StateRole::Follower;
        while !self.cancel.is_cancelled() {
            let wait = self.heartbeat.saturating_sub(last_tick.elapsed());
            match rx.recv_timeout(wait) {
                Ok(input) => {
                    self.handle(input);
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok(i) => self.handle(i),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if last_tick.elapsed() >= self.heartbeat {
                self.node.tick();
                last_tick = Instant::now();
            }
            self.on_ready();
            let r = &self.node.raft;
            if r.state != role {
                role = r.state;
                if role == StateRole::Leader {
                    // A new leader gives every lease its full TTL, so a leader change
                    // never expires a lease early (as etcd's lessor promotion does).
                    self.sm.lessor.refresh_all();
                }
                tracing::info!(member = format!("{:x}", r.id), term = r.term, role = ?role, leader = format!("{:x}", r.leader_id), "raft role changed");
            }
            if self.status.leader.swap(r.leader_id, Ordering::AcqRel) != r.leader_id {
                self.metrics.leader_changes.inc();
                // Proposals and reads in flight may have gone to the old leader and be
                // lost: fail them now (their outcome is unknown to the client, as with
                // a timeout) rather than letting them wait out the request timeout.
                self.waiters.clear();
                self.read_waiters.clear();
                self.pending_reads.clear();
            }
            self.status.term.store(r.term, Ordering::Release);
            self.status.commit.store(r.raft_log.committed, Ordering::Release);
            self.metrics.has_leader.set(i64::from(r.leader_id != 0));
            self.metrics.is_leader.set(i64::from(r.state == StateRole::Leader));
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Propose(req, reply) => {
                let id = self.next_id();
                let mut data = id.to_be_bytes().to_vec();
                data.extend_from_slice(&req.encode());
                match self.node.propose(vec![], data) {
                    Ok(()) => {
                        self.waiters.insert(id, reply);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "proposal dropped");
                        self.metrics.proposals_failed.inc();
                    }
                }
            }
            Input::ReadIndex(reply) => {
                let id = self.next_id();
                self.node.read_index(id.to_be_bytes().to_vec());
                self.read_waiters.insert(id, reply);
            }
            Input::Message(m) => {
                if let Err(e) = self.node.step(*m) {
                    tracing::debug!(error = %e, "raft step failed");
                }
            }
            Input::TransferLeader(to) => self.node.transfer_leader(to),
        }
    }

    fn on_ready(&mut self) {
        if !self.node.has_ready() {
            return;
        }
        let mut rd = self.node.ready();
        self.transport.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            tracing::error!("received a raft snapshot; snapshot install is not supported yet");
        }
        let entries = rd.entries().clone();
        let hs = rd.hs().cloned();
        if !entries.is_empty() || hs.is_some() {
            let mut batch = WriteBatch::default();
            let old_last = raft::Storage::last_index(&self.storage).unwrap_or(0);
            storage::persist(&mut batch, &entries, old_last, hs.as_ref());
            let t = Instant::now();
            if let Err(e) = self.backend.write(batch).and_then(|_| self.backend.flush()) {
                fatal("persisting the raft log", &e);
            }
            self.metrics.fsync_duration.observe(t.elapsed().as_secs_f64());
            let mut core = self.storage.wl();
            if !entries.is_empty()
                && let Err(e) = core.append(&entries)
            {
                fatal("appending to the raft log", &e);
            }
            if let Some(hs) = hs {
                core.set_hardstate(hs);
            }
        }
        self.transport.send(rd.take_persisted_messages());
        for rs in rd.take_read_states() {
            if let Ok(b) = <[u8; 8]>::try_from(rs.request_ctx.as_slice()) {
                self.pending_reads.push((rs.index, u64::from_be_bytes(b)));
            }
        }
        let committed = rd.take_committed_entries();
        self.apply(committed);
        let mut light = self.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.storage.wl().mut_hard_state().commit = commit;
            let hs = self.storage.rl().hard_state().clone();
            let mut batch = WriteBatch::default();
            storage::persist(&mut batch, &[], 0, Some(&hs));
            if let Err(e) = self.backend.write(batch) {
                fatal("persisting the hard state", &e);
            }
        }
        self.transport.send(light.take_messages());
        self.apply(light.take_committed_entries());
        self.node.advance_apply();
        self.answer_reads();
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let mut events = Vec::new();
        let mut replies = Vec::new();
        let mut last = 0;
        for e in entries {
            last = e.index;
            match e.get_entry_type() {
                EntryType::EntryNormal if e.data.len() > 8 => {
                    let id = u64::from_be_bytes(e.data[..8].try_into().unwrap_or([0; 8]));
                    let req = match Request::decode(&e.data[8..]) {
                        Ok(r) => r,
                        Err(err) => fatal("decoding a committed entry", &err),
                    };
                    let applied = self.sm.apply(e.index, &req);
                    if let Err(err) = self.backend.write(applied.batch) {
                        fatal("applying a committed entry", &err);
                    }
                    self.sm.mvcc.batches_written();
                    events.extend(applied.events);
                    if let Some(w) = self.waiters.remove(&id) {
                        replies.push((w, applied.result));
                    }
                }
                EntryType::EntryNormal => self.write_noop(e.index),
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    let cs = if e.get_entry_type() == EntryType::EntryConfChange {
                        ConfChange::parse_from_bytes(&e.data).map(|cc| self.node.apply_conf_change(&cc))
                    } else {
                        ConfChangeV2::parse_from_bytes(&e.data).map(|cc| self.node.apply_conf_change(&cc))
                    };
                    match cs {
                        Ok(Ok(cs)) => {
                            let mut batch = WriteBatch::default();
                            storage::persist_conf_state(&mut batch, &cs);
                            self.storage.wl().set_conf_state(cs);
                            if let Err(err) = self.backend.write(batch) {
                                fatal("persisting a configuration change", &err);
                            }
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "configuration change rejected")
                        }
                        Err(err) => fatal("decoding a configuration change", &err),
                    }
                    self.write_noop(e.index);
                }
            }
        }
        let t = Instant::now();
        if let Err(e) = self.backend.flush() {
            fatal("flushing applied entries", &e);
        }
        self.metrics.commit_duration.observe(t.elapsed().as_secs_f64());
        self.metrics.proposals_applied.inc_by(replies.len() as u64);
        self.metrics.proposals_committed.inc_by(replies.len() as u64);
        self.status.applied.store(last, Ordering::Release);
        self.sm.mvcc.publish();
        self.hub.notify(&events);
        for (w, r) in replies {
            let _ = w.send(r);
        }
    }

    /// Records the applied index of an entry that changes no data.
    fn write_noop(&mut self, index: u64) {
        if let Err(e) = self.backend.write(self.sm.apply_noop(index)) {
            fatal("recording the applied index", &e);
        }
    }

    fn answer_reads(&mut self) {
        let applied = self.status.applied.load(Ordering::Acquire).max(self.sm.applied_index());
        let mut i = 0;
        while i < self.pending_reads.len() {
            let (index, id) = self.pending_reads[i];
            if index <= applied {
                self.pending_reads.swap_remove(i);
                if let Some(w) = self.read_waiters.remove(&id) {
                    let _ = w.send(());
                }
            } else {
                i += 1;
            }
        }
        // Read requests whose read state never came (leader change) are dropped by their
        // callers' timeouts; keep the map from growing without bound.
        if self.read_waiters.len() > 100_000 {
            self.read_waiters.clear();
        }
    }
}
