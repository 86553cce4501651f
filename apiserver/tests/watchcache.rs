//! LIST and WATCH semantics served by the watch cache (resourceVersion "", "0",
//! NotOlderThan, Exact, too large, 410, bookmarks, watch-list, selector transitions),
//! and the cache surviving a store restart — on our store and on a real etcd.

mod common;

use std::time::{Duration, Instant};

use common::{ApiServer, Backend, Etcd};
use serde_json::{Value, json};

fn get(api: &ApiServer, path: &str) -> (u16, Value) {
    let (code, body) = api.curl(&[path, "--max-time", "15"]);
    (code, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
}

fn send(api: &ApiServer, method: &str, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
    let ct = format!("Content-Type: {content_type}");
    let (code, text) = api.curl(&[path, "-X", method, "-H", &ct, "--data", &body.to_string()]);
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}")))
}

fn rv_of(v: &Value) -> i64 {
    v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no rv: {v}"))
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

/// A watch read to its end (the server closes it at `timeoutSeconds`).
fn watch(api: &ApiServer, path: &str) -> Vec<Value> {
    let (code, body) = api.curl(&[path, "--max-time", "20"]);
    assert_eq!(code, 200, "{path}: {body}");
    body.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

fn create_cm(api: &ApiServer, name: &str, app: &str) -> i64 {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}});
    let (code, obj) = send(api, "POST", "/api/v1/namespaces/default/configmaps", "application/json", &cm);
    assert_eq!(code, 201, "{obj}");
    rv_of(&obj)
}

fn label(api: &ApiServer, name: &str, app: &str) -> i64 {
    let patch = json!({"metadata": {"labels": {"app": app}}});
    let path = format!("/api/v1/namespaces/default/configmaps/{name}");
    let (code, obj) = send(api, "PATCH", &path, "application/merge-patch+json", &patch);
    assert_eq!(code, 200, "{obj}");
    rv_of(&obj)
}

