//! The watch hub: every watcher of every client stream, fed by the apply loop after
//! each flush, in revision order.
//!
//! A watcher is *synced* (it receives events as they are published) or *catching up*
//! (a task replays history from the backend, then joins the synced set under the hub
//! lock once nothing newer has been published). A watcher whose stream is full is moved
//! to catching up, so a slow client never blocks the write path. Every message of a
//! stream goes through one bounded channel in order, so "created" precedes events and
//! a progress response is only sent when every watcher of the stream has been sent
//! everything up to its revision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use prost::Message;
use proto::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchResponse, watch_create_request::FilterType};
use proto::mvccpb::{Event, event::EventType};
use tokio::sync::mpsc;

use crate::apply::StateMachine;
use crate::mvcc::{Mvcc, RangeOptions, index::range_bounds};

/// Revisions replayed per catch-up round.
const CATCH_UP_BATCH_REVS: usize = 1000;

/// Fills a response header with the member's identity; supplied by the server.
pub type HeaderFn = Arc<dyn Fn(i64) -> ResponseHeader + Send + Sync>;

#[derive(Clone)]
struct Watcher {
    key: Vec<u8>,
    end: Vec<u8>,
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
    fragment: bool,
    progress_notify: bool,
    /// Next revision this watcher must receive.
    next_rev: i64,
    synced: bool,
}

impl Watcher {
    fn matches(&self, ev: &Event) -> bool {
        let Some(kv) = &ev.kv else { return false };
        let is_put = ev.r#type == EventType::Put as i32;
        if (is_put && self.no_put) || (!is_put && self.no_delete) {
            return false;
        }
        use std::ops::RangeBounds;
        RangeBounds::<[u8]>::contains(&range_bounds(&self.key, &self.end), kv.key.as_slice())
    }
}

struct Stream {
    tx: mpsc::Sender<WatchResponse>,
    watchers: HashMap<i64, Watcher>,
    next_id: i64,
    progress_pending: bool,
}

#[derive(Default)]
struct Inner {
    streams: HashMap<u64, Stream>,
    next_stream: u64,
}

pub struct WatchHub {
    inner: Mutex<Inner>,
    sm: Arc<StateMachine>,
    header: HeaderFn,
    max_response_bytes: usize,
    /// The hub is fed from the apply thread, outside the runtime: spawn through this.
    runtime: tokio::runtime::Handle,
}

/// Why a create request was refused.
#[derive(Debug)]
pub enum CreateError {
    EmptyRange,
    DuplicateId,
}

