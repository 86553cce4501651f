//! Replication. [`Node`] is the Raft member without I/O of its own: it owns the raft-rs
//! `RawNode`, the durable log and the state machine's write side, and is driven by
//! calls (inputs, ticks, `on_ready`) with an [`Env`] that carries messages out. The
//! real member owns it behind one lock ([`Inbox`]): a request or peer message that
//! finds it idle runs the round on its own thread (no hand-off on the latency path),
//! otherwise it queues for the Raft thread, which also ticks and batches whatever
//! queued up; one round runs at a time. Peer messages go out from a thread of their
//! own. The deterministic simulation drives several nodes from one loop.
//!
//! Handling a `Ready` (the order is load-bearing):
//! 1. send the leader's messages (they may go out before the local append);
//! 2. install a received snapshot: the state machine is replaced and flushed, then the
//!    log records that it now starts after the snapshot;
//! 3. append new entries and the hard state to the write-ahead log and sync it (a hard
//!    state whose only change is the commit index is not written: it needs no sync);
//! 4. send the messages that required persistence (votes, append responses);
//! 5. apply committed entries (a group is one backend batch, each entry carrying its log
//!    index; sled is flushed in the background: the log already holds every entry after
//!    the flushed applied index), publish the new revision to readers, notify watchers,
//!    answer the proposers; the batch of a group of only puts, deletes and txns is held
//!    back and written with later ones by a thread of the member's own, every 500 ms or
//!    once 10,000 operations are held (readers see its records in MVCC's pending map
//!    meanwhile; anything else is written after what is held, and whatever reads the
//!    backend directly writes it first);
//! 6. advance, then handle the light ready the same way (commit index, messages, more
//!    committed entries), answer read-index requests whose index is applied, and
//!    compact the log when `--snapshot-count` entries have been flushed since the last
//!    compaction.
//!
//! Nothing is acknowledged, and no reader sees anything, before it is committed by a
//! quorum and durable in this member's log.

pub mod log;
mod logger;
pub mod storage;
pub mod transport;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};
use std::time::{Duration, Instant};

use proto::etcdserverpb::Member;
use proto::mvccpb::Event;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, HardState, Message, MessageType, Snapshot,
};
use raft::{RawNode, SnapshotStatus, StateRole};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::apply::{ApplyError, Request, Response, StateMachine};
use crate::backend::WriteBatch;
use crate::membership::MemberChange;
use crate::server::metrics::Metrics;
use crate::watch::WatchHub;
use log::{DurableLog, RecordLog};
use storage::{Core, LogStorage};
use transport::{PeerService, Transport};

/// How often a member writes the batches its rounds held back (etcd commits its
/// backend every 100 ms; a longer interval wakes the machine less, and `Mvcc::hold`
/// bounds what is held).
const WRITE_BACK_INTERVAL: Duration = Duration::from_millis(500);

/// Entries kept behind a compaction for followers that lag a little (etcd keeps 5000).
pub const CATCH_UP_ENTRIES: u64 = 5000;

pub type ProposeReply = oneshot::Sender<Result<Response, ApplyError>>;
pub type ConfReply = oneshot::Sender<Result<(), ConfChangeError>>;

/// Inputs to the Raft thread.
pub enum Input {
    Propose(Request, ProposeReply),
    ReadIndex(oneshot::Sender<()>),
    Message(Box<Message>),
    TransferLeader(u64),
    ConfChange(MemberChange, ConfReply),
    /// Whether a snapshot sent to a peer went out (or was dropped).
    SnapshotSent(u64, bool),
    /// A peer refused this member's messages: it was removed from the cluster.
    Removed,
}

/// Why a configuration change was refused before it reached the log.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfChangeError {
    /// Another change is still being applied, or Raft refused it.
    Rejected(String),
    /// The change would leave fewer started voters than a quorum.
    NotEnoughStarted,
    /// A learner must be caught up with the leader before promotion.
    LearnerNotReady,
}

/// What other threads can read about the node without asking it.
#[derive(Default)]
pub struct RaftStatus {
    pub leader: AtomicU64,
    pub term: AtomicU64,
    pub commit: AtomicU64,
    pub applied: AtomicU64,
    /// Highest applied index known durable in the backend (set by the flusher from
    /// MVCC's written position as it was before its flush).
    pub flushed: AtomicU64,
    /// First index still in the log (entries before it were compacted).
    pub first_index: AtomicU64,
    /// This member is a learner (it serves only Status and serializable reads).
    pub learner: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct RaftHandle {
    inbox: Inbox,
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
        self.inbox.submit([Input::Propose(req, tx)]).map_err(|_| Unavailable::Busy)?;
        rx.await.map_err(|_| Unavailable::NoLeader)
    }

    pub async fn change_membership(&self, change: MemberChange) -> Result<Result<(), ConfChangeError>, Unavailable> {
        let (tx, rx) = oneshot::channel();
        self.inbox.submit([Input::ConfChange(change, tx)]).map_err(|_| Unavailable::Busy)?;
        rx.await.map_err(|_| Unavailable::NoLeader)
    }

    /// Waits until this member has applied everything committed when the call was made
    /// (confirmed by a quorum through the leader): a linearizable read may follow.
    pub async fn read_index(&self) -> Result<(), Unavailable> {
        let (tx, rx) = oneshot::channel();
        self.inbox.submit([Input::ReadIndex(tx)]).map_err(|_| Unavailable::Busy)?;
        rx.await.map_err(|_| Unavailable::NoLeader)
    }

