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
