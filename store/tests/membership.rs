//! Membership changes with the real `etcdctl`, while clients keep writing: a single
//! member grows to three (a voter, then a learner that is promoted), shrinks back to one
//! (the original member removed first, which then stops), and nothing acknowledged is
//! lost. New members and a member far behind catch up from a snapshot of the leader
//! (`--snapshot-count` keeps the log short).

mod common;

use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Impl, Member};
use proto::etcdserverpb::{
    HashKvRequest, PutRequest, RangeRequest, kv_client::KvClient, maintenance_client::MaintenanceClient,
};
use tonic::transport::Channel;

const ARGS: &[&str] = &["--heartbeat-interval", "50", "--election-timeout", "500", "--snapshot-count", "100"];

fn channel(endpoint: &str) -> Channel {
    Channel::from_shared(endpoint.to_string()).unwrap().connect_timeout(Duration::from_millis(500)).connect_lazy()
}

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("run etcdctl")
}

fn ok(m: &Member, args: &[&str]) -> String {
    let out = run(m.etcdctl().args(args));
    assert!(out.status.success(), "etcdctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `etcdctl member add` prints the `--initial-cluster` the new member must start with.
fn add(via: &Member, new: &mut Member, learner: bool) -> u64 {
    let peer = new.peer_endpoint();
    let mut args = vec!["member", "add", new.name.as_str(), "--peer-urls", peer.as_str()];
    if learner {
        args.push("--learner");
    }
    let out = ok(via, &args);
    let id = out.split_whitespace().nth(1).and_then(|h| u64::from_str_radix(h, 16).ok());
    let id = id.unwrap_or_else(|| panic!("no member id in {out:?}"));
    let spec = out
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER="))
        .unwrap_or_else(|| panic!("no ETCD_INITIAL_CLUSTER in {out:?}"))
        .trim_matches('"')
        .to_string();
    assert!(spec.contains(&format!("{}={peer}", new.name)), "{spec}");
    assert!(out.contains("ETCD_INITIAL_CLUSTER_STATE=\"existing\""), "{out}");
    new.initial_cluster = Some(spec);
    new.extra_args.extend(["--initial-cluster-state".to_string(), "existing".to_string()]);
    new.launch();
    new.wait_answering(Duration::from_secs(30), true);
    id
}

/// Writers that keep putting unique keys through whichever members are listed.
struct Writers {
    endpoints: Arc<Mutex<Vec<String>>>,
    acked: Arc<Mutex<Vec<(String, String)>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Writers {
    fn start(first: &Member, n: usize) -> Writers {
        let endpoints = Arc::new(Mutex::new(vec![first.endpoint()]));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..n)
            .map(|w| {
                let (endpoints, acked, stop) = (endpoints.clone(), acked.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let eps = endpoints.lock().unwrap().clone();
                        let ep = &eps[(i as usize + w) % eps.len()];
                        let (k, v) = (format!("w{w}/{i:06}"), format!("{i}"));
                        let mut req = tonic::Request::new(PutRequest {
                            key: k.clone().into(),
                            value: v.clone().into(),
                            ..Default::default()
                        });
                        req.set_timeout(Duration::from_secs(3));
                        if KvClient::new(channel(ep)).put(req).await.is_ok() {
                            acked.lock().unwrap().push((k, v));
                        } else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        Writers { endpoints, acked, stop, tasks }
    }

    fn set_endpoints(&self, members: &[&Member]) {
        *self.endpoints.lock().unwrap() = members.iter().map(|m| m.endpoint()).collect();
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    async fn stop(self) -> Vec<(String, String)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap()
    }
}

async fn wait_writes(w: &Writers, more: usize) {
    let target = w.count() + more;
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.count() < target {
        assert!(Instant::now() < deadline, "writes stalled at {} (wanted {target})", w.count());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn check_all_present(m: &Member, acked: &[(String, String)]) {
    let mut kv = KvClient::new(channel(&m.endpoint()));
    let all = kv
        .range(RangeRequest { key: b"w".to_vec(), range_end: b"x".to_vec(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let have: std::collections::HashMap<Vec<u8>, Vec<u8>> = all.kvs.into_iter().map(|kv| (kv.key, kv.value)).collect();
    for (k, v) in acked {
        assert_eq!(have.get(k.as_bytes()), Some(&v.as_bytes().to_vec()), "acknowledged {k} lost on {}", m.name);
    }
}

async fn hash_kv(m: &Member, rev: i64) -> (u32, i64) {
    let r = MaintenanceClient::new(channel(&m.endpoint())).hash_kv(HashKvRequest { revision: rev }).await.unwrap();
    let r = r.into_inner();
    (r.hash, r.compact_revision)
}

/// Waits until every member serves the same HashKV at `rev`.
async fn wait_agree(members: &[&Member], rev: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut hashes = Vec::new();
        for m in members {
            hashes.push(hash_kv(m, rev).await);
        }
        if hashes.windows(2).all(|w| w[0] == w[1]) {
            return;
        }
        assert!(Instant::now() < deadline, "members disagree at revision {rev}: {hashes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_member_grows_to_three_and_shrinks_back_while_clients_write() {
    let mut m0 = Member::fresh(Impl::Store, "m0", ARGS);
    m0.spawn();
    let writers = Writers::start(&m0, 4);
    wait_writes(&writers, 300).await;

    // A voter: it starts empty and is sent a snapshot (the log was compacted).
    let mut m1 = Member::fresh(Impl::Store, "m1", ARGS);
    let id1 = add(&m0, &mut m1, false);
    writers.set_endpoints(&[&m0, &m1]);
    wait_writes(&writers, 200).await;

    // A learner, promoted once it has caught up.
    let mut m2 = Member::fresh(Impl::Store, "m2", ARGS);
    let id2 = add(&m1, &mut m2, true);
    // The learner publishes its name and client URLs through the leader.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = ok(&m0, &["member", "list"]);
        if list.contains(&format!("{id2:x}, started, m2")) && list.contains(", true") {
            break;
        }
        assert!(Instant::now() < deadline, "the learner never showed as started: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A learner serves only Status and serializable reads.
    let put = run(m2.etcdctl().args(["put", "x", "y"]));
    let err = String::from_utf8_lossy(&put.stderr);
    assert!(err.contains("etcdserver: rpc not supported for learner"), "put on a learner: {err}");
    let lin = run(m2.etcdctl().args(["get", "w0/000001"]));
    let err = String::from_utf8_lossy(&lin.stderr);
    assert!(err.contains("etcdserver: rpc not supported for learner"), "linearizable get on a learner: {err}");
    assert!(ok(&m2, &["get", "w0/000001", "--consistency=s"]).contains("w0/000001"));
    assert!(ok(&m2, &["endpoint", "status"]).contains(&m2.endpoint()));
    let status = ok(&m2, &["endpoint", "status", "-w", "json"]);
    assert!(status.contains(r#""isLearner":true"#), "{status}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run(m0.etcdctl().args(["member", "promote", &format!("{id2:x}")]));
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("promoted in cluster"));
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains("in sync with leader"), "unexpected promote failure: {err}");
        assert!(Instant::now() < deadline, "learner never caught up: {err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writers.set_endpoints(&[&m0, &m1, &m2]);
    wait_writes(&writers, 300).await;
    let list = ok(&m2, &["member", "list"]);
    assert_eq!(list.lines().filter(|l| l.contains(", started, ") && l.ends_with(", false")).count(), 3, "{list}");
    let status = ok(&m1, &["endpoint", "status", "--cluster"]);
    assert_eq!(status.lines().count(), 3, "{status}");

    // Bad requests change nothing.
    let dup = run(m0.etcdctl().args(["member", "add", "again", "--peer-urls", &m1.peer_endpoint()]));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("etcdserver: Peer URLs already exists"));
    let promote_voter = run(m0.etcdctl().args(["member", "promote", &format!("{id1:x}")]));
    assert!(String::from_utf8_lossy(&promote_voter.stderr).contains("can only promote a learner member"));
    let missing = run(m0.etcdctl().args(["member", "remove", "1234"]));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("etcdserver: member not found"));

    // Shrink: the original member first (it stops itself), then m2.
    let id0 = u64::from_str_radix(
        ok(&m0, &["member", "list"]).lines().find(|l| l.contains(", m0,")).unwrap().split(',').next().unwrap(),
        16,
    )
    .unwrap();
    writers.set_endpoints(&[&m1, &m2]);
    ok(&m1, &["member", "remove", &format!("{id0:x}")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while m0.child.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "a removed member keeps running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_writes(&writers, 200).await;
    writers.set_endpoints(&[&m1]);
    ok(&m1, &["member", "remove", &format!("{id2:x}")]);
    wait_writes(&writers, 200).await;
    let list = ok(&m1, &["member", "list"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    let acked = writers.stop().await;
    check_all_present(&m1, &acked).await;
    eprintln!("{} acknowledged writes across 1 → 3 → 1 members", acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_far_behind_catches_up_from_a_snapshot() {
    let mut ms = Member::cluster(Impl::Store, 3, ARGS);
    let writers = Writers::start(&ms[0], 4);
    writers.set_endpoints(&[&ms[0], &ms[1]]);
    wait_writes(&writers, 50).await;
    ms[2].kill();
    // Far more entries than --snapshot-count: the leader's log no longer has what m2 lacks.
    wait_writes(&writers, 800).await;
    ms[2].launch();
    ms[2].wait_answering(Duration::from_secs(30), true);
    writers.set_endpoints(&[&ms[0], &ms[1], &ms[2]]);
    wait_writes(&writers, 100).await;
    let acked = writers.stop().await;
    let mut kv = KvClient::new(channel(&ms[0].endpoint()));
    let rev = kv.range(RangeRequest { key: b"w".to_vec(), ..Default::default() }).await.unwrap().into_inner();
    let rev = rev.header.unwrap().revision;
    wait_agree(&[&ms[0], &ms[1], &ms[2]], rev).await;
    for m in &ms {
        check_all_present(m, &acked).await;
    }
}