    pub fn transfer_leader(&self, to: u64) -> Result<(), Unavailable> {
        self.inbox.submit([Input::TransferLeader(to)]).map_err(|_| Unavailable::Busy)
    }

    pub fn leader(&self) -> u64 {
        self.status.leader.load(Ordering::Acquire)
    }

    pub fn is_leader(&self) -> bool {
        self.leader() == self.id
    }
}

/// Where a [`Node`]'s effects go.
pub trait Env {
    /// Raft messages to peers (may be dropped).
    fn send(&mut self, msgs: Vec<Message>);
    /// Newly applied events, in revision order; `restored` after a snapshot replaced the
    /// state (watchers must catch up from the store).
    fn published(&mut self, events: &[Event], restored: bool);
    /// The membership changed: the peers to talk to.
    fn members_changed(&mut self, members: &[Member]);
}

pub struct NodeConfig {
    pub id: u64,
    pub election_ticks: usize,
    /// Compact the log once this many applied entries are durable in the backend.
    pub snapshot_count: u64,
    /// A new cluster's initial members (bootstrapped into an empty data directory);
    /// None when joining an existing cluster.
    pub bootstrap: Option<Vec<Member>>,
    /// Election timeout range in ticks [min, max); None: raft-rs's default
    /// [election, 2 × election). Simulations fix it per member, since raft-rs draws the
    /// timeout from an unseeded generator.
    pub election_range: Option<(usize, usize)>,
    /// Where this incarnation's request ids start. Entries carry the id of the request
    /// that proposed them, possibly from an earlier incarnation or another member, so
    /// ids must not repeat across restarts: the server draws it at random.
    pub id_seed: u64,
    /// A real member's directory for snapshots as files (those made for followers, and
    /// those received until installed): snapshots are made into it, and held backend
    /// writes written, on threads of their own. None (deterministic runs): snapshots
    /// are made in memory at raft-rs's next request, held writes written at each tick.
    pub snap_dir: Option<std::path::PathBuf>,
}

enum Waiter {
    Data(ProposeReply),
    Conf(ConfReply),
}

/// One Raft member: consensus, its durable log, and the application of committed
/// entries to the state machine.
pub struct Node {
    raw: RawNode<LogStorage>,
    storage: LogStorage,
    log: DurableLog,
    sm: Arc<StateMachine>,
    metrics: Arc<Metrics>,
    status: Arc<RaftStatus>,
    waiters: HashMap<u64, Waiter>,
    /// Proposals received since the last `on_ready`: (id, entry data, reply).
    proposals: Vec<(u64, Vec<u8>, ProposeReply)>,
    read_waiters: HashMap<u64, oneshot::Sender<()>>,
    /// (index to reach, read id), from read states.
    pending_reads: Vec<(u64, u64)>,
    next_id: u64,
    snapshot_count: u64,
    /// The flushed index at the last compaction (etcd's snapshot index).
    snapshot_at: u64,
    role: StateRole,
    /// This member was removed from the cluster by a committed change.
    pub removed: bool,
    /// Ticks so far, and the tick at which each peer was last heard from (etcd's
    /// "started" members for configuration checks; raft-rs's `recent_active` is reset
    /// at every check-quorum round, so it would refuse changes now and then).
    ticks: u64,
    heard: HashMap<u64, u64>,
    /// A real member (see `NodeConfig::snap_dir`).
    background: bool,
    /// What the cluster said when this member joined: it is a learner. Counts until
    /// the member's state has a configuration.
    pub joined_as_learner: bool,
}

fn fatal(what: &str, e: &dyn std::fmt::Display) -> ! {
    tracing::error!(error = %e, "{what}: the store cannot continue safely");
    std::process::exit(1);
}

fn backend_write(r: Result<(), crate::backend::BackendError>, what: &str) {
    if let Err(e) = r {
        fatal(what, &e);
    }
}