fn scenario(backend: Backend) {
    let mut etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let base = "/api/v1/namespaces/default/configmaps";

    // resourceVersion "": a consistent read sees a write made just before it.
    let rv_a = create_cm(&api, "a", "web");
    let (code, list) = get(&api, base);
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["a"], "{backend:?}");
    assert!(rv_of(&list) >= rv_a, "{list}");
    // Writes to other resources move the store's revision past the cache's: a
    // consistent read still answers at (at least) the store's revision.
    let (code, ns) = send(&api, "POST", "/api/v1/namespaces", "application/json", &json!({"metadata": {"name": "o"}}));
    assert_eq!(code, 201, "{ns}");
    let (_, list) = get(&api, base);
    assert!(rv_of(&list) >= rv_of(&ns), "consistent list at {} before the namespace at {}", rv_of(&list), rv_of(&ns));

    // "0" (any) and NotOlderThan.
    let (code, list) = get(&api, &format!("{base}?resourceVersion=0"));
    assert_eq!(code, 200, "{list}");
    let (code, list) = get(&api, &format!("{base}?resourceVersion={rv_a}&resourceVersionMatch=NotOlderThan"));
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["a"]);
    assert!(rv_of(&list) >= rv_a);
    let (code, list) = get(&api, &format!("{base}?resourceVersion={rv_a}"));
    assert_eq!((code, names(&list)), (200, vec!["a".to_string()]));

    // A version the store has not reached: upstream's 504 after waiting ~3 s.
    let future = rv_of(&list) + 1000;
    let started = Instant::now();
    let (code, status) = get(&api, &format!("{base}?resourceVersion={future}"));
    assert_eq!(code, 504, "{status}");
    assert!(started.elapsed() >= Duration::from_secs(2), "answered before waiting: {:?}", started.elapsed());
    assert_eq!(status["reason"], "Timeout");
    let msg = status["message"].as_str().unwrap();
    assert!(msg.starts_with(&format!("Too large resource version: {future}, current: ")), "{msg}");
    assert_eq!(status["details"]["causes"][0]["reason"], "ResourceVersionTooLarge");
    assert_eq!(status["details"]["retryAfterSeconds"], 1);

    // Exact reads storage at that revision: b, created later, is absent there.
    let rv_b = create_cm(&api, "b", "db");
    let (code, list) = get(&api, &format!("{base}?resourceVersion={rv_a}&resourceVersionMatch=Exact"));
    assert_eq!(code, 200, "{list}");
    assert_eq!((names(&list), rv_of(&list)), (vec!["a".to_string()], rv_a));
    let (_, list) = get(&api, &format!("{base}?resourceVersion={rv_b}&resourceVersionMatch=Exact"));
    assert_eq!((names(&list), rv_of(&list)), (vec!["a".to_string(), "b".to_string()], rv_b));
    // Label selectors filter in the cache.
    let (_, list) = get(&api, &format!("{base}?labelSelector=app%3Ddb"));
    assert_eq!(names(&list), ["b"]);
    let (_, list) = get(&api, &format!("{base}?fieldSelector=metadata.name%3Da"));
    assert_eq!(names(&list), ["a"]);

    // A watch from rv_a with a selector replays the window: a leaving the selection
    // is DELETED (with its last matching state), b entering is ADDED; then a
    // bookmark 2 s before the 3 s timeout carries the latest version.
    let rv_a2 = label(&api, "a", "db");
    let rv_b2 = label(&api, "b", "web");
    let (code, _) = api.curl(&[&format!("{base}/b"), "-X", "DELETE"]);
    assert_eq!(code, 200);
    let evs = watch(
        &api,
        &format!(
            "{base}?watch=1&resourceVersion={rv_a}&labelSelector=app%3Dweb&allowWatchBookmarks=true&timeoutSeconds=3"
        ),
    );
    let seen: Vec<(&str, &str)> = evs
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["object"]["metadata"]["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(seen, [("DELETED", "a"), ("ADDED", "b"), ("DELETED", "b"), ("BOOKMARK", "")], "{evs:?}");
    assert_eq!(evs[0]["object"]["metadata"]["labels"]["app"], "web");
    assert_eq!(rv_of(&evs[0]["object"]), rv_a2);
    assert_eq!(rv_of(&evs[1]["object"]), rv_b2);
    assert!(rv_of(&evs[3]["object"]) >= rv_of(&evs[2]["object"]));
    assert_eq!(evs[3]["object"]["kind"], "ConfigMap");
    // Without allowWatchBookmarks, no bookmark.
    let evs = watch(&api, &format!("{base}?watch=1&resourceVersion={rv_b2}&timeoutSeconds=3"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["type"], "DELETED");

    // Watch-list: the state as ADDED, then the bookmark marked as the end of the initial
    // events at a version no older than the last write.
    create_cm(&api, "c", "web");
    let last = create_cm(&api, "d", "db");
    let evs = watch(
        &api,
        &format!(
            "{base}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=app%3Dweb&timeoutSeconds=1"
        ),
    );
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!((evs[0]["type"].as_str(), evs[0]["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("c")));
    assert_eq!(evs[0]["object"]["kind"], "ConfigMap");
    assert_eq!(evs[1]["type"], "BOOKMARK");
    assert_eq!(evs[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert!(rv_of(&evs[1]["object"]) >= last);

    // The store restarts: the cache's store watch breaks and resumes; what is written
    // afterwards reaches cache-served watches and NotOlderThan lists.
    etcd.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let rv_e = loop {
        let cm = json!({"metadata": {"name": "e", "labels": {"app": "web"}}});
        let (code, obj) = send(&api, "POST", base, "application/json", &cm);
        if code == 201 {
            break rv_of(&obj);
        }
        assert!(Instant::now() < deadline, "store did not come back: {code} {obj}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let evs = watch(&api, &format!("{base}?watch=1&resourceVersion={}&timeoutSeconds=2", rv_e - 1));
    assert_eq!(evs.first().map(|e| e["type"].as_str()), Some(Some("ADDED")), "{evs:?}");
    assert_eq!(evs[0]["object"]["metadata"]["name"], "e");
    let (code, list) = get(&api, &format!("{base}?resourceVersion={rv_e}&resourceVersionMatch=NotOlderThan"));
    assert_eq!(code, 200, "{list}");
    assert!(names(&list).contains(&"e".to_string()), "{list}");

    // A second apiserver's caches start at the current revision: a watch from below it
    // gets 410 Expired as an ERROR event (HTTP 200), naming the oldest usable version.
    let api2 = ApiServer::start(&etcd);
    let evs = watch(&api2, &format!("{base}?watch=1&resourceVersion={rv_a}"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!((evs[0]["type"].as_str(), evs[0]["object"]["code"].as_i64()), (Some("ERROR"), Some(410)));
    assert_eq!(evs[0]["object"]["kind"], "Status");
    assert_eq!(evs[0]["object"]["reason"], "Expired");
    let msg = evs[0]["object"]["message"].as_str().unwrap();
    let oldest: i64 = msg
        .strip_prefix(&format!("too old resource version: {rv_a} ("))
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{msg}"));
    assert!(oldest >= rv_e, "{msg}");
}

#[test]
fn watch_cache_on_store() {
    scenario(Backend::Store);
}

#[test]
fn watch_cache_on_etcd() {
    scenario(Backend::Etcd);
}

/// A TCP proxy that can cut every connection and refuse new ones: a network partition
/// between the apiserver and its store.
struct Proxy {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy listener");
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (o, c) = (open.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !o.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else { continue };
                let mut held = c.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(upstream.try_clone().unwrap());
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), upstream.try_clone().unwrap()), (upstream, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, open, conns }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn etcdctl(etcd: &Etcd, args: &[&str]) -> String {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.endpoint])
        .args(args)
        .output()
        .expect("etcdctl (Debian etcd-client) must be installed");
    assert!(out.status.success(), "etcdctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn initializations(api: &ApiServer) -> u64 {
    let (_, text) = api.curl(&["/metrics"]);
    text.lines()
        .find_map(|l| l.strip_prefix(r#"apiserver_watch_cache_initializations_total{resource="configmaps"} "#))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Partitioned from its store while the history it would resume from is compacted, the
/// cache relists (a second initialisation), ends the watches it served, and answers
/// a resume from before the relist with 410.
fn relist_scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let port: u16 = etcd.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port);
    let api = ApiServer::start_with_etcd_servers(&format!("http://127.0.0.1:{}", proxy.port));
    let base = "/api/v1/namespaces/default/configmaps";
    let rv1 = create_cm(&api, "before", "web");
    assert_eq!(initializations(&api), 1);
    let url = api.url.clone();
    let open_watch = std::thread::spawn(move || {
        let started = Instant::now();
        let out = std::process::Command::new("curl")
            .args(["-sk", "--max-time", "60"])
            .arg(format!("{url}{base}?watch=1&resourceVersion={rv1}&timeoutSeconds=50"))
            .output()
            .expect("curl");
        (started.elapsed(), String::from_utf8_lossy(&out.stdout).into_owned())
    });
    std::thread::sleep(Duration::from_millis(500));

    proxy.cut();
    let value = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "during", "namespace": "default", "uid": "6b1c3f1e-0000-4000-8000-000000000001", "creationTimestamp": "2026-01-01T00:00:00Z"}});
    // Two writes: the compaction must pass the revision the cache would resume from.
    etcdctl(&etcd, &["put", "/registry/configmaps/default/during", &value.to_string()]);
    etcdctl(&etcd, &["put", "/registry/configmaps/default/during", &value.to_string()]);
    let status: Value =
        serde_json::from_str(&etcdctl(&etcd, &["get", "/registry/configmaps/default/during", "-w", "json"])).unwrap();
    let head = status["header"]["revision"].as_i64().unwrap();
    etcdctl(&etcd, &["compact", &head.to_string()]);
    proxy.heal();

    let deadline = Instant::now() + Duration::from_secs(30);
    while initializations(&api) < 2 {
        assert!(Instant::now() < deadline, "the configmaps cache did not relist after compaction");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (took, body) = open_watch.join().unwrap();
    assert!(took < Duration::from_secs(40), "the open watch was not ended by the relist ({took:?}): {body}");
    let (code, list) = get(&api, base);
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["before", "during"]);
    assert!(rv_of(&list) >= head);
    let evs = watch(&api, &format!("{base}?watch=1&resourceVersion={rv1}"));
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!((evs[0]["type"].as_str(), evs[0]["object"]["code"].as_i64()), (Some("ERROR"), Some(410)));
    // A resume from the relist's version works and sees what follows.
    let rv2 = create_cm(&api, "after", "web");
    let evs = watch(&api, &format!("{base}?watch=1&resourceVersion={}&timeoutSeconds=1", rv_of(&list)));
    assert_eq!(evs.first().map(|e| (e["type"].clone(), rv_of(&e["object"]))), Some((json!("ADDED"), rv2)), "{evs:?}");
}

#[test]
fn watch_cache_relists_after_compaction_on_store() {
    relist_scenario(Backend::Store);
}

#[test]
fn watch_cache_relists_after_compaction_on_etcd() {
    relist_scenario(Backend::Etcd);
}

/// A quiet resource's bookmarks still move forward: the cache proves itself current
/// every 30 s while watched, so a bookmark carries a version past writes elsewhere.
fn bookmark_progress_scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let base = "/api/v1/namespaces/default/configmaps";
    let rv = create_cm(&api, "quiet", "web");
    let url = api.url.clone();
    let watcher = std::thread::spawn(move || {
        let started = Instant::now();
        let out = std::process::Command::new("curl")
            .args(["-sk", "--max-time", "60", "-w", "\n%{http_code}"])
            .arg(format!("{url}{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=36"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
        (body.to_string(), format!("HTTP {code}, curl {}, after {:?}", out.status, started.elapsed()))
    });
    std::thread::sleep(Duration::from_secs(1));
    let (code, ns) =
        send(&api, "POST", "/api/v1/namespaces", "application/json", &json!({"metadata": {"name": "elsewhere"}}));
    assert_eq!(code, 201, "{ns}");
    let (body, how) = watcher.join().unwrap();
    let evs: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(evs.len(), 1, "{how}: {body}\n{}", api.proc.log_text());
    assert_eq!(evs[0]["type"], "BOOKMARK");
    assert!(
        rv_of(&evs[0]["object"]) >= rv_of(&ns),
        "bookmark at {} before the namespace's {}",
        rv_of(&evs[0]["object"]),
        rv_of(&ns)
    );
}

#[test]
fn watch_cache_bookmarks_progress_on_store() {
    bookmark_progress_scenario(Backend::Store);
}

#[test]
fn watch_cache_bookmarks_progress_on_etcd() {
    bookmark_progress_scenario(Backend::Etcd);
}

fn rss_kib(api: &ApiServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", api.proc.child.id())).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

fn metric(api: &ApiServer, line_prefix: &str) -> Option<u64> {
    let (_, text) = api.curl(&["/metrics"]);
    text.lines().find_map(|l| l.strip_prefix(line_prefix)).and_then(|n| n.trim().parse().ok())
}

/// The cache keeps each object as its JSON (not as a decoded tree, which for objects
/// of many small fields is ten times bigger or more): its size metric stays close to the
/// objects' JSON, and the process grows by about that much as they arrive. A big LIST
/// comes back whole and exact, and does not leave the process much bigger.
fn memory_scenario(backend: Backend) {
    const N: usize = 1500;
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let base = "/api/v1/namespaces/default/configmaps";
    let data: serde_json::Map<String, Value> = (0..200).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cm = json!({"metadata": {"generateName": "m-", "labels": {"app": "mem"}}, "data": data});
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("cm.json");
    std::fs::write(&body, cm.to_string()).unwrap();
    let bytes_before = metric(&api, r#"apiserver_watch_cache_objects_bytes{resource="configmaps"} "#).unwrap_or(0);
    let rss_before = rss_kib(&api);
    // One curl process creates them all (its URL glob repeats the POST).
    let (code, out) = api.curl(&[
        &format!("{base}?n=[1-{N}]"),
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", body.display()),
    ]);
    assert_eq!(code, 201, "{}", &out[out.len().saturating_sub(500)..]);
    let (code, list) = get(&api, &format!("{base}?labelSelector=app%3Dmem"));
    assert_eq!(code, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), N);
    assert_eq!(items[N - 1]["data"]["k199"], "v");
    assert_eq!(list["kind"], "ConfigMapList");
    let json_bytes: usize = items.iter().map(|i| i.to_string().len()).sum();

    // The metric: the objects' JSON plus a little per object (kind, key, labels, fields).
    let deadline = Instant::now() + Duration::from_secs(10);
    let cached = loop {
        let b = metric(&api, r#"apiserver_watch_cache_objects_bytes{resource="configmaps"} "#).unwrap_or(0);
        if b > bytes_before + json_bytes as u64 || Instant::now() > deadline {
            break b - bytes_before;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(cached >= json_bytes as u64, "cache holds {cached} bytes for {json_bytes} bytes of JSON");
    assert!(
        cached <= json_bytes as u64 + (N as u64) * 512,
        "cache holds {cached} bytes for {json_bytes} bytes of JSON"
    );
    // The process: decoded trees of these objects would take ~50 MiB; their JSON is ~3 MiB.
    let grown = rss_kib(&api).saturating_sub(rss_before);
    eprintln!("{backend:?}: {N} objects, {json_bytes} bytes of JSON, cache metric {cached}, RSS +{grown} KiB");
    assert!(grown < 20 * 1024, "RSS grew by {grown} KiB for {N} objects of {json_bytes} bytes of JSON in all");

    // LISTs of all of them (about 4 MiB each) are streamed: the process stays lean.
    let rss_before = rss_kib(&api);
    for _ in 0..3 {
        let (code, list) = get(&api, base);
        assert_eq!(code, 200);
        assert_eq!(list["items"].as_array().unwrap().len(), N);
    }
    let grown = rss_kib(&api).saturating_sub(rss_before);
    eprintln!("{backend:?}: RSS +{grown} KiB after three LISTs");
    assert!(grown < 20 * 1024, "RSS grew by {grown} KiB after three LISTs of {json_bytes} bytes of JSON");
}

#[test]
fn watch_cache_memory_on_store() {
    memory_scenario(Backend::Store);
}

#[test]
fn watch_cache_memory_on_etcd() {
    memory_scenario(Backend::Etcd);
}
