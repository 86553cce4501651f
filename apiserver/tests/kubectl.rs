//! End to end with the real kubectl (v1.32) against the apiserver binary, on our store
//! and on a real etcd: version without skew warnings, discovery, namespaces and
//! configmaps through their whole life, watch, and upstream's error wording and exit
//! codes. Texts are compared with what kube-apiserver v1.33 + kubectl v1.32 print.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ApiServer, Backend, Etcd, collect_output, kubectl, kubectl_bin, kubectl_ok as ok};
use serde_json::Value;

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
    let mut watcher = Command::new(kubectl_bin())
        .env("KUBECONFIG", &api.kubeconfig)
        .args(["get", "cm", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (seen, reader) = collect_output(watcher.stdout.take().expect("stdout"));
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

/// Every line of `out` whose first column is `name`, split into columns (two or more
/// spaces apart, as kubectl pads them).
fn row(out: &str, name: &str) -> Vec<String> {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{out}"));
    line.split("  ").map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn header(out: &str) -> Vec<String> {
    out.lines().next().unwrap_or("").split("  ").map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn json_of(api: &ApiServer, args: &[&str]) -> Value {
    let text = ok(api, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

fn post(api: &ApiServer, path: &str, body: &str) -> (u16, Value) {
    let (code, out) = api.curl(&[path, "-X", "POST", "-H", "Content-Type: application/json", "--data", body]);
    (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}")))
}

/// API groups and the resources beyond core/v1's first four, through kubectl v1.32:
/// discovery, the `create` generators (sent as protobuf), `run`, defaulting, table
/// columns, scale and status subresources, bindings and field selectors, service IP
/// and node-port allocation, and upstream's messages for bad input.
fn groups_scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);

    // Discovery: every group with its preferred version, resources with short names.
    let versions = ok(&api, &["api-versions"]);
    assert_eq!(
        versions.lines().collect::<Vec<_>>(),
        [
            "admissionregistration.k8s.io/v1",
            "apiextensions.k8s.io/v1",
            "apps/v1",
            "authentication.k8s.io/v1",
            "authorization.k8s.io/v1",
            "autoscaling/v1",
            "autoscaling/v2",
            "batch/v1",
            "certificates.k8s.io/v1",
            "coordination.k8s.io/v1",
            "discovery.k8s.io/v1",
            "events.k8s.io/v1",
            "networking.k8s.io/v1",
            "node.k8s.io/v1",
            "policy/v1",
            "rbac.authorization.k8s.io/v1",
            "scheduling.k8s.io/v1",
            "storage.k8s.io/v1",
            "v1"
        ]
    );
    let res = ok(&api, &["api-resources"]);
    for want in [
        "pods po v1 true Pod",
        "services svc v1 true Service",
        "nodes no v1 false Node",
        "events ev v1 true Event",
        "replicationcontrollers rc v1 true ReplicationController",
        "deployments deploy apps/v1 true Deployment",
        "statefulsets sts apps/v1 true StatefulSet",
        "cronjobs cj batch/v1 true CronJob",
        "jobs batch/v1 true Job",
        "horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler",
        "leases coordination.k8s.io/v1 true Lease",
        "endpointslices discovery.k8s.io/v1 true EndpointSlice",
        "poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget",
        "priorityclasses pc scheduling.k8s.io/v1 false PriorityClass",
        "storageclasses sc storage.k8s.io/v1 false StorageClass",
    ] {
        assert!(res.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want), "{want}:\n{res}");
    }
    assert_eq!(
        ok(&api, &["api-resources", "--api-group=apps", "-o", "name"]),
        "controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\n"
    );
    let (code, group) = api.curl(&["/apis/batch"]);
    assert_eq!(code, 200);
    let group: Value = serde_json::from_str(&group).unwrap();
    assert_eq!(group["preferredVersion"], serde_json::json!({"groupVersion": "batch/v1", "version": "v1"}));
    let (code, list) = api.curl(&["/apis/apps/v1"]);
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&list).unwrap();
    let scale = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
    assert_eq!(
        (&scale["group"], &scale["version"], &scale["kind"]),
        (&"autoscaling".into(), &"v1".into(), &"Scale".into())
    );
    assert_eq!(api.curl(&["/apis/nope"]).0, 404);
    assert_eq!(api.curl(&["/apis/apps/v2"]).0, 404);

    // The system priority classes and the kubernetes service exist from the start.
    let pcs = ok(&api, &["get", "priorityclasses"]);
    assert_eq!(header(&pcs), ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]);
    assert_eq!(row(&pcs, "system-node-critical")[1..3], ["2000001000", "false"]);
    assert_eq!(row(&pcs, "system-cluster-critical")[1..3], ["2000000000", "false"]);
    let svc = ok(&api, &["get", "svc", "kubernetes", "-o", "wide"]);
    assert_eq!(header(&svc), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]);
    let k = row(&svc, "kubernetes");
    assert_eq!([&k[1], &k[2], &k[3], &k[4], &k[6]], ["ClusterIP", "10.0.0.1", "<none>", "443/TCP", "<none>"]);
    let ep = json_of(&api, &["get", "endpoints", "kubernetes", "-o", "json"]);
    assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], api.port);
    let slice = json_of(&api, &["get", "endpointslices", "kubernetes", "-o", "json"]);
    assert_eq!(slice["endpoints"][0]["addresses"][0], "127.0.0.1");

    // Deployments: the generator, defaults, wide columns, scale and status.
    assert_eq!(
        ok(&api, &["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "--port=80"]).trim(),
        "deployment.apps/web created"
    );
    let d = json_of(&api, &["get", "deploy", "web", "-o", "json"]);
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(
        d["spec"]["strategy"],
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    assert_eq!(
        (d["spec"]["revisionHistoryLimit"].as_i64(), d["spec"]["progressDeadlineSeconds"].as_i64()),
        (Some(10), Some(600))
    );
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        (c["imagePullPolicy"].as_str(), c["ports"][0]["protocol"].as_str()),
        (Some("IfNotPresent"), Some("TCP"))
    );
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    let wide = ok(&api, &["get", "deploy", "-o", "wide"]);
    assert_eq!(header(&wide), ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    let w = row(&wide, "web");
    assert_eq!([&w[1], &w[2], &w[3], &w[5], &w[6], &w[7]], ["0/2", "0", "0", "nginx", "nginx:1.27", "app=web"]);
    assert_eq!(ok(&api, &["scale", "deployment", "web", "--replicas=3"]).trim(), "deployment.apps/web scaled");
    let d = json_of(&api, &["get", "deploy", "web", "-o", "json"]);
    assert_eq!((d["spec"]["replicas"].as_i64(), d["metadata"]["generation"].as_i64()), (Some(3), Some(2)));
    let scale = json_of(&api, &["get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"]);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!((scale["spec"]["replicas"].as_i64(), scale["status"]["selector"].as_str()), (Some(3), Some("app=web")));
    // The main resource ignores status; the status subresource ignores the spec.
    ok(&api, &["patch", "deploy", "web", "--type=merge", "-p", r#"{"status":{"readyReplicas":3}}"#]);
    assert_eq!(ok(&api, &["get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}"]), "");
    ok(
        &api,
        &[
            "patch",
            "deploy",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":7},"status":{"readyReplicas":3,"replicas":3}}"#,
        ],
    );
    assert_eq!(ok(&api, &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.status.readyReplicas}"]), "3 3");
    assert_eq!(row(&ok(&api, &["get", "deploy", "web"]), "web")[1], "3/3");
    // kubectl autoscale writes autoscaling/v1; the object reads back as v2 as well.
    assert_eq!(
        ok(&api, &["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=70"]).trim(),
        "horizontalpodautoscaler.autoscaling/web autoscaled"
    );
    let hpas = ok(&api, &["get", "hpa"]);
    assert_eq!(header(&hpas), ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]);
    assert_eq!(row(&hpas, "web")[1..6], ["Deployment/web", "cpu: <unknown>/70%", "2", "5", "0"]);
    let v2 = json_of(&api, &["get", "--raw", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web"]);
    assert_eq!(v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
    let v1 = json_of(&api, &["get", "--raw", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web"]);
    assert_eq!(
        (v1["apiVersion"].as_str(), v1["spec"]["targetCPUUtilizationPercentage"].as_i64()),
        (Some("autoscaling/v1"), Some(70))
    );
    let dup = kubectl(&api, &["create", "deployment", "web", "--image=nginx"]);
    assert_eq!(dup.stderr.trim(), r#"error: failed to create deployment: deployments.apps "web" already exists"#);
    let nf = kubectl(&api, &["get", "deploy", "nope"]);
    assert_eq!(nf.stderr.trim(), r#"Error from server (NotFound): deployments.apps "nope" not found"#);
    let moved = kubectl(
        &api,
        &[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#,
        ],
    );
    assert_eq!(
        moved.stderr.trim(),
        r#"The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
    );

    let stuck = kubectl(
        &api,
        &[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":0}}}}"#,
        ],
    );
    assert_eq!(
        stuck.stderr.trim(),
        r#"The Deployment "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0"#
    );
    ok(&api, &["patch", "deploy", "web", "-p", r#"{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}"#]);
    assert_eq!(ok(&api, &["get", "deploy", "web", "-o", "jsonpath={.spec.strategy}"]), r#"{"type":"Recreate"}"#);

    // Jobs and cronjobs.
    assert_eq!(
        ok(&api, &["create", "job", "j1", "--image=busybox", "--", "echo", "hi"]).trim(),
        "job.batch/j1 created"
    );
    let j = json_of(&api, &["get", "job", "j1", "-o", "json"]);
    let uid = j["metadata"]["uid"].as_str().unwrap();
    assert_eq!(j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"], uid);
    assert_eq!(j["spec"]["template"]["metadata"]["labels"]["job-name"], "j1");
    assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!((j["spec"]["backoffLimit"].as_i64(), j["spec"]["completions"].as_i64()), (Some(6), Some(1)));
    assert_eq!(j["spec"]["template"]["spec"]["containers"][0]["command"], serde_json::json!(["echo", "hi"]));
    let retemplate = kubectl(
        &api,
        &[
            "patch",
            "job",
            "j1",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"j1","image":"other"}]}}}}"#,
        ],
    );
    assert!(retemplate.stderr.contains("spec.template: Invalid value: core.PodTemplateSpec{"), "{}", retemplate.stderr);
    let jobs = ok(&api, &["get", "jobs", "-o", "wide"]);
    assert_eq!(header(&jobs), ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    let r = row(&jobs, "j1");
    assert_eq!([&r[1], &r[2], &r[4], &r[5]], ["Running", "0/1", "j1", "busybox"]);
    assert_eq!(
        ok(&api, &["create", "cronjob", "c1", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"]).trim(),
        "cronjob.batch/c1 created"
    );
    let cj = json_of(&api, &["get", "cj", "c1", "-o", "json"]);
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(
        (cj["spec"]["successfulJobsHistoryLimit"].as_i64(), cj["spec"]["failedJobsHistoryLimit"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    let cjs = ok(&api, &["get", "cronjobs"]);
    assert_eq!(header(&cjs), ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]);
    assert_eq!(row(&cjs, "c1")[1..6], ["*/5 * * * *", "<none>", "False", "0", "<none>"]);
    let bad_cron = kubectl(&api, &["create", "cronjob", "c2", "--image=busybox", "--schedule=bogus"]);
    assert_eq!(
        bad_cron.stderr.trim(),
        r#"error: failed to create cronjob: CronJob.batch "c2" is invalid: spec.schedule: Invalid value: "bogus": expected exactly 5 fields, found 1: bogus"#
    );
    let (code, bad) = post(
        &api,
        "/apis/batch/v1/namespaces/default/jobs",
        r#"{"metadata":{"name":"always"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#,
    );
    assert_eq!(code, 422, "{bad}");
    assert_eq!(
        bad["message"],
        r#"Job.batch "always" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#
    );
    assert_eq!((bad["details"]["group"].as_str(), bad["details"]["kind"].as_str()), (Some("batch"), Some("Job")));

    // Services: cluster IPs and node ports allocated once, released on delete.
    assert_eq!(ok(&api, &["create", "service", "clusterip", "web", "--tcp=80:8080"]).trim(), "service/web created");
    let s = json_of(&api, &["get", "svc", "web", "-o", "json"]);
    let ip = s["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.0.0.") && ip != "10.0.0.1", "{s}");
    assert_eq!(s["spec"]["clusterIPs"], serde_json::json!([ip]));
    assert_eq!(s["spec"]["ipFamilies"], serde_json::json!(["IPv4"]));
    for (f, v) in [
        ("type", "ClusterIP"),
        ("sessionAffinity", "None"),
        ("ipFamilyPolicy", "SingleStack"),
        ("internalTrafficPolicy", "Cluster"),
    ] {
        assert_eq!(s["spec"][f], v, "{f}: {s}");
    }
    assert_eq!(
        s["spec"]["ports"][0],
        serde_json::json!({"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080})
    );
    let r = row(&ok(&api, &["get", "svc", "-o", "wide"]), "web");
    assert_eq!([&r[1], &r[2], &r[3], &r[4], &r[6]], ["ClusterIP", ip.as_str(), "<none>", "80/TCP", "app=web"]);
    assert!(ok(&api, &["get", "ipaddresses", "-o", "name"]).contains(&format!("ipaddress.networking.k8s.io/{ip}\n")));
    ok(&api, &["create", "service", "nodeport", "np", "--tcp=80:80"]);
    let port = json_of(&api, &["get", "svc", "np", "-o", "json"])["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port), "{port}");
    assert_eq!(row(&ok(&api, &["get", "svc", "np"]), "np")[4], format!("80:{port}/TCP"));
    let taken = kubectl(&api, &["create", "service", "nodeport", "np2", "--tcp=80:80", &format!("--node-port={port}")]);
    assert_eq!(
        taken.stderr.trim(),
        format!(
            r#"error: failed to create NodePort service: Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated"#
        )
    );
    // A type change allocates node ports, and changing back gives them up.
    ok(&api, &["patch", "svc", "web", "-p", r#"{"spec":{"type":"NodePort"}}"#]);
    let web_port =
        json_of(&api, &["get", "svc", "web", "-o", "json"])["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&web_port) && web_port != port, "{web_port}");
    ok(&api, &["patch", "svc", "web", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    let back = json_of(&api, &["get", "svc", "web", "-o", "json"]);
    assert!(
        back["spec"]["ports"][0].get("nodePort").is_none() && back["spec"].get("externalTrafficPolicy").is_none(),
        "{back}"
    );
    let moved_ip = kubectl(&api, &["patch", "svc", "web", "-p", r#"{"spec":{"clusterIP":"10.0.0.99"}}"#]);
    assert_eq!(
        moved_ip.stderr.trim(),
        r#"The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "10.0.0.99": may not change once set"#
    );
    ok(&api, &["create", "service", "nodeport", "reuse", "--tcp=81:81", &format!("--node-port={web_port}")]);
    ok(&api, &["delete", "svc", "np", "web", "reuse"]);
    // Deleting a namespace gives back what its services held.
    ok(&api, &["create", "ns", "scratch"]);
    ok(&api, &["create", "service", "nodeport", "held", "-n", "scratch", "--tcp=80:80", "--node-port=30001"]);
    ok(&api, &["delete", "ns", "scratch"]);
    ok(&api, &["create", "service", "nodeport", "again", "--tcp=80:80", "--node-port=30001"]);
    ok(&api, &["delete", "svc", "again"]);
    assert!(!ok(&api, &["get", "ipaddresses", "-o", "name"]).contains(&ip));
    ok(&api, &["create", "service", "nodeport", "np2", "--tcp=80:80", &format!("--node-port={port}")]);
    let out_of_range = kubectl(&api, &["create", "service", "clusterip", "out", "--clusterip=10.1.0.5", "--tcp=80"]);
    assert_eq!(
        out_of_range.stderr.trim(),
        r#"error: failed to create ClusterIP service: Service "out" is invalid: spec.clusterIPs: Invalid value: []string{"10.1.0.5"}: failed to allocate IP 10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/24"#
    );
    let bad_name = kubectl(&api, &["create", "service", "clusterip", "Web", "--tcp=80"]);
    assert_eq!(
        bad_name.stderr.trim(),
        r#"error: failed to create ClusterIP service: Service "Web" is invalid: metadata.name: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#
    );
    assert_eq!(kubectl(&api, &["get", "svc", "Web"]).code, 1);

    // Pods: kubectl run, defaults, wide columns, binding and field selectors.
    assert_eq!(ok(&api, &["run", "p1", "--image=busybox", "--", "sleep", "3600"]).trim(), "pod/p1 created");
    ok(&api, &["run", "p2", "--image=busybox:1.36"]);
    let p = json_of(&api, &["get", "pod", "p1", "-o", "json"]);
    for (f, v) in [
        ("restartPolicy", serde_json::json!("Always")),
        ("dnsPolicy", serde_json::json!("ClusterFirst")),
        ("terminationGracePeriodSeconds", serde_json::json!(30)),
        ("schedulerName", serde_json::json!("default-scheduler")),
        ("enableServiceLinks", serde_json::json!(true)),
        ("securityContext", serde_json::json!({})),
    ] {
        assert_eq!(p["spec"][f], v, "{f}: {p}");
    }
    let c = &p["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(p["status"], serde_json::json!({"phase": "Pending", "qosClass": "BestEffort"}));
    let p2 = json_of(&api, &["get", "pod", "p2", "-o", "json"]);
    assert_eq!(p2["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    let pods = ok(&api, &["get", "pods", "-o", "wide"]);
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    );
    let r = row(&pods, "p1");
    assert_eq!(
        [&r[1], &r[2], &r[3], &r[5], &r[6], &r[7], &r[8]],
        ["0/1", "Pending", "0", "<none>", "<none>", "<none>", "<none>"]
    );
    let binding =
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"n1"}}"#;
    let (code, out) = post(&api, "/api/v1/namespaces/default/pods/p1/binding", binding);
    assert_eq!(code, 201, "{out}");
    let (code, out) = post(&api, "/api/v1/namespaces/default/pods/p1/binding", binding);
    assert_eq!(code, 409, "{out}");
    assert_eq!(
        out["message"],
        r#"Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node "n1""#
    );
    let unknown = kubectl(&api, &["get", "pods", "--field-selector", "spec.foo=x"]);
    assert_eq!(
        unknown.stderr.trim(),
        r#"Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.foo=x": field label not supported: spec.foo"#
    );
    let unknown = kubectl(&api, &["get", "deploy", "--field-selector", "spec.foo=x"]);
    assert_eq!(
        unknown.stderr.trim(),
        r#"Error from server (BadRequest): Unable to find "apps/v1, Resource=deployments" that match label selector "", field selector "spec.foo=x": "spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace""#
    );

    // kubectl debug adds an ephemeral container through pods/ephemeralcontainers.
    ok(&api, &["debug", "p1", "--image=busybox:1.36", "--container=dbg", "--", "sleep", "1"]);
    let eph = json_of(&api, &["get", "pod", "p1", "-o", "json"]);
    let dbg = &eph["spec"]["ephemeralContainers"][0];
    assert_eq!((dbg["name"].as_str(), dbg["image"].as_str()), (Some("dbg"), Some("busybox:1.36")));
    assert_eq!(dbg["terminationMessagePolicy"], "File");
    let clash = kubectl(&api, &["debug", "p1", "--image=busybox", "--container=p1"]);
    assert!(
        clash.stderr.contains(r#"The Pod "p1" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "p1""#),
        "{}",
        clash.stderr
    );

    // The legacy bindings collection binds the pod its Binding names.
    ok(&api, &["run", "p5", "--image=busybox"]);
    let (code, out) = post(&api, "/api/v1/namespaces/default/bindings", &binding.replace("p1", "p5"));
    assert_eq!(code, 201, "{out}");
    assert_eq!(ok(&api, &["get", "pod", "p5", "-o", "jsonpath={.spec.nodeName}"]), "n1");
    ok(&api, &["delete", "pod", "p5", "--grace-period=0", "--force"]);
    assert_eq!(ok(&api, &["get", "pods", "--field-selector", "spec.nodeName=n1", "-o", "name"]), "pod/p1\n");
    assert_eq!(ok(&api, &["get", "pods", "--field-selector", "spec.nodeName=", "-o", "name"]), "pod/p2\n");
    assert_eq!(
        ok(&api, &["get", "pods", "--field-selector", "status.phase=Pending,spec.nodeName!=n1", "-o", "name"]),
        "pod/p2\n"
    );
    assert_eq!(row(&ok(&api, &["get", "pods", "-o", "wide"]), "p1")[6], "n1");
    let respec = kubectl(&api, &["patch", "pod", "p1", "-p", r#"{"spec":{"restartPolicy":"Never"}}"#]);
    assert!(
        respec.stderr.starts_with(r#"The Pod "p1" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"#),
        "{}",
        respec.stderr
    );
    ok(&api, &["set", "image", "pod/p1", "p1=busybox:1.37"]);
    assert_eq!(ok(&api, &["get", "pod", "p1", "-o", "jsonpath={.spec.containers[0].image}"]), "busybox:1.37");
    let (code, out) = post(
        &api,
        "/api/v1/namespaces/default/pods",
        r#"{"metadata":{"name":"noimg"},"spec":{"containers":[{"name":"c"}]}}"#,
    );
    assert_eq!(code, 422);
    assert_eq!(out["message"], r#"Pod "noimg" is invalid: spec.containers[0].image: Required value"#);
    assert_eq!(
        kubectl(&api, &["get", "pod", "noimg"]).stderr.trim(),
        r#"Error from server (NotFound): pods "noimg" not found"#
    );

    // Graceful deletion: a bound pod stays Terminating for its grace period (until its
    // kubelet confirms, or a forced delete); an unscheduled one goes at once.
    ok(&api, &["run", "p3", "--image=busybox"]);
    let (code, out) = post(&api, "/api/v1/namespaces/default/pods/p3/binding", &binding.replace("p1", "p3"));
    assert_eq!(code, 201, "{out}");
    assert_eq!(ok(&api, &["delete", "pod", "p3", "--wait=false"]).trim(), r#"pod "p3" deleted"#);
    let p3 = json_of(&api, &["get", "pod", "p3", "-o", "json"]);
    assert_eq!(p3["metadata"]["deletionGracePeriodSeconds"], 30, "{p3}");
    assert!(p3["metadata"]["deletionTimestamp"].is_string(), "{p3}");
    assert_eq!(row(&ok(&api, &["get", "pods"]), "p3")[2], "Terminating");
    ok(&api, &["label", "pod", "p3", "still=here"]);
    assert_eq!(ok(&api, &["get", "pod", "p3", "-o", "jsonpath={.metadata.labels.still}"]), "here");
    let forced = kubectl(&api, &["delete", "pod", "p3", "--grace-period=0", "--force"]);
    assert_eq!(forced.stdout.trim(), r#"pod "p3" force deleted"#, "{}", forced.stderr);
    assert_eq!(kubectl(&api, &["get", "pod", "p3"]).code, 1);
    ok(&api, &["run", "p4", "--image=busybox"]);
    assert_eq!(ok(&api, &["delete", "pod", "p4"]).trim(), r#"pod "p4" deleted"#);
    assert_eq!(kubectl(&api, &["get", "pod", "p4"]).code, 1);

    // Evictions respect the PodDisruptionBudget selecting the pod (kubectl create pdb
    // is another protobuf generator).
    ok(&api, &["run", "db", "--image=busybox", "--labels=app=db"]);
    assert_eq!(
        ok(&api, &["create", "pdb", "dbpdb", "--selector=app=db", "--min-available=1"]).trim(),
        "poddisruptionbudget.policy/dbpdb created"
    );
    let pdbs = ok(&api, &["get", "pdb"]);
    assert_eq!(header(&pdbs), ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]);
    assert_eq!(row(&pdbs, "dbpdb")[1..4], ["1", "N/A", "0"]);
    let eviction = r#"{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"db"}}"#;
    let (code, out) = post(&api, "/api/v1/namespaces/default/pods/db/eviction", eviction);
    assert_eq!(code, 429, "{out}");
    assert_eq!(out["reason"], "TooManyRequests");
    assert_eq!(out["message"], "Cannot evict pod as it would violate the pod's disruption budget.");
    assert_eq!(out["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert_eq!(ok(&api, &["get", "pod", "db", "-o", "name"]), "pod/db\n");
    ok(
        &api,
        &[
            "patch",
            "pdb",
            "dbpdb",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"disruptionsAllowed":1,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1}}"#,
        ],
    );
    let (code, out) = post(&api, "/api/v1/namespaces/default/pods/db/eviction", eviction);
    assert_eq!(code, 201, "{out}");
    assert_eq!(kubectl(&api, &["get", "pod", "db"]).code, 1);
    let pdb = json_of(&api, &["get", "pdb", "dbpdb", "-o", "json"]);
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);
    assert!(pdb["status"]["disruptedPods"]["db"].is_string(), "{pdb}");

    // Nodes (status kept on create, as the kubelet registers them) and events.
    let node = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"node-role.kubernetes.io/control-plane":""}},
        "status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"192.168.1.5"}],
        "nodeInfo":{"kubeletVersion":"v1.33.0","osImage":"Debian GNU/Linux 13","kernelVersion":"6.12.0","containerRuntimeVersion":"containerd://1.7.24",
        "architecture":"amd64","bootID":"","machineID":"","operatingSystem":"linux","systemUUID":"","kubeProxyVersion":""}}}"#;
    let (code, out) = post(&api, "/api/v1/nodes", node);
    assert_eq!(code, 201, "{out}");
    let nodes = ok(&api, &["get", "nodes", "-o", "wide"]);
    assert_eq!(
        header(&nodes),
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ]
    );
    let r = row(&nodes, "n1");
    assert_eq!(
        [&r[1], &r[2], &r[4], &r[5], &r[6], &r[7], &r[8], &r[9]],
        [
            "Ready",
            "control-plane",
            "v1.33.0",
            "192.168.1.5",
            "<none>",
            "Debian GNU/Linux 13",
            "6.12.0",
            "containerd://1.7.24"
        ]
    );
    assert_eq!(ok(&api, &["cordon", "n1"]).trim(), "node/n1 cordoned");
    assert_eq!(row(&ok(&api, &["get", "nodes"]), "n1")[1], "Ready,SchedulingDisabled");
    // Taints have no patch strategy: removing one replaces the list.
    assert_eq!(ok(&api, &["taint", "node", "n1", "a=b:NoSchedule"]).trim(), "node/n1 tainted");
    ok(&api, &["taint", "node", "n1", "c=d:NoExecute"]);
    assert_eq!(ok(&api, &["taint", "node", "n1", "a-"]).trim(), "node/n1 untainted");
    let taints = json_of(&api, &["get", "node", "n1", "-o", "jsonpath={.spec.taints}"]);
    assert_eq!(taints, serde_json::json!([{"effect": "NoExecute", "key": "c", "value": "d"}]));
    let event = r#"{"metadata":{"name":"p1.1"},"involvedObject":{"kind":"Pod","namespace":"default","name":"p1"},
        "reason":"Scheduled","message":"Successfully assigned default/p1 to n1","type":"Normal","source":{"component":"default-scheduler"},"count":1}"#;
    let (code, out) = post(&api, "/api/v1/namespaces/default/events", event);
    assert_eq!(code, 201, "{out}");
    let events = ok(&api, &["get", "events", "--field-selector", "involvedObject.name=p1"]);
    assert_eq!(header(&events), ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    assert!(events.contains("Normal   Scheduled   pod/p1   Successfully assigned default/p1 to n1"), "{events}");
    assert!(ok(&api, &["get", "events", "--field-selector", "involvedObject.name=p2"]).is_empty());
    // events.k8s.io/v1 serves the same objects under its own field names.
    let e = json_of(&api, &["get", "--raw", "/apis/events.k8s.io/v1/namespaces/default/events/p1.1"]);
    assert_eq!(
        (e["apiVersion"].as_str(), e["note"].as_str()),
        (Some("events.k8s.io/v1"), Some("Successfully assigned default/p1 to n1"))
    );
    assert_eq!(
        (e["regarding"]["name"].as_str(), e["deprecatedSource"]["component"].as_str()),
        (Some("p1"), Some("default-scheduler"))
    );
    let (code, out) = post(
        &api,
        "/apis/events.k8s.io/v1/namespaces/default/events",
        r#"{"metadata":{"name":"e2"},"eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"example.com/c","reportingInstance":"i","action":"Check","reason":"Checked","type":"Normal","note":"via events.k8s.io","regarding":{"kind":"Pod","namespace":"default","name":"p2"}}"#,
    );
    assert_eq!(code, 201, "{out}");
    let core = json_of(&api, &["get", "--raw", "/api/v1/namespaces/default/events/e2"]);
    assert_eq!(
        (core["message"].as_str(), core["involvedObject"]["name"].as_str()),
        (Some("via events.k8s.io"), Some("p2"))
    );
    let (code, out) =
        post(&api, "/apis/events.k8s.io/v1/namespaces/default/events", r#"{"metadata":{"name":"e3"},"type":"Normal"}"#);
    assert_eq!(code, 422);
    assert_eq!(
        out["message"],
        r#"Event.events.k8s.io "e3" is invalid: [eventTime: Required value, reportingController: Required value, reportingInstance: Required value, action: Required value, reason: Required value]"#
    );

    // Priority classes and quotas from their generators.
    assert_eq!(
        ok(&api, &["create", "priorityclass", "high", "--value=1000", "--description=important"]).trim(),
        "priorityclass.scheduling.k8s.io/high created"
    );
    let pc = json_of(&api, &["get", "pc", "high", "-o", "json"]);
    assert_eq!((pc["value"].as_i64(), pc["preemptionPolicy"].as_str()), (Some(1000), Some("PreemptLowerPriority")));
    let reserved = kubectl(&api, &["create", "priorityclass", "system-foo", "--value=10"]);
    assert_eq!(
        reserved.stderr.trim(),
        r#"error: failed to create priorityclass: PriorityClass.scheduling.k8s.io "system-foo" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"#
    );
    assert_eq!(
        ok(&api, &["create", "quota", "q1", "--hard=cpu=1,memory=1G,pods=2"]).trim(),
        "resourcequota/q1 created"
    );
    let quotas = ok(&api, &["get", "quota"]);
    assert_eq!(header(&quotas), ["NAME", "AGE", "REQUEST", "LIMIT"]);
    assert_eq!(row(&quotas, "q1")[2], "cpu: 0/1, memory: 0/1G, pods: 0/2");

    // Certificate signing requests: approval through its subresource.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "alice");
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    use base64::Engine;
    let request = base64::engine::general_purpose::STANDARD.encode(pem);
    let csr = format!(
        r#"{{"metadata":{{"name":"alice"}},"spec":{{"request":"{request}","signerName":"kubernetes.io/kube-apiserver-client","expirationSeconds":86400,"usages":["client auth"]}}}}"#
    );
    let (code, out) = post(&api, "/apis/certificates.k8s.io/v1/certificatesigningrequests", &csr);
    assert_eq!(code, 201, "{out}");
    let csrs = ok(&api, &["get", "csr"]);
    assert_eq!(header(&csrs), ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]);
    assert!(
        csrs.contains("kubernetes.io/kube-apiserver-client") && csrs.contains("24h") && csrs.contains("Pending"),
        "{csrs}"
    );
    assert_eq!(
        ok(&api, &["certificate", "approve", "alice"]).trim(),
        "certificatesigningrequest.certificates.k8s.io/alice approved"
    );
    let approved = json_of(&api, &["get", "csr", "alice", "-o", "json"]);
    assert_eq!(approved["status"]["conditions"][0]["type"], "Approved");
    assert_eq!(approved["status"]["conditions"][0]["reason"], "KubectlApprove");
    assert!(ok(&api, &["get", "csr"]).contains("Approved"));
    let (code, out) = post(
        &api,
        "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        r#"{"metadata":{"name":"bad"},"spec":{"request":"aGVsbG8=","signerName":"example.com/x","usages":["client auth"]}}"#,
    );
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        out["message"],
        r#"CertificateSigningRequest.certificates.k8s.io "bad" is invalid: spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type must be CERTIFICATE REQUEST"#
    );

    // Ingresses (kubectl create ingress, protobuf), load balancers and external names.
    assert_eq!(
        ok(
            &api,
            &[
                "create",
                "ingress",
                "simple",
                "--rule=foo.com/bar=svc1:8080",
                "--rule=x.com/*=svc2:http,tls=cert",
                "--class=nginx"
            ]
        )
        .trim(),
        "ingress.networking.k8s.io/simple created"
    );
    let ing = json_of(&api, &["get", "ingress", "simple", "-o", "json"]);
    let path = &ing["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!((path["path"].as_str(), path["pathType"].as_str()), (Some("/bar"), Some("Exact")));
    assert_eq!(path["backend"]["service"], serde_json::json!({"name": "svc1", "port": {"number": 8080}}));
    let ings = ok(&api, &["get", "ingress"]);
    assert_eq!(header(&ings), ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]);
    assert_eq!(row(&ings, "simple")[1..4], ["nginx", "foo.com,x.com", "80, 443"]);
    ok(&api, &["create", "service", "loadbalancer", "lb", "--tcp=80:80"]);
    ok(&api, &["create", "service", "externalname", "ext", "--external-name=example.com"]);
    let svcs = ok(&api, &["get", "svc"]);
    let lb = row(&svcs, "lb");
    assert_eq!((lb[1].as_str(), lb[3].as_str()), ("LoadBalancer", "<pending>"));
    assert!(lb[4].starts_with("80:3") && lb[4].ends_with("/TCP"), "{lb:?}");
    assert_eq!(row(&svcs, "ext")[1..5], ["ExternalName", "<none>", "example.com", "<none>"]);

    // Workloads applied from manifests: statefulset and daemonset defaults and columns.
    let manifest = api.kubeconfig.with_file_name("workloads.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n      - {name: db, image: postgres:17}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels: {app: agent}\n  template:\n    metadata:\n      labels: {app: agent}\n    spec:\n      nodeSelector: {kubernetes.io/os: linux}\n      containers:\n      - {name: agent, image: busybox}\n",
    )
    .unwrap();
    let applied = ok(&api, &["apply", "--validate=false", "-f", manifest.to_str().unwrap()]);
    assert_eq!(applied, "statefulset.apps/db created\ndaemonset.apps/agent created\n");
    let sts = json_of(&api, &["get", "sts", "db", "-o", "json"]);
    assert_eq!(
        (sts["spec"]["replicas"].as_i64(), sts["spec"]["podManagementPolicy"].as_str()),
        (Some(1), Some("OrderedReady"))
    );
    assert_eq!(
        sts["spec"]["updateStrategy"],
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    let sts_wide = ok(&api, &["get", "sts", "-o", "wide"]);
    assert_eq!(header(&sts_wide), ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]);
    assert_eq!(row(&sts_wide, "db")[1], "0/1");
    let ds = json_of(&api, &["get", "ds", "agent", "-o", "json"]);
    assert_eq!(ds["spec"]["updateStrategy"]["rollingUpdate"], serde_json::json!({"maxUnavailable": 1, "maxSurge": 0}));
    let dss = ok(&api, &["get", "ds"]);
    assert_eq!(
        header(&dss),
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"]
    );
    assert_eq!(row(&dss, "agent")[1..7], ["0", "0", "0", "0", "0", "kubernetes.io/os=linux"]);
    assert_eq!(ok(&api, &["scale", "sts", "db", "--replicas=3"]).trim(), "statefulset.apps/db scaled");
    assert_eq!(ok(&api, &["get", "sts", "db", "-o", "jsonpath={.spec.replicas}"]), "3");
    let sts_change = kubectl(&api, &["patch", "sts", "db", "-p", r#"{"spec":{"serviceName":"other"}}"#]);
    assert!(
        sts_change.stderr.contains("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"),
        "{}",
        sts_change.stderr
    );

    // Namespaces' finalize and status subresources change only their own part.
    ok(&api, &["create", "ns", "fin"]);
    ok(&api, &["label", "ns", "fin", "team=a"]);
    let put =
        |path: &str, body: &str| api.curl(&[path, "-X", "PUT", "-H", "Content-Type: application/json", "--data", body]);
    let (code, out) = put(
        "/api/v1/namespaces/fin/finalize",
        r#"{"metadata":{"name":"fin"},"spec":{"finalizers":["kubernetes","example.com/ctl"]},"status":{"phase":"Terminating"}}"#,
    );
    assert_eq!(code, 200, "{out}");
    let (code, out) = put(
        "/api/v1/namespaces/fin/status",
        r#"{"metadata":{"name":"fin"},"spec":{"finalizers":[]},"status":{"phase":"Active","conditions":[{"type":"NamespaceContentRemaining","status":"False"}]}}"#,
    );
    assert_eq!(code, 200, "{out}");
    let fin = json_of(&api, &["get", "ns", "fin", "-o", "json"]);
    assert_eq!(fin["spec"]["finalizers"], serde_json::json!(["kubernetes", "example.com/ctl"]));
    assert_eq!(
        (fin["status"]["phase"].as_str(), fin["metadata"]["labels"]["team"].as_str()),
        (Some("Active"), Some("a"))
    );
    assert_eq!(fin["status"]["conditions"][0]["type"], "NamespaceContentRemaining");

    // Labels and annotations are checked on every resource, as upstream's ObjectMeta rules.
    let manifest = api.kubeconfig.with_file_name("bad-labels.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\n  labels:\n    app: b c\n",
    )
    .unwrap();
    let bad_label = kubectl(&api, &["apply", "--validate=false", "-f", manifest.to_str().unwrap()]);
    assert!(
        bad_label.stderr.contains(r#"ConfigMap "labelled" is invalid: metadata.labels: Invalid value: "b c": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#),
        "{}",
        bad_label.stderr
    );
    let (code, out) = post(
        &api,
        "/apis/apps/v1/namespaces/default/deployments",
        r#"{"metadata":{"name":"x","annotations":{"bad key":"v"}}}"#,
    );
    assert_eq!(code, 422, "{out}");
    assert!(
        out["message"].as_str().unwrap().starts_with(r#"Deployment.apps "x" is invalid: [metadata.annotations: Invalid value: "bad key": name part must consist of"#),
        "{out}"
    );
    assert_eq!(kubectl(&api, &["get", "cm", "labelled"]).code, 1);

    // `kubectl get all` lists the "all" category.
    let all = ok(&api, &["get", "all", "-o", "name"]);
    for want in ["pod/p1", "service/kubernetes", "deployment.apps/web", "job.batch/j1", "cronjob.batch/c1"] {
        assert!(all.lines().any(|l| l == want), "{want} missing:\n{all}");
    }
    assert!(!all.contains("priorityclass"), "{all}");
}

#[test]
fn groups_on_store() {
    groups_scenario(Backend::Store);
}

#[test]
fn groups_on_etcd() {
    groups_scenario(Backend::Etcd);
}
