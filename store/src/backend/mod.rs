//! The storage engine boundary: an ordered key-value space split into buckets, written
//! in atomic batches and made durable by an explicit flush. MVCC, leases and the apply
//! loop only see this trait; sled is one implementation, an in-memory map another.
//!
//! Invariant: `write` is atomic (all of a batch or none of it survives a crash) and
//! nothing written is durable until `flush` returns.

mod memory;
mod sled_backend;

pub use memory::MemoryBackend;
pub use sled_backend::SledBackend;

/// The buckets, as etcd names them. Each is a separate ordered keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Revision (17 or 18 bytes) → marshaled `mvccpb.KeyValue`.
    Key,
    /// Bookkeeping: consistent index, compaction revisions, identity.
    Meta,
    /// Lease id (8 bytes BE) → lease record.
    Lease,
    /// Alarm records.
    Alarm,
    /// Members of the cluster (records, published attributes, removed ids).
    Members,
    /// The Raft configuration as of the applied index. (The Raft log and hard state
    /// are in the write-ahead log.)
    RaftState,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [Bucket::Key, Bucket::Meta, Bucket::Lease, Bucket::Alarm, Bucket::Members];

    /// etcd's bucket name.
    pub fn name(self) -> &'static [u8] {
        match self {
            Bucket::Key => b"key",
            Bucket::Meta => b"meta",
            Bucket::Lease => b"lease",
            Bucket::Alarm => b"alarm",
            Bucket::Members => b"members",
            Bucket::RaftState => b"raft_state",
        }
    }

    fn prefix(self) -> u8 {
        match self {
            Bucket::Key => b'k',
            Bucket::Meta => b'm',
            Bucket::Lease => b'l',
            Bucket::Alarm => b'a',
            Bucket::Members => b'c',
            Bucket::RaftState => b's',
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("storage engine: {0}")]
    Engine(String),
}

pub type Result<T> = std::result::Result<T, BackendError>;

/// One atomic group of writes.
#[derive(Default, Debug)]
pub struct WriteBatch {
    pub ops: Vec<(Bucket, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteBatch {
    pub fn put(&mut self, bucket: Bucket, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((bucket, key, Some(value)));
    }
    pub fn delete(&mut self, bucket: Bucket, key: Vec<u8>) {
        self.ops.push((bucket, key, None));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

pub type KvPair = (Vec<u8>, Vec<u8>);

pub trait Backend: Send + Sync + 'static {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Items of `bucket` with `from <= key < to` (`to = None`: to the end), in key order.
    fn scan(&self, bucket: Bucket, from: &[u8], to: Option<&[u8]>) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        self.for_each(bucket, from, to, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }
    /// Visits items in order until `f` returns false; avoids materialising big ranges.
    fn for_each(
        &self,
        bucket: Bucket,
        from: &[u8],
        to: Option<&[u8]>,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()>;
    /// Applies the batch atomically. Not durable until [`Backend::flush`].
    fn write(&self, batch: WriteBatch) -> Result<()>;
    /// Makes every completed `write` durable.
    fn flush(&self) -> Result<()>;
    /// Bytes the engine occupies on disk.
    fn size_on_disk(&self) -> u64;
}

#[cfg(test)]
pub(crate) mod suite {
    //! The shared backend suite: every implementation must pass it.
    use super::*;

    pub fn run(b: &dyn Backend) {
        let mut batch = WriteBatch::default();
        batch.put(Bucket::Key, b"b".to_vec(), b"2".to_vec());
        batch.put(Bucket::Key, b"a".to_vec(), b"1".to_vec());
        batch.put(Bucket::Key, b"c".to_vec(), b"3".to_vec());
        batch.put(Bucket::Meta, b"a".to_vec(), b"meta".to_vec());
        b.write(batch).unwrap();
        b.flush().unwrap();
        assert_eq!(b.get(Bucket::Key, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(b.get(Bucket::Meta, b"a").unwrap(), Some(b"meta".to_vec()), "buckets are separate");
        assert_eq!(b.get(Bucket::Lease, b"a").unwrap(), None);
        let all = b.scan(Bucket::Key, b"", None).unwrap();
        assert_eq!(all.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(), vec![b"a", b"b", b"c"]);
        let part = b.scan(Bucket::Key, b"b", Some(b"c")).unwrap();
        assert_eq!(part, vec![(b"b".to_vec(), b"2".to_vec())]);
        let mut seen = 0;
        b.for_each(Bucket::Key, b"", None, &mut |_, _| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!(seen, 2, "for_each stops when asked");
        let mut batch = WriteBatch::default();
        batch.delete(Bucket::Key, b"a".to_vec());
        batch.put(Bucket::Key, b"b".to_vec(), b"22".to_vec());
        b.write(batch).unwrap();
        assert_eq!(b.get(Bucket::Key, b"a").unwrap(), None);
        assert_eq!(b.get(Bucket::Key, b"b").unwrap(), Some(b"22".to_vec()));
        assert_eq!(b.scan(Bucket::Meta, b"", None).unwrap().len(), 1);
    }
}
