//! Multi-version concurrency control, as etcd defines it: one global revision, each
//! write transaction advancing it by one; every key carries `create_revision`,
//! `mod_revision` and `version`; deletions leave tombstones; history is kept back to
//! the compacted revision.
//!
//! Readers see the *published* revision: only data that is already durable. The single
//! writer (the apply loop) works ahead of it in a [`WriteTxn`] and publishes after the
//! backend flush. mvcc knows nothing of Raft, gRPC or leases.

pub mod index;
pub mod revision;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prost::Message;
use proto::mvccpb::{Event, KeyValue, event::EventType};

use crate::backend::{Backend, BackendError, Bucket, WriteBatch};
use index::TreeIndex;
use revision::Revision;

pub const META_CONSISTENT_INDEX: &[u8] = b"consistent_index";
pub const META_SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
pub const META_FINISHED_COMPACT: &[u8] = b"finishedCompactRev";

#[derive(Debug, thiserror::Error)]
pub enum MvccError {
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    #[error("mvcc: required revision is a future revision")]
    FutureRev,
    #[error("corrupt record in the key bucket at {0:?}")]
    Corrupt(Vec<u8>),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

pub type Result<T> = std::result::Result<T, MvccError>;

#[derive(Clone, Copy, Debug, Default)]
pub struct RangeOptions {
    pub limit: i64,
    pub rev: i64,
    pub count_only: bool,
}

#[derive(Debug, Default)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    pub count: i64,
    /// The store's revision when the range was served (not the requested one).
    pub rev: i64,
}

pub struct Mvcc {
    backend: Arc<dyn Backend>,
    index: RwLock<TreeIndex>,
    /// Highest revision applied by the writer (may not be durable yet).
    current: AtomicI64,
    /// Highest durable revision; what readers see.
    published: AtomicI64,
    /// Revision of the last compaction; -1 before the first, as etcd reports it.
    compacted: AtomicI64,
    /// Revision records (puts and tombstones) of finished write transactions that are
    /// not in the backend yet: the writer has not written their batch, or holds it back
    /// (see [`Mvcc::hold`]). Readers look here before the backend; an entry leaves only
    /// once the backend has it.
    pending: std::sync::Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
    /// Batches held back from the backend, to be written as one.
    held: std::sync::Mutex<Held>,
    /// Taken while writing to the backend: batches land in the order they were made.
    writing: std::sync::Mutex<()>,
    /// The thread that writes held batches back (see [`Mvcc::set_writer`]).
    writer: std::sync::OnceLock<std::thread::Thread>,
    /// A backend write failed (see [`Mvcc::write`]).
    failed: std::sync::atomic::AtomicBool,
    /// Held exclusively while a snapshot install rewrites the backend, shared by whole
    /// scans of it (see [`Mvcc::read_backend`]), which writes need not wait for.
    installing: RwLock<()>,
    /// The caller's position (the applied index) of the last batch written to the
    /// backend.
    written: AtomicU64,
}

/// Batches held back from the backend: revision records in order, the last value of
/// every other key (each entry rewrites the consistent index, for one), the caller's
/// position of the last batch, and the bytes they carry.
#[derive(Default)]
struct Held {
    records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    other: BTreeMap<(Bucket, Vec<u8>), Option<Vec<u8>>>,
    tag: u64,
    bytes: usize,
}

impl Held {
    fn add(&mut self, batch: WriteBatch, tag: u64) {
        for (bucket, k, v) in batch.ops {
            self.bytes += k.len() + v.as_ref().map_or(0, Vec::len);
            if bucket == Bucket::Key {
                self.records.push((k, v));
            } else {
                self.other.insert((bucket, k), v);
            }
        }
        self.tag = self.tag.max(tag);
    }

    fn len(&self) -> usize {
        self.records.len() + self.other.len()
    }

    /// Everything held, as one batch, and its position.
    fn into_batch(self) -> (WriteBatch, u64) {
        let mut batch = WriteBatch::default();
        batch.ops.reserve(self.len());
        batch.ops.extend(self.records.into_iter().map(|(k, v)| (Bucket::Key, k, v)));
        batch.ops.extend(self.other.into_iter().map(|((b, k), v)| (b, k, v)));
        (batch, self.tag)
    }
}