impl Node {
    /// Opens the member over its record log (`existing`: the records already in it)
    /// and the state machine.
    pub fn open(
        cfg: NodeConfig,
        sm: Arc<StateMachine>,
        metrics: Arc<Metrics>,
        records: Box<dyn RecordLog>,
        existing: &[(u64, Vec<u8>)],
    ) -> anyhow::Result<Node> {
        let recovered = log::replay(existing)?;
        let mut log = DurableLog::new(records, existing);
        let mut core = Core {
            hard_state: recovered.hard_state,
            conf_state: sm.conf_state(),
            base: recovered.base,
            entries: recovered.entries,
        };
        let fresh = core.base == (0, 0) && core.entries.is_empty() && sm.applied_index() == 0;
        if fresh && let Some(members) = &cfg.bootstrap {
            // Every member of a new cluster starts from the same state at index 1, so a
            // member added later (whose log is empty) is sent a snapshot.
            sm.bootstrap(members)?;
            core.conf_state = sm.conf_state();
            core.base = (1, 1);
            core.hard_state.term = 1;
            core.hard_state.commit = 1;
            log.compacted(1, 1, &core.hard_state)?;
        }
        let applied = sm.applied_index();
        if let Some((index, term)) = sm.installed_snapshot()
            && index == applied
            && (applied > core.last_index() || core.term(applied).ok() != Some(term))
        {
            // The member stopped after installing a snapshot and before its log said
            // so: the log starts after the snapshot. (A log that reaches past it with
            // another term there holds an uncommitted tail the snapshot replaced.)
            core.entries.clear();
            core.base = (index, term);
            core.hard_state.term = core.hard_state.term.max(term);
            log.snapshot_installed(index, term, &core.hard_state)?;
            tracing::info!(index, term, "finished recording a snapshot installed before a stop");
        }
        if applied < core.base.0 || applied > core.last_index() {
            anyhow::bail!(
                "the backend's applied index {applied} is outside the raft log ({}..={}): the data directory is inconsistent",
                core.base.0,
                core.last_index()
            );
        }
        // Applied entries were committed, whatever the last persisted hard state says.
        core.hard_state.commit = core.hard_state.commit.max(applied);
        let lone_voter = core.conf_state.voters == [cfg.id] && core.conf_state.learners.is_empty();
        let status = Arc::new(RaftStatus::default());
        status.applied.store(applied, Ordering::Release);
        status.flushed.store(applied, Ordering::Release);
        status.first_index.store(core.first_index(), Ordering::Release);
        let background = cfg.snap_dir.is_some();
        let storage = LogStorage::new(core, sm.clone(), cfg.snap_dir.clone());
        let raft_cfg = raft::Config {
            id: cfg.id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: 1,
            applied,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            min_election_tick: cfg.election_range.map_or(0, |r| r.0),
            max_election_tick: cfg.election_range.map_or(0, |r| r.1),
            ..Default::default()
        };
        raft_cfg.validate()?;
        let mut raw = RawNode::new(&raft_cfg, storage.clone(), &logger::logger(cfg.id))?;
        if lone_voter {
            // A single voter need not wait out an election timeout.
            raw.campaign()?;
        }
        Ok(Node {
            raw,
            storage,
            log,
            sm,
            metrics,
            status,
            waiters: HashMap::new(),
            proposals: Vec::new(),
            read_waiters: HashMap::new(),
            pending_reads: Vec::new(),
            next_id: cfg.id_seed,
            snapshot_count: cfg.snapshot_count.max(1),
            snapshot_at: applied,
            role: StateRole::Follower,
            removed: false,
            ticks: 0,
            heard: HashMap::new(),
            background,
            joined_as_learner: false,
        })
    }

    pub fn status(&self) -> &Arc<RaftStatus> {
        &self.status
    }

    pub fn id(&self) -> u64 {
        self.raw.raft.id
    }

    pub fn role(&self) -> StateRole {
        self.raw.raft.state
    }

    pub fn term(&self) -> u64 {
        self.raw.raft.term
    }

    pub fn tick(&mut self) {
        // What is held back goes to the backend once per tick (etcd's batch interval),
        // by a thread of its own in a real member.
        if !self.background {
            backend_write(self.sm.mvcc.write_back(), "writing applied entries");
        }
        self.ticks += 1;
        self.raw.tick();
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Propose(req, reply) => {
                // Proposals are batched until the next `on_ready`: one MsgPropose (and
                // one append per follower) for all of them.
                let id = self.next_id();
                let mut data = id.to_be_bytes().to_vec();
                data.extend_from_slice(&req.encode());
                self.proposals.push((id, data, reply));
            }
            Input::ConfChange(change, reply) => {
                if let Err(e) = self.check_conf_change(&change) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let id = self.next_id();
                let mut cc = ConfChange { node_id: change.member_id(), ..Default::default() };
                cc.set_change_type(match &change {
                    MemberChange::Add(m) if m.is_learner => ConfChangeType::AddLearnerNode,
                    MemberChange::Add(_) | MemberChange::Promote(_) => ConfChangeType::AddNode,
                    MemberChange::Remove(_) => ConfChangeType::RemoveNode,
                });
                let mut ctx = id.to_be_bytes().to_vec();
                ctx.extend_from_slice(&change.encode());
                cc.context = ctx.into();
                match self.raw.propose_conf_change(vec![], cc) {
                    Ok(()) => {
                        self.waiters.insert(id, Waiter::Conf(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(ConfChangeError::Rejected(e.to_string())));
                    }
                }
            }
            Input::ReadIndex(reply) => {
                let id = self.next_id();
                self.raw.read_index(id.to_be_bytes().to_vec());
                self.read_waiters.insert(id, reply);
            }
            Input::Message(m) => {
                self.heard.insert(m.from, self.ticks);
                let file = match m.get_msg_type() {
                    MessageType::MsgSnapshot => crate::membership::referenced_snapshot_file(&m.get_snapshot().data),
                    _ => None,
                };
                let before = self.pending_snapshot_file();
                if let Err(e) = self.raw.step(*m) {
                    tracing::debug!(error = %e, "raft step failed");
                }
                // raft-rs ignores a snapshot it does not need, and keeps only the last of
                // those stepped before a Ready: the files of the others go.
                if file.is_some() {
                    let kept = self.pending_snapshot_file();
                    for f in [file, before].into_iter().flatten() {
                        if kept.as_ref() != Some(&f) {
                            let _ = std::fs::remove_file(f);
                        }
                    }
                }
            }
            Input::TransferLeader(to) => self.raw.transfer_leader(to),
            Input::SnapshotSent(to, ok) => {
                let s = if ok { SnapshotStatus::Finish } else { SnapshotStatus::Failure };
                self.raw.report_snapshot(to, s);
            }
            Input::Removed => self.removed = true,
        }
    }

