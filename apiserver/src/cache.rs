//! The watch cache (upstream's `cacher`): one per resource key prefix, fed by ONE store
//! watch, holding the current objects and a bounded window of recent events, serving
//! LIST and WATCH without touching storage for every request.
//!
//! Invariants:
//! - `State::rv` is the revision the cache reflects: `objects` equals the store's
//!   content under the prefix at `rv`, and the window holds every event of the prefix
//!   in `(floor, rv]` in revision order.
//! - Each version of an object is kept once, as its served JSON plus the labels and
//!   field-selector values that selectors read ([`RawObject`]), shared by `objects`, the
//!   window and the events in flight; LISTs and watch events copy those bytes, never a
//!   decoded tree (one is decoded per object only for a conversion, a Table row, a
//!   metadata view or a field the cache does not extract).
//! - Events reach watchers through one broadcast ring; a watcher that falls more than
//!   the ring behind is disconnected (it re-watches from its last resourceVersion), so a
//!   slow client never holds up the feeder or other watchers.
//! - When the store watch breaks the feeder watches again from `rv + 1`; when that
//!   revision is compacted it lists again and replaces the state, which ends every
//!   open watch (their clients come back and get 410 if they are too far behind).
//! - Consistent reads (resourceVersion "") are served once the cache is shown to be
//!   current at the store's latest revision, else from storage: a count-only Range
//!   gives the revision (enough when the cache already has it); otherwise a keys-only
//!   Range sorted by mod_revision ([`Storage::freshness`]) proves that nothing of the
//!   prefix changed since the cache's revision. That scan reads the prefix in the
//!   store (values included, on etcd) though it sends only one key back; upstream uses
//!   etcd's watch progress requests instead, which are O(1) but only trustworthy on
//!   etcd >= 3.4.31 / 3.5.13 (Debian ships 3.4.23, our store reports 3.5.0), so they
//!   are left for when the store advertises a version with them fixed.
//!
//! Only the etcd v3 API is used (Range and Watch), so it works on real etcd as well.
//! No lock is held across `.await`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use std::pin::Pin;

/// A watch's events, as the HTTP body streams them.
pub type WatchStream = Pin<Box<dyn futures::Stream<Item = Event> + Send + Sync + 'static>>;
use bytes::Bytes;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::status::ApiError;
use crate::storage::{Storage, StorageError, WatchEvent};
use crate::wire::{Event, FieldPaths, RawObject, at_version};

/// Labels of the per-resource cache metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabel {
    pub resource: String,
}

/// Labels of `apiserver_registered_watchers`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// The watch caches' metrics, under upstream's names.
#[derive(Clone, Default)]
pub struct CacheMetrics {
    initializations: Family<ResourceLabel, Counter>,
    events_received: Family<ResourceLabel, Counter>,
    resource_version: Family<ResourceLabel, Gauge>,
    watchers: Family<KindLabels, Gauge>,
    objects_bytes: Family<ResourceLabel, Gauge>,
}

impl CacheMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "apiserver_watch_cache_initializations",
            "Counter of watch cache initializations broken by resource type.",
            self.initializations.clone(),
        );
        registry.register(
            "apiserver_watch_cache_events_received",
            "Counter of events received in watch cache broken by resource type.",
            self.events_received.clone(),
        );
        registry.register(
            "apiserver_watch_cache_resource_version",
            "Current resource version of watch cache broken by resource type.",
            self.resource_version.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resources",
            self.watchers.clone(),
        );
        // Not an upstream metric (kube-apiserver has none for the cache's size).
        registry.register(
            "apiserver_watch_cache_objects_bytes",
            "Bytes held by the objects of the watch cache broken by resource type.",
            self.objects_bytes.clone(),
        );
    }
}

/// Tuning of every cache.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Events kept for watches that resume from an older resourceVersion.
    pub window: usize,
    /// Broadcast ring size: how far a watcher may fall behind before it is cut off.
    pub ring: usize,
    /// Periodic bookmarks (upstream's `bookmarkFrequency`).
    pub bookmark_frequency: Duration,
    /// How long a request waits for the cache to reach a resourceVersion.
    pub fresh_timeout: Duration,
    /// How often a watched cache proves itself current (for bookmarks).
    pub progress_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            window: 10_000,
            ring: 4_096,
            bookmark_frequency: Duration::from_secs(60),
            fresh_timeout: Duration::from_secs(3),
            progress_interval: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change of the prefix, with the object before it (for selector transitions).
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventType,
    pub key: String,
    /// The new object (for deletions: the last state, with the deletion's version).
    pub object: Arc<RawObject>,
    pub prev: Option<Arc<RawObject>>,
    pub rv: i64,
}

/// What flows through the broadcast ring.
#[derive(Clone, Debug)]
enum Message {
    Event(Arc<CacheEvent>),
    /// The cache reached this revision without events of its own.
    Progress(i64),
}

struct State {
    ready: bool,
    rv: i64,
    /// The revision of the last (re)list; the window starts after it until the
    /// first eviction.
    list_rv: i64,
    evicted: bool,
    /// Shared with the window's events: one copy of each version.
    objects: BTreeMap<String, Arc<RawObject>>,
    /// `RawObject::heap_size` of `objects`, with their keys.
    bytes: usize,
    /// Keys whose values are not JSON objects (skipped, but counted for freshness).
    undecodable: std::collections::BTreeSet<String>,
    window: VecDeque<Arc<CacheEvent>>,
    tx: broadcast::Sender<Message>,
}

