//! Watch features checked on both implementations (real etcd and the store): periodic
//! progress notifications and fragmentation of large responses.

mod common;

use std::time::Duration;

use common::{Impl, Member};
use proto::etcdserverpb::{
    PutRequest, WatchCreateRequest, WatchRequest, WatchResponse, kv_client::KvClient, watch_client::WatchClient,
    watch_request::RequestUnion,
};
use tonic::transport::Channel;

async fn watch(
    m: &Member,
    create: WatchCreateRequest,
) -> (tonic::Streaming<WatchResponse>, tokio::sync::mpsc::Sender<WatchRequest>) {
    let ch = Channel::from_shared(m.endpoint()).unwrap().connect().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let client = WatchClient::new(ch).max_decoding_message_size(64 << 20);
    // Queue the create first: etcd sends the stream's headers only with its first message.
    tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) }).await.unwrap();
    let s = client.clone().watch(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    (s, tx)
}

async fn next(s: &mut tonic::Streaming<WatchResponse>) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(5), s.message())
        .await
        .expect("no watch response in time")
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_progress_notifications_reach_watchers_that_asked() {
    for which in Impl::both() {
        let m = tokio::task::spawn_blocking(move || {
            Member::start(which, &["--experimental-watch-progress-notify-interval", "300ms"])
        })
        .await
        .unwrap();
        let (mut s, _tx) =
            watch(&m, WatchCreateRequest { key: b"p".to_vec(), progress_notify: true, ..Default::default() }).await;
        let created = next(&mut s).await;
        assert!(created.created, "{which:?}: {created:?}");
        let progress = next(&mut s).await;
        assert_eq!(progress.watch_id, created.watch_id, "{which:?}: progress names the watch");
        assert!(progress.events.is_empty() && !progress.canceled, "{which:?}: {progress:?}");
        assert_eq!(progress.header.unwrap().revision, 1, "{which:?}: progress carries the store revision");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_replays_are_fragmented_when_asked() {
    let mut results = Vec::new();
    for which in Impl::both() {
        // etcd fragments above --max-request-bytes plus gRPC's 512 KiB allowance (2 MiB
        // by default): 8 values of 400 KB replayed together exceed it.
        let m = tokio::task::spawn_blocking(move || Member::start(which, &[])).await.unwrap();
        let mut kv = KvClient::new(Channel::from_shared(m.endpoint()).unwrap().connect().await.unwrap());
        for i in 0..8 {
            let put =
                PutRequest { key: format!("f/{i}").into_bytes(), value: vec![b'x'; 400_000], ..Default::default() };
            kv.put(put).await.unwrap();
        }
        let create = WatchCreateRequest {
            key: b"f/".to_vec(),
            range_end: b"f0".to_vec(),
            start_revision: 1,
            fragment: true,
            ..Default::default()
        };
        let (mut s, _tx) = watch(&m, create).await;
        assert!(next(&mut s).await.created);
        let mut frames = Vec::new();
        let mut keys = Vec::new();
        loop {
            let r = next(&mut s).await;
            keys.extend(r.events.iter().map(|e| e.kv.as_ref().unwrap().key.clone()));
            frames.push(r.fragment);
            if !r.fragment {
                break;
            }
        }
        assert!(frames.len() > 1, "{which:?}: 3.2 MB of events over a 2 MiB limit must come in fragments: {frames:?}");
        assert_eq!(keys.len(), 8, "{which:?}: every event arrives once");
        results.push(keys);
    }
    assert_eq!(results[0], results[1], "store and etcd deliver the same events in the same order");
}
