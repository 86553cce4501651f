//! An in-memory backend: the same contract as sled without a disk, for unit tests and
//! (later) deterministic simulation, where "crash" means dropping unflushed writes.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use super::{Backend, Bucket, Result, WriteBatch};

type Map = BTreeMap<(Bucket, Vec<u8>), Vec<u8>>;

#[derive(Default)]
pub struct MemoryBackend {
    live: Mutex<Map>,
    durable: Mutex<Map>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// What would survive a crash now: a new backend holding only flushed data.
    pub fn crash_copy(&self) -> MemoryBackend {
        let d = self.durable.lock().unwrap_or_else(|e| e.into_inner()).clone();
        MemoryBackend { live: Mutex::new(d.clone()), durable: Mutex::new(d) }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Map> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.live().get(&(bucket, key.to_vec())).cloned())
    }

    fn for_each(
        &self,
        bucket: Bucket,
        from: &[u8],
        to: Option<&[u8]>,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let map = self.live();
        let start = Bound::Included((bucket, from.to_vec()));
        for ((b, k), v) in map.range((start, Bound::Unbounded)) {
            if *b != bucket || to.is_some_and(|t| k.as_slice() >= t) || !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut map = self.live();
        for (b, k, v) in batch.ops {
            match v {
                Some(v) => map.insert((b, k), v),
                None => map.remove(&(b, k)),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let snapshot = self.live().clone();
        *self.durable.lock().unwrap_or_else(|e| e.into_inner()) = snapshot;
        Ok(())
    }

    fn size_on_disk(&self) -> u64 {
        self.live().iter().map(|((_, k), v)| (k.len() + v.len()) as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_backend_passes_the_backend_suite() {
        super::super::suite::run(&super::MemoryBackend::new());
    }

    #[test]
    fn crash_copy_keeps_only_flushed_writes() {
        use super::super::{Backend, Bucket, WriteBatch};
        let b = super::MemoryBackend::new();
        let mut w = WriteBatch::default();
        w.put(Bucket::Key, b"a".to_vec(), b"1".to_vec());
        b.write(w).unwrap();
        b.flush().unwrap();
        let mut w = WriteBatch::default();
        w.put(Bucket::Key, b"b".to_vec(), b"2".to_vec());
        b.write(w).unwrap();
        let c = b.crash_copy();
        assert!(c.get(Bucket::Key, b"a").unwrap().is_some());
        assert!(c.get(Bucket::Key, b"b").unwrap().is_none());
    }
}