/// Held batches are written once they carry this many operations or bytes (etcd
/// commits its backend every 10,000 writes or 100 ms).
const HOLD_OPS: usize = 10_000;
const HOLD_BYTES: usize = 4 << 20;

fn decode_kv(k: &[u8], v: &[u8]) -> Result<KeyValue> {
    KeyValue::decode(v).map_err(|_| MvccError::Corrupt(k.to_vec()))
}

impl Mvcc {
    /// Opens the store over `backend`, rebuilding the index from the key bucket.
    pub fn open(backend: Arc<dyn Backend>) -> Result<Self> {
        let (index, current, compacted) = Self::load(backend.as_ref())?;
        let m = Self {
            backend,
            index: RwLock::new(index),
            current: AtomicI64::new(current),
            published: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            pending: Default::default(),
            held: Default::default(),
            writing: Default::default(),
            writer: Default::default(),
            failed: Default::default(),
            installing: Default::default(),
            written: AtomicU64::new(0),
        };
        // A compaction scheduled but not finished before a crash is finished now.
        let scheduled = m
            .backend
            .get(Bucket::Meta, META_SCHEDULED_COMPACT)?
            .and_then(|b| Revision::from_bytes(&b))
            .map_or(-1, |(r, _)| r.main);
        if scheduled > compacted {
            let mut batch = WriteBatch::default();
            m.compact_into(scheduled, &mut batch);
            m.backend.write(batch)?;
            m.backend.flush()?;
        }
        Ok(m)
    }

    /// Replaces the whole state: `replace` rewrites the backend while readers wait (a
    /// half-replaced backend is never read), then the index and revisions are rebuilt
    /// from it and everything in it is published. What was held back or pending is
    /// dropped: write it back first if it matters.
    pub fn replace<E: From<MvccError>>(
        &self,
        replace: impl FnOnce() -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let _installing = self.installing.write().unwrap_or_else(|e| e.into_inner());
        let mut g = self.index_write();
        replace()?;
        let (index, current, compacted) = Self::load(self.backend.as_ref())?;
        *g = index;
        *self.held_lock() = Held::default();
        self.pending_lock().clear();
        self.current.store(current, Ordering::Release);
        self.published.store(current, Ordering::Release);
        self.compacted.store(compacted, Ordering::Release);
        Ok(())
    }

    fn load(backend: &dyn Backend) -> Result<(TreeIndex, i64, i64)> {
        let mut index = TreeIndex::default();
        let mut current = 1;
        let mut corrupt = None;
        backend.for_each(Bucket::Key, b"", None, &mut |k, v| {
            let Some((rev, tomb)) = Revision::from_bytes(k) else {
                corrupt = Some(k.to_vec());
                return false;
            };
            let Ok(kv) = KeyValue::decode(v) else {
                corrupt = Some(k.to_vec());
                return false;
            };
            index.push(&kv.key, rev, tomb);
            current = current.max(rev.main);
            true
        })?;
        if let Some(k) = corrupt {
            return Err(MvccError::Corrupt(k));
        }
        let compacted = backend
            .get(Bucket::Meta, META_FINISHED_COMPACT)?
            .and_then(|b| Revision::from_bytes(&b))
            .map_or(-1, |(r, _)| r.main);
        Ok((index, current, compacted))
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn index_read(&self) -> RwLockReadGuard<'_, TreeIndex> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn index_write(&self) -> RwLockWriteGuard<'_, TreeIndex> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn pending_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn held_lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `batch` to the backend, after (and atomically with) whatever is held back.
    /// `tag` is the caller's position after it (the applied index), reported by
    /// [`Mvcc::written`]. Not durable until the backend's flush.
    ///
    /// A failed write fails every later one: what it carried is lost to the backend (it
    /// is still in the Raft log, and in `pending` for readers), so the written position
    /// must never move past it. The member stops at its next write and replays its log.
    pub fn write(&self, batch: WriteBatch, tag: u64) -> std::result::Result<(), BackendError> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if self.failed.load(Ordering::Acquire) {
            return Err(BackendError::Engine("an earlier backend write failed".into()));
        }
        // Held batches are taken under the writing lock, so they land before anything
        // made after them; `hold` only waits for the take, not the write.
        let held = std::mem::take(&mut *self.held_lock());
        let (mut all, held_tag) = held.into_batch();
        all.ops.extend(batch.ops);
        let tag = tag.max(held_tag);
        if !all.is_empty() {
            let records: Vec<Vec<u8>> = all
                .ops
                .iter()
                .filter(|(b, _, v)| *b == Bucket::Key && v.is_some())
                .map(|(_, k, _)| k.clone())
                .collect();
            if let Err(e) = self.backend.write(all) {
                self.failed.store(true, Ordering::Release);
                return Err(e);
            }
            if !records.is_empty() {
                let mut p = self.pending_lock();
                for k in &records {
                    p.remove(k);
                }
            }
        }
        self.written.fetch_max(tag, Ordering::AcqRel);
        Ok(())
    }

