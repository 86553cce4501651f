//! The durable Raft log: entries, hard state and the log's base (where compaction or an
//! installed snapshot left it), as records of a write-ahead log synced once per
//! `Ready`. The state machine lives in sled and is flushed in the background; its
//! applied index travels in the same batch as its data, so at start-up every entry
//! after the flushed applied index is still in this log and is applied again.
//!
//! Record payloads start with a tag: `1` an entry (raft-rs `Entry`), `2` the hard state
//! (raft-rs `HardState`), `3` a compaction point and `4` an installed snapshot (both
//! `index: u64 BE ‖ term: u64 BE`). Replay keeps the last hard state and the last base;
//! a later entry at an index already seen replaces that suffix (a new leader truncated
//! it); entries at or below the base are dropped, and an installed snapshot drops them
//! all.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use protobuf::Message as _;
use raft::eraftpb::{Entry, HardState};

use crate::wal::{Record, Wal};

const TAG_ENTRY: u8 = 1;
const TAG_HARD_STATE: u8 = 2;
const TAG_COMPACTED: u8 = 3;
const TAG_SNAPSHOT: u8 = 4;

/// Where records are made durable: the WAL, or an in-memory log in simulations.
pub trait RecordLog: Send {
    /// Appends records (consecutive sequence numbers) and makes them durable.
    fn append(&mut self, records: &[(u64, &[u8])]) -> io::Result<()>;
    /// Drops whole segments whose records are all at or below `seq`.
    fn release_to(&mut self, seq: u64) -> io::Result<()>;
}

impl RecordLog for Wal {
    fn append(&mut self, records: &[(u64, &[u8])]) -> io::Result<()> {
        Wal::append(self, records)
    }
    fn release_to(&mut self, seq: u64) -> io::Result<()> {
        Wal::release_to(self, seq)
    }
}

/// A record log kept in memory, shared so that it outlives a simulated crash of the
/// node that wrote it (an append returns only once "durable").
#[derive(Clone, Default)]
pub struct MemRecordLog(pub Arc<Mutex<Vec<Record>>>);

impl MemRecordLog {
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl RecordLog for MemRecordLog {
    fn append(&mut self, records: &[(u64, &[u8])]) -> io::Result<()> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.extend(records.iter().map(|(s, p)| (*s, p.to_vec())));
        Ok(())
    }
    fn release_to(&mut self, seq: u64) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).retain(|(s, _)| *s > seq);
        Ok(())
    }
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub hard_state: HardState,
    /// (index, term) the log starts after; (0, 0) for an empty log.
    pub base: (u64, u64),
    pub entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt raft log: {0}")]
pub struct Corrupt(String);

fn pair(index: u64, term: u64, tag: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    v.push(tag);
    v.extend_from_slice(&index.to_be_bytes());
    v.extend_from_slice(&term.to_be_bytes());
    v
}

fn parse_pair(b: &[u8]) -> Option<(u64, u64)> {
    Some((u64::from_be_bytes(b.get(..8)?.try_into().ok()?), u64::from_be_bytes(b.get(8..16)?.try_into().ok()?)))
}

fn tagged<M: protobuf::Message>(tag: u8, m: &M) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&m.write_to_bytes().unwrap_or_default());
    v
}