impl State {
    /// The oldest resourceVersion a watch can start from (upstream's `oldest - 1`).
    fn floor(&self) -> i64 {
        match self.window.front() {
            Some(first) if self.evicted => first.rv - 1,
            _ => self.list_rv,
        }
    }
}

/// Why a cache could not answer.
#[derive(Debug, PartialEq)]
pub enum CacheError {
    /// Not initialised yet or relisting: the caller falls back to storage.
    NotReady,
    /// The cache did not reach the revision in time (upstream's 504 Timeout).
    TooLarge { requested: i64, current: i64 },
    /// The store could not be asked for its revision.
    Storage(String),
}

impl CacheError {
    pub fn to_api(&self) -> ApiError {
        match self {
            CacheError::NotReady => ApiError {
                code: 429,
                reason: "TooManyRequests",
                message: "storage is (re)initializing".into(),
                details: Some(json!({"retryAfterSeconds": 1})),
            },
            CacheError::TooLarge { requested, current } => too_large_error(*requested, *current),
            CacheError::Storage(e) => ApiError::internal(e.clone()),
        }
    }
}

/// `storage.NewTooLargeResourceVersionError`: 504 Timeout with a
/// `ResourceVersionTooLarge` cause and a one-second retry.
pub fn too_large_error(requested: i64, current: i64) -> ApiError {
    ApiError {
        code: 504,
        reason: "Timeout",
        message: format!("Too large resource version: {requested}, current: {current}"),
        details: Some(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        })),
    }
}

/// The cache of one key prefix (e.g. `/registry/configmaps/`).
pub struct WatchCache {
    prefix: String,
    /// The field selector paths extracted from each object.
    paths: FieldPaths,
    config: CacheConfig,
    metrics: CacheMetrics,
    label: ResourceLabel,
    state: Mutex<State>,
    /// Publishes `rv` whenever it moves (or the cache becomes ready).
    advanced: tokio::sync::watch::Sender<i64>,
}

/// A filter on objects (label and field selectors), shared by a watcher.
pub type Filter = Arc<dyn Fn(&RawObject) -> bool + Send + Sync>;

/// What a LIST from the cache returns: matching objects in key order and the list's
/// resourceVersion.
pub struct CachedList {
    pub items: Vec<Arc<RawObject>>,
    pub rv: i64,
}

/// How a watch starts, decided by the REST layer from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// The current state as ADDED events, then changes. `consistent`: wait until the
    /// cache reached the store's revision first. `min_rv`: wait until it reached this.
    /// `end_bookmark`: watch-list, ending the initial events with a marked BOOKMARK.
    InitialEvents { consistent: bool, min_rv: i64, end_bookmark: bool },
    /// Changes after the cache's current revision.
    Now,
    /// Changes after this revision.
    From(i64),
}

/// Per-watch options.
#[derive(Clone)]
pub struct WatchParams {
    pub start: WatchStart,
    /// Only keys under this prefix (a namespace), within the cache's prefix.
    pub key_prefix: String,
    pub filter: Filter,
    pub bookmarks: bool,
    pub timeout: Duration,
    /// For BOOKMARK objects.
    pub kind: String,
    pub api_version: String,
}

/// A stored value as the cache keeps it; `None`: not a JSON object with metadata.
fn decode(value: &[u8], rv: i64, paths: &FieldPaths) -> Option<RawObject> {
    RawObject::new(serde_json::from_slice(value).ok()?, rv, paths)
}

fn entry_size(key: &str, obj: &RawObject) -> usize {
    key.len() + obj.heap_size()
}