    /// Holds `batch` back from the backend, to be written with later ones: the writes of
    /// a group of puts, deletes and txns, whose records readers find in `pending`
    /// meanwhile and whose entries are in the Raft log already (etcd batches its backend
    /// commits likewise). Once it grows past `HOLD_OPS`/`HOLD_BYTES` everything held is
    /// written: by the writer thread if there is one, else here. Anything that reads the
    /// backend directly calls [`Mvcc::write_back`] first.
    pub fn hold(&self, batch: WriteBatch, tag: u64) -> std::result::Result<(), BackendError> {
        let (full, overfull) = {
            let mut held = self.held_lock();
            held.add(batch, tag);
            let over = |n: usize| held.len() >= n * HOLD_OPS || held.bytes >= n * HOLD_BYTES;
            (over(1), over(4))
        };
        match self.writer.get() {
            _ if !full => Ok(()),
            // A writer that falls behind slows the rounds down rather than letting what
            // is held grow without bound.
            Some(_) if overfull => self.write_back(),
            Some(t) => {
                t.unpark();
                Ok(())
            }
            None => self.write_back(),
        }
    }

    /// Names the thread that calls [`Mvcc::write_back`] periodically: `hold` wakes it
    /// when much is held.
    pub fn set_writer(&self, t: std::thread::Thread) {
        let _ = self.writer.set(t);
    }

    /// Writes whatever is held back.
    pub fn write_back(&self) -> std::result::Result<(), BackendError> {
        self.write(WriteBatch::default(), 0)
    }

    /// Runs `read` over the backend holding everything applied: what is held is written
    /// first, and a snapshot install cannot run meanwhile (see [`Mvcc::replace`]).
    /// Writes go on.
    pub fn read_backend<R>(&self, read: impl FnOnce(&dyn Backend) -> R) -> std::result::Result<R, BackendError> {
        let _installing = self.installing.read().unwrap_or_else(|e| e.into_inner());
        self.write_back()?;
        Ok(read(self.backend.as_ref()))
    }

    /// The position of the last batch written to the backend (see [`Mvcc::write`]).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Sets the written position: the backend's applied index after it was loaded.
    pub fn set_written(&self, tag: u64) {
        self.written.store(tag, Ordering::Release);
    }

    pub fn current_rev(&self) -> i64 {
        self.current.load(Ordering::Acquire)
    }

    pub fn published_rev(&self) -> i64 {
        self.published.load(Ordering::Acquire)
    }

    pub fn compact_rev(&self) -> i64 {
        self.compacted.load(Ordering::Acquire)
    }

    /// Makes everything up to the current revision visible to readers. Call only after
    /// the backend flush that made it durable.
    pub fn publish(&self) {
        self.published.store(self.current_rev(), Ordering::Release);
    }

    /// Number of live keys at the published revision.
    pub fn keys_total(&self) -> usize {
        self.index_read().len()
    }

    /// Range over the published (durable) state.
    pub fn range(&self, key: &[u8], end: &[u8], opts: RangeOptions) -> Result<RangeResult> {
        let idx = self.index_read();
        self.range_locked(&idx, &HashMap::new(), self.published_rev(), key, end, opts)
    }

