//! Server-side apply and field ownership through the real kubectl (v1.32), on our store
//! and on a real etcd: `kubectl apply --server-side` creates, updates and prunes what a
//! manager stops applying; other writers' fields are recorded in `managedFields` and an
//! apply that would change them fails with upstream's conflict message unless
//! `--force-conflicts`; associative lists merge by key across managers.

mod common;

use common::{ApiServer, Backend, Etcd, kubectl, kubectl_ok as ok};
use serde_json::Value;

fn get(api: &ApiServer, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    serde_json::from_str(&ok(api, &args)).unwrap()
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| (e["manager"].as_str().unwrap().to_string(), e["operation"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };

    let v1 =
        file("v1.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n  b: \"2\"\n");
    assert!(ok(&api, &["apply", "--server-side", "-f", &v1]).contains("configmap/cfg serverside-applied"));
    let cm = get(&api, &["cm", "cfg"]);
    assert_eq!(managers(&cm), [("kubectl".to_string(), "Apply".to_string())]);
    assert_eq!(cm["metadata"]["managedFields"][0]["fieldsV1"], serde_json::json!({"f:data": {"f:a": {}, "f:b": {}}}));

    // Applying without b removes b (nobody else owns it).
    let v2 = file("v2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n");
    ok(&api, &["apply", "--server-side", "-f", &v2]);
    assert_eq!(get(&api, &["cm", "cfg"])["data"], serde_json::json!({"a": "1"}));

    // Another writer takes a; applying a different a conflicts, forcing takes it back.
    ok(&api, &["patch", "cm", "cfg", "--type", "merge", "-p", r#"{"data":{"a":"edited","c":"3"}}"#]);
    let cm = get(&api, &["cm", "cfg"]);
    assert!(managers(&cm).contains(&("kubectl-patch".to_string(), "Update".to_string())), "{cm}");
    let v3 = file("v3.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"mine\"\n");
    let conflict = kubectl(&api, &["apply", "--server-side", "-f", &v3]);
    assert_ne!(conflict.code, 0);
    assert!(
        conflict.stderr.contains(r#"Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a"#),
        "{}",
        conflict.stderr
    );
    assert_eq!(get(&api, &["cm", "cfg"])["data"]["a"], "edited", "a conflict changes nothing");
    ok(&api, &["apply", "--server-side", "--force-conflicts", "-f", &v3]);
    let cm = get(&api, &["cm", "cfg"]);
    assert_eq!(cm["data"], serde_json::json!({"a": "mine", "c": "3"}), "c is still kubectl-patch's");

    // Two managers own different containers of one deployment.
    let d1 = file(
        "d1.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: busybox:1\n",
    );
    ok(&api, &["apply", "--server-side", "--field-manager=team-a", "-f", &d1]);
    let d2 = file(
        "d2.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        image: busybox:2\n",
    );
    ok(&api, &["apply", "--server-side", "--field-manager=team-b", "-f", &d2]);
    let d = get(&api, &["deployment", "web"]);
    let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "sidecar"]);
    let d2b = file(
        "d2b.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: busybox:9\n",
    );
    let c = kubectl(&api, &["apply", "--server-side", "--field-manager=team-b", "-f", &d2b]);
    assert!(
        c.stderr.contains(r#"conflict with "team-a" using apps/v1: .spec.template.spec.containers[name="main"].image"#),
        "{}",
        c.stderr
    );

    // List and map types as upstream's: a label selector is owned whole (atomic), ports
    // are keyed by port and protocol (the protocol's default standing in when left out).
    let svc = file(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: keyed\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    name: http\n  - port: 53\n    protocol: UDP\n    name: dns\n",
    );
    ok(&api, &["apply", "--server-side", "-f", &svc]);
    let fields = &get(&api, &["svc", "keyed"])["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert_eq!(
        fields["f:ports"],
        serde_json::json!({
            "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}},
            "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}},
        }),
        "{fields}"
    );
    let dep = file(
        "dsel.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sel\nspec:\n  selector:\n    matchLabels:\n      app: sel\n  template:\n    metadata:\n      labels:\n        app: sel\n    spec:\n      containers:\n      - name: main\n        image: busybox\n",
    );
    ok(&api, &["apply", "--server-side", "-f", &dep]);
    let fields = &get(&api, &["deployment", "sel"])["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"];
    assert_eq!(fields["f:selector"], serde_json::json!({}), "{fields}");

    // Bad requests: an apply without a field manager, force on another patch type.
    let (code, body) = api.curl(&[
        "/api/v1/namespaces/default/configmaps/cfg",
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/apply-patch+yaml",
        "--data-binary",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n",
    ]);
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains(
            r#"PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"#
        ),
        "{body}"
    );
    let (code, body) = api.curl(&[
        "/api/v1/namespaces/default/configmaps/cfg?force=true",
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/merge-patch+json",
        "--data-binary",
        "{}",
    ]);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("force: Forbidden: may not be specified for non-apply patch"), "{body}");
}

#[test]
fn server_side_apply_on_our_store() {
    scenario(Backend::Store);
}

#[test]
fn server_side_apply_on_etcd() {
    scenario(Backend::Etcd);
}
