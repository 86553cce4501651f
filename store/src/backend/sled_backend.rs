//! sled as the storage engine. One sled tree; each bucket is a one-byte key prefix, so
//! a batch spanning buckets is still one atomic sled batch. sled only syncs
//! periodically on its own: `flush` is the explicit fsync that acknowledgement waits for.

use std::path::Path;

use super::{Backend, BackendError, Bucket, Result, WriteBatch};

pub struct SledBackend {
    db: sled::Db,
}

fn err(e: sled::Error) -> BackendError {
    BackendError::Engine(e.to_string())
}

fn prefixed(bucket: Bucket, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(bucket.prefix());
    k.extend_from_slice(key);
    k
}

impl SledBackend {
    /// Opens (or creates) the database in `dir`. A previous holder of the directory
    /// lock in this process may release it asynchronously, so a held lock is retried
    /// for a moment before giving up.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut attempts = 0;
        loop {
            let r = sled::Config::new()
                .path(dir)
                .cache_capacity(256 << 20)
                // We flush explicitly before acknowledging; no background flusher needed.
                .flush_every_ms(None)
                .mode(sled::Mode::HighThroughput)
                .open();
            match r {
                Ok(db) => return Ok(Self { db }),
                Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && attempts < 40 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => return Err(err(e)),
            }
        }
    }
}

impl Backend for SledBackend {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(prefixed(bucket, key)).map_err(err)?.map(|v| v.to_vec()))
    }

    fn for_each(
        &self,
        bucket: Bucket,
        from: &[u8],
        to: Option<&[u8]>,
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let start = prefixed(bucket, from);
        let end = match to {
            Some(t) => prefixed(bucket, t),
            None => vec![bucket.prefix() + 1],
        };
        if start >= end {
            return Ok(());
        }
        for item in self.db.range(start..end) {
            let (k, v) = item.map_err(err)?;
            if !f(&k[1..], &v) {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut b = sled::Batch::default();
        for (bucket, k, v) in batch.ops {
            match v {
                Some(v) => b.insert(prefixed(bucket, &k), v),
                None => b.remove(prefixed(bucket, &k)),
            }
        }
        self.db.apply_batch(b).map_err(err)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(err)
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sled_backend_passes_the_backend_suite() {
        let dir = tempfile::tempdir().unwrap();
        let b = SledBackend::open(dir.path()).unwrap();
        super::super::suite::run(&b);
    }

    #[test]
    fn flushed_writes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = SledBackend::open(dir.path()).unwrap();
            let mut w = WriteBatch::default();
            w.put(Bucket::Meta, b"x".to_vec(), b"y".to_vec());
            b.write(w).unwrap();
            b.flush().unwrap();
        }
        let b = SledBackend::open(dir.path()).unwrap();
        assert_eq!(b.get(Bucket::Meta, b"x").unwrap(), Some(b"y".to_vec()));
    }
}