    fn range_locked(
        &self,
        idx: &TreeIndex,
        overlay: &HashMap<Vec<u8>, Vec<u8>>,
        cur: i64,
        key: &[u8],
        end: &[u8],
        opts: RangeOptions,
    ) -> Result<RangeResult> {
        if opts.rev > cur {
            return Err(MvccError::FutureRev);
        }
        let at = if opts.rev <= 0 { cur } else { opts.rev };
        if at < self.compact_rev() {
            return Err(MvccError::Compacted);
        }
        let mut revs = Vec::new();
        idx.visit(key, end, at, &mut |_, r| {
            revs.push(r);
            true
        });
        let count = revs.len() as i64;
        if opts.count_only || revs.is_empty() {
            return Ok(RangeResult { kvs: Vec::new(), count, rev: cur });
        }
        let limit = if opts.limit <= 0 || opts.limit as usize > revs.len() { revs.len() } else { opts.limit as usize };
        let mut kvs = Vec::with_capacity(limit);
        for r in &revs[..limit] {
            let k = r.to_bytes(false);
            // The writer's overlay first: an entry leaves it only after it is in the
            // backend, so looking there second cannot miss it.
            let v = match overlay.get(&k) {
                Some(v) => Some(v.clone()),
                None => match self.pending_lock().get(&k).cloned() {
                    Some(v) => Some(v),
                    None => self.backend.get(Bucket::Key, &k)?,
                },
            };
            let v = v.ok_or_else(|| MvccError::Corrupt(k.clone()))?;
            kvs.push(decode_kv(&k, &v)?);
        }
        Ok(RangeResult { kvs, count, rev: cur })
    }

    /// Starts the writer's transaction. There is one writer (the apply loop).
    pub fn write_txn(&self) -> WriteTxn<'_> {
        WriteTxn {
            mvcc: self,
            begin_rev: self.current_rev(),
            batch: WriteBatch::default(),
            overlay: HashMap::new(),
            changes: Vec::new(),
        }
    }

    /// Removes history below `rev` from the index and schedules the backend deletes.
    /// Readers asking for anything older fail from now on.
    fn compact_into(&self, rev: i64, batch: &mut WriteBatch) {
        self.compacted.store(rev, Ordering::Release);
        let dropped = self.index_write().compact(rev);
        for (r, tomb) in dropped {
            batch.delete(Bucket::Key, r.to_bytes(tomb));
        }
        let rb = Revision::new(rev, 0).to_bytes(false);
        batch.put(Bucket::Meta, META_SCHEDULED_COMPACT.to_vec(), rb.clone());
        batch.put(Bucket::Meta, META_FINISHED_COMPACT.to_vec(), rb);
    }

    /// The events of revisions `from..=to` in order, read from the backend, at most
    /// `max_revs` distinct revisions. Returns the events and the last revision covered.
    pub fn events(&self, from: i64, to: i64, max_revs: usize) -> Result<(Vec<Event>, i64)> {
        // Keeps a snapshot install out (see `replace`).
        let _idx = self.index_read();
        // Taken before the scan: an overlay entry is removed only once it is in the
        // backend, so each revision is in one or the other.
        let pending = self.pending_in(from, to);
        let mut acc = EventsUpTo { out: Vec::new(), last: from - 1, revs: 0, max_revs, corrupt: None };
        let end = Revision::start_key(to.saturating_add(1));
        self.backend.for_each(Bucket::Key, &Revision::start_key(from), Some(&end), &mut |k, v| acc.push(k, v))?;
        // Revisions published but not yet written to the backend are newer than
        // anything in it.
        let seen = acc.last;
        for (k, v) in pending.iter().filter(|(k, _)| Revision::from_bytes(k).is_some_and(|(r, _)| r.main > seen)) {
            if acc.corrupt.is_some() || !acc.push(k, v) {
                break;
            }
        }
        if let Some(k) = acc.corrupt {
            return Err(MvccError::Corrupt(k));
        }
        let last = if acc.revs < max_revs { to } else { acc.last };
        Ok((acc.out, last))
    }

    /// Overlay entries (revision key, value) with main revisions in [from, to], in
    /// revision order.
    fn pending_in(&self, from: i64, to: i64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let p = self.pending_lock();
        if p.is_empty() || from > to {
            return Vec::new();
        }
        let start = Revision::start_key(from.max(0));
        let end = Revision::start_key(to.saturating_add(1));
        p.range(start..end).map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// etcd's HashKV: CRC-32C over the key bucket's name and every (revision key, value)
    /// at or below `rev` (0: current). Returns (hash, revision hashed, compact revision).
    pub fn hash_kv(&self, rev: i64) -> Result<(u32, i64, i64)> {
        let _idx = self.index_read();
        let cur = self.published_rev();
        let compact = self.compact_rev();
        let rev = if rev <= 0 { cur } else { rev };
        if rev > cur {
            return Err(MvccError::FutureRev);
        }
        if rev <= compact && rev > 0 {
            return Err(MvccError::Compacted);
        }
        let pending = self.pending_in(0, rev);
        let mut h = crc32c::crc32c(Bucket::Key.name());
        let end = Revision::start_key(rev + 1);
        let mut last_key = Vec::new();
        self.backend.for_each(Bucket::Key, b"", Some(&end), &mut |k, v| {
            h = crc32c::crc32c_append(h, k);
            h = crc32c::crc32c_append(h, v);
            last_key = k.to_vec();
            true
        })?;
        // Published revisions still in the writer's overlay come after all of those.
        for (k, v) in pending {
            if k > last_key {
                h = crc32c::crc32c_append(h, &k);
                h = crc32c::crc32c_append(h, &v);
            }
        }
        Ok((h, rev, compact))
    }
}

