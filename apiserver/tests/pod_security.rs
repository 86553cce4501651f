//! PodSecurity through the real kubectl (v1.32), on our store and on a real etcd: defaults
//! and exemptions from `--admission-control-config-file`, label validation, version
//! pinning, audit-only namespaces, workload warnings, and the warnings of a tightened
//! namespace. Texts are upstream's (kube-apiserver v1.33).

mod common;

use common::{ApiServer, Backend, Etcd, kubectl};
use serde_json::{Value, json};

fn ok(api: &ApiServer, args: &[&str]) -> common::Output {
    let out = kubectl(api, args);
    assert_eq!(out.code, 0, "kubectl {args:?} failed:\n{}\n{}", out.stderr, api.proc.log_text());
    out
}

/// `kubectl apply` of one manifest; returns kubectl's output.
fn apply(api: &ApiServer, manifest: &Value) -> common::Output {
    let path = api.kubeconfig.with_file_name(format!("m-{}.json", rand_suffix()));
    std::fs::write(&path, manifest.to_string()).expect("manifest");
    kubectl(api, &["apply", "-f", path.to_str().expect("utf-8 path")])
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos()
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn pod(ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// A pod that passes restricted but for `extra` merged into its pod security context.
fn restricted_pod(ns: &str, name: &str, pod_sc: Value) -> Value {
    let mut sc = json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    for (k, v) in pod_sc.as_object().expect("object") {
        sc[k] = v.clone();
    }
    pod(
        ns,
        name,
        json!({"securityContext": sc, "containers": [{"name": "c", "image": "nginx",
            "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}),
    )
}

fn privileged_pod(ns: &str, name: &str) -> Value {
    pod(ns, name, json!({"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}))
}

fn exists(api: &ApiServer, args: &[&str]) -> bool {
    kubectl(api, args).code == 0
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("psa.yaml"),
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  warn: baseline\nexemptions:\n  namespaces: [exempt]\n  runtimeClasses: [kata]\n",
    )
    .expect("psa config");
    let admission = dir.path().join("admission.yaml");
    std::fs::write(
        &admission,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: psa.yaml\n",
    )
    .expect("admission config");
    let flag = format!("--admission-control-config-file={}", admission.display());
    let api = ApiServer::start_with_flags(&etcd, &[&flag]);

    // The configured default warn level applies to unlabeled namespaces.
    ok(&api, &["create", "namespace", "plain"]);
    let out = apply(&api, &privileged_pod("plain", "p"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        r#"Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#
    );

    // Invalid labels are refused on create (422), and nothing is stored.
    let out = apply(&api, &namespace("bad", json!({"pod-security.kubernetes.io/enforce": "strict"})));
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        r#"The Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#
    );
    assert!(!exists(&api, &["get", "namespace", "bad"]));
    let out = kubectl(&api, &["label", "namespace", "plain", "pod-security.kubernetes.io/warn-version=1.30"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        r#"The Namespace "plain" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.x""#
    );

    // Version pinning: runAsUser=0 is a restricted violation from v1.23 only.
    let pinned = json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.22"});
    assert_eq!(apply(&api, &namespace("pinned", pinned)).code, 0);
    let out = apply(&api, &restricted_pod("pinned", "root", json!({"runAsUser": 0})));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr.trim(), "", "warn follows the pinned enforce level");
    ok(&api, &["label", "--overwrite", "namespace", "pinned", "pod-security.kubernetes.io/enforce-version=latest"]);
    let out = apply(&api, &restricted_pod("pinned", "root2", json!({"runAsUser": 0})));
    assert_eq!(out.code, 1);
    assert!(out.stderr.trim().starts_with("Error from server (Forbidden): error when creating"), "{}", out.stderr);
    assert!(out.stderr.trim().ends_with(
        r#"pods "root2" is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 (pod must not set runAsUser=0)"#
    ));
    assert!(!exists(&api, &["get", "pod", "root2", "-n", "pinned"]), "a refused pod is not stored");

    // Exempt namespaces and runtime classes.
    assert_eq!(apply(&api, &namespace("exempt", json!({"pod-security.kubernetes.io/enforce": "restricted"}))).code, 0);
    let out = apply(&api, &privileged_pod("exempt", "x"));
    assert_eq!((out.code, out.stderr.trim()), (0, ""), "exempt namespace");
    assert_eq!(apply(&api, &namespace("strict", json!({"pod-security.kubernetes.io/enforce": "baseline"}))).code, 0);
    let mut kata = privileged_pod("strict", "kata");
    kata["spec"]["runtimeClassName"] = json!("kata");
    let out = apply(&api, &kata);
    assert_eq!((out.code, out.stderr.trim()), (0, ""), "exempt runtime class");
    let out = apply(&api, &privileged_pod("strict", "priv"));
    assert_eq!(out.code, 1);
    assert!(out.stderr.trim().ends_with(
        r#"pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#
    ), "{}", out.stderr);

    // Ephemeral containers are evaluated too: a privileged debug container is refused.
    let out = apply(&api, &pod("strict", "target", json!({"containers": [{"name": "c", "image": "nginx"}]})));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out =
        kubectl(&api, &["debug", "target", "-n", "strict", "--image=busybox", "--container=dbg", "--profile=sysadmin"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(r#"pods "target" is forbidden: violates PodSecurity "baseline:latest": privileged (container "dbg" must not set securityContext.privileged=true)"#),
        "{}",
        out.stderr
    );
    let out =
        ok(&api, &["debug", "target", "-n", "strict", "--image=busybox", "--container=dbg2", "--profile=baseline"]);
    assert_eq!(out.code, 0);
    let target =
        kubectl(&api, &["get", "pod", "target", "-n", "strict", "-o", "jsonpath={.spec.ephemeralContainers[*].name}"]);
    assert_eq!(target.stdout.trim(), "dbg2", "only the allowed debug container was added");

    // Audit only: no warning, not refused (the violation is an audit annotation).
    let audited =
        json!({"pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "privileged"});
    assert_eq!(apply(&api, &namespace("audited", audited)).code, 0);
    let out = apply(&api, &privileged_pod("audited", "a"));
    assert_eq!((out.code, out.stderr.trim()), (0, ""));

    // Workloads are warned about at the warn level (which follows enforce), never refused.
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj", "namespace": "strict"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "hostPID": true, "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 80}]}]}}}}}});
    let out = apply(&api, &cron);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        r#"Warning: would violate PodSecurity "baseline:latest": host namespaces (hostPID=true), hostPort (container "c" uses hostPort 80)"#
    );
    let template = json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t", "namespace": "strict"},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}}});
    let out = apply(&api, &template);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        r#"Warning: would violate PodSecurity "baseline:latest": non-default capabilities (container "c" must not include "NET_ADMIN" in securityContext.capabilities.add)"#
    );

    // Tightening enforce lists the existing violating pods, grouped by reasons.
    ok(&api, &["create", "namespace", "grow"]);
    for name in ["b", "a"] {
        assert_eq!(apply(&api, &privileged_pod("grow", name)).code, 0);
    }
    let mut hostnet = pod("grow", "h", json!({"hostNetwork": true, "containers": [{"name": "c", "image": "nginx"}]}));
    hostnet["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    assert_eq!(apply(&api, &hostnet).code, 0);
    let out = ok(&api, &["label", "namespace", "grow", "pod-security.kubernetes.io/enforce=baseline"]);
    assert_eq!(
        out.stderr.trim(),
        "Warning: existing pods in namespace \"grow\" violate the new PodSecurity enforce level \"baseline:latest\"\nWarning: a (and 1 other pod): privileged\nWarning: h: host namespaces, privileged"
    );
    // Relaxing it warns about nothing.
    let out = ok(&api, &["label", "--overwrite", "namespace", "grow", "pod-security.kubernetes.io/enforce=privileged"]);
    assert_eq!(out.stderr.trim(), "");
}

#[test]
fn pod_security_on_store() {
    scenario(Backend::Store);
}

#[test]
fn pod_security_on_etcd() {
    scenario(Backend::Etcd);
}

/// A bad PodSecurityConfiguration stops the server before it binds a port.
#[test]
fn bad_configuration_is_refused_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let admission = dir.path().join("admission.yaml");
    std::fs::write(
        &admission,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  configuration:\n    apiVersion: pod-security.admission.config.k8s.io/v1\n    kind: PodSecurityConfiguration\n    defaults:\n      enforce: strict\n",
    )
    .expect("admission config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .args(["--etcd-servers", "http://127.0.0.1:1", "--admission-control-config-file"])
        .arg(&admission)
        .output()
        .expect("apiserver runs");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            r#"PodSecurity: defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted"#
        ),
        "{err}"
    );
}
