//! The apply loop of a single member: the single writer. Proposals are taken in groups
//! (group commit); the group is appended to the write-ahead log and synced once; each
//! proposal is then applied as one atomic backend batch carrying its log index; the new
//! revision is published to readers, watchers are notified, and only then are the
//! callers acknowledged. The backend itself is flushed in the background
//! ([`flush_backend`]); WAL segments are released once the backend holds their records.
//!
//! Order (load-bearing): WAL append + sync → apply → write batch → publish → notify →
//! reply. A reply never precedes durability, and a reader never sees an undurable write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::apply::{ApplyError, Request, Response, StateMachine};
use crate::backend::{Bucket, WriteBatch};
use crate::mvcc::META_CONSISTENT_INDEX;
use crate::wal::Wal;
use crate::watch::WatchHub;

use super::metrics::Metrics;

/// Most proposals applied under one WAL sync.
const MAX_GROUP: usize = 1024;

pub struct Proposal {
    pub req: Request,
    pub reply: oneshot::Sender<Result<Response, ApplyError>>,
}

#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Proposal>,
}

#[derive(Debug)]
pub struct Stopped;

impl Proposer {
    pub async fn propose(&self, req: Request) -> Result<Result<Response, ApplyError>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Proposal { req, reply }).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

/// Log indexes written to, and flushed by, the backend: shared by the apply thread and
/// the background flusher.
#[derive(Default)]
pub struct Progress {
    /// Highest index whose batch has been written to the backend.
    pub written: AtomicU64,
    /// Highest index known to be durable in the backend.
    pub flushed: AtomicU64,
}

fn fatal(what: &str, e: &dyn std::fmt::Display) -> ! {
    tracing::error!(error = %e, "{what}: the store cannot continue safely");
    std::process::exit(1);
}

/// Re-applies WAL records newer than the backend's applied index (after a crash) and
/// flushes the result. Fails if the WAL does not continue from the applied index.
pub fn recover(sm: &StateMachine, records: Vec<(u64, Vec<u8>)>) -> anyhow::Result<u64> {
    let backend = sm.mvcc.backend().clone();
    let mut index = sm.applied_index();
    let mut replayed = 0;
    for (i, payload) in records {
        if i <= index {
            continue;
        }
        if i != index + 1 {
            anyhow::bail!("the write-ahead log jumps from index {index} to {i}: records are missing");
        }
        let req = Request::decode(&payload)?;
        let applied = sm.apply(i, &req);
        backend.write(applied.batch)?;
        sm.mvcc.batches_written();
        index = i;
        replayed += 1;
    }
    backend.flush()?;
    sm.mvcc.publish();
    if replayed > 0 {
        tracing::info!(replayed, applied_index = index, "replayed the write-ahead log");
    }
    Ok(index)
}

/// Flushes the backend and records which index is now durable there.
pub fn flush_backend(sm: &StateMachine, progress: &Progress, metrics: &Metrics) {
    let written = progress.written.load(Ordering::Acquire);
    if written <= progress.flushed.load(Ordering::Acquire) {
        return;
    }
    let t = Instant::now();
    match sm.mvcc.backend().flush() {
        Ok(()) => {
            metrics.commit_duration.observe(t.elapsed().as_secs_f64());
            progress.flushed.store(written, Ordering::Release);
        }
        Err(e) => fatal("flushing the backend", &e),
    }
}

/// Starts the apply thread (detached); it ends when every [`Proposer`] is dropped.
pub fn start(
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
    wal: Wal,
    progress: Arc<Progress>,
) -> Proposer {
    let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
    std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || run(rx, sm, hub, metrics, wal, progress))
        .unwrap_or_else(|e| fatal("starting the apply thread", &e));
    Proposer { tx }
}

fn run(
    mut rx: mpsc::Receiver<Proposal>,
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
    mut wal: Wal,
    progress: Arc<Progress>,
) {
    let backend = sm.mvcc.backend().clone();
    let mut index = sm.applied_index();
    progress.written.store(index, Ordering::Release);
    let mut released = 0;
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut encoded: Vec<(u64, Vec<u8>)> = Vec::with_capacity(MAX_GROUP);
    let mut replies = Vec::with_capacity(MAX_GROUP);
    let mut events = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        metrics.proposals_pending.set(group.len() as i64);
        encoded.clear();
        for p in &group {
            index += 1;
            encoded.push((index, p.req.encode()));
        }
        let refs: Vec<(u64, &[u8])> = encoded.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let t = Instant::now();
        if let Err(e) = wal.append(&refs) {
            fatal("appending to the write-ahead log", &e);
        }
        metrics.fsync_duration.observe(t.elapsed().as_secs_f64());
        // The whole group goes to the backend as one batch, with one applied index.
        let mut batch = WriteBatch::default();
        for (p, (i, _)) in group.drain(..).zip(&encoded) {
            let applied = sm.apply(*i, &p.req);
            batch.ops.extend(
                applied.batch.ops.into_iter().filter(|(b, k, _)| !(*b == Bucket::Meta && k == META_CONSISTENT_INDEX)),
            );
            if applied.result.is_err() {
                metrics.proposals_failed.inc();
            }
            events.extend(applied.events);
            replies.push((p.reply, applied.result));
        }
        batch.put(Bucket::Meta, META_CONSISTENT_INDEX.to_vec(), index.to_be_bytes().to_vec());
        if let Err(e) = backend.write(batch) {
            fatal("writing to the backend", &e);
        }
        sm.mvcc.batches_written();
        progress.written.store(index, Ordering::Release);
        metrics.proposals_committed.inc_by(replies.len() as u64);
        metrics.proposals_applied.inc_by(replies.len() as u64);
        metrics.proposals_pending.set(0);
        sm.mvcc.publish();
        hub.notify(&events);
        events.clear();
        for (reply, result) in replies.drain(..) {
            let _ = reply.send(result);
        }
        let flushed = progress.flushed.load(Ordering::Acquire);
        if flushed > released {
            if let Err(e) = wal.release_to(flushed) {
                tracing::warn!(error = %e, "could not release write-ahead log segments");
            }
            released = flushed;
        }
    }
}
