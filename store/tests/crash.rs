//! Durability under SIGKILL: writers record every acknowledged put (key and revision);
//! the store is killed at random moments and restarted, many rounds; after each restart
//! every acknowledged put must be there with the revision it was acknowledged at, new
//! writes must get higher revisions, and a watcher replaying history from revision 1
//! must see every acknowledged put, in revision order, with no gap or duplicate.
//!
//! Rounds: `CRASH_ROUNDS` (default 12). Seed: `CRASH_SEED` (default: random, printed).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Impl, Member};
use proto::etcdserverpb::{
    PutRequest, RangeRequest, WatchCreateRequest, WatchRequest, kv_client::KvClient, watch_client::WatchClient,
    watch_request::RequestUnion,
};
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;

type Acked = Arc<Mutex<BTreeMap<Vec<u8>, i64>>>;

async fn connect(m: &Member) -> Channel {
    Channel::from_shared(m.endpoint()).unwrap().connect().await.expect("connect")
}

/// Puts unique keys until the server goes away; records each acknowledgement.
async fn writer(ch: Channel, id: usize, round: usize, acked: Acked) {
    let mut kv = KvClient::new(ch);
    for i in 0.. {
        let key = format!("crash/{round:03}/{id:02}/{i:06}").into_bytes();
        let req = PutRequest { key: key.clone(), value: vec![b'v'; 64], ..Default::default() };
        match kv.put(req).await {
            Ok(r) => {
                let rev = r.into_inner().header.expect("header").revision;
                acked.lock().unwrap().insert(key, rev);
            }
            Err(_) => return,
        }
    }
}

async fn verify(m: &Member, acked: &BTreeMap<Vec<u8>, i64>) -> i64 {
    let mut kv = KvClient::new(connect(m).await);
    let r = kv
        .range(RangeRequest { key: b"crash/".to_vec(), range_end: b"crash0".to_vec(), ..Default::default() })
        .await
        .expect("range after restart")
        .into_inner();
    let found: BTreeMap<Vec<u8>, i64> = r.kvs.into_iter().map(|kv| (kv.key, kv.mod_revision)).collect();
    for (k, rev) in acked {
        match found.get(k) {
            Some(r) => {
                assert_eq!(r, rev, "{} acknowledged at revision {rev}, found at {r}", String::from_utf8_lossy(k))
            }
            None => panic!("acknowledged key {} (revision {rev}) lost", String::from_utf8_lossy(k)),
        }
    }
    r.header.expect("header").revision
}

/// Replays history from revision 1 and checks the acknowledged puts appear in order.
async fn replay(m: &Member, acked: &BTreeMap<Vec<u8>, i64>, upto: i64) {
    let mut w = WatchClient::new(connect(m).await);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"crash/".to_vec(),
            range_end: b"crash0".to_vec(),
            start_revision: 1,
            ..Default::default()
        })),
    })
    .await
    .unwrap();
    let mut stream = w.watch(tokio_stream::wrappers::ReceiverStream::new(rx)).await.expect("watch").into_inner();
    let mut seen: Vec<(i64, Vec<u8>)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.last().is_none_or(|(r, _)| *r < upto) {
        let msg = tokio::time::timeout_at(deadline, stream.message()).await.expect("replay timed out");
        let Some(resp) = msg.expect("watch stream") else {
            break;
        };
        for e in resp.events {
            let kv = e.kv.expect("kv");
            seen.push((kv.mod_revision, kv.key));
        }
    }
    drop(tx);
    for pair in seen.windows(2) {
        assert!(pair[0].0 < pair[1].0, "events out of order or duplicated: {} then {}", pair[0].0, pair[1].0);
    }
    let by_rev: BTreeMap<i64, &Vec<u8>> = seen.iter().map(|(r, k)| (*r, k)).collect();
    for (k, rev) in acked {
        assert_eq!(
            by_rev.get(rev).copied(),
            Some(k),
            "replay misses the put of {} at {rev}",
            String::from_utf8_lossy(k)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_puts_survive_sigkill() {
    let rounds: usize = std::env::var("CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("crash test: {rounds} rounds, CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut m = tokio::task::spawn_blocking(|| Member::start(Impl::Store, &[])).await.unwrap();
    let acked: Acked = Arc::default();
    let mut last_rev = 0;
    let mut total_acked = 0;
    for round in 0..rounds {
        let ch = connect(&m).await;
        let writers: Vec<_> = (0..8).map(|id| tokio::spawn(writer(ch.clone(), id, round, acked.clone()))).collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..400))).await;
        m.kill();
        for w in writers {
            let _ = w.await;
        }
        m = tokio::task::spawn_blocking(move || {
            m.spawn();
            m
        })
        .await
        .unwrap();
        let snapshot = acked.lock().unwrap().clone();
        let rev = verify(&m, &snapshot).await;
        let max_acked = snapshot.values().copied().max().unwrap_or(0);
        assert!(rev >= max_acked, "round {round}: revision went back from {max_acked} to {rev}");
        assert!(rev >= last_rev, "round {round}: revision went back from {last_rev} to {rev}");
        last_rev = rev;
        total_acked = snapshot.len();
    }
    assert!(total_acked > rounds, "the writers got too few acknowledgements ({total_acked}) to prove anything");
    let snapshot = acked.lock().unwrap().clone();
    replay(&m, &snapshot, snapshot.values().copied().max().unwrap_or(0)).await;
    println!("crash test: {total_acked} acknowledged puts over {rounds} kills, all present, replay complete");
}