/// Rebuilds the log from its records, in order.
pub fn replay(records: &[Record]) -> Result<Recovered, Corrupt> {
    let mut out = Recovered::default();
    // Released segments may have taken the log's first records: until a base is seen,
    // the log starts wherever its first surviving entry does.
    let mut seen_base = false;
    for (seq, payload) in records {
        let Some((&tag, body)) = payload.split_first() else {
            return Err(Corrupt(format!("empty record {seq}")));
        };
        match tag {
            TAG_ENTRY => {
                let e = Entry::parse_from_bytes(body).map_err(|e| Corrupt(format!("entry in record {seq}: {e}")))?;
                if e.index <= out.base.0 {
                    continue;
                }
                let first = match out.entries.first() {
                    Some(f) => f.index,
                    None if !seen_base => e.index,
                    None => out.base.0 + 1,
                };
                if e.index < first {
                    return Err(Corrupt(format!("entry {} precedes the log start {first}", e.index)));
                }
                out.entries.truncate((e.index - first) as usize);
                let expected = first + out.entries.len() as u64;
                if e.index != expected {
                    return Err(Corrupt(format!("entry {} follows entry {}", e.index, expected - 1)));
                }
                out.entries.push(e);
            }
            TAG_HARD_STATE => {
                out.hard_state = HardState::parse_from_bytes(body)
                    .map_err(|e| Corrupt(format!("hard state in record {seq}: {e}")))?;
            }
            TAG_COMPACTED | TAG_SNAPSHOT => {
                let (index, term) = parse_pair(body).ok_or_else(|| Corrupt(format!("base in record {seq}")))?;
                if tag == TAG_COMPACTED && out.entries.first().is_some_and(|e| e.index > index + 1) {
                    // An older compaction whose entries a later one released: that later
                    // compaction's record follows.
                    continue;
                }
                if tag == TAG_SNAPSHOT {
                    out.entries.clear();
                } else {
                    out.entries.retain(|e| e.index > index);
                }
                if out.entries.first().is_some_and(|e| e.index != index + 1) {
                    return Err(Corrupt(format!("compaction at {index} leaves a gap")));
                }
                out.base = (index, term);
                seen_base = true;
            }
            other => return Err(Corrupt(format!("unknown record type {other} in record {seq}"))),
        }
    }
    if out.entries.first().is_some_and(|e| e.index != out.base.0 + 1) {
        return Err(Corrupt(format!("the log starts at {} after a base at {}", out.entries[0].index, out.base.0)));
    }
    Ok(out)
}

/// The writer side of the durable log.
pub struct DurableLog {
    records: Box<dyn RecordLog>,
    next_seq: u64,
    /// (index, seq) of the record holding each live entry, oldest first.
    entry_seqs: VecDeque<(u64, u64)>,
    buf: Vec<(u64, Vec<u8>)>,
}

impl DurableLog {
    /// Opens the writer over `records` whose existing records are `existing`.
    pub fn new(records: Box<dyn RecordLog>, existing: &[Record]) -> Self {
        let next_seq = existing.last().map_or(1, |(s, _)| s + 1);
        let mut log = Self { records, next_seq, entry_seqs: VecDeque::new(), buf: Vec::new() };
        for (seq, payload) in existing {
            if payload.first() == Some(&TAG_ENTRY)
                && let Ok(e) = Entry::parse_from_bytes(&payload[1..])
            {
                log.track(e.index, *seq);
            }
        }
        log
    }

    fn track(&mut self, index: u64, seq: u64) {
        while self.entry_seqs.back().is_some_and(|(i, _)| *i >= index) {
            self.entry_seqs.pop_back();
        }
        self.entry_seqs.push_back((index, seq));
    }

    fn push(&mut self, payload: Vec<u8>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.buf.push((seq, payload));
        seq
    }

    fn commit(&mut self) -> io::Result<()> {
        let recs: Vec<(u64, &[u8])> = self.buf.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        let r = self.records.append(&recs);
        self.buf.clear();
        r
    }

    /// Makes `entries` (replacing any suffix they overlap) and `hs` durable.
    pub fn persist(&mut self, entries: &[Entry], hs: Option<&HardState>) -> io::Result<()> {
        for e in entries {
            let seq = self.push(tagged(TAG_ENTRY, e));
            self.track(e.index, seq);
        }
        if let Some(hs) = hs {
            self.push(tagged(TAG_HARD_STATE, hs));
        }
        self.commit()
    }

    /// Records that the log now starts after an installed snapshot at (index, term).
    pub fn snapshot_installed(&mut self, index: u64, term: u64, hs: &HardState) -> io::Result<()> {
        self.push(pair(index, term, TAG_SNAPSHOT));
        self.push(tagged(TAG_HARD_STATE, hs));
        self.entry_seqs.clear();
        self.commit()?;
        self.release()
    }

    /// Records that entries up to `index` are no longer needed (the state machine has
    /// them durably), then drops the segments holding only obsolete records.
    pub fn compacted(&mut self, index: u64, term: u64, hs: &HardState) -> io::Result<()> {
        self.push(pair(index, term, TAG_COMPACTED));
        self.push(tagged(TAG_HARD_STATE, hs));
        while self.entry_seqs.front().is_some_and(|(i, _)| *i <= index) {
            self.entry_seqs.pop_front();
        }
        self.commit()?;
        self.release()
    }

