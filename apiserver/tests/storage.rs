//! The storage layer's guarantees, checked on our store and on a real etcd alike:
//! create-once, optimistic concurrency by mod_revision, prefix isolation, consistent
//! pagination at one revision, and watches from a revision that see every change in
//! order.

mod common;

use std::time::Duration;

use apiserver::storage::{Storage, StorageError, WatchEvent};
use common::{Backend, Etcd};
use futures::StreamExt;

async fn suite(backend: Backend) {
    let etcd = Etcd::start(backend);
    let s = Storage::connect(std::slice::from_ref(&etcd.endpoint), None).expect("connect");
    let key = b"/registry/configmaps/default/x";

    // Create is create-once; the value's version is the create revision.
    let rev1 = s.create(key, b"v1".to_vec()).await.expect("create");
    assert!(matches!(s.create(key, b"again".to_vec()).await, Err(StorageError::AlreadyExists)), "{backend:?}");
    let got = s.get(key).await.unwrap().expect("present");
    assert_eq!((got.value.as_slice(), got.mod_revision), (&b"v1"[..], rev1));

    // Update succeeds only against the current mod_revision.
    let rev2 = s.update(key, b"v2".to_vec(), rev1).await.expect("update");
    assert!(rev2 > rev1);
    assert!(matches!(s.update(key, b"stale".to_vec(), rev1).await, Err(StorageError::Conflict)), "{backend:?}");
    assert_eq!(s.get(key).await.unwrap().unwrap().value, b"v2");
    let missing = b"/registry/configmaps/default/missing";
    assert!(matches!(s.update(missing, b"x".to_vec(), 1).await, Err(StorageError::NotFound)));

    // Prefix isolation: "a/" does not see "ab/".
    s.create(b"/registry/configmaps/a/1", b"a1".to_vec()).await.unwrap();
    s.create(b"/registry/configmaps/a/2", b"a2".to_vec()).await.unwrap();
    let rev_ab = s.create(b"/registry/configmaps/ab/1", b"ab1".to_vec()).await.unwrap();
    let page = s.list(b"/registry/configmaps/a/", None, 0, 0).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.revision >= rev_ab);
    let all = s.list(b"/registry/configmaps/", None, 0, 0).await.unwrap();
    assert_eq!(all.items.len(), 4);

    // Pagination at a fixed revision ignores later writes.
    let first = s.list(b"/registry/configmaps/", None, 0, 2).await.unwrap();
    assert_eq!((first.items.len(), first.remaining), (2, 2));
    s.create(b"/registry/configmaps/zz/late", b"late".to_vec()).await.unwrap();
    let mut start = first.items[1].key.clone();
    start.push(0);
    let rest = s.list(b"/registry/configmaps/", Some(&start), first.revision, 0).await.unwrap();
    assert_eq!(rest.items.len(), 2, "{backend:?}: the later key must not appear at the old revision");
    assert_eq!(rest.remaining, 0);

    // Delete is guarded like update.
    assert!(matches!(s.delete(key, rev1).await, Err(StorageError::Conflict)));
    let del_rev = s.delete(key, rev2).await.expect("delete");
    assert!(s.get(key).await.unwrap().is_none());
    assert!(matches!(s.delete(key, del_rev).await, Err(StorageError::NotFound)));

    // A watch from an old revision replays history in order: created, modified, deleted.
    let mut w = s.watch(b"/registry/configmaps/default/", rev1).await.expect("watch");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("event in time").expect("open");
        seen.push(ev.expect("no error"));
    }
    assert!(matches!(&seen[0], WatchEvent::Put { kv, created: true } if kv.mod_revision == rev1 && kv.value == b"v1"));
    assert!(matches!(&seen[1], WatchEvent::Put { kv, created: false } if kv.mod_revision == rev2));
    assert!(
        matches!(&seen[2], WatchEvent::Delete { prev: Some(p), mod_revision, .. } if p == b"v2" && *mod_revision == del_rev),
        "{backend:?}: {:?}",
        seen[2]
    );

    // And then live changes.
    let live = s.create(key, b"v3".to_vec()).await.unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("live event").expect("open").unwrap();
    assert!(matches!(ev, WatchEvent::Put { kv, created: true } if kv.mod_revision == live));

    // Namespace cleanup removes only that prefix.
    assert_eq!(s.delete_prefix(b"/registry/configmaps/a/").await.unwrap(), 2);
    assert_eq!(s.list(b"/registry/configmaps/ab/", None, 0, 0).await.unwrap().items.len(), 1);
    s.ping().await.expect("ping");

    // After compaction, old revisions are gone for lists and watches alike.
    let head = s.list(b"/registry/", None, 0, 1).await.unwrap().revision;
    let mut kv = proto::etcdserverpb::kv_client::KvClient::connect(etcd.endpoint.clone()).await.unwrap();
    kv.compact(proto::etcdserverpb::CompactionRequest { revision: head, physical: true }).await.expect("compact");
    let old = s.list(b"/registry/", None, rev1, 0).await;
    assert!(matches!(old, Err(StorageError::Compacted { .. })), "{backend:?}: {old:?}");
    let mut w = s.watch(b"/registry/", rev1).await.expect("watch");
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("in time").expect("an item");
    assert!(matches!(ev, Err(StorageError::Compacted { current, .. }) if current == head), "{backend:?}: {ev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_semantics_on_store() {
    suite(Backend::Store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_semantics_on_etcd() {
    suite(Backend::Etcd).await;
}

/// Mutual TLS to etcd (`--etcd-cafile/--etcd-certfile/--etcd-keyfile`), and an
/// endpoint list whose first member is down: the client moves on to the next.
async fn tls_and_failover(backend: Backend) {
    component_base::tls::install_default_provider();
    let pki = common::Pki::new();
    let etcd = Etcd::start_tls(backend, &pki);
    let cfg = component_base::tls::client_config(
        &pki.path("ca.crt"),
        Some((&pki.path("client.crt"), &pki.path("client.key"))),
        &[b"h2"],
    )
    .unwrap();
    let dead = format!("https://127.0.0.1:{}", common::free_port());
    let s = Storage::connect(&[dead, etcd.endpoint.clone()], Some(cfg)).expect("connect");
    let rev = s.create(b"/registry/namespaces/tls", b"v".to_vec()).await.expect("create over TLS");
    assert_eq!(s.get(b"/registry/namespaces/tls").await.unwrap().unwrap().mod_revision, rev);

    // Without a client certificate the member refuses us.
    let anon = component_base::tls::client_config(&pki.path("ca.crt"), None, &[b"h2"]).unwrap();
    let s = Storage::connect(std::slice::from_ref(&etcd.endpoint), Some(anon)).unwrap();
    assert!(s.get(b"/registry/namespaces/tls").await.is_err(), "{backend:?} accepted a client without a certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_tls_and_failover_on_store() {
    tls_and_failover(Backend::Store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_tls_and_failover_on_etcd() {
    tls_and_failover(Backend::Etcd).await;
}