impl WatchCache {
    fn new(prefix: String, paths: FieldPaths, config: CacheConfig, metrics: CacheMetrics) -> WatchCache {
        let (tx, _) = broadcast::channel(config.ring.max(1));
        let (advanced, _) = tokio::sync::watch::channel(0);
        // `/registry/configmaps/` → `configmaps`.
        let resource = prefix.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
        WatchCache {
            label: ResourceLabel { resource },
            metrics,
            prefix,
            paths,
            config,
            state: Mutex::new(State {
                ready: false,
                rv: 0,
                list_rv: 0,
                evicted: false,
                objects: BTreeMap::new(),
                bytes: 0,
                undecodable: Default::default(),
                window: VecDeque::new(),
                tx,
            }),
            advanced,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The revision the cache reflects, when ready.
    pub fn revision(&self) -> Option<i64> {
        let s = self.lock();
        s.ready.then_some(s.rv)
    }

    /// Replaces the whole state with a listing at `rv` (`None`: a value that does not
    /// decode); ends every open watch.
    pub fn replace(&self, items: Vec<(String, Option<RawObject>)>, rv: i64) {
        let mut s = self.lock();
        s.objects.clear();
        s.undecodable.clear();
        s.bytes = 0;
        for (k, v) in items {
            match v {
                Some(v) => {
                    s.bytes += entry_size(&k, &v);
                    s.objects.insert(k, Arc::new(v));
                }
                None => {
                    s.undecodable.insert(k);
                }
            }
        }
        s.window.clear();
        s.evicted = false;
        s.list_rv = rv;
        s.rv = rv;
        s.ready = true;
        // Receivers of the old ring see it closed: their watches end.
        s.tx = broadcast::channel(self.config.ring.max(1)).0;
        let bytes = s.bytes;
        drop(s);
        self.metrics.objects_bytes.get_or_create(&self.label).set(bytes as i64);
        self.metrics.initializations.get_or_create(&self.label).inc();
        self.metrics.resource_version.get_or_create(&self.label).set(rv);
        self.advanced.send_replace(rv);
    }

    /// Marks the cache as not serving (before a relist).
    pub fn reset(&self) {
        let mut s = self.lock();
        s.ready = false;
        s.tx = broadcast::channel(self.config.ring.max(1)).0;
    }

    /// Applies one store event (in revision order).
    pub fn apply(&self, ev: WatchEvent) {
        self.apply_batch(vec![ev]);
    }

    /// Applies the events of one store watch response at once, so no reader sees a
    /// revision half applied (a DeleteRange removes many keys at one revision).
    pub fn apply_batch(&self, events: Vec<WatchEvent>) {
        let mut s = self.lock();
        let mut last = None;
        self.metrics.events_received.get_or_create(&self.label).inc_by(events.len() as u64);
        for ev in events {
            if let Some(rv) = self.apply_locked(&mut s, ev) {
                last = Some(rv);
            }
        }
        let bytes = s.bytes;
        drop(s);
        self.metrics.objects_bytes.get_or_create(&self.label).set(bytes as i64);
        if let Some(rv) = last {
            self.metrics.resource_version.get_or_create(&self.label).set(rv);
            self.advanced.send_replace(rv);
        }
    }

    fn apply_locked(&self, s: &mut State, ev: WatchEvent) -> Option<i64> {
        let (key, rv) = match &ev {
            WatchEvent::Put { kv, .. } => (String::from_utf8_lossy(&kv.key).into_owned(), kv.mod_revision),
            WatchEvent::Delete { key, mod_revision, .. } => (String::from_utf8_lossy(key).into_owned(), *mod_revision),
        };
        if rv < s.rv {
            // Already reflected (never expected: the store watch resumes after `rv`).
            return None;
        }
        let prev = s.objects.remove(&key);
        if let Some(p) = &prev {
            s.bytes -= entry_size(&key, p);
        }
        let event = match ev {
            WatchEvent::Put { kv, .. } => {
                let Some(obj) = decode(&kv.value, rv, &self.paths) else {
                    tracing::warn!(key, "undecodable object in the store; skipped by the watch cache");
                    s.undecodable.insert(key);
                    s.rv = s.rv.max(rv);
                    return Some(rv);
                };
                s.undecodable.remove(&key);
                s.bytes += entry_size(&key, &obj);
                let obj = Arc::new(obj);
                s.objects.insert(key.clone(), obj.clone());
                let kind = if prev.is_some() { EventType::Modified } else { EventType::Added };
                CacheEvent { kind, key, object: obj, prev, rv }
            }
            WatchEvent::Delete { prev: prev_value, .. } => {
                s.undecodable.remove(&key);
                // The last state at the deletion's version.
                let last = match &prev {
                    Some(p) => at_version(p, rv),
                    None => prev_value.and_then(|v| decode(&v, rv, &self.paths)),
                };
                let Some(last) = last else {
                    s.rv = s.rv.max(rv);
                    return Some(rv);
                };
                CacheEvent { kind: EventType::Deleted, key, object: Arc::new(last), prev, rv }
            }
        };
        let event = Arc::new(event);
        s.window.push_back(event.clone());
        while s.window.len() > self.config.window {
            // Evict whole revisions, so a watch never resumes in the middle of one.
            let Some(gone) = s.window.pop_front() else { break };
            while s.window.front().is_some_and(|e| e.rv == gone.rv) {
                s.window.pop_front();
            }
            s.evicted = true;
        }
        s.rv = s.rv.max(rv);
        let _ = s.tx.send(Message::Event(event));
        Some(rv)
    }

    /// The store is known to hold no change of the prefix in `(seen, rv]`.
    pub fn progress(&self, seen: i64, rv: i64) {
        let mut s = self.lock();
        if !s.ready || s.rv != seen || rv <= s.rv {
            return;
        }
        s.rv = rv;
        let _ = s.tx.send(Message::Progress(rv));
        drop(s);
        self.metrics.resource_version.get_or_create(&self.label).set(rv);
        self.advanced.send_replace(rv);
    }

    /// Waits (up to `fresh_timeout`) for a cache that is (re)listing to be ready.
    async fn wait_ready(&self) -> Result<(), CacheError> {
        let mut advanced = self.advanced.subscribe();
        let deadline = Instant::now() + self.config.fresh_timeout;
        while !self.lock().ready {
            if tokio::time::timeout_at(deadline, advanced.changed()).await.is_err() {
                return Err(CacheError::NotReady);
            }
        }
        Ok(())
    }

    /// Waits until the cache reflects at least `min_rv`; with `consistent`, at least
    /// the store's current revision (one linearizable Range proves it).
    async fn wait_fresh(&self, storage: &Storage, consistent: bool, min_rv: i64) -> Result<i64, CacheError> {
        const RECHECK: Duration = Duration::from_millis(50);
        let deadline = Instant::now() + self.config.fresh_timeout;
        let mut advanced = self.advanced.subscribe();
        let mut target = min_rv;
        let mut last_check: Option<Instant> = None;
        loop {
            let (ready, rv, count) = {
                let s = self.lock();
                (s.ready, s.rv, (s.objects.len() + s.undecodable.len()) as i64)
            };
            if !ready {
                // Not serving: fall back at once rather than queueing behind a relist.
                return Err(CacheError::NotReady);
            }
            if rv >= target && (!consistent || last_check.is_some()) {
                return Ok(rv);
            }
            // Ask the store at once, then again only while the watch stays quiet (the
            // prefix's last change may lie before the revision to reach).
            if consistent && last_check.is_none() {
                // Cheap first: when the store's last write was one the cache already
                // has (often this very resource's), the revision alone proves it.
                let (revision, n) = storage
                    .revision_and_count(self.prefix.as_bytes())
                    .await
                    .map_err(|e| CacheError::Storage(e.to_string()))?;
                target = target.max(revision);
                if self.lock().rv >= target || n != count {
                    // Current already; or events of the prefix are on their way (the
                    // counts differ): wait for them before scanning the store.
                    last_check = Some(Instant::now());
                    continue;
                }
            }
            if consistent && last_check.is_none_or(|t| t.elapsed() >= RECHECK) {
                let f =
                    storage.freshness(self.prefix.as_bytes()).await.map_err(|e| CacheError::Storage(e.to_string()))?;
                if last_check.is_none() {
                    target = target.max(f.revision);
                }
                last_check = Some(Instant::now());
                if f.count == count && f.max_mod_revision <= rv {
                    // Nothing of the prefix changed after `rv` up to `f.revision`.
                    self.progress(rv, f.revision);
                    if f.revision >= target {
                        return Ok(f.revision.max(rv));
                    }
                }
                continue;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(CacheError::TooLarge { requested: target, current: rv });
            }
            let step = match last_check {
                Some(t) if consistent => remaining.min(RECHECK.saturating_sub(t.elapsed())),
                _ => remaining,
            };
            let _ = tokio::time::timeout(step, advanced.changed()).await;
        }
    }

    /// LIST: `consistent` for resourceVersion "", `min_rv` for NotOlderThan.
    pub async fn list(
        &self,
        storage: &Storage,
        consistent: bool,
        min_rv: i64,
        key_prefix: &str,
        filter: &(dyn Fn(&RawObject) -> bool + Sync),
    ) -> Result<CachedList, CacheError> {
        self.wait_fresh(storage, consistent, min_rv).await?;
        let s = self.lock();
        let items = s
            .objects
            .range(key_prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(key_prefix))
            .filter(|(_, v)| filter(v))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(CachedList { items, rv: s.rv })
    }

    /// WATCH. Errors a client should see as an ERROR event (410, 504) come back as a
    /// one-event stream, like upstream's `newErrWatcher`; `NotReady` is returned so the
    /// caller can fall back to a storage watch.
    pub async fn watch(&self, storage: &Storage, p: WatchParams) -> Result<WatchStream, CacheError> {
        self.wait_ready().await?;
        let deadline = Instant::now() + p.timeout;
        let mut backlog: VecDeque<Event> = VecDeque::new();
        let (rx, after, last_rv) = match p.start {
            WatchStart::InitialEvents { consistent, min_rv, end_bookmark } => {
                match self.wait_fresh(storage, consistent, min_rv).await {
                    Ok(_) => {}
                    Err(CacheError::TooLarge { requested, current }) if !consistent => {
                        return Ok(error_stream(too_large_error(requested, current)));
                    }
                    Err(e @ CacheError::Storage(_)) => return Ok(error_stream(e.to_api())),
                    Err(e) => return Err(e),
                }
                let (objects, rx, rv) = {
                    let s = self.lock();
                    if !s.ready {
                        return Err(CacheError::NotReady);
                    }
                    // Only Arcs under the lock; the events are built after it.
                    let objects: Vec<Arc<RawObject>> = s
                        .objects
                        .range(p.key_prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&p.key_prefix))
                        .map(|(_, o)| o.clone())
                        .collect();
                    (objects, s.tx.subscribe(), s.rv)
                };
                for obj in objects.iter().filter(|o| (p.filter)(o)) {
                    backlog.push_back(Event { kind: "ADDED", object: obj.json().clone() });
                }
                if end_bookmark {
                    backlog.push_back(bookmark(&p.kind, &p.api_version, rv, true));
                }
                (rx, rv, rv)
            }
            WatchStart::Now => {
                let s = self.lock();
                if !s.ready {
                    return Err(CacheError::NotReady);
                }
                (s.tx.subscribe(), s.rv, s.rv)
            }
            WatchStart::From(rv) => {
                // A version the cache has not reached yet (e.g. read from another
                // apiserver): like upstream, the watch waits for the events after it.
                let (events, rx, cur) = {
                    let s = self.lock();
                    if !s.ready {
                        return Err(CacheError::NotReady);
                    }
                    let floor = s.floor();
                    if rv < floor {
                        let e = ApiError::gone(format!("too old resource version: {rv} ({floor})"));
                        return Ok(error_stream(e));
                    }
                    // The window is in revision order: binary search for the first event after `rv`.
                    let first = s.window.partition_point(|e| e.rv <= rv);
                    let events: Vec<Arc<CacheEvent>> = s.window.range(first..).cloned().collect();
                    (events, s.tx.subscribe(), s.rv)
                };
                backlog.extend(events.iter().filter_map(|ev| convert(ev, &p.key_prefix, &p.filter)));
                (rx, rv.max(cur), cur)
            }
        };
        let (group, version) = p.api_version.split_once('/').unwrap_or(("", &p.api_version));
        let labels = KindLabels { group: group.into(), version: version.into(), kind: p.kind.clone() };
        let registered = self.metrics.watchers.get_or_create(&labels).clone();
        registered.inc();
        let watcher = Watcher {
            _registered: Registered(registered),
            rx,
            backlog,
            // Live events at or below this were already covered.
            after,
            last_rv,
            next_bookmark: p.bookmarks.then(|| next_bookmark(Instant::now(), deadline, self.config.bookmark_frequency)),
            frequency: self.config.bookmark_frequency,
            deadline,
            p,
            done: false,
        };
        let stream = futures::stream::unfold(watcher, |mut w| async move {
            let v = w.next().await?;
            Some((v, w))
        });
        Ok(Box::pin(stream.take_until(tokio::time::sleep_until(deadline))))
    }
}

/// The next bookmark time: every `frequency`, and 2 s before the watch's deadline (so
/// a client can resume from a fresh version), never after it (upstream's
/// `nextBookmarkTime`).
fn next_bookmark(now: Instant, deadline: Instant, frequency: Duration) -> Instant {
    let heartbeat = now + frequency;
    let pre_timeout = deadline.checked_sub(Duration::from_secs(2)).unwrap_or(deadline);
    if pre_timeout < heartbeat && pre_timeout > now { pre_timeout } else { heartbeat }
}

fn bookmark(kind: &str, api_version: &str, rv: i64, initial_events_end: bool) -> Event {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    Event::new("BOOKMARK", &json!({"kind": kind, "apiVersion": api_version, "metadata": meta}))
}

fn error_stream(e: ApiError) -> WatchStream {
    Box::pin(futures::stream::iter([Event::new("ERROR", &e.to_status())]))
}

/// Upstream's `cacheWatcher.convertToWatchEvent`: selector transitions turn into
/// ADDED (now matches) and DELETED (no longer matches, with the old object at the
/// event's version).
fn convert(ev: &CacheEvent, key_prefix: &str, filter: &Filter) -> Option<Event> {
    if !ev.key.starts_with(key_prefix) {
        return None;
    }
    let cur = ev.kind != EventType::Deleted && filter(&ev.object);
    let old = match (&ev.prev, ev.kind) {
        (Some(p), _) => filter(p),
        (None, _) => false,
    };
    match (cur, old) {
        (true, false) => Some(Event { kind: "ADDED", object: ev.object.json().clone() }),
        (true, true) => Some(Event { kind: "MODIFIED", object: ev.object.json().clone() }),
        (false, true) => {
            let object = match (ev.kind, &ev.prev) {
                // Already at the deletion's version.
                (EventType::Deleted, _) => ev.object.json().clone(),
                // Left the selection: its last matching state, at this event's version.
                (_, Some(p)) => at_version(p, ev.rv).map_or_else(|| p.json().clone(), |o| o.json().clone()),
                (_, None) => Bytes::from_static(b"null"),
            };
            Some(Event { kind: "DELETED", object })
        }
        (false, false) => None,
    }
}

/// Counts a watcher in `apiserver_registered_watchers` while it lives.
struct Registered(Gauge);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.dec();
    }
}

