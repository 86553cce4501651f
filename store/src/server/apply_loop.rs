//! The apply loop: the single writer. Proposals are taken in groups (group commit);
//! each is applied as one atomic backend batch carrying its log index; then one flush
//! makes the whole group durable, the new revision is published to readers, watchers
//! are notified, and only then are the callers acknowledged.
//!
//! Order (load-bearing): apply → write batch → flush → publish → notify → reply.
//! A reply never precedes durability, and a reader never sees an undurable write.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::apply::{ApplyError, Request, Response, StateMachine};
use crate::watch::WatchHub;

use super::metrics::Metrics;

/// Most proposals applied under one flush.
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
        self.tx
            .send(Proposal { req, reply })
            .await
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

/// Starts the apply thread; it ends when every [`Proposer`] is dropped.
pub fn start(
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
) -> (Proposer, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
    let h = std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || run(rx, sm, hub, metrics))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot start the apply thread");
            std::process::exit(1);
        });
    (Proposer { tx }, h)
}

fn fatal(what: &str, e: &dyn std::fmt::Display) -> ! {
    tracing::error!(error = %e, "{what}: the store cannot continue safely");
    std::process::exit(1);
}

fn run(
    mut rx: mpsc::Receiver<Proposal>,
    sm: Arc<StateMachine>,
    hub: Arc<WatchHub>,
    metrics: Arc<Metrics>,
) {
    let backend = sm.mvcc.backend().clone();
    let mut index = sm.applied_index();
    let mut group = Vec::with_capacity(MAX_GROUP);
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
        for p in group.drain(..) {
            index += 1;
            let applied = sm.apply(index, &p.req);
            if let Err(e) = backend.write(applied.batch) {
                fatal("writing to the backend", &e);
            }
            if applied.result.is_err() {
                metrics.proposals_failed.inc();
            }
            events.extend(applied.events);
            replies.push((p.reply, applied.result));
        }
        let t = Instant::now();
        if let Err(e) = backend.flush() {
            fatal("flushing the backend", &e);
        }
        let took = t.elapsed().as_secs_f64();
        metrics.fsync_duration.observe(took);
        metrics.commit_duration.observe(took);
        metrics.proposals_committed.inc_by(replies.len() as u64);
        metrics.proposals_applied.inc_by(replies.len() as u64);
        metrics.proposals_pending.set(0);
        sm.mvcc.publish();
        hub.notify(&events);
        events.clear();
        for (reply, result) in replies.drain(..) {
            let _ = reply.send(result);
        }
    }
}