/// Collects the events of whole revisions, at most `max_revs` of them.
struct EventsUpTo {
    out: Vec<Event>,
    /// Last revision collected.
    last: i64,
    revs: usize,
    max_revs: usize,
    corrupt: Option<Vec<u8>>,
}

impl EventsUpTo {
    /// Adds the event of one (revision key, value); false when full or corrupt.
    fn push(&mut self, k: &[u8], v: &[u8]) -> bool {
        let (Some((rev, tomb)), Ok(mut kv)) = (Revision::from_bytes(k), KeyValue::decode(v)) else {
            self.corrupt = Some(k.to_vec());
            return false;
        };
        if rev.main != self.last {
            if self.revs == self.max_revs {
                return false;
            }
            self.revs += 1;
            self.last = rev.main;
        }
        let ty = if tomb {
            kv.mod_revision = rev.main;
            EventType::Delete
        } else {
            EventType::Put
        };
        self.out.push(Event { r#type: ty as i32, kv: Some(kv), prev_kv: None });
        true
    }
}

/// The writer's transaction: every change of one request, at one new revision. Reads
/// inside it see its own earlier writes, like etcd's write transactions.
pub struct WriteTxn<'a> {
    mvcc: &'a Mvcc,
    begin_rev: i64,
    batch: WriteBatch,
    overlay: HashMap<Vec<u8>, Vec<u8>>,
    changes: Vec<KeyValue>,
}

impl WriteTxn<'_> {
    /// The revision this transaction's reads see.
    pub fn read_rev(&self) -> i64 {
        if self.changes.is_empty() { self.begin_rev } else { self.begin_rev + 1 }
    }

    /// The revision of this transaction's writes.
    pub fn write_rev(&self) -> i64 {
        self.begin_rev + 1
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn range(&self, key: &[u8], end: &[u8], opts: RangeOptions) -> Result<RangeResult> {
        let idx = self.mvcc.index_read();
        self.mvcc.range_locked(&idx, &self.overlay, self.read_rev(), key, end, opts)
    }

    /// The key's current value, if live.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        Ok(self.range(key, b"", RangeOptions::default())?.kvs.into_iter().next())
    }

    /// Writes `key`; returns the new KeyValue.
    pub fn put(&mut self, key: &[u8], value: Vec<u8>, lease: i64) -> Result<KeyValue> {
        let prev = self.get(key)?;
        let rev = self.write_rev();
        let (create, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (rev, 1),
        };
        let kv = KeyValue { key: key.to_vec(), create_revision: create, mod_revision: rev, version, value, lease };
        let r = Revision::new(rev, self.changes.len() as i64);
        let rb = r.to_bytes(false);
        let enc = kv.encode_to_vec();
        self.overlay.insert(rb.clone(), enc.clone());
        self.batch.put(Bucket::Key, rb, enc);
        self.mvcc.index_write().push(key, r, false);
        self.changes.push(kv.clone());
        Ok(kv)
    }