struct Watcher {
    _registered: Registered,
    rx: broadcast::Receiver<Message>,
    backlog: VecDeque<Event>,
    after: i64,
    last_rv: i64,
    next_bookmark: Option<Instant>,
    frequency: Duration,
    deadline: Instant,
    p: WatchParams,
    done: bool,
}

impl Watcher {
    async fn next(&mut self) -> Option<Event> {
        if let Some(v) = self.backlog.pop_front() {
            return Some(v);
        }
        if self.done {
            return None;
        }
        loop {
            let bookmark_at = self.next_bookmark;
            let msg = tokio::select! {
                m = self.rx.recv() => m,
                _ = sleep_until_opt(bookmark_at) => {
                    self.next_bookmark = Some(next_bookmark(Instant::now(), self.deadline, self.frequency))
                        .filter(|t| *t <= self.deadline);
                    if self.last_rv < self.after {
                        // Still short of the version the watch started from.
                        continue;
                    }
                    return Some(bookmark(&self.p.kind, &self.p.api_version, self.last_rv, false));
                }
            };
            match msg {
                Ok(Message::Event(ev)) => {
                    self.last_rv = self.last_rv.max(ev.rv);
                    if ev.rv <= self.after {
                        continue;
                    }
                    if let Some(v) = convert(&ev, &self.p.key_prefix, &self.p.filter) {
                        return Some(v);
                    }
                }
                Ok(Message::Progress(rv)) => self.last_rv = self.last_rv.max(rv),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Upstream closes an unresponsive watcher; the client resumes.
                    tracing::debug!(prefix = self.p.key_prefix, missed = n, "watcher fell behind; closing it");
                    self.done = true;
                    return None;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => futures::future::pending().await,
    }
}

/// Every watch cache of the server, started on first use, each fed by its own task.
pub struct Cacher {
    storage: Storage,
    config: CacheConfig,
    metrics: CacheMetrics,
    cancel: CancellationToken,
    caches: Mutex<HashMap<String, Arc<WatchCache>>>,
}

impl Cacher {
    pub fn new(storage: Storage, config: CacheConfig, cancel: CancellationToken) -> Arc<Cacher> {
        Arc::new(Cacher {
            storage,
            config,
            cancel,
            metrics: CacheMetrics::default(),
            caches: Mutex::new(HashMap::new()),
        })
    }

    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The cache of `prefix`, starting its feeder the first time.
    pub fn get(&self, prefix: &str) -> Arc<WatchCache> {
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = caches.get(prefix) {
            return c.clone();
        }
        let cache = Arc::new(WatchCache::new(
            prefix.to_string(),
            field_paths(prefix),
            self.config.clone(),
            self.metrics.clone(),
        ));
        caches.insert(prefix.to_string(), cache.clone());
        let (storage, feed, cancel) = (self.storage.clone(), cache.clone(), self.cancel.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = run_feeder(&storage, &feed) => {}
                _ = run_progress(&storage, &feed) => {}
                _ = cancel.cancelled() => {}
            }
        });
        cache
    }
}

