//! Storage over the etcd v3 API: the only way the apiserver reaches its data, so it
//! runs on our store and on a real etcd alike.
//!
//! This layer knows keys, opaque values and revisions, nothing of Kubernetes objects:
//! a value's resourceVersion is its key's `mod_revision`, a list's is the response
//! header's revision. Creates are a transaction on `create_revision == 0`, updates and
//! deletes on `mod_revision == expected`, so concurrent writers never lose an update.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::Stream;
use proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use proto::etcdserverpb::kv_client::KvClient;
use proto::etcdserverpb::request_op::Request as Op;
use proto::etcdserverpb::response_op::Response as OpResponse;
use proto::etcdserverpb::watch_client::WatchClient;
use proto::etcdserverpb::watch_request::RequestUnion;
use proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
};
use proto::mvccpb::event::EventType;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("key not found")]
    NotFound,
    #[error("key exists")]
    AlreadyExists,
    #[error("precondition failed: the key was modified")]
    Conflict,
    /// The requested revision was compacted away (`current` is the oldest kept).
    #[error("required revision has been compacted ({requested} < {current})")]
    Compacted { requested: i64, current: i64 },
    #[error("etcd request failed: {0}")]
    Etcd(#[from] tonic::Status),
    #[error("invalid etcd endpoint {0:?}")]
    BadEndpoint(String),
    #[error("invalid etcd endpoint {endpoint}: {source}")]
    Endpoint { endpoint: String, source: tonic::transport::Error },
}

/// Connects to the etcd endpoints in turn, starting from the last that worked, over
/// TCP or TLS.
#[derive(Clone)]
struct Connector {
    targets: Arc<Vec<(String, u16)>>,
    next: Arc<AtomicUsize>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

type Io = hyper_util::rt::TokioIo<Box<dyn Conn>>;

trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Conn for T {}

impl tower::Service<http::Uri> for Connector {
    type Response = Io;
    type Error = std::io::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Io, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let n = this.targets.len();
            let start = this.next.load(Ordering::Relaxed);
            let mut last = std::io::Error::other("no etcd endpoints");
            for i in 0..n {
                let idx = (start + i) % n;
                let (host, port) = &this.targets[idx];
                let tcp = match tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::net::TcpStream::connect((host.as_str(), *port)),
                )
                .await
                {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        last = e;
                        continue;
                    }
                    Err(_) => {
                        last =
                            std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connecting to {host}:{port}"));
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                this.next.store(idx, Ordering::Relaxed);
                let Some(cfg) = &this.tls else {
                    return Ok(hyper_util::rt::TokioIo::new(Box::new(tcp) as Box<dyn Conn>));
                };
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                match tokio_rustls::TlsConnector::from(cfg.clone()).connect(name, tcp).await {
                    Ok(tls) => return Ok(hyper_util::rt::TokioIo::new(Box::new(tls) as Box<dyn Conn>)),
                    Err(e) => last = e,
                }
            }
            this.next.store((start + 1) % n.max(1), Ordering::Relaxed);
            Err(last)
        })
    }
}

/// A stored value and its `mod_revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
}

/// One page of a prefix listing.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub items: Vec<Versioned>,
    /// The revision the page was read at.
    pub revision: i64,
    /// Keys after this page (when `limit` cut it short).
    pub remaining: i64,
}

/// See [`Storage::freshness`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    pub revision: i64,
    pub count: i64,
    pub max_mod_revision: i64,
}

/// A change to one key, as etcd reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// `created` is true when this put created the key (version 1).
    Put { kv: Versioned, created: bool },
    /// `prev` is the value before deletion; `mod_revision` is the deletion's revision.
    Delete { prev: Option<Vec<u8>>, key: Vec<u8>, mod_revision: i64 },
}

/// A client for a set of etcd endpoints (balanced).
#[derive(Clone)]
pub struct Storage {
    kv: KvClient<Channel>,
    watch: WatchClient<Channel>,
}

/// The end of the range holding every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn cmp(key: &[u8], target: CompareTarget, union: TargetUnion) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: target as i32,
        key: key.to_vec(),
        target_union: Some(union),
        range_end: Vec::new(),
    }
}

fn get_op(key: &[u8]) -> RequestOp {
    RequestOp { request: Some(Op::RequestRange(RangeRequest { key: key.to_vec(), ..Default::default() })) }
}

impl Storage {
    /// A lazily connecting client; `endpoints` are URLs like `http://127.0.0.1:2379`
    /// (`https://` with `tls`). One connection at a time, to the first endpoint that
    /// answers; when it breaks, the next connection tries the others in turn.
    pub fn connect(endpoints: &[String], tls: Option<Arc<rustls::ClientConfig>>) -> Result<Storage, StorageError> {
        let first = endpoints.first().cloned().unwrap_or_default();
        let mut targets = Vec::new();
        for e in endpoints {
            let uri: http::Uri = e.parse().map_err(|_| StorageError::BadEndpoint(e.clone()))?;
            let host = uri.host().ok_or_else(|| StorageError::BadEndpoint(e.clone()))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            let default_port = if uri.scheme_str() == Some("https") { 443 } else { 2379 };
            targets.push((host, uri.port_u16().unwrap_or(default_port)));
        }
        let endpoint = Endpoint::from_shared(first.clone())
            .map_err(|source| StorageError::Endpoint { endpoint: first, source })?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        let channel = endpoint.connect_with_connector_lazy(Connector {
            targets: Arc::new(targets),
            next: Arc::new(AtomicUsize::new(0)),
            tls,
        });
        Ok(Storage { kv: KvClient::new(channel.clone()), watch: WatchClient::new(channel) })
    }