    /// The file of the received snapshot raft-rs is about to hand over in a Ready.
    fn pending_snapshot_file(&self) -> Option<std::path::PathBuf> {
        let snap = self.raw.raft.raft_log.unstable.snapshot.as_ref()?;
        crate::membership::referenced_snapshot_file(&snap.data)
    }

    /// etcd's checks before a configuration change (done where the progress of every
    /// member is known: on the leader; elsewhere the change is forwarded unchecked).
    fn check_conf_change(&self, change: &MemberChange) -> Result<(), ConfChangeError> {
        let r = &self.raw.raft;
        if r.has_pending_conf() {
            return Err(ConfChangeError::Rejected("a configuration change is still in progress".into()));
        }
        if r.state != StateRole::Leader {
            return Ok(());
        }
        let cs = self.storage.rl().conf_state.clone();
        let window = r.election_timeout() as u64;
        let active = |id: &u64| *id == r.id || self.heard.get(id).is_some_and(|t| self.ticks - t <= window);
        let started = cs.voters.iter().filter(|id| active(id)).count();
        let quorum = |voters: usize| voters / 2 + 1;
        // A new voter is not started yet: the others must still be a quorum (a lone
        // member may always take a second one, as etcd allows to restore a cluster).
        let can_add_voter = started >= quorum(cs.voters.len() + 1) || (started == 1 && cs.voters.len() == 1);
        match change {
            MemberChange::Add(m) if !m.is_learner && !can_add_voter => Err(ConfChangeError::NotEnoughStarted),
            MemberChange::Remove(id) if cs.voters.contains(id) => {
                let left = cs.voters.len() - 1;
                let started_left = started - usize::from(active(id));
                if left > 0 && started_left < quorum(left) { Err(ConfChangeError::NotEnoughStarted) } else { Ok(()) }
            }
            MemberChange::Promote(id) => {
                let leader_match = r.raft_log.last_index();
                let learner_match = r.prs().get(*id).map_or(0, |p| p.matched);
                if (learner_match as f64) < leader_match as f64 * 0.9 {
                    Err(ConfChangeError::LearnerNotReady)
                } else if !can_add_voter {
                    Err(ConfChangeError::NotEnoughStarted)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.proposals.is_empty() || self.raw.has_ready()
    }

    fn flush_proposals(&mut self) {
        if self.proposals.is_empty() {
            return;
        }
        let mut m = Message { msg_type: MessageType::MsgPropose, from: self.id(), ..Default::default() };
        let mut waiting = Vec::with_capacity(self.proposals.len());
        for (id, data, reply) in self.proposals.drain(..) {
            m.entries.push(Entry { data: data.into(), ..Default::default() });
            waiting.push((id, reply));
        }
        match self.raw.step(m) {
            Ok(()) => {
                for (id, reply) in waiting {
                    self.waiters.insert(id, Waiter::Data(reply));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, proposals = waiting.len(), "proposals dropped");
                self.metrics.proposals_failed.inc_by(waiting.len() as u64);
                for (_, reply) in waiting {
                    let _ = reply.send(Err(ApplyError::ProposalDropped));
                }
            }
        }
    }

    pub fn on_ready(&mut self, env: &mut dyn Env) {
        self.flush_proposals();
        if !self.raw.has_ready() {
            return;
        }
        let mut rd = self.raw.ready();
        env.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            self.install_snapshot(rd.snapshot().clone(), env);
        }
        let entries = rd.take_entries();
        let hs = rd.hs().cloned();
        if !rd.must_sync() && entries.is_empty() {
            // Only the commit index moved: it need not be durable (a restarted member
            // learns it again, and never applies less than it had), so no sync.
            if let Some(hs) = hs {
                self.storage.wl().hard_state = hs;
            }
        } else if !entries.is_empty() || hs.is_some() {
            let t = Instant::now();
            if let Err(e) = self.log.persist(&entries, hs.as_ref()) {
                fatal("persisting the raft log", &e);
            }
            self.metrics.fsync_duration.observe(t.elapsed().as_secs_f64());
            let mut core = self.storage.wl();
            core.append(&entries);
            if let Some(hs) = hs {
                core.hard_state = hs;
            }
        }
        env.send(rd.take_persisted_messages());
        for rs in rd.take_read_states() {
            if let Ok(b) = <[u8; 8]>::try_from(rs.request_ctx.as_slice()) {
                self.pending_reads.push((rs.index, u64::from_be_bytes(b)));
            }
        }
        let committed = rd.take_committed_entries();
        self.apply(committed, env);
        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.storage.wl().hard_state.commit = commit;
        }
        env.send(light.take_messages());
        self.apply(light.take_committed_entries(), env);
        self.raw.advance_apply();
        self.answer_reads();
        self.maybe_compact();
    }

    fn install_snapshot(&mut self, snap: Snapshot, env: &mut dyn Env) {
        let meta = snap.get_metadata().clone();
        let t = Instant::now();
        // A snapshot this member made of its old state is of no use any more.
        self.storage.reset_snapshot();
        if let Err(e) = self.sm.restore(&snap.data, meta.index, meta.term) {
            fatal("installing a snapshot", &e);
        }
        // A received snapshot's file is done with once the state holds it.
        let mut bytes = snap.data.len() as u64;
        if let Some(path) = crate::membership::referenced_snapshot_file(&snap.data) {
            bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            let _ = std::fs::remove_file(path);
        }
        let hs = {
            let mut core = self.storage.wl();
            core.apply_snapshot(&meta);
            core.hard_state.clone()
        };
        if let Err(e) = self.log.snapshot_installed(meta.index, meta.term, &hs) {
            fatal("recording an installed snapshot", &e);
        }
        self.status.applied.store(meta.index, Ordering::Release);
        self.status.flushed.store(meta.index, Ordering::Release);
        self.snapshot_at = meta.index;
        self.status.first_index.store(meta.index + 1, Ordering::Release);
        // Proposals in flight may be inside the snapshot: their outcome is unknown here.
        self.waiters.clear();
        tracing::info!(
            index = meta.index,
            term = meta.term,
            bytes,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "installed a snapshot from the leader"
        );
        env.published(&[], true);
        env.members_changed(&self.sm.members());
    }

    fn apply(&mut self, entries: Vec<Entry>, env: &mut dyn Env) {
        if entries.is_empty() {
            return;
        }
        // One backend write for the whole group: MVCC's pending records let each entry
        // see the ones before it. Entries that read membership from the backend write
        // what is pending first.
        let mut pending = WriteBatch::default();
        let sm = self.sm.clone();
        // Writes the group so far, up to index `to`, after whatever is held back.
        let write_pending = |pending: &mut WriteBatch, to: u64| {
            backend_write(sm.mvcc.write(std::mem::take(pending), to), "applying committed entries");
        };
        let mut events = Vec::new();
        let mut replies = Vec::new();
        let mut conf_replies = Vec::new();
        let mut membership_changed = false;
        // Only puts, deletes and txns in this group: everything they change is visible
        // to readers through MVCC's pending records, so their batch may be held back
        // (the entries are durable in the log already).
        let mut kv_only = true;
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
                    kv_only &= matches!(req, Request::Put(_) | Request::DeleteRange(_) | Request::Txn(_));
                    // Membership is read from the backend, and a compaction must see
                    // every earlier revision there.
                    if matches!(req, Request::UpdateMember(_) | Request::Compaction(_)) {
                        write_pending(&mut pending, e.index - 1);
                    }
                    let applied = self.sm.apply(e.index, &req);
                    pending.ops.extend(applied.batch.ops);
                    events.extend(applied.events);
                    membership_changed |= matches!(req, Request::UpdateMember(_));
                    if let Some(Waiter::Data(w)) = self.waiters.remove(&id) {
                        replies.push((w, applied.result));
                    }
                }
                EntryType::EntryNormal => pending.ops.extend(self.sm.apply_noop(e.index).ops),
                EntryType::EntryConfChange => {
                    kv_only = false;
                    write_pending(&mut pending, e.index - 1);
                    let cc = match ConfChange::parse_from_bytes(&e.data) {
                        Ok(cc) => cc,
                        Err(err) => fatal("decoding a configuration change", &err),
                    };
                    let id = cc.context.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
                    let change = cc.context.get(8..).map(MemberChange::decode);
                    let outcome = match (change, self.raw.apply_conf_change(&cc)) {
                        (Some(Ok(change)), Ok(cs)) => {
                            let batch = self.sm.apply_member_change(e.index, &change, &cs);
                            backend_write(self.sm.mvcc.write(batch, e.index), "applying a configuration change");
                            self.storage.wl().conf_state = cs;
                            membership_changed = true;
                            if change == MemberChange::Remove(self.id()) {
                                self.removed = true;
                                if self.raw.raft.state == StateRole::Leader {
                                    // raft-rs would go on leading a configuration without
                                    // itself; step down (the member stops anyway).
                                    let term = self.raw.raft.term;
                                    self.raw.raft.become_follower(term, raft::INVALID_ID);
                                }
                            }
                            tracing::info!(index = e.index, change = ?change, "applied a membership change");
                            Ok(())
                        }
                        (_, Err(err)) => {
                            tracing::warn!(error = %err, "configuration change rejected");
                            let noop = self.sm.apply_noop(e.index);
                            backend_write(self.sm.mvcc.write(noop, e.index), "recording the applied index");
                            Err(ConfChangeError::Rejected(err.to_string()))
                        }
                        (_, Ok(_)) => fatal("decoding a configuration change", &"bad context"),
                    };
                    if let Some(Waiter::Conf(w)) = self.waiters.remove(&id) {
                        conf_replies.push((w, outcome));
                    }
                }
                EntryType::EntryConfChangeV2 => {
                    kv_only = false;
                    write_pending(&mut pending, e.index - 1);
                    // Not proposed by this store; applied so the log stays in step.
                    if let Ok(cc) = ConfChangeV2::parse_from_bytes(&e.data)
                        && let Ok(cs) = self.raw.apply_conf_change(&cc)
                    {
                        self.storage.wl().conf_state = cs;
                    }
                    let noop = self.sm.apply_noop(e.index);
                    backend_write(self.sm.mvcc.write(noop, e.index), "recording the applied index");
                }
            }
        }
        if kv_only {
            // Before the answers: what was acknowledged is held (or written) by the time
            // anything reads the backend after writing back what is held.
            backend_write(self.sm.mvcc.hold(pending, last), "applying committed entries");
        } else {
            write_pending(&mut pending, last);
        }
        self.metrics.proposals_applied.inc_by(replies.len() as u64);
        self.metrics.proposals_committed.inc_by(replies.len() as u64);
        self.status.applied.store(last, Ordering::Release);
        self.sm.mvcc.publish();
        env.published(&events, false);
        for (w, r) in replies {
            let _ = w.send(r);
        }
        for (w, r) in conf_replies {
            let _ = w.send(r);
        }
        if membership_changed {
            env.members_changed(&self.sm.members());
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

    /// Drops log entries the backend holds durably, keeping a tail for followers that
    /// lag a little; followers further behind are sent a snapshot.
    fn maybe_compact(&mut self) {
        let flushed = self.status.flushed.load(Ordering::Acquire);
        if flushed < self.snapshot_at + self.snapshot_count {
            return;
        }
        self.snapshot_at = flushed;
        let base = self.storage.rl().base.0;
        let to = flushed.saturating_sub(CATCH_UP_ENTRIES.min(self.snapshot_count - 1));
        if to <= base {
            return;
        }
        let (new_base, hs) = {
            let mut core = self.storage.wl();
            if let Err(e) = core.compact(to) {
                tracing::warn!(error = %e, to, "log compaction skipped");
                return;
            }
            (core.base, core.hard_state.clone())
        };
        if let Err(e) = self.log.compacted(new_base.0, new_base.1, &hs) {
            fatal("compacting the raft log", &e);
        }
        self.status.first_index.store(new_base.0 + 1, Ordering::Release);
        self.storage.expire_snapshot();
        tracing::info!(compacted_to = new_base.0, flushed, "compacted the raft log");
    }

    /// Publishes status after a round of inputs; fails requests a leader change may have
    /// lost (their outcome is unknown to the client, as with a timeout).
    pub fn update_status(&mut self) {
        let r = &self.raw.raft;
        if r.state != self.role {
            self.role = r.state;
            if self.role == StateRole::Leader {
                // A new leader gives every lease its full TTL, so a leader change never
                // expires a lease early (as etcd's lessor promotion does).
                self.sm.lessor.refresh_all();
            }
            tracing::info!(member = format!("{:x}", r.id), term = r.term, role = ?self.role, leader = format!("{:x}", r.leader_id), "raft role changed");
        }
        if self.status.leader.swap(r.leader_id, Ordering::AcqRel) != r.leader_id {
            self.metrics.leader_changes.inc();
            self.waiters.clear();
            self.read_waiters.clear();
            self.pending_reads.clear();
        }
        let learner = {
            let cs = &self.storage.rl().conf_state;
            match cs.voters.is_empty() && cs.learners.is_empty() {
                true => self.joined_as_learner,
                false => cs.learners.contains(&r.id),
            }
        };
        self.status.learner.store(learner, Ordering::Release);
        self.status.term.store(r.term, Ordering::Release);
        self.status.commit.store(r.raft_log.committed, Ordering::Release);
        self.metrics.has_leader.set(i64::from(r.leader_id != 0));
        self.metrics.is_leader.set(i64::from(r.state == StateRole::Leader));
        self.metrics.proposals_pending.set(self.waiters.len() as i64);
    }

    /// The hard state as persisted (for checks in tests and simulations).
    pub fn hard_state(&self) -> HardState {
        self.storage.rl().hard_state.clone()
    }

    /// (index, term) of every entry in the log (for checks in simulations).
    pub fn log_terms(&self) -> (u64, Vec<u64>) {
        let c = self.storage.rl();
        (c.first_index(), c.entries.iter().map(|e| e.term).collect())
    }
}

