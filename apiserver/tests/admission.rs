//! Admission plugins through the real kubectl (v1.32), on our store and on a real etcd:
//! ServiceAccount (token volume, missing account), DefaultTolerationSeconds, Priority,
//! LimitRanger, ResourceQuota (counts, compute, `kubectl describe quota`), PodSecurity
//! (enforce and warn), and the plugin flags. Texts are upstream's (kube-apiserver v1.33).

mod common;

use common::{ApiServer, Backend, Etcd, kubectl, kubectl_fails as fails, kubectl_ok as ok, kubectl_with};
use serde_json::{Value, json};

fn json_of(api: &ApiServer, args: &[&str]) -> Value {
    let text = ok(api, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

fn apply(api: &ApiServer, dir: &std::path::Path, name: &str, manifest: &Value) {
    let path = dir.join(name);
    std::fs::write(&path, manifest.to_string()).expect("manifest");
    ok(api, &["apply", "-f", path.to_str().expect("utf-8 path")]);
}

fn namespace_with_account(api: &ApiServer, ns: &str) {
    ok(api, &["create", "namespace", ns]);
    ok(api, &["create", "serviceaccount", "default", "-n", ns]);
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    // Every default plugin (NamespaceLifecycle is on by default anyway).
    let api = ApiServer::start_with_flags(&etcd, &["--enable-admission-plugins=NamespaceLifecycle"]);
    let dir = tempfile::tempdir().expect("tempdir");

    // ServiceAccount: the default account, the token volume in every container.
    ok(&api, &["create", "namespace", "adm"]);
    fails(
        &api,
        &["run", "early", "--image=nginx", "-n", "adm"],
        r#"Error from server (Forbidden): pods "early" is forbidden: error looking up service account adm/default: serviceaccount "default" not found"#,
    );
    ok(&api, &["create", "serviceaccount", "default", "-n", "adm"]);
    assert_eq!(ok(&api, &["run", "p", "--image=nginx", "-n", "adm"]).trim(), "pod/p created");
    let p = json_of(&api, &["get", "pod", "p", "-n", "adm", "-o", "json"]);
    let spec = &p["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    let volume = &spec["volumes"][0];
    let vname = volume["name"].as_str().expect("a token volume");
    assert!(vname.starts_with("kube-api-access-") && vname.len() == "kube-api-access-".len() + 5, "{vname}");
    assert_eq!(
        volume["projected"],
        json!({
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        })
    );
    assert_eq!(
        spec["containers"][0]["volumeMounts"],
        json!([{"name": vname, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    );
    // DefaultTolerationSeconds and Priority (no default class: 0).
    assert_eq!(
        spec["tolerations"],
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
    );
    assert_eq!((&spec["priority"], &spec["preemptionPolicy"]), (&json!(0), &json!("PreemptLowerPriority")));
    fails(
        &api,
        &["run", "q", "--image=nginx", "-n", "adm", r#"--overrides={"spec":{"serviceAccountName":"robot"}}"#],
        r#"Error from server (Forbidden): pods "q" is forbidden: error looking up service account adm/robot: serviceaccount "robot" not found"#,
    );
    assert!(kubectl(&api, &["get", "pod", "q", "-n", "adm"]).code == 1, "a refused pod is not stored");
    apply(
        &api,
        dir.path(),
        "robot.json",
        &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "adm"},
                "automountServiceAccountToken": false, "imagePullSecrets": [{"name": "regcred"}]}),
    );
    ok(&api, &["run", "q", "--image=nginx", "-n", "adm", r#"--overrides={"spec":{"serviceAccountName":"robot"}}"#]);
    let q = json_of(&api, &["get", "pod", "q", "-n", "adm", "-o", "json"]);
    assert!(q["spec"]["volumes"].is_null() && q["spec"]["containers"][0]["volumeMounts"].is_null(), "{q}");
    assert_eq!(q["spec"]["imagePullSecrets"], json!([{"name": "regcred"}]));

    // Priority: classes, system classes, unknown names.
    ok(&api, &["create", "priorityclass", "high", "--value=1000", "--preemption-policy=Never"]);
    ok(&api, &["run", "hi", "--image=nginx", "-n", "adm", r#"--overrides={"spec":{"priorityClassName":"high"}}"#]);
    let hi = json_of(&api, &["get", "pod", "hi", "-n", "adm", "-o", "json"]);
    assert_eq!((&hi["spec"]["priority"], &hi["spec"]["preemptionPolicy"]), (&json!(1000), &json!("Never")));
    let crit = r#"--overrides={"spec":{"priorityClassName":"system-cluster-critical"}}"#;
    ok(&api, &["run", "crit", "--image=nginx", "-n", "adm", crit]);
    assert_eq!(ok(&api, &["get", "pod", "crit", "-n", "adm", "-o", "jsonpath={.spec.priority}"]), "2000000000");
    fails(
        &api,
        &["run", "lost", "--image=nginx", "-n", "adm", r#"--overrides={"spec":{"priorityClassName":"nope"}}"#],
        r#"Error from server (Forbidden): pods "lost" is forbidden: no PriorityClass with name nope was found"#,
    );
    fails(
        &api,
        &[
            "run",
            "pinned",
            "--image=nginx",
            "-n",
            "adm",
            r#"--overrides={"spec":{"priorityClassName":"high","priority":5}}"#,
        ],
        r#"Error from server (Forbidden): pods "pinned" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"#,
    );

    // LimitRanger: defaults (annotated) and the max.
    namespace_with_account(&api, "lr");
    apply(
        &api,
        dir.path(),
        "limits.json",
        &json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": "lr"},
                "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                                     "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"}}]}}),
    );
    ok(&api, &["run", "d", "--image=nginx", "-n", "lr"]);
    let d = json_of(&api, &["get", "pod", "d", "-n", "lr", "-o", "json"]);
    assert_eq!(
        d["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}})
    );
    assert_eq!(
        d["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container d; cpu, memory limit for container d"
    );
    assert_eq!(d["status"]["qosClass"], "Burstable");
    let big =
        r#"--overrides={"spec":{"containers":[{"name":"big","image":"nginx","resources":{"limits":{"cpu":"2"}}}]}}"#;
    fails(
        &api,
        &["run", "big", "--image=nginx", "-n", "lr", big],
        r#"Error from server (Forbidden): pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2"#,
    );

    // ResourceQuota: object counts, then compute resources.
    ok(&api, &["create", "namespace", "quota"]);
    ok(&api, &["create", "quota", "cm", "--hard=configmaps=2,count/secrets=1", "-n", "quota"]);
    ok(&api, &["create", "configmap", "c1", "-n", "quota"]);
    ok(&api, &["create", "configmap", "c2", "-n", "quota"]);
    let third = kubectl(&api, &["create", "configmap", "c3", "-n", "quota"]);
    assert_eq!(third.code, 1);
    assert_eq!(
        third.stderr.trim(),
        r#"error: failed to create configmap: configmaps "c3" is forbidden: exceeded quota: cm, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"#
    );
    assert_eq!(kubectl(&api, &["get", "configmap", "c3", "-n", "quota"]).code, 1, "nothing stored");
    ok(&api, &["create", "secret", "generic", "s1", "-n", "quota"]);
    assert_eq!(kubectl(&api, &["create", "secret", "generic", "s2", "-n", "quota"]).code, 1);
    let describe = ok(&api, &["describe", "quota", "cm", "-n", "quota"]);
    let rows: Vec<Vec<&str>> = describe.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec!["configmaps", "2", "2"]), "{describe}");
    assert!(rows.contains(&vec!["count/secrets", "1", "1"]), "{describe}");
    // Deleting gives the usage back (there is no quota controller to recompute it).
    ok(&api, &["delete", "configmap", "c1", "-n", "quota"]);
    ok(&api, &["create", "configmap", "c3", "-n", "quota"]);
    let cm = json_of(&api, &["get", "quota", "cm", "-n", "quota", "-o", "json"]);
    assert_eq!(cm["status"]["used"], json!({"configmaps": "2", "count/secrets": "1"}));
    // A dry run is checked but not counted.
    ok(&api, &["create", "quota", "dry", "--hard=count/services=1", "-n", "quota"]);
    ok(&api, &["create", "service", "clusterip", "a", "--tcp=80", "-n", "quota", "--dry-run=server"]);
    ok(&api, &["create", "service", "clusterip", "a", "--tcp=80", "-n", "quota"]);
    let dry = json_of(&api, &["get", "quota", "dry", "-n", "quota", "-o", "json"]);
    assert_eq!(dry["status"]["used"], json!({"count/services": "1"}));

    namespace_with_account(&api, "compute");
    ok(&api, &["create", "quota", "compute", "--hard=requests.cpu=1,limits.memory=1Gi,pods=5", "-n", "compute"]);
    fails(
        &api,
        &["run", "bare", "--image=nginx", "-n", "compute"],
        r#"Error from server (Forbidden): pods "bare" is forbidden: failed quota: compute: must specify limits.memory,requests.cpu"#,
    );
    let sized = |name: &str| {
        format!(
            r#"--overrides={{"spec":{{"containers":[{{"name":"{name}","image":"nginx","resources":{{"requests":{{"cpu":"600m"}},"limits":{{"memory":"256Mi"}}}}}}]}}}}"#
        )
    };
    ok(&api, &["run", "w1", "--image=nginx", "-n", "compute", &sized("w1")]);
    fails(
        &api,
        &["run", "w2", "--image=nginx", "-n", "compute", &sized("w2")],
        r#"Error from server (Forbidden): pods "w2" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1"#,
    );
    let used = json_of(&api, &["get", "quota", "compute", "-n", "compute", "-o", "json"]);
    assert_eq!(used["status"]["used"], json!({"limits.memory": "256Mi", "pods": "1", "requests.cpu": "600m"}));

    // TaintNodesByCondition, DefaultStorageClass, StorageObjectInUseProtection.
    apply(&api, dir.path(), "node.json", &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}));
    let node = json_of(&api, &["get", "node", "n1", "-o", "json"]);
    assert_eq!(node["spec"]["taints"], json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]));
    apply(
        &api,
        dir.path(),
        "sc.json",
        &json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "example.com/disk",
                "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}),
    );
    apply(
        &api,
        dir.path(),
        "pvc.json",
        &json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "adm"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    let pvc = json_of(&api, &["get", "pvc", "data", "-n", "adm", "-o", "json"]);
    assert_eq!(pvc["spec"]["storageClassName"], "fast");
    assert_eq!(pvc["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));

    // PodSecurity: enforce refuses, warn answers with a warning.
    namespace_with_account(&api, "secure");
    ok(&api, &["label", "namespace", "secure", "pod-security.kubernetes.io/enforce=restricted"]);
    fails(
        &api,
        &["run", "priv", "--image=nginx", "-n", "secure", "--privileged"],
        r#"Error from server (Forbidden): pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged (container "priv" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "priv" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "priv" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "priv" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "priv" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#,
    );
    let good = r#"--overrides={"spec":{"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"good","image":"nginx","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}"#;
    ok(&api, &["run", "good", "--image=nginx", "-n", "secure", good]);
    // Tightening a namespace warns about the pods already there.
    let tighten = kubectl(&api, &["label", "namespace", "adm", "pod-security.kubernetes.io/enforce=baseline"]);
    assert_eq!(tighten.code, 0, "{}", tighten.stderr);
    assert_eq!(tighten.stderr.trim(), "");
    let tighten =
        kubectl(&api, &["label", "--overwrite", "namespace", "adm", "pod-security.kubernetes.io/enforce=restricted"]);
    assert_eq!(tighten.code, 0, "{}", tighten.stderr);
    assert_eq!(
        tighten.stderr.trim(),
        "Warning: existing pods in namespace \"adm\" violate the new PodSecurity enforce level \"restricted:latest\"\nWarning: crit (and 3 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile"
    );
    let dep = kubectl(&api, &["create", "deployment", "web", "--image=nginx", "-n", "secure"]);
    assert_eq!(dep.code, 0, "a workload is warned about, not refused: {}", dep.stderr);
    assert_eq!(
        dep.stderr.trim(),
        r#"Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
    );
    namespace_with_account(&api, "warned");
    ok(&api, &["label", "namespace", "warned", "pod-security.kubernetes.io/warn=baseline"]);
    let w = kubectl(&api, &["run", "w", "--image=nginx", "-n", "warned", "--privileged"]);
    assert_eq!(w.code, 0, "{}", w.stderr);
    assert_eq!(
        w.stderr.trim(),
        r#"Warning: would violate PodSecurity "baseline:latest": privileged (container "w" must not set securityContext.privileged=true)"#
    );
}

#[test]
fn admission_on_store() {
    scenario(Backend::Store);
}

#[test]
fn admission_on_etcd() {
    scenario(Backend::Etcd);
}

/// The plugin flags: unknown names stop the server with upstream's words; a disabled
/// plugin does nothing.
#[test]
fn admission_flags() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apiserver"))
        .args(["--etcd-servers", "http://127.0.0.1:1", "--enable-admission-plugins=NodeRestriction,Bogus"])
        .output()
        .expect("apiserver runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"enable-admission-plugins plugin "Bogus" is unknown"#), "{err}");

    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start_with_flags(
        &etcd,
        &["--disable-admission-plugins=ServiceAccount,DefaultTolerationSeconds,Priority"],
    );
    ok(&api, &["run", "plain", "--image=nginx"]);
    let p = json_of(&api, &["get", "pod", "plain", "-o", "json"]);
    for f in ["serviceAccountName", "tolerations", "volumes", "priority"] {
        assert!(p["spec"][f].is_null(), "{f} set with its plugin disabled: {p}");
    }
}

/// NodeRestriction (off by default): a kubelet writes its own Node and mirror pods only.
#[test]
fn node_restriction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = component_base::pki::PkiOptions {
        service_ip: "10.0.0.1".parse().unwrap(),
        advertise_address: None,
        cluster_domain: "cluster.local".into(),
    };
    let pki = component_base::pki::ClusterPki::ensure(&dir.path().join("pki"), &opts).expect("pki");
    pki.ensure_client("node-n1", "system:node:n1", &["system:nodes"]).expect("a kubelet's certificate");
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start_secure(
        &etcd,
        &pki,
        &["--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction"],
    );
    let node_config = dir.path().join("node.kubeconfig");
    let text = pki.kubeconfig(&api.url, "node-n1", "system:node:n1").expect("kubelet kubeconfig");
    std::fs::write(&node_config, text).expect("kubeconfig");
    let as_node = |args: &[&str]| kubectl_with(&node_config, args);
    ok(&api, &["create", "serviceaccount", "default"]);
    let write = |name: &str, manifest: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, manifest.to_string()).expect("manifest");
        path.display().to_string()
    };
    let own = write("n1.json", json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}));
    let out = as_node(&["create", "-f", &own]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let other = write("n2.json", json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}));
    let out = as_node(&["create", "-f", &other]);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): error when creating "PATH": nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2""#
            .replace("PATH", &other)
    );
    let pod = |name: &str, mirror: bool| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}});
        if mirror {
            p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "hash"});
        }
        write(&format!("{name}.json"), p)
    };
    let plain = pod("plain", false);
    let out = as_node(&["create", "-f", &plain]);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): error when creating "PATH": pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods"#
            .replace("PATH", &plain)
    );
    let mirror = pod("mirror", true);
    let out = as_node(&["create", "-f", &mirror]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The admin is not a node: the plugin leaves it alone.
    ok(&api, &["create", "-f", &other]);
}