    /// Deletes every live key in `[key, end)`; returns the deleted keys.
    pub fn delete_range(&mut self, key: &[u8], end: &[u8]) -> Vec<Vec<u8>> {
        let at = self.read_rev();
        let mut keys = Vec::new();
        self.mvcc.index_read().visit(key, end, at, &mut |k, _| {
            keys.push(k.to_vec());
            true
        });
        let rev = self.write_rev();
        for k in &keys {
            let r = Revision::new(rev, self.changes.len() as i64);
            let tomb = KeyValue { key: k.clone(), ..Default::default() };
            let (rb, enc) = (r.to_bytes(true), tomb.encode_to_vec());
            self.overlay.insert(rb.clone(), enc.clone());
            self.batch.put(Bucket::Key, rb, enc);
            self.mvcc.index_write().push(k, r, true);
            self.changes.push(KeyValue { key: k.clone(), mod_revision: rev, ..Default::default() });
        }
        keys
    }

    /// Compacts history at `rev` (physically, within this transaction's batch).
    pub fn compact(&mut self, rev: i64) -> Result<()> {
        if rev <= self.mvcc.compact_rev() {
            return Err(MvccError::Compacted);
        }
        if rev > self.mvcc.current_rev() {
            return Err(MvccError::FutureRev);
        }
        self.mvcc.compact_into(rev, &mut self.batch);
        Ok(())
    }

    /// Adds a non-MVCC write (meta, lease, alarm buckets) to this transaction's batch.
    pub fn put_raw(&mut self, bucket: Bucket, key: Vec<u8>, value: Vec<u8>) {
        self.batch.put(bucket, key, value);
    }

    pub fn delete_raw(&mut self, bucket: Bucket, key: Vec<u8>) {
        self.batch.delete(bucket, key);
    }

