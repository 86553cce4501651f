//! Partition drill: three `store` members, each in its own network namespace behind a
//! bridge, under concurrent clients whose every request is recorded and checked for
//! linearizability (lincheck), through a sequence of faults: SIGKILL and restart of the
//! leader, SIGSTOP/SIGCONT of a follower, the leader cut off from both followers by
//! iptables (clients can still reach it), then a follower cut off alone.
//!
//! Checked: the whole history is linearizable (final linearizable reads of every key on
//! every member are part of it, so an acknowledged write that went missing is a
//! violation); a write is acknowledged through a majority member within two election
//! timeouts of losing the leader (SIGKILL, partition); a cut-off member neither
//! acknowledges a write nor serves a linearizable read while cut off; after healing,
//! every member reports the same HashKV at the same revision.
//!
//! Needs root, `ip` and `iptables` (`make deps`). `DRILL_SEED=n` replays a run's operation
//! choices and fault targets (the interleaving is up to the machine); `DRILL_ROUNDS=n`
//! repeats the faults n times for a longer soak; `DRILL_HISTORY=file` saves the recorded
//! history (it is saved to the temporary directory anyway when the check fails);
//! `DRILL_LOGS=dir` keeps the members' logs there.

mod common;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lincheck::{Compare, CompareResult, CompareTarget, KeyValue, Op, Recorder, Ret, TxnOp, TxnResult};
use proto::etcdserverpb as pb;
use proto::etcdserverpb::{kv_client::KvClient, maintenance_client::MaintenanceClient};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tonic::transport::Channel;

const ELECTION_MS: u64 = 500;
const ELECTION: Duration = Duration::from_millis(ELECTION_MS);
const ARGS: &[&str] = &["--heartbeat-interval", "50", "--election-timeout", "500"];
const MEMBERS: usize = 3;
const CLIENTS: u32 = 6;
const KEYS: usize = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Two election timeouts, plus time to campaign and commit (as in cluster.rs).
const FAILOVER_BOUND: Duration = Duration::from_millis(2 * ELECTION_MS + 300);
/// Client ids of the drill's own requests, after the workload's 0..CLIENTS.
const PROBE: u32 = 100;
const ISOLATED_PROBE: u32 = 101;
const FINAL: u32 = 102;

// ---------------------------------------------------------------------------------------
// Commands and the network.

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{args:?}: {} ({})", String::from_utf8_lossy(&out.stderr).trim(), out.status))
    }
}