/// The field selector paths of the resources stored under `prefix` in their stored
/// form (a resource served through a conversion filters on decoded objects).
fn field_paths(prefix: &str) -> FieldPaths {
    let mut paths: Vec<Box<str>> = vec!["metadata.name".into(), "metadata.namespace".into()];
    for r in crate::registry::all().filter(|r| r.storage_form.is_none() && r.prefix() == prefix) {
        for (_, path) in r.field_selectors {
            if !paths.iter().any(|p| &**p == *path) {
                paths.push((*path).into());
            }
        }
    }
    paths.into()
}

/// While a cache has watchers, proves it current every `progress_interval` (upstream
/// asks etcd for progress notifications), so the bookmarks of a quiet resource carry
/// a recent resourceVersion.
async fn run_progress(storage: &Storage, cache: &WatchCache) {
    let mut tick = tokio::time::interval(cache.config.progress_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let watched = {
            let s = cache.lock();
            s.ready && s.tx.receiver_count() > 0
        };
        if watched && let Err(e) = cache.wait_fresh(storage, true, 0).await {
            tracing::debug!(error = ?e, prefix = cache.prefix, "watch cache progress check failed");
        }
    }
}

/// Lists, then follows the store watch; re-watches after a break, relists after
/// compaction. Runs until cancelled.
async fn run_feeder(storage: &Storage, cache: &WatchCache) {
    let prefix = cache.prefix.as_bytes().to_vec();
    let mut backoff = Duration::from_millis(100);
    // Below `fresh_timeout`: a watch waiting for a cache still (re)listing sees it done.
    let max_backoff = Duration::from_secs(2);
    'relist: loop {
        cache.reset();
        let page = match storage.list(&prefix, None, 0, 0).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, prefix = cache.prefix, "watch cache list failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        let items = page
            .items
            .into_iter()
            .map(|kv| (String::from_utf8_lossy(&kv.key).into_owned(), decode(&kv.value, kv.mod_revision, &cache.paths)))
            .collect();
        cache.replace(items, page.revision);
        tracing::debug!(prefix = cache.prefix, revision = page.revision, "watch cache initialised");
        loop {
            let from = cache.lock().rv + 1;
            let mut events = match storage.watch_batches(&prefix, from).await {
                Ok(s) => Box::pin(s),
                Err(e) => {
                    tracing::debug!(error = %e, prefix = cache.prefix, "watch cache could not watch; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            };
            while let Some(item) = events.next().await {
                match item {
                    Ok(batch) => {
                        backoff = Duration::from_millis(100);
                        cache.apply_batch(batch);
                    }
                    Err(StorageError::Compacted { .. }) => {
                        tracing::info!(prefix = cache.prefix, "watch cache fell behind compaction; relisting");
                        continue 'relist;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, prefix = cache.prefix, "store watch ended; watching again");
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Versioned;
    use serde_json::Value;

    fn put(key: &str, rv: i64, labels: Value) -> WatchEvent {
        let obj = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": key.rsplit('/').next().unwrap(), "labels": labels}});
        WatchEvent::Put {
            kv: Versioned { key: key.as_bytes().to_vec(), value: serde_json::to_vec(&obj).unwrap(), mod_revision: rv },
            created: false,
        }
    }

    fn del(key: &str, rv: i64) -> WatchEvent {
        WatchEvent::Delete { prev: None, key: key.as_bytes().to_vec(), mod_revision: rv }
    }

    fn cache(window: usize) -> WatchCache {
        WatchCache::new(
            "/registry/configmaps/".into(),
            field_paths("/registry/configmaps/"),
            CacheConfig { window, ..Default::default() },
            Default::default(),
        )
    }

    fn all() -> Filter {
        Arc::new(|_: &RawObject| true)
    }

    #[test]
    fn events_update_objects_and_revision() {
        let c = cache(10);
        c.replace(vec![], 5);
        c.apply(put("/registry/configmaps/a/x", 6, json!({})));
        c.apply(put("/registry/configmaps/a/x", 7, json!({"k": "v"})));
        c.apply(put("/registry/configmaps/b/y", 8, json!({})));
        c.apply(del("/registry/configmaps/b/y", 9));
        let s = c.lock();
        assert_eq!(s.rv, 9);
        assert_eq!(s.objects.len(), 1);
        assert_eq!(s.objects["/registry/configmaps/a/x"].value()["metadata"]["resourceVersion"], "7");
        let kinds: Vec<EventType> = s.window.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventType::Added, EventType::Modified, EventType::Added, EventType::Deleted]);
        assert_eq!(
            s.window[3].object.value()["metadata"]["resourceVersion"],
            "9",
            "a deletion carries its own version"
        );
        assert_eq!(s.floor(), 5);
    }

    #[tokio::test]
    async fn metrics_follow_the_cache_and_its_watchers() {
        let c = cache(10);
        c.replace(vec![], 5);
        c.apply(put("/registry/configmaps/a/x", 6, json!({})));
        let p = WatchParams {
            start: WatchStart::Now,
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: false,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let w = c.watch(&no_storage(), p).await.unwrap();
        let mut reg = Registry::default();
        c.metrics.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(text.contains(r#"apiserver_watch_cache_resource_version{resource="configmaps"} 6"#), "{text}");
        assert!(text.contains(r#"apiserver_watch_cache_initializations_total{resource="configmaps"} 1"#), "{text}");
        assert!(text.contains(r#"apiserver_watch_cache_events_received_total{resource="configmaps"} 1"#), "{text}");
        assert!(text.contains(r#"apiserver_registered_watchers{group="",version="v1",kind="ConfigMap"} 1"#), "{text}");
        drop(w);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        assert!(text.contains(r#"apiserver_registered_watchers{group="",version="v1",kind="ConfigMap"} 0"#), "{text}");
    }

    #[test]
    fn eviction_moves_the_floor_like_upstream() {
        let c = cache(2);
        c.replace(vec![], 10);
        for rv in 11..=14 {
            c.apply(put("/registry/configmaps/a/x", rv, json!({})));
        }
        let s = c.lock();
        assert_eq!(s.window.len(), 2);
        // Oldest kept event is 13: a watch may start from 12, not from 11.
        assert_eq!(s.floor(), 12);
    }

    #[test]
    fn selector_transitions_become_added_and_deleted() {
        let f: Filter = Arc::new(|o: &RawObject| o.label("app") == Some("web"));
        let paths = field_paths("/registry/configmaps/");
        let prev =
            Arc::new(RawObject::new(json!({"metadata": {"name": "x", "labels": {"app": "web"}}}), 3, &paths).unwrap());
        let now =
            Arc::new(RawObject::new(json!({"metadata": {"name": "x", "labels": {"app": "db"}}}), 4, &paths).unwrap());
        let leave = CacheEvent {
            kind: EventType::Modified,
            key: "/registry/configmaps/a/x".into(),
            object: now.clone(),
            prev: Some(prev.clone()),
            rv: 4,
        };
        let v = convert(&leave, "/registry/configmaps/", &f).unwrap().to_value();
        assert_eq!(v["type"], "DELETED");
        assert_eq!(v["object"]["metadata"]["labels"]["app"], "web");
        assert_eq!(v["object"]["metadata"]["resourceVersion"], "4");
        let enter =
            CacheEvent { kind: EventType::Modified, key: leave.key.clone(), object: prev, prev: Some(now), rv: 5 };
        assert_eq!(convert(&enter, "/registry/configmaps/", &f).unwrap().kind, "ADDED");
        assert!(convert(&enter, "/registry/configmaps/other/", &f).is_none(), "other namespace");
    }

    #[test]
    fn bookmarks_come_periodically_and_before_the_deadline() {
        let now = Instant::now();
        let f = Duration::from_secs(60);
        assert_eq!(next_bookmark(now, now + Duration::from_secs(10), f), now + Duration::from_secs(8));
        assert_eq!(next_bookmark(now, now + Duration::from_secs(600), f), now + f);
        // Past the pre-timeout point: the periodic time (take_until ends the watch first).
        assert_eq!(next_bookmark(now, now + Duration::from_secs(1), f), now + f);
    }

    /// A Storage whose endpoint refuses connections: the tests below never reach it.
    fn no_storage() -> Storage {
        Storage::connect(&["http://127.0.0.1:1".into()], None).unwrap()
    }

    #[tokio::test]
    async fn watch_from_an_old_version_is_expired() {
        let c = cache(2);
        c.replace(vec![], 10);
        for rv in 11..=14 {
            c.apply(put("/registry/configmaps/a/x", rv, json!({})));
        }
        let p = WatchParams {
            start: WatchStart::From(11),
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: false,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let evs: Vec<Value> = c.watch(&no_storage(), p.clone()).await.unwrap().map(|e| e.to_value()).collect().await;
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0]["type"], "ERROR");
        assert_eq!(evs[0]["object"]["code"], 410);
        assert_eq!(evs[0]["object"]["reason"], "Expired");
        assert_eq!(evs[0]["object"]["message"], "too old resource version: 11 (12)");

        // From the floor: the kept events, in order, then live ones.
        let mut s = Box::pin(c.watch(&no_storage(), WatchParams { start: WatchStart::From(12), ..p }).await.unwrap());
        assert_eq!(s.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], "13");
        assert_eq!(s.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], "14");
        c.apply(put("/registry/configmaps/a/x", 15, json!({})));
        assert_eq!(s.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], "15");
        // A relist ends the watch.
        c.replace(vec![], 20);
        assert!(s.next().await.is_none());
    }

    #[tokio::test]
    async fn watch_list_sends_state_then_the_marked_bookmark() {
        let c = cache(10);
        c.replace(vec![], 3);
        c.apply(put("/registry/configmaps/a/x", 4, json!({"app": "web"})));
        c.apply(put("/registry/configmaps/a/y", 5, json!({"app": "db"})));
        c.apply(put("/registry/configmaps/b/z", 6, json!({"app": "web"})));
        let p = WatchParams {
            start: WatchStart::InitialEvents { consistent: false, min_rv: 0, end_bookmark: true },
            key_prefix: "/registry/configmaps/a/".into(),
            filter: Arc::new(|o: &RawObject| o.label("app") == Some("web")),
            bookmarks: true,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let mut s = Box::pin(c.watch(&no_storage(), p).await.unwrap());
        let first = s.next().await.unwrap().to_value();
        assert_eq!((first["type"].as_str(), first["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("x")));
        let end = s.next().await.unwrap().to_value();
        assert_eq!(end["type"], "BOOKMARK");
        assert_eq!(end["object"]["metadata"]["resourceVersion"], "6");
        assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
        c.apply(put("/registry/configmaps/a/y", 7, json!({"app": "web"})));
        let next = s.next().await.unwrap().to_value();
        assert_eq!((next["type"].as_str(), next["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("y")));
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_the_ring_is_cut_off() {
        let c = WatchCache::new(
            "/registry/configmaps/".into(),
            field_paths("/registry/configmaps/"),
            CacheConfig { ring: 4, ..Default::default() },
            Default::default(),
        );
        c.replace(vec![], 1);
        let p = WatchParams {
            start: WatchStart::Now,
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: false,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let mut slow = c.watch(&no_storage(), p.clone()).await.unwrap();
        let mut fast = c.watch(&no_storage(), p).await.unwrap();
        for rv in 2..=4 {
            c.apply(put("/registry/configmaps/a/x", rv, json!({})));
            assert_eq!(fast.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], rv.to_string());
        }
        // The feeder never waits for the slow one; it is closed once the ring laps it.
        for rv in 5..=10 {
            c.apply(put("/registry/configmaps/a/x", rv, json!({})));
            assert_eq!(fast.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], rv.to_string());
        }
        assert!(slow.next().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_bookmark_arrives_before_the_timeout() {
        let c = cache(10);
        c.replace(vec![], 3);
        let p = WatchParams {
            start: WatchStart::Now,
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: true,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let start = Instant::now();
        let mut s = Box::pin(c.watch(&no_storage(), p).await.unwrap());
        c.apply(put("/registry/configmaps/other/q", 9, json!({})));
        assert_eq!(s.next().await.unwrap().to_value()["type"], "ADDED");
        let b = s.next().await.unwrap().to_value();
        assert_eq!(b["type"], "BOOKMARK");
        assert_eq!(b["object"]["metadata"]["resourceVersion"], "9");
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert!(s.next().await.is_none(), "the watch ends at its timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_waits_for_a_cache_that_is_still_listing() {
        let c = Arc::new(cache(10));
        let p = WatchParams {
            start: WatchStart::Now,
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: false,
            timeout: Duration::from_secs(30),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        // Never listed: NotReady after fresh_timeout (the caller falls back to storage).
        assert_eq!(c.watch(&no_storage(), p.clone()).await.err(), Some(CacheError::NotReady));
        let feeder = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            feeder.replace(vec![], 7);
        });
        let mut s = c.watch(&no_storage(), p).await.unwrap();
        c.apply(put("/registry/configmaps/a/x", 8, json!({})));
        assert_eq!(s.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], "8");
    }

    #[tokio::test]
    async fn a_watch_from_a_future_version_waits_for_it() {
        let c = cache(10);
        c.replace(vec![], 3);
        let p = WatchParams {
            start: WatchStart::From(5),
            key_prefix: "/registry/configmaps/".into(),
            filter: all(),
            bookmarks: false,
            timeout: Duration::from_secs(5),
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
        };
        let mut s = c.watch(&no_storage(), p).await.unwrap();
        c.apply(put("/registry/configmaps/a/x", 4, json!({})));
        c.apply(put("/registry/configmaps/a/x", 6, json!({})));
        assert_eq!(s.next().await.unwrap().to_value()["object"]["metadata"]["resourceVersion"], "6");
    }

    #[tokio::test(start_paused = true)]
    async fn future_versions_time_out_with_upstreams_error() {
        let c = cache(10);
        c.replace(vec![], 3);
        let e = c.list(&no_storage(), false, 50, "/registry/configmaps/", &|_| true).await.err().unwrap();
        assert_eq!(e, CacheError::TooLarge { requested: 50, current: 3 });
        let st = e.to_api().to_status();
        assert_eq!(st["code"], 504);
        assert_eq!(st["reason"], "Timeout");
        assert_eq!(st["message"], "Too large resource version: 50, current: 3");
        assert_eq!(st["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
        // Reached in time: served.
        let c2 = Arc::new(cache(10));
        c2.replace(vec![], 3);
        let feeder = c2.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            feeder.apply(put("/registry/configmaps/a/x", 50, json!({})));
        });
        let l = c2.list(&no_storage(), false, 50, "/registry/configmaps/", &|_| true).await.unwrap();
        assert_eq!((l.rv, l.items.len()), (50, 1));
    }
}