    /// Creates `key` unless it exists; returns the new revision.
    pub async fn create(&self, key: &[u8], value: Vec<u8>) -> Result<i64, StorageError> {
        let txn = TxnRequest {
            compare: vec![cmp(key, CompareTarget::Create, TargetUnion::CreateRevision(0))],
            success: vec![RequestOp {
                request: Some(Op::RequestPut(PutRequest { key: key.to_vec(), value, ..Default::default() })),
            }],
            failure: vec![],
        };
        let resp = self.kv.clone().txn(txn).await?.into_inner();
        if !resp.succeeded {
            return Err(StorageError::AlreadyExists);
        }
        Ok(resp.header.map(|h| h.revision).unwrap_or_default())
    }

    /// Reads one key (linearizable).
    pub async fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StorageError> {
        let resp = self.kv.clone().range(RangeRequest { key: key.to_vec(), ..Default::default() }).await?.into_inner();
        Ok(resp.kvs.into_iter().next().map(|kv| Versioned {
            key: kv.key,
            value: kv.value,
            mod_revision: kv.mod_revision,
        }))
    }

    /// Lists keys under `prefix` from `start` (inclusive; None: the prefix itself), at
    /// `revision` (0: the latest), at most `limit` (0: all).
    pub async fn list(
        &self,
        prefix: &[u8],
        start: Option<&[u8]>,
        revision: i64,
        limit: i64,
    ) -> Result<ListPage, StorageError> {
        let req = RangeRequest {
            key: start.unwrap_or(prefix).to_vec(),
            range_end: prefix_end(prefix),
            revision,
            limit,
            ..Default::default()
        };
        let resp = self.kv.clone().range(req).await.map_err(|s| compacted_or(s, revision))?.into_inner();
        let items: Vec<Versioned> = resp
            .kvs
            .into_iter()
            .map(|kv| Versioned { key: kv.key, value: kv.value, mod_revision: kv.mod_revision })
            .collect();
        let remaining = if resp.more { resp.count - items.len() as i64 } else { 0 };
        Ok(ListPage { items, revision: resp.header.map(|h| h.revision).unwrap_or_default(), remaining })
    }

    /// Replaces `key` if its mod_revision is still `expected`; returns the new revision.
    /// Fails with `NotFound` when the key is gone, `Conflict` when it changed.
    pub async fn update(&self, key: &[u8], value: Vec<u8>, expected: i64) -> Result<i64, StorageError> {
        let put =
            RequestOp { request: Some(Op::RequestPut(PutRequest { key: key.to_vec(), value, ..Default::default() })) };
        let resp = self.guarded(key, expected, put).await?;
        Ok(resp)
    }

    /// Deletes `key` if its mod_revision is still `expected`; returns the deletion's revision.
    pub async fn delete(&self, key: &[u8], expected: i64) -> Result<i64, StorageError> {
        let del = RequestOp {
            request: Some(Op::RequestDeleteRange(DeleteRangeRequest { key: key.to_vec(), ..Default::default() })),
        };
        self.guarded(key, expected, del).await
    }

    async fn guarded(&self, key: &[u8], expected: i64, op: RequestOp) -> Result<i64, StorageError> {
        let txn = TxnRequest {
            compare: vec![cmp(key, CompareTarget::Mod, TargetUnion::ModRevision(expected))],
            success: vec![op],
            failure: vec![get_op(key)],
        };
        let resp = self.kv.clone().txn(txn).await?.into_inner();
        if resp.succeeded {
            return Ok(resp.header.map(|h| h.revision).unwrap_or_default());
        }
        let exists = resp.responses.into_iter().any(|r| match r.response {
            Some(OpResponse::ResponseRange(rr)) => !rr.kvs.is_empty(),
            _ => false,
        });
        Err(if exists { StorageError::Conflict } else { StorageError::NotFound })
    }

    /// Deletes every key under `prefix` (unconditionally); returns how many.
    pub async fn delete_prefix(&self, prefix: &[u8]) -> Result<i64, StorageError> {
        let req = DeleteRangeRequest { key: prefix.to_vec(), range_end: prefix_end(prefix), ..Default::default() };
        Ok(self.kv.clone().delete_range(req).await?.into_inner().deleted)
    }

