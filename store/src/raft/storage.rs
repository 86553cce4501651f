//! What raft-rs reads: the log in memory (its durable copy is [`super::log`]), the hard
//! state, the configuration, and snapshots, which are made on demand from the state
//! machine at its applied index (the data is what sled holds; nothing is kept aside),
//! read off the Raft round into a file that the snapshot's data refers to.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::apply::{ApplyError, StateMachine};
use crate::backend::BackendError;
use crate::membership::SnapshotView;

#[derive(Default)]
pub struct Core {
    pub hard_state: HardState,
    pub conf_state: ConfState,
    /// (index, term) of the entry the log starts after.
    pub base: (u64, u64),
    pub entries: Vec<Entry>,
}

impl Core {
    pub fn first_index(&self) -> u64 {
        self.base.0 + 1
    }

    pub fn last_index(&self) -> u64 {
        self.base.0 + self.entries.len() as u64
    }

    pub fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.base.0 {
            return Ok(self.base.1);
        }
        if idx < self.base.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        match self.entries.get((idx - self.first_index()) as usize) {
            Some(e) => Ok(e.term),
            None => Err(raft::Error::Store(StorageError::Unavailable)),
        }
    }

    /// Appends entries, replacing the suffix they overlap.
    pub fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        assert!(
            first.index > self.base.0 && first.index <= self.last_index() + 1,
            "append at {} outside the log ({}..={})",
            first.index,
            self.first_index(),
            self.last_index()
        );
        self.entries.truncate((first.index - self.first_index()) as usize);
        self.entries.extend_from_slice(ents);
    }

    /// Drops the entries up to `index` (which must be in the log).
    pub fn compact(&mut self, index: u64) -> raft::Result<()> {
        if index <= self.base.0 {
            return Ok(());
        }
        let term = self.term(index)?;
        self.entries.drain(..(index - self.base.0) as usize);
        self.base = (index, term);
        Ok(())
    }

    /// Replaces the log with an installed snapshot.
    pub fn apply_snapshot(&mut self, meta: &SnapshotMetadata) {
        self.entries.clear();
        self.base = (meta.index, meta.term);
        self.conf_state = meta.get_conf_state().clone();
        self.hard_state.term = self.hard_state.term.max(meta.term);
        self.hard_state.commit = meta.index;
    }
}

#[derive(Clone)]
pub struct LogStorage {
    core: Arc<RwLock<Core>>,
    sm: Arc<StateMachine>,
    maker: Arc<Mutex<SnapshotMaker>>,
}

impl LogStorage {
    /// `files`: make snapshots on a thread of their own, into files in this directory
    /// (a real member); None: in memory, at raft-rs's next request (deterministic runs).
    pub fn new(core: Core, sm: Arc<StateMachine>, files: Option<PathBuf>) -> Self {
        let maker = SnapshotMaker { state: Making::Idle, files, epoch: 0 };
        Self { core: Arc::new(RwLock::new(core)), sm, maker: Arc::new(Mutex::new(maker)) }
    }

    /// Forgets any snapshot made or being made: the state machine was replaced by an
    /// installed one.
    pub fn reset_snapshot(&self) {
        self.maker.lock().unwrap_or_else(|e| e.into_inner()).reset();
    }

    /// Drops a finished snapshot the log has moved past.
    pub fn expire_snapshot(&self) {
        let base = self.rl().base.0;
        self.maker.lock().unwrap_or_else(|e| e.into_inner()).expire(base);
    }

    pub fn rl(&self) -> RwLockReadGuard<'_, Core> {
        self.core.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn wl(&self) -> RwLockWriteGuard<'_, Core> {
        self.core.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl raft::Storage for LogStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let c = self.rl();
        Ok(RaftState::new(c.hard_state.clone(), c.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _ctx: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let c = self.rl();
        if low < c.first_index() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > c.last_index() + 1 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let off = c.first_index();
        let mut ents = c.entries[(low - off) as usize..(high - off) as usize].to_vec();
        raft::util::limit_size(&mut ents, max_size.into());
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.rl().term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.rl().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.rl().last_index())
    }

