//! Real-process drills on 3-member clusters: replication, failover after SIGKILL of the
//! leader, catch-up after restart, a member cut off from the quorum (SIGSTOP of the
//! other two) neither acknowledging writes nor serving linearizable reads, and a watch
//! resumed on another member after the one serving it died.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Impl, Member};
use proto::etcdserverpb::{
    HashKvRequest, PutRequest, RangeRequest, StatusRequest, kv_client::KvClient, maintenance_client::MaintenanceClient,
};
use tonic::transport::Channel;

const ELECTION_MS: u64 = 500;

/// The drills measure failover times: run them one at a time, not 3 clusters per core.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const ARGS: &[&str] = &["--heartbeat-interval", "50", "--election-timeout", "500"];

fn channel(m: &Member) -> Channel {
    Channel::from_shared(m.endpoint()).unwrap().connect_timeout(Duration::from_millis(500)).connect_lazy()
}

async fn put(m: &Member, k: &str, v: &str) -> Result<i64, tonic::Status> {
    let mut kv = KvClient::new(channel(m));
    let mut req = tonic::Request::new(PutRequest { key: k.into(), value: v.into(), ..Default::default() });
    req.set_timeout(Duration::from_secs(2));
    Ok(kv.put(req).await?.into_inner().header.unwrap().revision)
}

async fn get(m: &Member, k: &str, serializable: bool) -> Result<Option<Vec<u8>>, tonic::Status> {
    let mut kv = KvClient::new(channel(m));
    let mut req = tonic::Request::new(RangeRequest { key: k.into(), serializable, ..Default::default() });
    req.set_timeout(Duration::from_secs(2));
    Ok(kv.range(req).await?.into_inner().kvs.into_iter().next().map(|kv| kv.value))
}