fn must(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Fails at once, with what to do, when the drill cannot run here.
fn preflight() {
    let uid = run(&["id", "-u"]).unwrap_or_default();
    assert_eq!(uid.trim(), "0", "the partition drill needs root (network namespaces, iptables)");
    for cmd in ["ip", "iptables"] {
        assert!(
            Command::new(cmd).arg("-V").output().is_ok_and(|o| o.status.success()),
            "`{cmd}` is missing: run `make deps` (Debian packages iproute2 and iptables)"
        );
    }
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

/// Removes namespaces, bridges and FORWARD rules left by drills whose process is gone
/// (killed before their cleanup ran).
fn clean_stale() {
    for line in run(&["ip", "netns", "list"]).unwrap_or_default().lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(pid) = name.strip_prefix("lcdrill-").and_then(|s| s.split('-').next())
            && !pid_alive(pid)
        {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
    for line in run(&["ip", "-o", "link", "show", "type", "bridge"]).unwrap_or_default().lines() {
        let name = line.split(": ").nth(1).unwrap_or("");
        if let Some(pid) = name.strip_prefix("lcdb")
            && !pid_alive(pid)
        {
            let _ = run(&["ip", "link", "del", name]);
        }
    }
    for line in run(&["iptables", "-w", "-S", "FORWARD"]).unwrap_or_default().lines() {
        if let Some(pid) = line.split_whitespace().find_map(|w| w.strip_prefix("lcdb"))
            && !pid_alive(pid)
        {
            let mut args: Vec<&str> = vec!["iptables", "-w"];
            args.extend(line.split_whitespace().map(|w| if w == "-A" { "-D" } else { w }));
            let _ = run(&args);
        }
    }
}

/// A bridge in the root namespace (the clients' side, `<prefix>.1`) and one namespace per
/// member (`<prefix>.10+i`), on a private /24 not in use on this machine. Everything is
/// removed on drop, panics included.
struct Net {
    bridge: String,
    prefix: String,
    namespaces: Vec<String>,
    forward_rule: bool,
}

impl Net {
    fn new(n: usize) -> Net {
        clean_stale();
        let pid = std::process::id();
        let used = run(&["ip", "-4", "-o", "addr", "show"]).unwrap_or_default();
        let third = (0..250u32)
            .map(|k| 1 + (pid + k) % 250)
            .find(|x| !used.contains(&format!("10.77.{x}.")))
            .expect("no free 10.77.x.0/24 subnet");
        let mut net = Net {
            bridge: format!("lcdb{pid}"),
            prefix: format!("10.77.{third}"),
            namespaces: vec![],
            forward_rule: false,
        };
        let br = net.bridge.clone();
        must(&["ip", "link", "add", &br, "type", "bridge"]);
        must(&["ip", "addr", "add", &format!("{}.1/24", net.prefix), "dev", &br]);
        must(&["ip", "link", "set", &br, "up"]);
        // Bridged traffic crosses the root namespace's FORWARD chain when br_netfilter is on
        // (Docker hosts drop it by default): let ours through.
        if std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables").is_ok_and(|s| s.trim() == "1") {
            must(&["iptables", "-w", "-I", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT"]);
            net.forward_rule = true;
        }
        for i in 0..n {
            let ns = format!("lcdrill-{pid}-{i}");
            must(&["ip", "netns", "add", &ns]);
            net.namespaces.push(ns.clone());
            let (host, inner) = (format!("lcdv{pid}-{i}"), format!("lcdn{pid}-{i}"));
            must(&["ip", "link", "add", &host, "type", "veth", "peer", "name", &inner]);
            must(&["ip", "link", "set", &inner, "netns", &ns]);
            must(&["ip", "link", "set", &host, "master", &br]);
            must(&["ip", "link", "set", &host, "up"]);
            must(&["ip", "-n", &ns, "addr", "add", &format!("{}/24", net.ip(i)), "dev", &inner]);
            must(&["ip", "-n", &ns, "link", "set", &inner, "up"]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.prefix, 10 + i)
    }

    fn iptables(&self, i: usize, rule: &[&str]) {
        let mut args = vec!["ip", "netns", "exec", &self.namespaces[i], "iptables", "-w"];
        args.extend_from_slice(rule);
        must(&args);
    }

    /// Drops all traffic between member `i` and `peers`, inside `i`'s namespace; the root
    /// namespace (the clients) still reaches it.
    fn isolate(&self, i: usize, peers: &[usize]) {
        for &j in peers {
            let ip = self.ip(j);
            self.iptables(i, &["-A", "INPUT", "-s", &ip, "-j", "DROP"]);
            self.iptables(i, &["-A", "OUTPUT", "-d", &ip, "-j", "DROP"]);
        }
    }

    fn heal(&self, i: usize) {
        self.iptables(i, &["-F", "INPUT"]);
        self.iptables(i, &["-F", "OUTPUT"]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            // Deleting the namespace deletes its end of the veth pair, and so the pair.
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if self.forward_rule {
            let _ = run(&["iptables", "-w", "-D", "FORWARD", "-i", &self.bridge, "-o", &self.bridge, "-j", "ACCEPT"]);
        }
        let _ = run(&["ip", "link", "del", &self.bridge]);
    }
}

// ---------------------------------------------------------------------------------------
// Members.

/// A `store` process inside a namespace, on fixed ports of its own address. Its log goes
/// to a file in its temporary directory (printed if the drill panics).
struct NsMember {
    name: String,
    ns: String,
    ip: String,
    initial_cluster: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NsMember {
    fn endpoint(&self) -> String {
        format!("http://{}:2379", self.ip)
    }

    fn peer_endpoint(&self) -> String {
        format!("http://{}:2380", self.ip)
    }

    fn log_path(&self) -> PathBuf {
        match std::env::var_os("DRILL_LOGS") {
            Some(dir) => PathBuf::from(dir).join(format!("{}.log", self.name)),
            None => self.dir.path().join("store.log"),
        }
    }

    fn launch(&mut self) {
        let log = OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open member log");
        let (client, peer, metrics) = (self.endpoint(), self.peer_endpoint(), format!("http://{}:2381", self.ip));
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(common::Impl::Store.binary())
            .args(["--name", &self.name, "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &self.initial_cluster, "--listen-metrics-urls", &metrics])
            .args(ARGS)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn store through `ip netns exec`");
        // `ip netns exec` execs the command: this pid is the store's.
        self.child = Some(child);
    }

    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let addr = format!("{}:2381", self.ip);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited during start-up: {status}", self.name);
            }
            if common::http_get(&addr, "/health").is_some_and(|b| b.contains("\"health\":\"true\"")) {
                return;
            }
            assert!(Instant::now() < deadline, "{} not healthy after {timeout:?}", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("member running").id().to_string();
        must(&["kill", sig, &pid]);
    }
}

impl Drop for NsMember {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A stopped process does not die of SIGKILL until continued on some kernels.
            let _ = run(&["kill", "-CONT", &c.id().to_string()]);
        }
        self.kill();
    }
}

struct Cluster {
    // Dropped in this order: the processes, then the network.
    members: Vec<NsMember>,
    net: Net,
}

impl Cluster {
    fn start() -> Cluster {
        let net = Net::new(MEMBERS);
        let spec = (0..MEMBERS).map(|i| format!("m{i}=http://{}:2380", net.ip(i))).collect::<Vec<_>>().join(",");
        let mut members: Vec<NsMember> = (0..MEMBERS)
            .map(|i| NsMember {
                name: format!("m{i}"),
                ns: net.namespaces[i].clone(),
                ip: net.ip(i),
                initial_cluster: spec.clone(),
                dir: tempfile::tempdir().expect("tempdir"),
                child: None,
            })
            .collect();
        for m in &mut members {
            m.launch();
        }
        let mut cluster = Cluster { members, net };
        for m in &mut cluster.members {
            m.wait_healthy(Duration::from_secs(30));
        }
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for m in &self.members {
                let log = std::fs::read_to_string(m.log_path()).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                eprintln!("---- last lines of {} ({}) ----", m.name, m.ip);
                for l in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{l}");
                }
            }
        }
    }
}

fn others(i: usize) -> Vec<usize> {
    (0..MEMBERS).filter(|&j| j != i).collect()
}

// ---------------------------------------------------------------------------------------
// Requests, recorded.

/// One request as the drill saw it, for the checks that lincheck cannot make.
struct Attempt {
    member: usize,
    client: u32,
    what: String,
    write: bool,
    invoked: Instant,
    done: Instant,
    ok: bool,
}

/// A stretch of time during which `member` was cut off from its peers.
struct Window {
    member: usize,
    from: Instant,
    to: Option<Instant>,
}

struct World {
    rec: Recorder,
    channels: Vec<Channel>,
    attempts: Mutex<Vec<Attempt>>,
    windows: Mutex<Vec<Window>>,
    stop: AtomicBool,
    /// For values nobody else writes: a history is checked fastest when every value is
    /// unique.
    next_unique: std::sync::atomic::AtomicU64,
}

fn header_rev(h: Option<pb::ResponseHeader>) -> i64 {
    h.expect("a response without a header").revision
}

fn kv_of(kvs: &[proto::mvccpb::KeyValue]) -> Option<KeyValue> {
    assert!(kvs.len() <= 1, "a single-key range returned {} keys", kvs.len());
    kvs.first().map(|kv| KeyValue {
        value: kv.value.clone(),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
    })
}

fn request_op(t: &TxnOp) -> pb::RequestOp {
    use pb::request_op::Request;
    let r = match t {
        TxnOp::Put { key, value } => {
            Request::RequestPut(pb::PutRequest { key: key.clone(), value: value.clone(), ..Default::default() })
        }
        TxnOp::Get { key } => Request::RequestRange(pb::RangeRequest { key: key.clone(), ..Default::default() }),
        TxnOp::Delete { key } => {
            Request::RequestDeleteRange(pb::DeleteRangeRequest { key: key.clone(), ..Default::default() })
        }
    };
    pb::RequestOp { request: Some(r) }
}

fn compare(c: &Compare) -> pb::Compare {
    use pb::compare::{CompareResult as R, CompareTarget as T, TargetUnion as U};
    let result = match c.result {
        CompareResult::Equal => R::Equal,
        CompareResult::NotEqual => R::NotEqual,
        CompareResult::Less => R::Less,
        CompareResult::Greater => R::Greater,
    };
    let (target, union) = match &c.target {
        CompareTarget::Value(v) => (T::Value, U::Value(v.clone())),
        CompareTarget::Version(n) => (T::Version, U::Version(*n)),
        CompareTarget::CreateRevision(n) => (T::Create, U::CreateRevision(*n)),
        CompareTarget::ModRevision(n) => (T::Mod, U::ModRevision(*n)),
    };
    pb::Compare {
        result: result as i32,
        target: target as i32,
        key: c.key.clone(),
        range_end: Vec::new(),
        target_union: Some(union),
    }
}

async fn send(ch: Channel, op: &Op, timeout: Duration) -> Result<Ret, tonic::Status> {
    let mut kv = KvClient::new(ch);
    fn req<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(timeout);
        r
    }
    Ok(match op {
        Op::Put { key, value } => {
            let r =
                kv.put(req(pb::PutRequest { key: key.clone(), value: value.clone(), ..Default::default() }, timeout));
            Ret::Put { revision: header_rev(r.await?.into_inner().header) }
        }
        Op::Get { key } => {
            let r = kv.range(req(pb::RangeRequest { key: key.clone(), ..Default::default() }, timeout)).await?;
            let r = r.into_inner();
            Ret::Get { revision: header_rev(r.header), kv: kv_of(&r.kvs) }
        }
        Op::Delete { key } => {
            let r = kv.delete_range(req(pb::DeleteRangeRequest { key: key.clone(), ..Default::default() }, timeout));
            let r = r.await?.into_inner();
            Ret::Delete { revision: header_rev(r.header), deleted: r.deleted }
        }
        Op::Txn(t) => {
            let msg = pb::TxnRequest {
                compare: t.compare.iter().map(compare).collect(),
                success: t.success.iter().map(request_op).collect(),
                failure: t.failure.iter().map(request_op).collect(),
            };
            let r = kv.txn(req(msg, timeout)).await?.into_inner();
            use pb::response_op::Response;
            let results = r
                .responses
                .into_iter()
                .map(|x| match x.response {
                    Some(Response::ResponsePut(_)) => TxnResult::Put,
                    Some(Response::ResponseRange(rr)) => TxnResult::Get(kv_of(&rr.kvs)),
                    Some(Response::ResponseDeleteRange(d)) => TxnResult::Delete { deleted: d.deleted },
                    other => panic!("unexpected txn response {other:?}"),
                })
                .collect();
            Ret::Txn { revision: header_rev(r.header), succeeded: r.succeeded, results }
        }
    })
}

impl World {
    fn new(cluster: &Cluster) -> World {
        let channels = cluster
            .members
            .iter()
            .map(|m| {
                Channel::from_shared(m.endpoint()).unwrap().connect_timeout(Duration::from_millis(500)).connect_lazy()
            })
            .collect();
        World {
            rec: Recorder::new(),
            channels,
            attempts: Mutex::default(),
            windows: Mutex::default(),
            stop: AtomicBool::new(false),
            next_unique: Default::default(),
        }
    }

    fn unique(&self) -> u64 {
        self.next_unique.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `op` to `member`, recording it: a response completes it; a failed read is
    /// forgotten (it had no effect); a failed write stays with an unknown outcome.
    async fn call(&self, client: u32, member: usize, op: Op, timeout: Duration) -> Option<Ret> {
        let what = op.to_string();
        let is_read = matches!(op, Op::Get { .. });
        let invoked = Instant::now();
        let id = self.rec.invoke(client, op.clone());
        let res = tokio::time::timeout(
            timeout + Duration::from_millis(200),
            send(self.channels[member].clone(), &op, timeout),
        )
        .await;
        let ret = match res {
            Ok(Ok(r)) => Some(r),
            Ok(Err(_)) | Err(_) => None,
        };
        match &ret {
            Some(r) => self.rec.complete(id, r.clone()),
            None if is_read => self.rec.forget(id),
            None => {}
        }
        let done = Instant::now();
        let ok = ret.is_some();
        self.attempts.lock().unwrap().push(Attempt { member, client, what, write: !is_read, invoked, done, ok });
        ret
    }

    fn cut_off(&self, member: usize) {
        self.windows.lock().unwrap().push(Window { member, from: Instant::now(), to: None });
    }

    fn reconnected(&self, member: usize) {
        let mut w = self.windows.lock().unwrap();
        let open = w.iter_mut().rev().find(|w| w.member == member && w.to.is_none()).expect("an open window");
        open.to = Some(Instant::now());
    }
}

/// A workload client: puts, linearizable gets, deletes and txns on a few keys, through one
/// member, moving to the next member after a failure.
async fn client(w: Arc<World>, c: u32, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(c) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut member = c as usize % MEMBERS;
    let mut last: HashMap<String, Vec<u8>> = HashMap::new();
    let mut n = 0u64;
    while !w.stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("k{}", rng.random_range(0..KEYS));
        let key2 = format!("k{}", rng.random_range(0..KEYS));
        let value = format!("c{c}-{n}");
        let op = match rng.random_range(0..100) {
            0..35 => Op::put(&key, &value),
            35..64 => Op::get(&key),
            // The drill's own keys are read too: the checker pins down a timed-out write
            // quickly only if a later read shows its key.
            64..67 => Op::get("probe"),
            67..70 => Op::get("isolated"),
            70..80 => Op::delete(&key),
            80..92 => {
                // Compare-and-swap against the value this client last saw.
                let seen = last.get(&key).cloned().unwrap_or_default();
                Op::txn(
                    vec![Compare::value(&key, CompareResult::Equal, seen)],
                    vec![TxnOp::put(&key, &value)],
                    vec![TxnOp::get(&key)],
                )
            }
            _ => Op::txn(
                vec![Compare::version(&key, CompareResult::Greater, 0)],
                vec![TxnOp::put(&key, &value), TxnOp::delete(&key2)],
                vec![TxnOp::get(&key2), TxnOp::put(&key2, &value)],
            ),
        };
        let put_value = matches!(op, Op::Put { .. }).then(|| value.clone().into_bytes());
        match w.call(c, member, op, REQUEST_TIMEOUT).await {
            Some(Ret::Get { kv: Some(kv), .. }) => {
                last.insert(key, kv.value);
            }
            Some(Ret::Put { .. }) => {
                last.insert(key, put_value.unwrap_or_default());
            }
            Some(_) => {}
            None => {
                member = (member + 1) % MEMBERS;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The member a majority of `among` names as leader, and which says so itself.
async fn leader(w: &World, among: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = Vec::new();
        for &i in among {
            let mut c = MaintenanceClient::new(w.channels[i].clone());
            let mut req = tonic::Request::new(pb::StatusRequest {});
            req.set_timeout(Duration::from_millis(500));
            if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(700), c.status(req)).await {
                let s = s.into_inner();
                seen.push((i, s.header.map_or(0, |h| h.member_id), s.leader));
            }
        }
        let majority = MEMBERS / 2 + 1;
        if let Some(&(i, _, _)) = seen
            .iter()
            .find(|(_, id, l)| *l != 0 && l == id && seen.iter().filter(|(_, _, x)| x == id).count() >= majority)
        {
            return i;
        }
        assert!(Instant::now() < deadline, "no leader a majority agrees on: {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Time from `fault` until a write sent after it through one of `through` is acknowledged
/// (by the workload, or by probes: two staggered loops per member, so that a request left
/// hanging by the dead leader costs little resolution).
async fn first_write(w: &World, through: &[usize], fault: Instant, what: &str) -> Duration {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let acked = AtomicBool::new(false);
    let probe = |m: usize, stagger: Duration| {
        let acked = &acked;
        async move {
            tokio::time::sleep(stagger).await;
            while !acked.load(Ordering::Relaxed) {
                let op = Op::put("probe", format!("{what}-m{m}-{}", w.unique()));
                if w.call(PROBE, m, op, TIMEOUT).await.is_some() {
                    acked.store(true, Ordering::Relaxed);
                }
                assert!(fault.elapsed() < Duration::from_secs(10), "no write acknowledged within 10 s of {what}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let loops = through.iter().flat_map(|&m| [probe(m, Duration::ZERO), probe(m, TIMEOUT / 2)]);
    futures::future::join_all(loops).await;
    let attempts = w.attempts.lock().unwrap();
    let first = attempts.iter().filter(|a| a.ok && a.write && a.invoked >= fault && through.contains(&a.member));
    first.map(|a| a.done - fault).min().expect("a probe's write was acknowledged")
}

/// Sends writes and linearizable reads to the cut-off member `m` until `until`; none may
/// succeed. Returns how many pairs were sent.
async fn probe_cut_off(w: &World, m: usize, until: Instant) -> usize {
    let mut n = 0;
    while Instant::now() + Duration::from_millis(700) < until {
        n += 1;
        let op = Op::put("isolated", format!("m{m}-{}", w.unique()));
        let put = w.call(ISOLATED_PROBE, m, op, Duration::from_millis(700)).await;
        assert!(put.is_none(), "member {m}, cut off from its peers, acknowledged a write: {put:?}");
        let get = w.call(ISOLATED_PROBE, m, Op::get("probe"), Duration::from_millis(700)).await;
        assert!(get.is_none(), "member {m}, cut off from its peers, served a linearizable read: {get:?}");
    }
    n
}

/// Waits until every member reports the same HashKV at the same revision.
async fn hashes_agree(w: &World) -> (i64, u32) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for ch in &w.channels {
            let mut c = MaintenanceClient::new(ch.clone());
            let mut req = tonic::Request::new(pb::HashKvRequest { revision: 0 });
            req.set_timeout(Duration::from_secs(1));
            if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_millis(1200), c.hash_kv(req)).await {
                let r = r.into_inner();
                seen.push((header_rev(r.header), r.hash));
            }
        }
        if seen.len() == MEMBERS && seen.windows(2).all(|p| p[0] == p[1]) {
            return seen[0];
        }
        assert!(Instant::now() < deadline, "members' HashKV never agreed: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retries `op` on `member` until it succeeds (within 10 s).
async fn until_ok(w: &World, member: usize, op: Op) -> Ret {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = w.call(FINAL, member, op.clone(), REQUEST_TIMEOUT).await {
            return r;
        }
        assert!(Instant::now() < deadline, "member {member} never answered {op} after the faults");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The wall-clock time of day (UTC, as the members log it), to find a fault in their logs.
fn utc_now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let s = t.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, t.subsec_millis())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kills_pauses_and_partitions_keep_the_store_linearizable() {
    preflight();
    let seed = env_u64("DRILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000
    });
    let rounds = env_u64("DRILL_ROUNDS").unwrap_or(1);
    println!("drill seed {seed} (replay with DRILL_SEED={seed}), {rounds} round(s)");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut cluster = tokio::task::block_in_place(Cluster::start);
    let w = Arc::new(World::new(&cluster));
    let clients: Vec<_> = (0..CLIENTS).map(|c| tokio::spawn(client(w.clone(), c, seed))).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all: Vec<usize> = (0..MEMBERS).collect();
    let mut failovers = Vec::new();
    let mut cut_off_probes = 0;

    for round in 0..rounds {
        // 1. SIGKILL the leader; a survivor must take writes soon; restart it.
        let l = leader(&w, &all).await;
        let (fault, at) = (Instant::now(), utc_now());
        cluster.members[l].kill();
        let took = first_write(&w, &others(l), fault, "leader SIGKILL").await;
        println!("round {round}: SIGKILL of leader m{l} at {at}: first acknowledged write after {took:?}");
        failovers.push(("leader SIGKILL", took));
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| {
            cluster.members[l].launch();
            cluster.members[l].wait_healthy(Duration::from_secs(20));
        });
        tokio::time::sleep(Duration::from_secs(1)).await;

        // 2. SIGSTOP a follower for four election timeouts.
        let l = leader(&w, &all).await;
        let f = others(l)[rng.random_range(0..MEMBERS - 1)];
        println!("round {round}: SIGSTOP of follower m{f} at {}", utc_now());
        cluster.members[f].signal("-STOP");
        tokio::time::sleep(4 * ELECTION).await;
        cluster.members[f].signal("-CONT");
        tokio::time::sleep(Duration::from_secs(1)).await;

        // 3. Cut the leader off from both followers for six election timeouts.
        let l = leader(&w, &all).await;
        cluster.net.isolate(l, &others(l));
        let (fault, at) = (Instant::now(), utc_now());
        w.cut_off(l);
        let until = fault + 6 * ELECTION;
        let majority = others(l);
        let (took, probes) =
            tokio::join!(first_write(&w, &majority, fault, "leader partition"), probe_cut_off(&w, l, until));
        println!("round {round}: leader m{l} cut off at {at}: first acknowledged write after {took:?}");
        // Faster than any election: the followers still hear the leader, the cut did not take.
        assert!(took >= ELECTION / 2, "a write was acknowledged {took:?} after cutting the leader off");
        failovers.push(("leader partition", took));
        cut_off_probes += probes;
        tokio::time::sleep_until(until.into()).await;
        w.reconnected(l);
        cluster.net.heal(l);
        leader(&w, &all).await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        // 4. Cut a follower off alone.
        let l = leader(&w, &all).await;
        let f = others(l)[rng.random_range(0..MEMBERS - 1)];
        println!("round {round}: follower m{f} cut off at {}", utc_now());
        cluster.net.isolate(f, &others(f));
        w.cut_off(f);
        cut_off_probes += probe_cut_off(&w, f, Instant::now() + 5 * ELECTION).await;
        w.reconnected(f);
        cluster.net.heal(f);
        leader(&w, &all).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    w.stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.expect("client task");
    }
    // A final write, then every key read (linearizably) through every member: all of it
    // goes into the history, so an acknowledged write that is missing fails the check.
    until_ok(&w, 0, Op::put("final", "1")).await;
    for m in 0..MEMBERS {
        for k in (0..KEYS).map(|k| format!("k{k}")).chain(["probe".into(), "isolated".into(), "final".into()]) {
            until_ok(&w, m, Op::get(k)).await;
        }
    }
    let (rev, hash) = hashes_agree(&w).await;
    println!("members agree: HashKV {hash:#010x} at revision {rev}");

    let history = w.rec.history();
    let attempts = std::mem::take(&mut *w.attempts.lock().unwrap());
    let completed = history.ops().filter(|(_, o)| o.ret.is_some()).count();
    let unknown = history.ops().filter(|(_, o)| o.ret.is_none()).count();
    // Kept for offline checking (`cargo run -p lincheck --example check -- FILE`) when
    // asked for, or when the check does not pass.
    let saved = std::env::var_os("DRILL_HISTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("drill-seed{seed}-{}.history", std::process::id())));
    let save = || {
        std::fs::write(&saved, history.to_text()).expect("save the history");
        format!("history saved to {}", saved.display())
    };
    if std::env::var_os("DRILL_HISTORY").is_some() {
        println!("{}", save());
    }
    let checking = Instant::now();
    let verdict = lincheck::check(&history);
    println!(
        "{} ops recorded ({completed} completed, {unknown} unknown outcome, {} failed reads dropped); checked in {:?}",
        history.len(),
        attempts.iter().filter(|a| !a.ok).count() - unknown,
        checking.elapsed()
    );
    match verdict {
        Ok(l) => println!(
            "linearizable: {} ops in order, {} unknown-outcome writes took effect, final revision {}",
            l.order.len(),
            l.order.len() - completed,
            l.final_revision
        ),
        Err(e) => panic!("seed {seed}: {}; the store's history is not linearizable:\n{e}", save()),
    }

    // While cut off, a member answers nothing that needs its peers.
    let windows = w.windows.lock().unwrap();
    for a in attempts.iter().filter(|a| a.ok) {
        if let Some(win) = windows
            .iter()
            .find(|win| win.member == a.member && a.invoked >= win.from && win.to.is_some_and(|to| a.done <= to))
        {
            panic!(
                "seed {seed}: member {} acknowledged `{}` (client {}) while cut off from its peers \
                 (request {:?} after the cut, answered {:?} after)",
                a.member,
                a.what,
                a.client,
                a.invoked - win.from,
                a.done - win.from
            );
        }
    }
    assert!(cut_off_probes >= 2 * rounds as usize, "too few requests reached cut-off members ({cut_off_probes})");
    let writes_ok = attempts.iter().filter(|a| a.ok && a.write).count();
    assert!(writes_ok > 200, "only {writes_ok} acknowledged writes: too few to prove anything");
    for (what, took) in &failovers {
        assert!(
            *took <= FAILOVER_BOUND,
            "seed {seed}: after {what}, the first write took {took:?} (> {FAILOVER_BOUND:?})"
        );
    }
    println!("drill took {:?}", started.elapsed());
}