    /// A snapshot for a follower too far behind for the log. Making one reads the whole
    /// key history, so it is not done here, inside a Raft round: the first request takes
    /// the snapshot's view at the applied index and answers "temporarily unavailable";
    /// the data is read off the round, and a later request (raft-rs asks again at the
    /// follower's next heartbeat response) gets the finished snapshot.
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let unavailable = || raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable);
        let mut maker = self.maker.lock().unwrap_or_else(|e| e.into_inner());
        let base = self.rl().base.0;
        if let Making::Ready(snap) = &maker.state {
            // A snapshot older than the log's start is no use: the follower could not
            // go on from it with the log.
            let index = snap.get_metadata().index;
            if index >= request_index && index >= base {
                return Ok(snap.clone());
            }
            maker.set(Making::Idle);
        }
        if let Making::Waiting(_) = &maker.state
            && maker.files.is_none()
        {
            // Deterministic runs (the simulation) read the data at the next request,
            // after whatever was applied in between.
            let Making::Waiting(pending) = std::mem::replace(&mut maker.state, Making::Idle) else { unreachable!() };
            if let Some(snap) = pending.finish(&self.sm, None) {
                maker.state = Making::Ready(snap.clone());
                return Ok(snap);
            }
        }
        if let Making::Idle = maker.state {
            let index = self.sm.applied_index();
            if index == 0 || index < request_index {
                return Err(unavailable());
            }
            let term = self.rl().term(index).map_err(|_| unavailable())?;
            let view = self.sm.snapshot_view().map_err(|e| {
                tracing::error!(error = %e, "making a snapshot failed");
                unavailable()
            })?;
            let mut meta = SnapshotMetadata { index, term, ..Default::default() };
            meta.set_conf_state(self.sm.conf_state());
            tracing::info!(index, term, "making a snapshot to send");
            let pending = Pending { meta, view };
            if let Some(dir) = maker.files.clone() {
                maker.state = Making::Running;
                let (sm, shared, epoch) = (self.sm.clone(), self.maker.clone(), maker.epoch);
                let spawned = std::thread::Builder::new().name("raft-snapshot".into()).spawn(move || {
                    // A panic must not leave the maker "running" for good.
                    let done =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pending.finish(&sm, Some(&dir))))
                            .ok()
                            .flatten();
                    let mut m = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if m.epoch == epoch {
                        m.state = done.map_or(Making::Idle, Making::Ready);
                    } else if let Some(snap) = done {
                        discard(&snap);
                    }
                });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "starting the snapshot thread failed");
                    maker.state = Making::Idle;
                }
            } else {
                maker.state = Making::Waiting(pending);
            }
        }
        Err(unavailable())
    }
}

/// Where the making of the snapshot for lagging followers stands.
enum Making {
    Idle,
    /// Taken at the applied index, data not read yet (deterministic runs).
    Waiting(Pending),
    /// The data is being read on the snapshot thread.
    Running,
    Ready(Snapshot),
}

pub struct SnapshotMaker {
    state: Making,
    /// Make snapshots on a thread of their own, into files in this directory (a real
    /// member), or in memory at the next request (the simulation, which must be
    /// deterministic).
    files: Option<PathBuf>,
    /// Counts resets: a snapshot thread started before one throws its work away.
    epoch: u64,
}

impl SnapshotMaker {
    /// Forgets any snapshot made or being made (the state machine was replaced).
    fn reset(&mut self) {
        self.epoch += 1;
        self.set(Making::Idle);
    }

    /// Forgets a finished snapshot (its memory or file) once the log has moved past it.
    pub fn expire(&mut self, base: u64) {
        if let Making::Ready(s) = &self.state
            && s.get_metadata().index < base
        {
            self.set(Making::Idle);
        }
    }

    /// Moves to `state`, removing the file of a finished snapshot left behind (a send
    /// that already opened it reads on).
    fn set(&mut self, state: Making) {
        if let Making::Ready(old) = std::mem::replace(&mut self.state, state) {
            discard(&old);
        }
    }
}

/// Removes the file a snapshot made into a file refers to.
fn discard(snap: &Snapshot) {
    if let Some(path) = crate::membership::referenced_snapshot_file(&snap.data) {
        let _ = std::fs::remove_file(path);
    }
}

/// Writes a snapshot into file `path`; returns its size and the reference to it. (Not
/// synced: a member that stops removes it at start.)
fn into_file(sm: &StateMachine, view: SnapshotView, path: &Path) -> Result<Option<(u64, Vec<u8>)>, ApplyError> {
    let io = |e: std::io::Error| BackendError::Engine(format!("writing {}: {e}", path.display()));
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    let complete = sm.snapshot_into(view, &mut out)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    if !complete {
        let _ = std::fs::remove_file(path);
        return Ok(None);
    }
    let bytes = file.metadata().map_err(io)?.len();
    Ok(Some((bytes, crate::membership::snapshot_file_reference(path))))
}

struct Pending {
    meta: SnapshotMetadata,
    view: SnapshotView,
}

impl Pending {
    /// Reads the key history; None when a compaction got in the way (the next request
    /// starts over) or the backend failed.
    /// In memory, or into a file in `dir` that the snapshot's data then refers to.
    fn finish(self, sm: &StateMachine, dir: Option<&Path>) -> Option<Snapshot> {
        let index = self.meta.index;
        let made = match dir {
            None => sm.snapshot_from(self.view).map(|d| d.map(|d| (d.len() as u64, d))),
            Some(dir) => into_file(sm, self.view, &dir.join(format!("out-{index:016x}.snap"))),
        };
        match made {
            Ok(Some((bytes, data))) => {
                let mut snap = Snapshot::default();
                snap.set_metadata(self.meta);
                snap.data = data.into();
                tracing::info!(index, bytes, "made a snapshot to send");
                Some(snap)
            }
            Ok(None) => {
                tracing::info!(index, "a compaction ran while a snapshot was made; making another");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "making a snapshot failed");
                None
            }
        }
    }
}