async fn leader_of(members: &[Member]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for (i, m) in members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            let mut c = MaintenanceClient::new(channel(m));
            if let Ok(s) = c.status(StatusRequest {}).await {
                let s = s.into_inner();
                if s.leader != 0 && s.leader == s.header.unwrap().member_id {
                    return i;
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every running member reports the same HashKV at the same revision.
async fn hashes_agree(members: &[Member]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for m in members.iter().filter(|m| m.child.is_some()) {
            let mut c = MaintenanceClient::new(channel(m));
            if let Ok(r) = c.hash_kv(HashKvRequest { revision: 0 }).await {
                let r = r.into_inner();
                seen.push((r.header.unwrap().revision, r.hash));
            }
        }
        if seen.len() == members.iter().filter(|m| m.child.is_some()).count() && seen.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        assert!(Instant::now() < deadline, "members' HashKV never agreed: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_replicate_fail_over_and_catch_up() {
    let _serial = SERIAL.lock().await;
    let mut members = tokio::task::spawn_blocking(|| Member::cluster(Impl::Store, 3, ARGS)).await.unwrap();
    // Writes through every member, reads (linearizable) through every member.
    for (i, m) in members.iter().enumerate() {
        put(m, &format!("k{i}"), &format!("v{i}")).await.expect("put through a member");
    }
    for m in &members {
        for i in 0..3 {
            assert_eq!(get(m, &format!("k{i}"), false).await.unwrap(), Some(format!("v{i}").into_bytes()));
        }
    }
    hashes_agree(&members).await;

    // Concurrent writers through all members, recording acknowledgements.
    let acked: Arc<Mutex<BTreeMap<String, i64>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..6 {
        let eps: Vec<Channel> = members.iter().map(channel).collect();
        let (acked, stop) = (acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("w{w}/{i:05}");
                let mut kv = KvClient::new(eps[i % eps.len()].clone());
                let mut req = tonic::Request::new(PutRequest {
                    key: key.clone().into_bytes(),
                    value: b"x".to_vec(),
                    ..Default::default()
                });
                req.set_timeout(Duration::from_secs(1));
                if let Ok(r) = kv.put(req).await {
                    acked.lock().unwrap().insert(key, r.into_inner().header.unwrap().revision);
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // SIGKILL the leader; a survivor must acknowledge a write within two election timeouts.
    let leader = leader_of(&members).await;
    let survivor = (leader + 1) % 3;
    members[leader].kill();
    let killed = Instant::now();
    let failover = loop {
        if put(&members[survivor], "after-failover", "1").await.is_ok() {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(10), "no write accepted after the leader died");
    };
    println!("failover (leader SIGKILL -> first acknowledged write): {failover:?}");
    assert!(
        failover <= Duration::from_millis(2 * ELECTION_MS + 300),
        "failover took {failover:?}, more than two election timeouts"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    // The old leader restarts and catches up; nothing acknowledged is lost anywhere.
    let mut m = std::mem::replace(&mut members[leader], Member::placeholder());
    m = tokio::task::spawn_blocking(move || {
        m.launch();
        m.wait_answering(Duration::from_secs(20), true);
        m
    })
    .await
    .unwrap();
    members[leader] = m;
    hashes_agree(&members).await;
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "too few acknowledged writes ({}) to prove anything", acked.len());
    for m in &members {
        let mut kv = KvClient::new(channel(m));
        let r = kv
            .range(RangeRequest { key: b"w".to_vec(), range_end: b"x".to_vec(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        let found: BTreeMap<String, i64> =
            r.kvs.into_iter().map(|kv| (String::from_utf8(kv.key).unwrap(), kv.mod_revision)).collect();
        for (k, rev) in &acked {
            assert_eq!(found.get(k), Some(rev), "acknowledged {k}@{rev} missing or changed on {}", m.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_without_quorum_neither_writes_nor_serves_linearizable_reads() {
    let _serial = SERIAL.lock().await;
    let members = tokio::task::spawn_blocking(|| Member::cluster(Impl::Store, 3, ARGS)).await.unwrap();
    put(&members[0], "k", "before").await.unwrap();
    hashes_agree(&members).await;
    let pid = |m: &Member| m.child.as_ref().unwrap().id().to_string();
    let signal = |sig: &str, m: &Member| {
        std::process::Command::new("kill").args([sig, &pid(m)]).status().unwrap();
    };
    signal("-STOP", &members[1]);
    signal("-STOP", &members[2]);
    tokio::time::sleep(Duration::from_millis(3 * ELECTION_MS)).await;
    let w = put(&members[0], "k", "during").await;
    assert!(w.is_err(), "a write was acknowledged without a quorum: {w:?}");
    let r = get(&members[0], "k", false).await;
    assert!(r.is_err(), "a linearizable read was served without a quorum: {r:?}");
    // A serializable read is served locally, from what this member has.
    assert_eq!(get(&members[0], "k", true).await.unwrap(), Some(b"before".to_vec()));
    signal("-CONT", &members[1]);
    signal("-CONT", &members[2]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while put(&members[0], "k", "after").await.is_err() {
        assert!(Instant::now() < deadline, "the cluster did not recover after SIGCONT");
    }
    for m in &members {
        let v = get(m, "k", false).await.unwrap().unwrap();
        assert!(v == b"after" || v == b"during", "unexpected value {v:?}");
    }
    hashes_agree(&members).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_kept_alive_through_a_follower_do_not_expire() {
    let _serial = SERIAL.lock().await;
    use proto::etcdserverpb::{LeaseGrantRequest, LeaseKeepAliveRequest, lease_client::LeaseClient};
    let members = tokio::task::spawn_blocking(|| Member::cluster(Impl::Store, 3, ARGS)).await.unwrap();
    let leader = leader_of(&members).await;
    let follower = &members[(leader + 1) % 3];
    let mut lease = LeaseClient::new(channel(follower));
    let id = lease.lease_grant(LeaseGrantRequest { ttl: 2, id: 0 }).await.unwrap().into_inner().id;
    let mut kv = KvClient::new(channel(follower));
    kv.put(PutRequest { key: b"leased".to_vec(), value: b"1".to_vec(), lease: id, ..Default::default() })
        .await
        .unwrap();
    // Keep it alive through the follower for twice its TTL.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut responses =
        lease.lease_keep_alive(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
    for _ in 0..8 {
        tx.send(LeaseKeepAliveRequest { id }).await.unwrap();
        let r = responses.message().await.unwrap().unwrap();
        assert_eq!(r.ttl, 2, "keep-alive through a follower must renew the lease");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        get(&members[leader], "leased", false).await.unwrap(),
        Some(b"1".to_vec()),
        "the lease expired while kept alive"
    );
    drop(tx);
    // Without keep-alives the leader expires it, on every member.
    let deadline = Instant::now() + Duration::from_secs(6);
    while get(follower, "leased", false).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs etcdctl against the given endpoints; returns stdout, failing on a non-zero exit.
fn etcdctl(endpoints: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .arg("--command-timeout=5s")
        .args(args)
        .output()
        .expect("run etcdctl");
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn etcdctl_drives_a_three_member_cluster() {
    let _serial = SERIAL.blocking_lock();
    let members = Member::cluster(Impl::Store, 3, ARGS);
    let all = members.iter().map(|m| m.endpoint()).collect::<Vec<_>>().join(",");
    // Writes and reads through every member.
    for (i, m) in members.iter().enumerate() {
        etcdctl(&m.endpoint(), &["put", &format!("k{i}"), &format!("v{i}")]);
    }
    for m in &members {
        assert_eq!(etcdctl(&m.endpoint(), &["get", "k", "--prefix", "--print-value-only"]), "v0\nv1\nv2\n");
    }
    // member list shows every member with its published client URL (polled: members
    // publish their attributes through the log right after start).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = etcdctl(&members[0].endpoint(), &["member", "list"]);
        if members.iter().all(|m| list.contains(&format!("{}, {}, false", m.peer_endpoint(), m.endpoint()))) {
            break;
        }
        assert!(Instant::now() < deadline, "member list lacks client URLs:\n{list}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // --cluster discovers the members from member list and asks each one.
    let status = etcdctl(&members[0].endpoint(), &["endpoint", "status", "--cluster"]);
    assert_eq!(status.lines().count(), 3, "{status}");
    assert_eq!(status.lines().filter(|l| l.contains(", true, false, ")).count(), 1, "exactly one leader:\n{status}");
    let hashes = etcdctl(&members[0].endpoint(), &["endpoint", "hashkv", "--cluster"]);
    let distinct: std::collections::BTreeSet<&str> = hashes.lines().filter_map(|l| l.rsplit(", ").next()).collect();
    assert_eq!(distinct.len(), 1, "members disagree:\n{hashes}");
    // move-leader, sent to the current leader.
    let leader_line = status.lines().find(|l| l.contains(", true, false, ")).unwrap();
    let leader_ep = leader_line.split(", ").next().unwrap();
    let follower_id = status.lines().find(|l| !l.contains(", true, false, ")).unwrap().split(", ").nth(1).unwrap();
    let moved = etcdctl(leader_ep, &["move-leader", follower_id]);
    assert!(moved.contains(&format!("to {follower_id}")), "{moved}");
    let status = etcdctl(&all, &["endpoint", "status"]);
    let new_leader = status.lines().find(|l| l.contains(", true, false, ")).unwrap();
    assert!(new_leader.contains(follower_id), "leadership did not move:\n{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peers_talk_over_mutual_tls_and_refuse_peers_without_a_certificate() {
    let _serial = SERIAL.lock().await;
    let pki = common::Pki::new();
    let args: Vec<String> = ARGS
        .iter()
        .map(|s| s.to_string())
        .chain([
            "--peer-cert-file".into(),
            pki.path("server.crt"),
            "--peer-key-file".into(),
            pki.path("server.key"),
            "--peer-trusted-ca-file".into(),
            pki.path("ca.crt"),
            "--peer-client-cert-auth".into(),
        ])
        .collect();
    let members = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Member::cluster(Impl::Store, 3, &refs)
    })
    .await
    .unwrap();
    assert!(members[0].peer_endpoint().starts_with("https://"));
    for (i, m) in members.iter().enumerate() {
        put(m, &format!("tls{i}"), "ok").await.expect("replicated write over mutual TLS");
    }
    hashes_agree(&members).await;

    // A client with a certificate from no trusted CA (here: none at all) gets no further
    // than the TLS handshake.
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        for c in rustls_pki_types::pem::PemObject::pem_file_iter(pki.path("ca.crt")).unwrap() {
            r.add(c.unwrap()).unwrap();
        }
        r
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", members[0].peer_port)).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let outcome = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg)).connect(name, tcp).await?;
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
        let mut buf = [0u8; 64];
        let n = tls.read(&mut buf).await?;
        Ok::<usize, std::io::Error>(n)
    }
    .await;
    assert!(matches!(outcome, Err(_) | Ok(0)), "a peer without a client certificate was served: {outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_stopping_gracefully_hands_over_leadership() {
    let _serial = SERIAL.lock().await;
    let mut members = tokio::task::spawn_blocking(|| Member::cluster(Impl::Store, 3, ARGS)).await.unwrap();
    let leader = leader_of(&members).await;
    let mut m = std::mem::replace(&mut members[leader], Member::placeholder());
    let m = tokio::task::spawn_blocking(move || {
        let status = m.terminate();
        (m, status)
    })
    .await
    .unwrap();
    assert!(m.1.is_some_and(|s| s.success()), "the leader did not exit cleanly: {:?}", m.1);
    // A new leader is already in place when the old one has exited: no election timeout.
    let stopped = Instant::now();
    let survivor = (leader + 1) % 3;
    // Like etcd clients, retry "no leader" answers; it must take less than the election
    // timeout a crashed leader would cost.
    while let Err(e) = put(&members[survivor], "after-handover", "1").await {
        assert!(stopped.elapsed() < Duration::from_millis(ELECTION_MS), "no leader after a graceful stop: {e:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped.elapsed() < Duration::from_millis(ELECTION_MS), "took {:?}", stopped.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_resumes_on_another_member_without_gap_or_duplicate() {
    use proto::etcdserverpb::{WatchCreateRequest, WatchRequest, watch_client::WatchClient, watch_request};
    let _serial = SERIAL.lock().await;
    let mut members = tokio::task::spawn_blocking(|| Member::cluster(Impl::Store, 3, ARGS)).await.unwrap();
    let leader = leader_of(&members).await;
    let (watched, other) = match leader {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    // One writer through the leader; every acknowledged (key, revision) in order.
    let writer = {
        let ep = members[leader].endpoint();
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..400 {
                let mut kv = KvClient::new(Channel::from_shared(ep.clone()).unwrap().connect_lazy());
                let k = format!("w/{i:04}");
                let r = kv.put(PutRequest { key: k.clone().into(), value: b"v".to_vec(), ..Default::default() }).await;
                acked.push((k, r.expect("put through the leader").into_inner().header.unwrap().revision));
            }
            acked
        })
    };
    let watch = |m: &Member, from: i64| {
        let ch = channel(m);
        async move {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let create = WatchCreateRequest {
                key: b"w/".to_vec(),
                range_end: b"w0".to_vec(),
                start_revision: from,
                ..Default::default()
            };
            tx.send(WatchRequest { request_union: Some(watch_request::RequestUnion::CreateRequest(create)) })
                .await
                .unwrap();
            let stream = WatchClient::new(ch).watch(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap();
            (tx, stream.into_inner())
        }
    };
    let mut seen: Vec<(String, i64)> = Vec::new();
    let (_tx, mut stream) = watch(&members[watched], 1).await;
    while seen.len() < 100 {
        let resp = stream.message().await.unwrap().expect("watch stream open");
        seen.extend(resp.events.iter().map(|e| {
            let kv = e.kv.as_ref().unwrap();
            (String::from_utf8_lossy(&kv.key).into_owned(), kv.mod_revision)
        }));
    }
    // The member serving the watch dies; the client resumes on another member from the
    // revision after the last one it saw.
    members[watched].kill();
    let from = seen.last().unwrap().1 + 1;
    let (_tx, mut stream) = watch(&members[other], from).await;
    let acked = writer.await.unwrap();
    while seen.len() < acked.len() {
        let resp = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("events stalled");
        let resp = resp.unwrap().expect("watch stream open");
        seen.extend(resp.events.iter().map(|e| {
            let kv = e.kv.as_ref().unwrap();
            (String::from_utf8_lossy(&kv.key).into_owned(), kv.mod_revision)
        }));
    }
    assert_eq!(seen, acked, "the resumed watch skipped, repeated or reordered events");

    // Every member measures its round trip to each peer, under etcd's name (the dead
    // member's series stays).
    for m in members.iter().filter(|m| m.child.is_some()) {
        let text = common::http_get(&format!("127.0.0.1:{}", m.metrics_port), "/metrics").unwrap();
        let rtt = text
            .lines()
            .filter(|l| l.starts_with("etcd_network_peer_round_trip_time_seconds_count{To=\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .collect::<Vec<_>>();
        assert_eq!(rtt.len(), 2, "one RTT series per peer:\n{text}");
        assert!(rtt.iter().all(|c| *c > 0.0), "{rtt:?}");
    }
    let text = common::http_get(&format!("127.0.0.1:{}", members[leader].metrics_port), "/metrics").unwrap();
    assert!(text.contains("etcd_server_is_leader 1") && text.contains("etcd_server_has_leader 1"));
}