/// The real member's effects: the peer transport and the watch hub.
struct RealEnv {
    transport: Transport,
    hub: Arc<WatchHub>,
    known: Arc<RwLock<Vec<u64>>>,
}

impl Env for RealEnv {
    fn send(&mut self, msgs: Vec<Message>) {
        self.transport.send(msgs);
    }

    fn published(&mut self, events: &[Event], restored: bool) {
        if restored {
            self.hub.resync_all();
        }
        self.hub.notify(events);
    }

    fn members_changed(&mut self, members: &[Member]) {
        let peers: Vec<(u64, String)> =
            members.iter().filter_map(|m| Some((m.id, m.peer_ur_ls.first()?.clone()))).collect();
        self.transport.set_peers(&peers);
        if let Ok(mut k) = self.known.write() {
            *k = members.iter().map(|m| m.id).collect();
        }
    }
}

/// Configuration of the real member's Raft thread.
pub struct ThreadConfig {
    pub node: NodeConfig,
    pub heartbeat: Duration,
    /// Client TLS for dialing peers (mutual TLS), when configured.
    pub peer_tls: Option<Arc<rustls::ClientConfig>>,
    pub cluster_id: u64,
    /// Every member known at start (for a joining member: what the cluster told it).
    pub members: Vec<Member>,
    /// Cancelled when this member is removed from the cluster.
    pub on_removed: CancellationToken,
}