impl WatchHub {
    pub fn new(sm: Arc<StateMachine>, header: HeaderFn, max_response_bytes: usize) -> Arc<Self> {
        let runtime = tokio::runtime::Handle::current();
        Arc::new(Self { inner: Mutex::new(Inner::default()), sm, header, max_response_bytes, runtime })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mvcc(&self) -> &Mvcc {
        &self.sm.mvcc
    }

    pub fn watcher_count(&self) -> usize {
        self.lock().streams.values().map(|s| s.watchers.len()).sum()
    }

    /// Registers a client stream; returns its id.
    pub fn open_stream(&self, tx: mpsc::Sender<WatchResponse>) -> u64 {
        let mut g = self.lock();
        g.next_stream += 1;
        let id = g.next_stream;
        g.streams.insert(id, Stream { tx, watchers: HashMap::new(), next_id: 0, progress_pending: false });
        id
    }

    pub fn close_stream(&self, stream: u64) {
        self.lock().streams.remove(&stream);
    }

    /// Creates a watcher: sends "created" and, if it starts in the past, starts its
    /// catch-up. Errors are answered like etcd (created + canceled with a reason).
    pub fn create(self: &Arc<Self>, stream: u64, req: WatchCreateRequest) {
        let mut g = self.lock();
        let published = self.mvcc().published_rev();
        let header = (self.header)(published);
        let Some(s) = g.streams.get_mut(&stream) else {
            return;
        };
        let end = if req.range_end == [0] { vec![0] } else { req.range_end.clone() };
        let err = if !end.is_empty() && end != [0] && req.key.as_slice() >= end.as_slice() {
            Some("mvcc: watcher range is empty")
        } else if req.watch_id != 0 && s.watchers.contains_key(&req.watch_id) {
            Some("mvcc: duplicate watch ID provided on the WatchStream")
        } else {
            None
        };
        if let Some(reason) = err {
            let _ = s.tx.try_send(WatchResponse {
                header: Some(header),
                watch_id: -1,
                created: true,
                canceled: true,
                cancel_reason: reason.into(),
                ..Default::default()
            });
            return;
        }
        let id = if req.watch_id != 0 {
            req.watch_id
        } else {
            // Like etcd, an id is never handed out twice on a stream, even after the
            // watch it named is gone.
            while s.watchers.contains_key(&s.next_id) {
                s.next_id += 1;
            }
            s.next_id += 1;
            s.next_id - 1
        };
        let start = if req.start_revision <= 0 { published + 1 } else { req.start_revision };
        let synced = start > published;
        let w = Watcher {
            key: req.key,
            end,
            no_put: req.filters.contains(&(FilterType::Noput as i32)),
            no_delete: req.filters.contains(&(FilterType::Nodelete as i32)),
            prev_kv: req.prev_kv,
            fragment: req.fragment,
            progress_notify: req.progress_notify,
            next_rev: start,
            synced,
        };
        if s.tx
            .try_send(WatchResponse { header: Some(header), watch_id: id, created: true, ..Default::default() })
            .is_err()
        {
            return;
        }
        s.watchers.insert(id, w);
        drop(g);
        if !synced {
            self.spawn_catch_up(stream, id);
        }
    }

    pub fn cancel(&self, stream: u64, id: i64) {
        let mut g = self.lock();
        let published = self.mvcc().published_rev();
        let header = (self.header)(published);
        if let Some(s) = g.streams.get_mut(&stream)
            && s.watchers.remove(&id).is_some()
        {
            let _ = s.tx.try_send(WatchResponse {
                header: Some(header),
                watch_id: id,
                canceled: true,
                ..Default::default()
            });
        }
    }

    /// A progress request: answered (watch id -1) once every watcher of the stream is
    /// synced, so its revision is a promise that nothing older is still to come.
    pub fn request_progress(&self, stream: u64) {
        let mut g = self.lock();
        let published = self.mvcc().published_rev();
        let header = (self.header)(published);
        if let Some(s) = g.streams.get_mut(&stream) {
            if s.watchers.values().all(|w| w.synced) {
                let _ = s.tx.try_send(WatchResponse { header: Some(header), watch_id: -1, ..Default::default() });
            } else {
                s.progress_pending = true;
            }
        }
    }

    /// Periodic progress notification for synced watchers that asked for it.
    pub fn notify_progress(&self) {
        let g = self.lock();
        let published = self.mvcc().published_rev();
        for s in g.streams.values() {
            for (id, w) in &s.watchers {
                if w.synced && w.progress_notify {
                    let _ = s.tx.try_send(WatchResponse {
                        header: Some((self.header)(published)),
                        watch_id: *id,
                        ..Default::default()
                    });
                }
            }
        }
    }

    /// After the store's contents were replaced (an installed snapshot), every synced
    /// watcher catches up from the store's history instead of waiting for events.
    pub fn resync_all(self: &Arc<Self>) {
        let mut moved = Vec::new();
        {
            let mut g = self.lock();
            for (sid, s) in g.streams.iter_mut() {
                for (id, w) in s.watchers.iter_mut() {
                    if w.synced {
                        w.synced = false;
                        moved.push((*sid, *id));
                    }
                }
            }
        }
        for (sid, id) in moved {
            self.spawn_catch_up(sid, id);
        }
    }

    /// Delivers the events of newly published revisions (in order) to synced watchers.
    pub fn notify(self: &Arc<Self>, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let mut lagging = Vec::new();
        {
            let mut g = self.lock();
            let mut closed = Vec::new();
            let group_last = events.last().map_or(0, rev_of);
            for (sid, s) in g.streams.iter_mut() {
                for (id, w) in s.watchers.iter_mut() {
                    if !w.synced {
                        continue;
                    }
                    let evs: Vec<Event> =
                        events.iter().filter(|e| rev_of(e) >= w.next_rev && w.matches(e)).cloned().collect();
                    // One response per revision, as etcd sends them to synced watchers.
                    let mut outcome = Ok(());
                    for chunk in evs.chunk_by(|a, b| rev_of(a) == rev_of(b)) {
                        let rev = rev_of(&chunk[0]);
                        let mut chunk = chunk.to_vec();
                        if w.prev_kv {
                            self.fill_prev_kv(&mut chunk);
                        }
                        outcome =
                            send_events(&s.tx, &self.header, *id, rev, chunk, w.fragment, self.max_response_bytes);
                        if outcome.is_err() {
                            break;
                        }
                        w.next_rev = rev + 1;
                    }
                    match outcome {
                        Ok(()) => w.next_rev = w.next_rev.max(group_last + 1),
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            w.synced = false;
                            lagging.push((*sid, *id));
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => closed.push(*sid),
                    }
                }
            }
            for sid in closed {
                g.streams.remove(&sid);
            }
        }
        for (sid, id) in lagging {
            self.spawn_catch_up(sid, id);
        }
    }

    fn fill_prev_kv(&self, evs: &mut [Event]) {
        for e in evs {
            let Some(kv) = &e.kv else { continue };
            let opts = RangeOptions { rev: kv.mod_revision - 1, ..Default::default() };
            if let Ok(r) = self.mvcc().range(&kv.key, b"", opts) {
                e.prev_kv = r.kvs.into_iter().next();
            }
        }
    }

    fn spawn_catch_up(self: &Arc<Self>, stream: u64, id: i64) {
        let hub = self.clone();
        self.runtime.spawn(async move { hub.catch_up(stream, id).await });
    }

    /// Replays history to one watcher until it is level with the published revision,
    /// then marks it synced (under the hub lock, so no event falls between).
    async fn catch_up(self: Arc<Self>, stream: u64, id: i64) {
        loop {
            let (w_next, tx, filter) = {
                let g = self.lock();
                let Some(s) = g.streams.get(&stream) else {
                    return;
                };
                let Some(w) = s.watchers.get(&id) else { return };
                (w.next_rev, s.tx.clone(), w.clone())
            };
            let compact = self.mvcc().compact_rev();
            if w_next < compact {
                // etcd sends the compaction notice with a header at revision 0.
                let resp = WatchResponse {
                    header: Some((self.header)(0)),
                    watch_id: id,
                    compact_revision: compact,
                    canceled: true,
                    ..Default::default()
                };
                let _ = tx.send(resp).await;
                if let Some(s) = self.lock().streams.get_mut(&stream) {
                    s.watchers.remove(&id);
                }
                return;
            }
            let target = self.mvcc().published_rev();
            if w_next <= target {
                let (evs, last) = match self.mvcc().events(w_next, target, CATCH_UP_BATCH_REVS) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "watch catch-up read failed");
                        return;
                    }
                };
                let mut evs: Vec<Event> = evs.into_iter().filter(|e| filter.matches(e)).collect();
                if !evs.is_empty() {
                    if filter.prev_kv {
                        self.fill_prev_kv(&mut evs);
                    }
                    for resp in build_responses(&self.header, id, last, evs, filter.fragment, self.max_response_bytes) {
                        if tx.send(resp).await.is_err() {
                            return;
                        }
                    }
                }
                let mut g = self.lock();
                let Some(s) = g.streams.get_mut(&stream) else {
                    return;
                };
                let Some(w) = s.watchers.get_mut(&id) else {
                    return;
                };
                w.next_rev = last + 1;
            }
            let mut g = self.lock();
            let published = self.mvcc().published_rev();
            let header = (self.header)(published);
            let Some(s) = g.streams.get_mut(&stream) else {
                return;
            };
            let Some(w) = s.watchers.get_mut(&id) else {
                return;
            };
            if w.next_rev > published {
                w.synced = true;
                if s.progress_pending && s.watchers.values().all(|w| w.synced) {
                    s.progress_pending = false;
                    let _ = s.tx.try_send(WatchResponse { header: Some(header), watch_id: -1, ..Default::default() });
                }
                return;
            }
        }
    }
}