    /// Finishes: returns the batch to write atomically (with the caller's consistent
    /// index) and the events, and advances the current revision when anything changed.
    pub fn end(self) -> (WriteBatch, Vec<Event>) {
        let rev = self.write_rev();
        let events = self
            .changes
            .into_iter()
            .map(|kv| {
                let ty = if kv.create_revision == 0 { EventType::Delete } else { EventType::Put };
                Event { r#type: ty as i32, kv: Some(kv), prev_kv: None }
            })
            .collect::<Vec<_>>();
        if !events.is_empty() {
            self.mvcc.current.store(rev, Ordering::Release);
        }
        if !self.overlay.is_empty() {
            self.mvcc.pending_lock().extend(self.overlay);
        }
        (self.batch, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn commit(m: &Mvcc, t: WriteTxn<'_>) -> Vec<Event> {
        let (b, ev) = t.end();
        m.backend().write(b).unwrap();
        m.backend().flush().unwrap();
        m.publish();
        ev
    }

    #[test]
    fn revisions_versions_and_tombstones_follow_etcd() {
        let m = Mvcc::open(Arc::new(MemoryBackend::new())).unwrap();
        assert_eq!(m.current_rev(), 1, "an empty store is at revision 1");
        let mut t = m.write_txn();
        t.put(b"a", b"1".to_vec(), 0).unwrap();
        commit(&m, t);
        let mut t = m.write_txn();
        let kv = t.put(b"a", b"2".to_vec(), 0).unwrap();
        assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (2, 3, 2));
        commit(&m, t);
        let mut t = m.write_txn();
        assert_eq!(t.delete_range(b"a", b""), vec![b"a".to_vec()]);
        let ev = commit(&m, t);
        assert_eq!(ev[0].r#type, EventType::Delete as i32);
        assert_eq!(ev[0].kv.as_ref().unwrap().mod_revision, 4);
        let mut t = m.write_txn();
        let kv = t.put(b"a", b"3".to_vec(), 0).unwrap();
        assert_eq!((kv.create_revision, kv.version), (5, 1), "a new generation after delete");
        commit(&m, t);
        let at = |rev| m.range(b"a", b"", RangeOptions { rev, ..Default::default() }).unwrap().kvs;
        assert_eq!(at(2)[0].value, b"1");
        assert_eq!(at(3)[0].value, b"2");
        assert!(at(4).is_empty());
        assert_eq!(at(0)[0].value, b"3");
        assert!(matches!(m.range(b"a", b"", RangeOptions { rev: 6, ..Default::default() }), Err(MvccError::FutureRev)));
    }

    #[test]
    fn unpublished_writes_are_invisible_to_readers() {
        let m = Mvcc::open(Arc::new(MemoryBackend::new())).unwrap();
        let mut t = m.write_txn();
        t.put(b"a", b"1".to_vec(), 0).unwrap();
        assert_eq!(t.get(b"a").unwrap().unwrap().value, b"1", "the txn sees its own write");
        let (b, _) = t.end();
        m.backend().write(b).unwrap();
        assert!(m.range(b"a", b"", RangeOptions::default()).unwrap().kvs.is_empty());
        m.publish();
        assert_eq!(m.range(b"a", b"", RangeOptions::default()).unwrap().count, 1);
    }

    #[test]
    fn compaction_and_reopen() {
        let backend = Arc::new(MemoryBackend::new());
        let m = Mvcc::open(backend.clone()).unwrap();
        for i in 0..5 {
            let mut t = m.write_txn();
            t.put(b"k", vec![b'0' + i], 0).unwrap();
            commit(&m, t);
        }
        let mut t = m.write_txn();
        t.compact(4).unwrap();
        commit(&m, t);
        assert!(matches!(m.range(b"k", b"", RangeOptions { rev: 3, ..Default::default() }), Err(MvccError::Compacted)));
        assert_eq!(m.range(b"k", b"", RangeOptions { rev: 4, ..Default::default() }).unwrap().kvs[0].value, b"2");
        let t = m.write_txn();
        drop(t);
        let m2 = Mvcc::open(Arc::new(backend.crash_copy())).unwrap();
        assert_eq!(m2.current_rev(), 6);
        assert_eq!(m2.compact_rev(), 4);
        let (ev, last) = m2.events(1, 6, 100).unwrap();
        assert_eq!(ev.len(), 3, "revisions 4, 5, 6 remain");
        assert_eq!(last, 6);
    }

    /// A backend whose next write fails when told to.
    struct Flaky {
        inner: MemoryBackend,
        fail: std::sync::atomic::AtomicBool,
    }

    impl Backend for Flaky {
        fn get(&self, b: Bucket, k: &[u8]) -> crate::backend::Result<Option<Vec<u8>>> {
            self.inner.get(b, k)
        }
        fn for_each(
            &self,
            b: Bucket,
            from: &[u8],
            to: Option<&[u8]>,
            f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> crate::backend::Result<()> {
            self.inner.for_each(b, from, to, f)
        }
        fn write(&self, batch: WriteBatch) -> crate::backend::Result<()> {
            if self.fail.swap(false, Ordering::AcqRel) {
                return Err(BackendError::Engine("injected".into()));
            }
            self.inner.write(batch)
        }
        fn flush(&self) -> crate::backend::Result<()> {
            self.inner.flush()
        }
        fn size_on_disk(&self) -> u64 {
            0
        }
    }

    #[test]
    fn a_failed_write_back_fails_every_later_write() {
        let backend = Arc::new(Flaky { inner: MemoryBackend::new(), fail: Default::default() });
        let m = Mvcc::open(backend.clone()).unwrap();
        let mut t = m.write_txn();
        t.put(b"a", b"1".to_vec(), 0).unwrap();
        let (batch, _) = t.end();
        m.publish();
        m.hold(batch, 10).unwrap();
        backend.fail.store(true, Ordering::Release);
        assert!(m.write_back().is_err());
        // The lost batch is never reported written: a later write fails as well.
        let mut b = WriteBatch::default();
        b.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), 11u64.to_be_bytes().to_vec());
        assert!(m.write(b, 11).is_err());
        assert!(m.written() < 10);
        // Readers still find the revision.
        assert_eq!(m.range(b"a", b"", RangeOptions::default()).unwrap().kvs[0].value, b"1");
    }
}