/// Starts the Raft thread and the peer senders over the write-ahead log in `wal_dir`;
/// returns the handle and the service to mount on the peer listener.
pub fn start(
    cfg: ThreadConfig,
    wal_dir: &std::path::Path,
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<(RaftHandle, PeerService)> {
    let (wal, records) = crate::wal::Wal::open(wal_dir)?;
    let id = cfg.node.id;
    let snap_dir = cfg.node.snap_dir.clone().ok_or_else(|| anyhow::anyhow!("a member needs a snapshot directory"))?;
    let mut node = Node::open(cfg.node, sm.clone(), metrics.clone(), Box::new(wal), &records)?;
    drop(records);
    // A member that joined as a learner is one before its state says so (as etcd's
    // knows from the membership it fetched when joining).
    node.joined_as_learner = cfg.members.iter().any(|m| m.id == id && m.is_learner);
    let (tx, rx) = std::sync::mpsc::sync_channel(16 * 1024);
    let shared = Arc::new(Shared { driver: Mutex::new(None), thread: OnceLock::new() });
    let inbox = Inbox { tx, shared: shared.clone() };
    let status = node.status().clone();
    // Peer senders get a thread of their own: a round run on a request's thread queues
    // its messages and goes on to sync the log, and the messages must go out meanwhile,
    // not after the round (as they would on the caller's runtime thread).
    let peers_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let runtime = peers_rt.handle().clone();
    let peers_cancel = cancel.clone();
    std::thread::Builder::new().name("raft-peers".into()).spawn(move || peers_rt.block_on(peers_cancel.cancelled()))?;
    let mut members = sm.members();
    if members.is_empty() {
        members = cfg.members.clone();
    }
    let known = Arc::new(RwLock::new(members.iter().map(|m| m.id).collect::<Vec<_>>()));
    let transport =
        Transport::new(id, cfg.cluster_id, runtime, cfg.peer_tls.clone(), cancel.clone(), inbox.clone(), metrics);
    let mut env = RealEnv { transport, hub, known: known.clone() };
    env.members_changed(&members);
    *shared.driver.lock().unwrap_or_else(|e| e.into_inner()) = Some(Driver { node, env, rx });
    let (heartbeat, on_removed) = (cfg.heartbeat, cfg.on_removed);
    let thread_cancel = cancel.clone();
    let thread_shared = shared.clone();
    let thread = std::thread::Builder::new().name("raft".into()).spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&thread_shared, heartbeat, &thread_cancel, &on_removed)
        }));
        if r.is_err() {
            fatal("the raft thread panicked", &"see the panic message above");
        }
    })?;
    let _ = shared.thread.set(thread.thread().clone());
    // Writes what the rounds held back, off the Raft round: at an interval, or sooner
    // when much is held.
    let (writer_sm, writer_cancel) = (sm.clone(), cancel.clone());
    let writer = std::thread::Builder::new().name("raft-backend".into()).spawn(move || {
        while !writer_cancel.is_cancelled() {
            std::thread::park_timeout(WRITE_BACK_INTERVAL);
            backend_write(writer_sm.mvcc.write_back(), "writing applied entries");
        }
    })?;
    sm.mvcc.set_writer(writer.thread().clone());
    let handle = RaftHandle { inbox: inbox.clone(), status, id };
    Ok((handle, PeerService { inbox, known, sm, cluster_id: cfg.cluster_id, snap_dir }))
}