fn rev_of(e: &Event) -> i64 {
    e.kv.as_ref().map_or(0, |kv| kv.mod_revision)
}

/// One response, or fragments of at most `max` bytes when the watcher allows it.
fn build_responses(
    header: &HeaderFn,
    id: i64,
    rev: i64,
    evs: Vec<Event>,
    fragment: bool,
    max: usize,
) -> Vec<WatchResponse> {
    let whole = WatchResponse { header: Some(header(rev)), watch_id: id, events: evs, ..Default::default() };
    if !fragment || whole.encoded_len() <= max {
        return vec![whole];
    }
    let mut out = Vec::new();
    let mut cur = WatchResponse { header: whole.header, watch_id: id, fragment: true, ..Default::default() };
    for e in whole.events {
        if !cur.events.is_empty() && cur.encoded_len() + e.encoded_len() > max {
            let next = WatchResponse { header: cur.header, watch_id: id, fragment: true, ..Default::default() };
            out.push(std::mem::replace(&mut cur, next));
        }
        cur.events.push(e);
    }
    cur.fragment = false;
    out.push(cur);
    out
}

fn send_events(
    tx: &mpsc::Sender<WatchResponse>,
    header: &HeaderFn,
    id: i64,
    rev: i64,
    evs: Vec<Event>,
    fragment: bool,
    max: usize,
) -> Result<(), mpsc::error::TrySendError<WatchResponse>> {
    let resps = build_responses(header, id, rev, evs, fragment, max);
    if tx.capacity() < resps.len() {
        return Err(mpsc::error::TrySendError::Full(WatchResponse::default()));
    }
    for r in resps {
        tx.try_send(r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::mvccpb::KeyValue;

    #[test]
    fn fragments_split_big_responses_and_mark_all_but_the_last() {
        let header: HeaderFn = Arc::new(|rev| ResponseHeader { revision: rev, ..Default::default() });
        let evs: Vec<Event> = (0..10)
            .map(|i| Event {
                r#type: 0,
                kv: Some(KeyValue { key: vec![b'a' + i], value: vec![0; 100], mod_revision: 5, ..Default::default() }),
                prev_kv: None,
            })
            .collect();
        let resps = build_responses(&header, 1, 5, evs.clone(), true, 350);
        assert!(resps.len() > 1);
        assert!(resps[..resps.len() - 1].iter().all(|r| r.fragment));
        assert!(!resps.last().unwrap().fragment);
        assert_eq!(resps.iter().map(|r| r.events.len()).sum::<usize>(), 10);
        assert_eq!(build_responses(&header, 1, 5, evs, false, 350).len(), 1, "no fragmenting unless asked");
    }
}
