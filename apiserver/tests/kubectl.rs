//! End to end with the real kubectl (v1.32) against the apiserver binary, on our store
//! and on a real etcd: version without skew warnings, discovery, namespaces and
//! configmaps through their whole life, watch, and upstream's error wording and exit
//! codes. Texts are compared with what kube-apiserver v1.33 + kubectl v1.32 print.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ApiServer, Backend, Etcd, kubectl, kubectl_bin};
use serde_json::Value;

fn ok(api: &ApiServer, args: &[&str]) -> String {
    let out = kubectl(api, args);
    assert_eq!(out.code, 0, "kubectl {args:?} failed:\n{}\n{}", out.stderr, api.proc.log_text());
    out.stdout
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);

    // Version: a v1.33 server, no skew warning for kubectl v1.32.
    let v = kubectl(&api, &["version"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(v.stdout.contains("Server Version: v1.33."), "{}", v.stdout);
    assert!(!v.stderr.to_lowercase().contains("warning"), "unexpected warning: {}", v.stderr);

    // Discovery and the system namespaces.
    let res = ok(&api, &["api-resources"]);
    assert!(
        res.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["configmaps", "cm", "v1", "true", "ConfigMap"]),
        "{res}"
    );
    assert!(
        res.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["namespaces", "ns", "v1", "false", "Namespace"]),
        "{res}"
    );
    // Aggregated discovery when asked for (as kubectl does), legacy otherwise.
    let (code, head) = api.curl(&[
        "/api",
        "-i",
        "-H",
        "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    ]);
    assert_eq!(code, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"),
        "{head}"
    );
    assert!(head.contains(r#""responseKind":{"group":"","version":"v1","kind":"Namespace"}"#), "{head}");
    let (_, legacy) = api.curl(&["/api/v1"]);
    let legacy: Value = serde_json::from_str(&legacy).unwrap();
    assert_eq!(legacy["kind"], "APIResourceList");
    let (_, versions) = api.curl(&["/api"]);
    assert_eq!(serde_json::from_str::<Value>(&versions).unwrap()["versions"], serde_json::json!(["v1"]));
    let ns = ok(&api, &["get", "ns"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.lines().any(|l| l.starts_with(n) && l.contains("Active")), "{n} missing:\n{ns}");
    }
    assert!(ns.starts_with("NAME"), "{ns}");

    // A configmap's life.
    assert_eq!(ok(&api, &["create", "configmap", "x", "--from-literal=a=b"]).trim(), "configmap/x created");
    let yaml = ok(&api, &["get", "cm", "x", "-o", "yaml"]);
    assert!(yaml.contains("data:\n  a: b\n"), "{yaml}");
    let obj: Value = serde_json::from_str(&ok(&api, &["get", "cm", "x", "-o", "json"])).expect("json");
    assert_eq!(obj["data"]["a"], "b");
    assert_eq!(obj["kind"], "ConfigMap");
    assert_eq!(obj["metadata"]["namespace"], "default");
    for f in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(obj["metadata"][f].as_str().is_some_and(|s| !s.is_empty()), "{f} missing: {obj}");
    }
    assert!(obj["metadata"].get("generateName").is_none(), "{obj}");
    let all = ok(&api, &["get", "cm", "-A"]);
    assert!(all.lines().any(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["default", "x", "1"]), "{all}");
    let again = kubectl(&api, &["create", "configmap", "x", "--from-literal=a=b"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stderr.trim(), r#"error: failed to create configmap: configmaps "x" already exists"#);

    // YAML bodies are accepted like JSON.
    let yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n";
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/yaml",
        "--data-binary",
        yaml_body,
    ]);
    assert_eq!(code, 201, "{out}");
    assert_eq!(ok(&api, &["get", "cm", "from-yaml", "-o", "jsonpath={.data.k}"]), "v");
    ok(&api, &["delete", "cm", "from-yaml"]);

    // fieldValidation (kubectl sends Strict) and dry-run.
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{"name":"strict"},"bogus":1}"#,
    ]);
    assert_eq!(code, 400, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        status["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
    );
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-i",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{"name":"warned"},"bogus":1}"#,
    ]);
    assert_eq!(code, 201, "{out}");
    assert!(out.to_ascii_lowercase().contains("warning: 299 - \"unknown field \\\"bogus\\\"\""), "{out}");
    let warned = ok(&api, &["get", "cm", "warned", "-o", "json"]);
    assert!(!warned.contains("bogus"), "unknown fields must not be stored: {warned}");
    ok(&api, &["delete", "cm", "warned"]);
    let dry = ok(&api, &["create", "cm", "dry", "--from-literal=a=b", "--dry-run=server"]);
    assert_eq!(dry.trim(), "configmap/dry created (server dry run)");
    assert_eq!(kubectl(&api, &["get", "cm", "dry"]).code, 1, "a dry-run create must not store");
    let dry_del = ok(&api, &["delete", "cm", "x", "--dry-run=server"]);
    assert_eq!(dry_del.trim(), r#"configmap "x" deleted (server dry run)"#);
    ok(&api, &["get", "cm", "x"]);

    // Optimistic concurrency: an update with a stale resourceVersion is a 409.
    let path = "/api/v1/namespaces/default/configmaps/x";
    let mut stale = obj.clone();
    stale["data"]["a"] = "c".into();
    let body = stale.to_string();
    let (code, fresh) = api.curl(&[path, "-X", "PUT", "-H", "Content-Type: application/json", "--data", &body]);
    assert_eq!(code, 200, "{fresh}");
    let fresh: Value = serde_json::from_str(&fresh).unwrap();
    assert_ne!(fresh["metadata"]["resourceVersion"], obj["metadata"]["resourceVersion"]);
    let (code, conflict) = api.curl(&[path, "-X", "PUT", "-H", "Content-Type: application/json", "--data", &body]);
    assert_eq!(code, 409);
    let status: Value = serde_json::from_str(&conflict).unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        r#"Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!(status["details"], serde_json::json!({"name": "x", "kind": "configmaps"}));

    // Watch: kubectl sees the changes as they happen.
    let seen = Arc::new(Mutex::new(String::new()));
    let mut watcher = Command::new(kubectl_bin())
        .env("KUBECONFIG", &api.kubeconfig)
        .args(["get", "cm", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let mut stdout = watcher.stdout.take().expect("stdout");
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if seen.lock().unwrap().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("watch never showed {needle:?}:\n{}", seen.lock().unwrap());
    };
    wait_for("ADDED");
    ok(&api, &["create", "configmap", "w", "--from-literal=k=v"]);
    ok(&api, &["delete", "configmap", "w"]);
    wait_for("DELETED");
    let _ = watcher.kill();
    let _ = watcher.wait();
    let _ = reader.join();
    let text = seen.lock().unwrap().clone();
    let events: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect();
    let w_events: Vec<&str> = events.iter().filter(|(_, n)| n == "w").map(|(t, _)| t.as_str()).collect();
    assert_eq!(w_events, ["ADDED", "DELETED"], "{text}");

    // Patches: kubectl label/annotate (strategic merge) and all three --type values.
    assert_eq!(ok(&api, &["label", "cm", "x", "app=web"]).trim(), "configmap/x labeled");
    assert_eq!(ok(&api, &["annotate", "cm", "x", "note=hi"]).trim(), "configmap/x annotated");
    let refused = kubectl(&api, &["label", "cm", "x", "app=db"]);
    assert_eq!(refused.stderr.trim(), "error: 'app' already has a value (web), and --overwrite is false");
    ok(&api, &["label", "cm", "x", "app=db", "--overwrite"]);
    ok(&api, &["patch", "cm", "x", "--type=merge", "-p", r#"{"data":{"m":"1"}}"#]);
    ok(&api, &["patch", "cm", "x", "--type=json", "-p", r#"[{"op":"add","path":"/data/j","value":"2"}]"#]);
    ok(&api, &["patch", "cm", "x", "-p", r#"{"data":{"s":"3"}}"#]);
    let got = ok(&api, &["get", "cm", "x", "-o", "jsonpath={.metadata.labels} {.metadata.annotations} {.data}"]);
    assert_eq!(got, r#"{"app":"db"} {"note":"hi"} {"a":"c","j":"2","m":"1","s":"3"}"#);
    assert_eq!(ok(&api, &["label", "cm", "x", "app-"]).trim(), "configmap/x unlabeled");
    let failed =
        kubectl(&api, &["patch", "cm", "x", "--type=json", "-p", r#"[{"op":"test","path":"/data/a","value":"zz"}]"#]);
    assert_eq!(failed.code, 1);

    // Secrets (stringData folded into data, type defaulted and immutable), service
    // accounts, immutable configmaps: each resource is one table entry.
    assert_eq!(
        ok(&api, &["create", "secret", "generic", "s1", "--from-literal=pw=hunter2"]).trim(),
        "secret/s1 created"
    );
    let secret: Value = serde_json::from_str(&ok(&api, &["get", "secret", "s1", "-o", "json"])).unwrap();
    assert_eq!((secret["data"]["pw"].as_str(), secret["type"].as_str()), (Some("aHVudGVyMg=="), Some("Opaque")));
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/secrets",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{"name":"s2"},"stringData":{"k":"v"}}"#,
    ]);
    assert_eq!(code, 201, "{out}");
    let s2: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s2["data"], serde_json::json!({"k": "dg=="}));
    assert!(s2.get("stringData").is_none());
    let secrets = ok(&api, &["get", "secrets"]);
    assert!(secrets.starts_with("NAME") && secrets.contains("TYPE") && secrets.contains("Opaque"), "{secrets}");
    let retype = kubectl(&api, &["patch", "secret", "s1", "-p", r#"{"type":"other"}"#]);
    assert_eq!(retype.stderr.trim(), r#"The Secret "s1" is invalid: type: Invalid value: "other": field is immutable"#);
    assert_eq!(ok(&api, &["create", "sa", "robot"]).trim(), "serviceaccount/robot created");
    assert!(ok(&api, &["get", "sa"]).lines().any(|l| l.starts_with("robot")));
    ok(&api, &["create", "cm", "frozen", "--from-literal=a=b"]);
    ok(&api, &["patch", "cm", "frozen", "-p", r#"{"immutable":true}"#]);
    let thaw = kubectl(&api, &["patch", "cm", "frozen", "-p", r#"{"data":{"a":"c"}}"#]);
    assert_eq!(
        thaw.stderr.trim(),
        r#"The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set"#
    );
    for (kind, name) in [("secret", "s1"), ("secret", "s2"), ("sa", "robot"), ("cm", "frozen")] {
        ok(&api, &["delete", kind, name]);
    }

    // Client-side apply (validation off until /openapi is served) and replace.
    let manifest = api.kubeconfig.with_file_name("applied.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n").unwrap();
    let path = manifest.to_str().unwrap();
    assert_eq!(ok(&api, &["apply", "--validate=false", "-f", path]).trim(), "configmap/applied created");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v2\n").unwrap();
    assert_eq!(ok(&api, &["apply", "--validate=false", "-f", path]).trim(), "configmap/applied configured");
    assert_eq!(ok(&api, &["get", "cm", "applied", "-o", "jsonpath={.data.k}"]), "v2");
    assert_eq!(ok(&api, &["replace", "--validate=false", "-f", path]).trim(), "configmap/applied replaced");
    assert_eq!(ok(&api, &["delete", "-f", path]).trim(), r#"configmap "applied" deleted"#);

    // Finalizers hold a deleted object (deletionTimestamp set) until the last one goes.
    ok(&api, &["create", "cm", "held", "--from-literal=a=b"]);
    ok(&api, &["patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    assert_eq!(ok(&api, &["delete", "cm", "held", "--wait=false"]).trim(), r#"configmap "held" deleted"#);
    let held: Value = serde_json::from_str(&ok(&api, &["get", "cm", "held", "-o", "json"])).unwrap();
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let more = kubectl(
        &api,
        &[
            "patch",
            "cm",
            "held",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]"#,
        ],
    );
    assert!(more.stderr.contains("no new finalizers can be added if the object is being deleted"), "{}", more.stderr);
    ok(&api, &["patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    let gone = kubectl(&api, &["get", "cm", "held"]);
    assert_eq!(gone.stderr.trim(), r#"Error from server (NotFound): configmaps "held" not found"#);

    // Label selectors (list, kubectl delete -l) and deletecollection.
    let coll = "/api/v1/namespaces/default/configmaps";
    for (name, app) in [("l1", "web"), ("l2", "web"), ("l3", "db"), ("l4", "db")] {
        let body = format!(r#"{{"metadata":{{"name":"{name}","labels":{{"app":"{app}"}}}}}}"#);
        let (code, out) = api.curl(&[coll, "-X", "POST", "-H", "Content-Type: application/json", "--data", &body]);
        assert_eq!(code, 201, "{out}");
    }
    assert_eq!(ok(&api, &["get", "cm", "-l", "app=web", "-o", "name"]), "configmap/l1\nconfigmap/l2\n");
    // Pagination: limit/continue pages (one object each) add up to the whole list.
    let whole = ok(&api, &["get", "cm", "-A", "-o", "name"]);
    assert_eq!(whole.lines().count(), 5, "{whole}");
    assert_eq!(ok(&api, &["get", "cm", "-A", "-o", "name", "--chunk-size=1"]), whole);
    assert_eq!(
        ok(&api, &["get", "cm", "-l", "app=db", "-o", "name", "--chunk-size=1"]),
        "configmap/l3\nconfigmap/l4\n"
    );
    assert_eq!(ok(&api, &["get", "cm", "-l", "app notin (web),app", "-o", "name"]), "configmap/l3\nconfigmap/l4\n");
    let del = ok(&api, &["delete", "cm", "-l", "app=web"]);
    assert_eq!(del, "configmap \"l1\" deleted\nconfigmap \"l2\" deleted\n");
    let (code, out) = api.curl(&[&format!("{coll}?labelSelector=app%3Ddb"), "-X", "DELETE"]);
    assert_eq!(code, 200, "{out}");
    let deleted: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(deleted["items"].as_array().map(Vec::len), Some(2), "{out}");
    assert!(ok(&api, &["get", "cm", "-o", "name"]).lines().all(|l| !l.starts_with("configmap/l")));
    let bad = kubectl(&api, &["get", "cm", "-l", "app in (web"]);
    assert_ne!(bad.code, 0);

    // Delete, then NotFound with upstream's wording and exit code.
    assert_eq!(ok(&api, &["delete", "cm", "x"]).trim(), r#"configmap "x" deleted"#);
    let nf = kubectl(&api, &["get", "cm", "x"]);
    assert_eq!(nf.code, 1);
    assert_eq!(nf.stderr.trim(), r#"Error from server (NotFound): configmaps "x" not found"#);

    // Namespaces, and configmaps in missing ones.
    assert_eq!(ok(&api, &["create", "ns", "e2e"]).trim(), "namespace/e2e created");
    ok(&api, &["create", "cm", "inside", "-n", "e2e", "--from-literal=a=b"]);
    let missing = kubectl(&api, &["create", "cm", "y", "-n", "nope", "--from-literal=a=b"]);
    assert_eq!(missing.code, 1);
    assert_eq!(missing.stderr.trim(), r#"error: failed to create configmap: namespaces "nope" not found"#);
    let invalid = kubectl(&api, &["create", "cm", "Bad_Name", "--from-literal=a=b"]);
    assert_eq!(
        invalid.stderr.trim(),
        r#"error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    );
    let bad_ns = kubectl(&api, &["create", "ns", "a.b"]);
    assert!(bad_ns.stderr.contains(r#"Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist of"#), "{}", bad_ns.stderr);
    // A namespace held by a finalizer stays Terminating, and takes no new content.
    ok(&api, &["create", "ns", "held"]);
    ok(&api, &["create", "cm", "in-held", "-n", "held", "--from-literal=a=b"]);
    ok(&api, &["patch", "ns", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/x"]}}"#]);
    assert_eq!(ok(&api, &["delete", "ns", "held", "--wait=false"]).trim(), r#"namespace "held" deleted"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    while kubectl(&api, &["get", "cm", "-n", "held", "-o", "name"]).stdout.contains("in-held") {
        assert!(Instant::now() < deadline, "namespace contents were not deleted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let held: Value = serde_json::from_str(&ok(&api, &["get", "ns", "held", "-o", "json"])).unwrap();
    assert_eq!(held["status"]["phase"], "Terminating", "{held}");
    let refused = kubectl(&api, &["create", "cm", "late", "-n", "held", "--from-literal=a=b"]);
    assert_eq!(
        refused.stderr.trim(),
        r#"error: failed to create configmap: configmaps "late" is forbidden: unable to create new content in namespace held because it is being terminated"#
    );
    ok(&api, &["patch", "ns", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    assert_eq!(
        kubectl(&api, &["get", "ns", "held"]).stderr.trim(),
        r#"Error from server (NotFound): namespaces "held" not found"#
    );

    assert_eq!(ok(&api, &["delete", "ns", "e2e"]).trim(), r#"namespace "e2e" deleted"#);
    assert!(ok(&api, &["get", "cm", "-A"]).lines().all(|l| !l.starts_with("e2e")));

    // Watch-list: initial events, then a bookmark marking their end; bad options are 422.
    let (code, body) = api.curl(&[
        "/api/v1/namespaces?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
        "--max-time",
        "10",
    ]);
    assert_eq!(code, 200, "{body}");
    let events: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let (last, added) = events.split_last().expect("events");
    assert!(added.len() >= 4 && added.iter().all(|e| e["type"] == "ADDED"), "{body}");
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(added[0]["object"]["kind"], "Namespace");
    let (code, body) = api.curl(&["/api/v1/namespaces?watch=true&sendInitialEvents=true"]);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("sendInitialEvents requires setting allowWatchBookmarks to true"), "{body}");

    // A watch from a compacted resourceVersion ends with upstream's 410 Expired event.
    let list: Value = serde_json::from_str(&ok(&api, &["get", "--raw", "/api/v1/namespaces"])).unwrap();
    let head = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let compact = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.endpoint, "compact", &head])
        .output()
        .expect("etcdctl (Debian etcd-client) must be installed");
    assert!(compact.status.success(), "{}", String::from_utf8_lossy(&compact.stderr));
    // The watch cache of an apiserver started now begins at (or after) the compacted head.
    let api2 = ApiServer::start(&etcd);
    let (code, body) =
        api2.curl(&["/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1", "--max-time", "10"]);
    assert_eq!(code, 200, "{body}");
    let ev: Value = serde_json::from_str(body.lines().next().unwrap_or("")).expect(&body);
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    // The watch cache's message names the oldest version it can resume from (upstream's
    // `oldest - 1`): at least the compacted head.
    let msg = ev["object"]["message"].as_str().unwrap_or("");
    let oldest: i64 = msg
        .strip_prefix("too old resource version: 1 (")
        .and_then(|r| r.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{msg}"));
    assert!(oldest >= head.parse::<i64>().unwrap(), "{msg} (head {head})");

    // PartialObjectMetadata, as metadata-only clients ask for it; generateName.
    let (code, body) = api.curl(&[
        "/api/v1/namespaces",
        "-H",
        "Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
    ]);
    assert_eq!(code, 200, "{body}");
    let meta: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert_eq!(meta["items"][0]["kind"], "PartialObjectMetadata");
    assert!(meta["items"][0].get("spec").is_none() && meta["items"][0]["metadata"]["name"].is_string(), "{body}");
    let (code, body) = api.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{"generateName":"gen-"}}"#,
    ]);
    assert_eq!(code, 201, "{body}");
    let generated: Value = serde_json::from_str(&body).unwrap();
    let gen_name = generated["metadata"]["name"].as_str().unwrap().to_string();
    assert!(gen_name.starts_with("gen-") && gen_name.len() == 9, "{gen_name}");
    ok(&api, &["delete", "cm", &gen_name]);
    let (code, body) = api.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"metadata":{}}"#,
    ]);
    assert_eq!(code, 422, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["message"],
        r#"ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required"#
    );

    // Health and metrics.
    let (code, readyz) = api.curl(&["/readyz?verbose"]);
    assert_eq!(code, 200);
    assert!(readyz.contains("[+]etcd ok\n") && readyz.ends_with("readyz check passed\n"), "{readyz}");
    let (_, livez) = api.curl(&["/livez"]);
    assert_eq!(livez, "ok");
    let (_, metrics) = api.curl(&["/metrics"]);
    assert!(
        metrics.lines().any(|l| l.starts_with("apiserver_request_total{verb=\"POST\"")
            && l.contains("resource=\"configmaps\"")
            && l.contains("code=\"201\"")),
        "{metrics}"
    );
    assert!(metrics.contains("apiserver_request_duration_seconds_bucket{"), "{metrics}");
    assert!(metrics.contains("apiserver_storage_objects{resource=\"namespaces\"}"), "{metrics}");
}

#[test]
fn kubectl_on_store() {
    scenario(Backend::Store);
}

#[test]
fn kubectl_on_etcd() {
    scenario(Backend::Etcd);
}