/// Where inputs for the node go, from any thread.
///
/// The node runs on whichever thread finds it idle: a caller that gets the lock runs
/// the round itself (queued inputs first, then its own, then the `Ready`), so an
/// uncontended request or peer message costs no hand-off to another thread; a caller
/// that finds the node busy queues its inputs and wakes the Raft thread, which runs
/// the next round (batching everything that queued up meanwhile). Inputs from one
/// caller are handled in the order it submitted them either way. The Raft thread also
/// ticks.
#[derive(Clone)]
pub struct Inbox {
    tx: SyncSender<Input>,
    shared: Arc<Shared>,
}

struct Shared {
    /// None once the Raft thread stopped.
    driver: Mutex<Option<Driver>>,
    thread: OnceLock<std::thread::Thread>,
}

/// Inputs handled per round at most (the rest waits for the next round).
const ROUND_INPUTS: usize = 4096;

struct Driver {
    node: Node,
    env: RealEnv,
    rx: Receiver<Input>,
}

impl Driver {
    /// One round: queued inputs, then `inputs`, then a tick if due, then the `Ready`.
    /// Returns whether inputs are left in the queue.
    fn round(&mut self, inputs: impl IntoIterator<Item = Input>, tick: bool) -> bool {
        let mut left = true;
        for _ in 0..ROUND_INPUTS {
            match self.rx.try_recv() {
                Ok(input) => self.handle(input),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    left = false;
                    break;
                }
            }
        }
        for input in inputs {
            self.handle(input);
        }
        if tick {
            self.node.tick();
        }
        self.node.on_ready(&mut self.env);
        self.node.update_status();
        left
    }

    fn handle(&mut self, input: Input) {
        self.node.handle(input);
    }
}

impl Inbox {
    /// Hands `inputs` to the node: runs a round on this thread if the node is idle,
    /// else queues them for the Raft thread. Fails (dropping the inputs) when the
    /// queue is full or the node stopped.
    pub fn submit(&self, inputs: impl IntoIterator<Item = Input>) -> Result<(), Unavailable> {
        let mut guard = match self.shared.driver.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                for input in inputs {
                    self.queue(input)?;
                }
                return Ok(());
            }
        };
        let Some(driver) = guard.as_mut() else {
            return Err(Unavailable::Busy);
        };
        let left = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.round(inputs, false))) {
            Ok(left) => left,
            Err(_) => fatal("a raft round panicked", &"see the panic message above"),
        };
        drop(guard);
        if left {
            self.wake();
        }
        Ok(())
    }

    /// Queues one input for the Raft thread (never runs the node on this thread: for
    /// callers inside a round).
    pub fn queue(&self, input: Input) -> Result<(), Unavailable> {
        let r = self.tx.try_send(input).map_err(|e| match e {
            TrySendError::Full(_) | TrySendError::Disconnected(_) => Unavailable::Busy,
        });
        self.wake();
        r
    }

    fn wake(&self) {
        if let Some(t) = self.shared.thread.get() {
            t.unpark();
        }
    }
}

