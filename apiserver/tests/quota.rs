//! ResourceQuota scopes and updates through the real kubectl (v1.32), on our store and on
//! a real etcd: scoped quotas count only the pods they select, scope validation answers
//! in upstream's words, and updates that grow usage (a service turned NodePort) are
//! charged. Texts are upstream's (kube-apiserver v1.33).

mod common;

use common::{ApiServer, Backend, Etcd, kubectl, kubectl_fails as fails, kubectl_ok as ok};
use serde_json::{Value, json};

fn used(api: &ApiServer, quota: &str) -> Value {
    let text = ok(api, &["get", "quota", quota, "-n", "q", "-o", "json"]);
    let v: Value = serde_json::from_str(&text).expect("json");
    v["status"]["used"].clone()
}

fn create(api: &ApiServer, manifest: &Value) -> common::Output {
    let path = api.kubeconfig.with_file_name(format!(
        "m-{}.json",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos()
    ));
    std::fs::write(&path, manifest.to_string()).expect("manifest");
    let mut out = kubectl(api, &["create", "-f", path.to_str().expect("utf-8")]);
    // Drop the file name kubectl puts in front of the server's message.
    if let Some(i) = out.stderr.find("error when creating \"")
        && let Some(j) = out.stderr[i..].find("\": ")
    {
        out.stderr = format!("{}{}", &out.stderr[..i], &out.stderr[i + j + 3..]);
    }
    out
}

fn pod(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c", "image": "busybox", "resources": spec["resources"].clone()}]);
    spec.as_object_mut().expect("object").remove("resources");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "q"}, "spec": spec})
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    ok(&api, &["create", "namespace", "q"]);

    // Scope validation.
    fails(
        &api,
        &["create", "quota", "bad", "-n", "q", "--hard=pods=1", "--scopes=BestEffort,NotBestEffort"],
        r#"error: failed to create quota: ResourceQuota "bad" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes"#,
    );
    fails(
        &api,
        &["create", "quota", "bad", "-n", "q", "--hard=configmaps=1", "--scopes=BestEffort"],
        r#"error: failed to create quota: ResourceQuota "bad" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource"#,
    );
    assert_eq!(kubectl(&api, &["get", "quota", "bad", "-n", "q"]).code, 1, "nothing stored");

    // BestEffort and NotBestEffort quotas count disjoint pods.
    ok(&api, &["create", "quota", "be", "-n", "q", "--hard=pods=1", "--scopes=BestEffort"]);
    ok(&api, &["create", "quota", "nbe", "-n", "q", "--hard=pods=1,requests.cpu=1", "--scopes=NotBestEffort"]);
    assert_eq!(create(&api, &pod("be1", json!({}))).code, 0);
    let out = create(&api, &pod("be2", json!({})));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): pods "be2" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"#
    );
    let burst = json!({"resources": {"requests": {"cpu": "500m"}}});
    let out = create(&api, &pod("nb1", burst.clone()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(used(&api, "be"), json!({"pods": "1"}));
    assert_eq!(used(&api, "nbe"), json!({"pods": "1", "requests.cpu": "500m"}));
    let out = create(&api, &pod("nb2", burst));
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): pods "nb2" is forbidden: exceeded quota: nbe, requested: pods=1, used: pods=1, limited: pods=1"#
    );
    // Deleting a pod gives back only what its own quota counted.
    ok(&api, &["delete", "pod", "be1", "-n", "q", "--grace-period=0", "--force"]);
    assert_eq!(used(&api, "be"), json!({"pods": "0"}));
    assert_eq!(used(&api, "nbe"), json!({"pods": "1", "requests.cpu": "500m"}));

    // A scopeSelector on priority classes.
    ok(&api, &["create", "priorityclass", "high", "--value=1000"]);
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "high", "namespace": "q"},
        "spec": {"hard": {"pods": "0"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
    assert_eq!(create(&api, &quota).code, 0);
    let mut hp = pod("hp", json!({}));
    hp["spec"]["priorityClassName"] = json!("high");
    let out = create(&api, &hp);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): pods "hp" is forbidden: exceeded quota: high, requested: pods=1, used: pods=0, limited: pods=0"#
    );
    assert_eq!(kubectl(&api, &["get", "pod", "hp", "-n", "q"]).code, 1, "nothing stored");
    let bad = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "sel", "namespace": "q"},
        "spec": {"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In"}]}}});
    let out = create(&api, &bad);
    assert!(out.stderr.trim().ends_with(
        "ResourceQuota \"sel\" is invalid: spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"
    ), "{}", out.stderr);

    // Updates: a ClusterIP service turned NodePort is charged its node ports.
    ok(&api, &["create", "quota", "np", "-n", "q", "--hard=services.nodeports=1"]);
    ok(&api, &["create", "service", "clusterip", "s", "-n", "q", "--tcp=80,81"]);
    fails(
        &api,
        &["patch", "service", "s", "-n", "q", "-p", r#"{"spec":{"type":"NodePort"}}"#],
        r#"Error from server (Forbidden): services "s" is forbidden: exceeded quota: np, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"#,
    );
    let svc: Value = serde_json::from_str(&ok(&api, &["get", "service", "s", "-n", "q", "-o", "json"])).expect("json");
    assert_eq!(svc["spec"]["type"], "ClusterIP", "the refused update changed nothing");
    ok(&api, &["create", "service", "clusterip", "one", "-n", "q", "--tcp=80"]);
    ok(&api, &["patch", "service", "one", "-n", "q", "-p", r#"{"spec":{"type":"NodePort"}}"#]);
    assert_eq!(used(&api, "np"), json!({"services.nodeports": "1"}));
    // Turning it back gives the node port back.
    ok(
        &api,
        &[
            "patch",
            "service",
            "one",
            "-n",
            "q",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]"#,
        ],
    );
    assert_eq!(used(&api, "np"), json!({"services.nodeports": "0"}));
}

#[test]
fn quota_on_store() {
    scenario(Backend::Store);
}

#[test]
fn quota_on_etcd() {
    scenario(Backend::Etcd);
}