    /// How many keys are under `prefix`.
    pub async fn count(&self, prefix: &[u8]) -> Result<i64, StorageError> {
        let req = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            count_only: true,
            ..Default::default()
        };
        Ok(self.kv.clone().range(req).await?.into_inner().count)
    }

    /// A linearizable look at a prefix without its values: the store's current
    /// revision, how many keys the prefix holds and the highest `mod_revision` among
    /// them (0 when empty). A cache that reflects the prefix at revision `r` with the
    /// same number of keys, all modified at or before `r`, is current as of `revision`:
    /// any put after `r` raises the highest `mod_revision`, and a delete after `r`
    /// lowers the count unless a put (which raises it) made up for it.
    pub async fn freshness(&self, prefix: &[u8]) -> Result<Freshness, StorageError> {
        use proto::etcdserverpb::range_request::{SortOrder, SortTarget};
        let req = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            limit: 1,
            keys_only: true,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Mod as i32,
            ..Default::default()
        };
        let resp = self.kv.clone().range(req).await?.into_inner();
        Ok(Freshness {
            revision: resp.header.map(|h| h.revision).unwrap_or_default(),
            count: resp.count,
            max_mod_revision: resp.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0),
        })
    }

    /// The store's current revision and how many keys `prefix` holds (a linearizable,
    /// count-only Range: no values are read).
    pub async fn revision_and_count(&self, prefix: &[u8]) -> Result<(i64, i64), StorageError> {
        let req = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            count_only: true,
            ..Default::default()
        };
        let resp = self.kv.clone().range(req).await?.into_inner();
        Ok((resp.header.map(|h| h.revision).unwrap_or_default(), resp.count))
    }

    /// A cheap linearizable read, for health checks.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let req = RangeRequest { key: b"health".to_vec(), count_only: true, ..Default::default() };
        self.kv.clone().range(req).await?;
        Ok(())
    }

    /// Watches every key under `prefix` from `start_revision` (inclusive). The stream
    /// ends with an error when the revision is compacted or the connection breaks.
    pub async fn watch(
        &self,
        prefix: &[u8],
        start_revision: i64,
    ) -> Result<impl Stream<Item = Result<WatchEvent, StorageError>> + Send + 'static + use<>, StorageError> {
        use futures::StreamExt;
        let batches = self.watch_batches(prefix, start_revision).await?;
        Ok(batches.flat_map(|b| {
            let items: Vec<Result<WatchEvent, StorageError>> = match b {
                Ok(events) => events.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        }))
    }

    /// Like [`Storage::watch`], one item per watch response: the events of a revision
    /// (e.g. a DeleteRange's) arrive together.
    pub async fn watch_batches(
        &self,
        prefix: &[u8],
        start_revision: i64,
    ) -> Result<impl Stream<Item = Result<Vec<WatchEvent>, StorageError>> + Send + 'static + use<>, StorageError> {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: prefix.to_vec(),
                range_end: prefix_end(prefix),
                start_revision,
                prev_kv: true,
                ..Default::default()
            })),
        };
        tx.send(create).await.map_err(|_| tonic::Status::internal("watch request channel closed"))?;
        let mut inbound = self.watch.clone().watch(tokio_stream::wrappers::ReceiverStream::new(rx)).await?.into_inner();
        Ok(async_stream(move |out| async move {
            // Keep the request side open for as long as the watch runs.
            let _tx = tx;
            loop {
                let next = tokio::select! {
                    r = inbound.message() => r,
                    _ = out.closed() => return,
                };
                let resp = match next {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        let _ = out.send(Err(tonic::Status::unavailable("watch stream closed").into())).await;
                        return;
                    }
                    Err(s) => {
                        let _ = out.send(Err(s.into())).await;
                        return;
                    }
                };
                if resp.compact_revision != 0 {
                    let err = StorageError::Compacted { requested: start_revision, current: resp.compact_revision };
                    let _ = out.send(Err(err)).await;
                    return;
                }
                if resp.canceled {
                    let _ = out.send(Err(tonic::Status::aborted(resp.cancel_reason).into())).await;
                    return;
                }
                if resp.events.is_empty() {
                    continue;
                }
                let mut batch = Vec::with_capacity(resp.events.len());
                for ev in resp.events {
                    let Some(kv) = ev.kv else { continue };
                    let item = if ev.r#type == EventType::Delete as i32 {
                        WatchEvent::Delete {
                            prev: ev.prev_kv.map(|p| p.value),
                            key: kv.key,
                            mod_revision: kv.mod_revision,
                        }
                    } else {
                        let created = kv.version == 1;
                        WatchEvent::Put {
                            kv: Versioned { key: kv.key, value: kv.value, mod_revision: kv.mod_revision },
                            created,
                        }
                    };
                    batch.push(item);
                }
                if out.send(Ok(batch)).await.is_err() {
                    return;
                }
            }
        }))
    }
}

fn compacted_or(s: tonic::Status, revision: i64) -> StorageError {
    if s.message().contains("required revision has been compacted") {
        StorageError::Compacted { requested: revision, current: 0 }
    } else {
        StorageError::Etcd(s)
    }
}

/// A stream fed by a spawned task through a bounded channel (the task stops when the
/// stream is dropped).
fn async_stream<T, F, Fut>(f: F) -> impl Stream<Item = T> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/registry/configmaps/"), b"/registry/configmaps0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
