//! Durable Raft state in the store's backend: log entries, hard state and
//! configuration state. raft-rs reads through its `MemStorage`, which is loaded from
//! the backend at start and kept in step with it: everything is written to the backend
//! (and flushed) before raft-rs is told it is persisted.

use raft::eraftpb::{ConfState, Entry, HardState};
use raft::storage::MemStorage;

use crate::backend::{Backend, BackendError, Bucket, WriteBatch};

const HARD_STATE: &[u8] = b"hardstate";
const CONF_STATE: &[u8] = b"confstate";

#[derive(Debug, thiserror::Error)]
pub enum RaftStorageError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("corrupt raft record {0}")]
    Corrupt(String),
}

fn decode<M: protobuf::Message>(what: &str, b: &[u8]) -> Result<M, RaftStorageError> {
    M::parse_from_bytes(b).map_err(|e| RaftStorageError::Corrupt(format!("{what}: {e}")))
}

fn encode<M: protobuf::Message>(m: &M) -> Vec<u8> {
    m.write_to_bytes().unwrap_or_default()
}

/// Loads the persisted Raft state; a fresh member starts from `initial_voters`.
pub fn load(backend: &dyn Backend, initial_voters: &[u64]) -> Result<MemStorage, RaftStorageError> {
    let hs = backend.get(Bucket::RaftState, HARD_STATE)?;
    let cs = backend.get(Bucket::RaftState, CONF_STATE)?;
    match (hs, cs) {
        (Some(hs), Some(cs)) => {
            let hs: HardState = decode("hard state", &hs)?;
            let cs: ConfState = decode("conf state", &cs)?;
            let storage = MemStorage::new_with_conf_state(cs);
            let mut entries = Vec::new();
            for (_, v) in backend.scan(Bucket::RaftLog, b"", None)? {
                entries.push(decode::<Entry>("entry", &v)?);
            }
            {
                let mut core = storage.wl();
                if !entries.is_empty() {
                    core.append(&entries).map_err(|e| RaftStorageError::Corrupt(e.to_string()))?;
                }
                core.set_hardstate(hs);
            }
            Ok(storage)
        }
        _ => {
            let cs = ConfState::from((initial_voters.to_vec(), Vec::<u64>::new()));
            let mut b = WriteBatch::default();
            b.put(Bucket::RaftState, CONF_STATE.to_vec(), encode(&cs));
            b.put(Bucket::RaftState, HARD_STATE.to_vec(), encode(&HardState::default()));
            backend.write(b)?;
            backend.flush()?;
            Ok(MemStorage::new_with_conf_state(cs))
        }
    }
}

/// Adds the writes that persist `entries` (replacing any conflicting suffix up to
/// `old_last`) and `hs` to `batch`.
pub fn persist(batch: &mut WriteBatch, entries: &[Entry], old_last: u64, hs: Option<&HardState>) {
    if let Some(first) = entries.first() {
        let new_last = entries.last().map_or(0, |e| e.index);
        for e in entries {
            batch.put(Bucket::RaftLog, e.index.to_be_bytes().to_vec(), encode(e));
        }
        // A leader change may have truncated our log: drop the stale tail.
        for idx in (new_last + 1)..=old_last.max(new_last) {
            if idx >= first.index {
                batch.delete(Bucket::RaftLog, idx.to_be_bytes().to_vec());
            }
        }
    }
    if let Some(hs) = hs {
        batch.put(Bucket::RaftState, HARD_STATE.to_vec(), encode(hs));
    }
}

pub fn persist_conf_state(batch: &mut WriteBatch, cs: &ConfState) {
    batch.put(Bucket::RaftState, CONF_STATE.to_vec(), encode(cs));
}