/// The Raft thread: ticks, and runs the rounds callers queued for it.
///
/// A member removed from the cluster stops ten heartbeats later (as etcd does), so the
/// messages that tell the others the removal committed still go out.
fn run(shared: &Shared, heartbeat: Duration, cancel: &CancellationToken, on_removed: &CancellationToken) {
    let mut last_tick = Instant::now();
    let mut removed_at = None;
    while !cancel.is_cancelled() {
        std::thread::park_timeout(heartbeat.saturating_sub(last_tick.elapsed()));
        let mut guard = shared.driver.lock().unwrap_or_else(|e| e.into_inner());
        let Some(driver) = guard.as_mut() else {
            return;
        };
        let tick = last_tick.elapsed() >= heartbeat;
        if tick {
            last_tick = Instant::now();
        }
        if driver.round(std::iter::empty(), tick) {
            std::thread::current().unpark();
        }
        if driver.node.removed {
            let at = *removed_at.get_or_insert_with(Instant::now);
            if at.elapsed() >= heartbeat * 10 && !on_removed.is_cancelled() {
                tracing::warn!("this member has been permanently removed from the cluster; stopping");
                on_removed.cancel();
            }
        }
    }
    // Stopped: later inputs fail instead of running a node nobody ticks.
    shared.driver.lock().unwrap_or_else(|e| e.into_inner()).take();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use log::MemRecordLog;

    fn sm() -> Arc<StateMachine> {
        Arc::new(StateMachine::open(Arc::new(MemoryBackend::new()), 1).unwrap())
    }

    fn cfg(id: u64, bootstrap: Option<Vec<Member>>) -> NodeConfig {
        NodeConfig {
            id,
            election_ticks: 10,
            snapshot_count: 100,
            bootstrap,
            election_range: None,
            id_seed: 1,
            snap_dir: None,
        }
    }

    /// A snapshot at index 10 of a 3-member cluster's leader that applied nine puts.
    fn leader_snapshot_at_10() -> Vec<u8> {
        let members: Vec<Member> =
            (1..=3).map(|id| Member { id, peer_ur_ls: vec![format!("http://n{id}")], ..Default::default() }).collect();
        let leader = sm();
        leader.bootstrap(&members).unwrap();
        for i in 2..=10 {
            let put = Request::Put(proto::etcdserverpb::PutRequest {
                key: format!("k{i}").into_bytes(),
                value: b"v".to_vec(),
                ..Default::default()
            });
            leader.mvcc.write(leader.apply(i, &put).batch, i).unwrap();
        }
        leader.snapshot_data().unwrap()
    }

    #[test]
    fn a_member_stopped_between_snapshot_install_and_its_log_record_starts() {
        let data = leader_snapshot_at_10();
        // A joining member installed the snapshot in its state, then stopped before its
        // log recorded it.
        let follower = sm();
        follower.restore(&data, 10, 3).unwrap();
        let records = MemRecordLog::default();
        let metrics = Arc::new(Metrics::new("test"));
        let node = Node::open(cfg(2, None), follower.clone(), metrics.clone(), Box::new(records.clone()), &[]).unwrap();
        assert_eq!(node.log_terms().0, 11, "the log starts after the snapshot");
        drop(node);
        let again = records.records();
        let node = Node::open(cfg(2, None), follower, metrics, Box::new(records), &again).unwrap();
        assert_eq!(node.log_terms().0, 11);
        assert_eq!(node.hard_state().term, 3);
    }

    struct NoEnv;

    impl Env for NoEnv {
        fn send(&mut self, _: Vec<Message>) {}
        fn published(&mut self, _: &[Event], _: bool) {}
        fn members_changed(&mut self, _: &[Member]) {}
    }

    fn snapshot_message(path: &std::path::Path, index: u64, term: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgSnapshot);
        (m.from, m.to, m.term) = (1, 2, term);
        let s = m.mut_snapshot();
        s.mut_metadata().index = index;
        s.mut_metadata().term = term;
        s.mut_metadata().set_conf_state(raft::eraftpb::ConfState::from((vec![1, 2, 3], vec![])));
        s.data = crate::membership::snapshot_file_reference(path).into();
        m
    }

    #[test]
    fn received_snapshot_files_go_once_installed_or_ignored() {
        let data = leader_snapshot_at_10();
        let dir = tempfile::tempdir().unwrap();
        let first = crate::membership::snapshot_file(dir.path(), 10);
        std::fs::write(&first, &data).unwrap();
        let follower = sm();
        let metrics = Arc::new(Metrics::new("test"));
        let mut node =
            Node::open(cfg(2, None), follower.clone(), metrics, Box::new(MemRecordLog::default()), &[]).unwrap();
        node.handle(Input::Message(Box::new(snapshot_message(&first, 10, 3))));
        node.on_ready(&mut NoEnv);
        assert_eq!(follower.applied_index(), 10);
        assert!(!first.exists(), "installed: its file is gone");
        // The same snapshot again: raft-rs ignores it.
        let again = dir.path().join("again.snap");
        std::fs::write(&again, &data).unwrap();
        node.handle(Input::Message(Box::new(snapshot_message(&again, 10, 3))));
        node.on_ready(&mut NoEnv);
        assert!(!again.exists(), "ignored: its file is gone");
    }
}
