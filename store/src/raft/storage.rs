//! What raft-rs reads: the log in memory (its durable copy is [`super::log`]), the hard
//! state, the configuration, and snapshots, which are made on demand from the state
//! machine at its applied index (the data is what sled holds; nothing is kept aside).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, StorageError};

use crate::apply::StateMachine;

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
}

impl LogStorage {
    pub fn new(core: Core, sm: Arc<StateMachine>) -> Self {
        Self { core: Arc::new(RwLock::new(core)), sm }
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

    /// A snapshot of the state machine as applied now (on the Raft thread, which is its
    /// only writer, so the data and the index agree).
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let index = self.sm.applied_index();
        let unavailable = || raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable);
        if index == 0 || index < request_index {
            return Err(unavailable());
        }
        let term = self.rl().term(index).map_err(|_| unavailable())?;
        let data = self.sm.snapshot_data().map_err(|e| {
            tracing::error!(error = %e, "making a snapshot failed");
            unavailable()
        })?;
        let mut snap = Snapshot::default();
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.sm.conf_state());
        snap.data = data.into();
        tracing::info!(index, term, bytes = snap.data.len(), "made a snapshot to send");
        Ok(snap)
    }
}