    /// Everything before the oldest live entry (or before the base and hard state just
    /// written) is obsolete.
    fn release(&mut self) -> io::Result<()> {
        let keep_from = self.entry_seqs.front().map_or(self.next_seq - 2, |(_, s)| *s);

        self.records.release_to(keep_from.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { index, term, data: vec![index as u8].into(), ..Default::default() }
    }

    fn hs(term: u64, commit: u64) -> HardState {
        HardState { term, commit, ..Default::default() }
    }

    fn indexes(r: &Recovered) -> Vec<(u64, u64)> {
        r.entries.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn replay_keeps_the_last_hard_state_and_truncated_suffixes() {
        let mem = MemRecordLog::default();
        let mut log = DurableLog::new(Box::new(mem.clone()), &[]);
        log.persist(&[entry(1, 1), entry(2, 1), entry(3, 1)], Some(&hs(1, 1))).unwrap();
        // A new leader in term 2 overwrites index 2 onwards.
        log.persist(&[entry(2, 2)], Some(&hs(2, 2))).unwrap();
        log.persist(&[entry(3, 2)], None).unwrap();
        let r = replay(&mem.records()).unwrap();
        assert_eq!(indexes(&r), vec![(1, 1), (2, 2), (3, 2)]);
        assert_eq!((r.hard_state.term, r.hard_state.commit), (2, 2));
        assert_eq!(r.base, (0, 0));
    }

    #[test]
    fn compaction_releases_obsolete_records_and_keeps_the_rest() {
        let mem = MemRecordLog::default();
        let mut log = DurableLog::new(Box::new(mem.clone()), &[]);
        for i in 1..=10 {
            log.persist(&[entry(i, 1)], Some(&hs(1, i))).unwrap();
        }
        log.compacted(6, 1, &hs(1, 10)).unwrap();
        let recs = mem.records();
        assert!(recs.len() < 14, "records before entry 7 are released ({} left)", recs.len());
        let r = replay(&recs).unwrap();
        assert_eq!(r.base, (6, 1));
        assert_eq!(r.entries.first().map(|e| e.index), Some(7));
        assert_eq!(r.entries.last().map(|e| e.index), Some(10));
        assert_eq!(r.hard_state.commit, 10);
        // Reopened, the writer keeps tracking the live entries.
        let mut log = DurableLog::new(Box::new(mem.clone()), &recs);
        log.persist(&[entry(11, 2)], None).unwrap();
        log.compacted(11, 2, &hs(2, 11)).unwrap();
        let r = replay(&mem.records()).unwrap();
        assert_eq!((r.base, r.entries.len()), ((11, 2), 0));
        assert_eq!(r.hard_state.term, 2, "the hard state survives the release");
    }

    #[test]
    fn an_installed_snapshot_replaces_the_log() {
        let mem = MemRecordLog::default();
        let mut log = DurableLog::new(Box::new(mem.clone()), &[]);
        log.persist(&[entry(1, 1), entry(2, 1)], Some(&hs(1, 2))).unwrap();
        log.snapshot_installed(50, 3, &hs(3, 50)).unwrap();
        log.persist(&[entry(51, 3)], None).unwrap();
        let r = replay(&mem.records()).unwrap();
        assert_eq!(r.base, (50, 3));
        assert_eq!(indexes(&r), vec![(51, 3)]);
        assert_eq!(r.hard_state.commit, 50);
    }

    #[test]
    fn a_compaction_record_older_than_the_released_prefix_is_skipped() {
        let mem = MemRecordLog::default();
        let mut log = DurableLog::new(Box::new(mem.clone()), &[]);
        for i in 1..=10 {
            log.persist(&[entry(i, 1)], None).unwrap();
        }
        log.compacted(2, 1, &hs(1, 10)).unwrap();
        log.persist(&[entry(11, 1)], None).unwrap();
        log.compacted(6, 1, &hs(1, 11)).unwrap();
        let r = replay(&mem.records()).unwrap();
        assert_eq!((r.base, r.entries.first().map(|e| e.index)), ((6, 1), Some(7)));
    }

    #[test]
    fn a_gap_is_corruption() {
        let mem = MemRecordLog::default();
        let mut log = DurableLog::new(Box::new(mem.clone()), &[]);
        log.persist(&[entry(1, 1), entry(3, 1)], None).unwrap();
        assert!(replay(&mem.records()).is_err());
    }
}
