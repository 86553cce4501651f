//! Authentication and authorization end to end with the real kubectl (v1.32), on a
//! cluster PKI, with `--authorization-mode Node,RBAC`: the admin client certificate,
//! another x509 user, a `--token-auth-file` user, service-account tokens from
//! `kubectl create token`, `kubectl auth whoami` / `auth can-i` (with `--as`), RBAC
//! denying then allowing through a Role and RoleBinding, impersonation checks, and
//! upstream's 401 and 403 bodies. On our store and on a real etcd.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ApiServer, Backend, Etcd, Output, kubectl, kubectl_with};
use component_base::pki::{ClusterPki, PkiOptions};
use serde_json::{Value, json};

/// What kubectl v1.32 prints on a 401 from kube-apiserver (after its discovery
/// retries, logged as `memcache.go ... couldn't get current server API group list`).
const LOGIN_ERROR: &str =
    "error: You must be logged in to the server (the server has asked for the client to provide credentials)";

fn ok(out: Output, what: &str) -> String {
    assert_eq!(out.code, 0, "{what} failed:\n{}\n{}", out.stdout, out.stderr);
    out.stdout
}

fn pki(dir: &Path) -> ClusterPki {
    let opts = PkiOptions {
        service_ip: "10.0.0.1".parse().unwrap(),
        advertise_address: None,
        cluster_domain: "cluster.local".into(),
    };
    let pki = ClusterPki::ensure(dir, &opts).expect("pki");
    pki.ensure_client("alice", "alice", &["devs"]).expect("alice's certificate");
    pki.ensure_client("node-n1", "system:node:n1", &["system:nodes"]).expect("a kubelet's certificate");
    pki
}

/// A kubeconfig for `user`: the CA, and either a client certificate or a token.
fn kubeconfig(dir: &Path, api: &ApiServer, pki: &ClusterPki, name: &str, user_yaml: &str) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    let path = sub.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n{user_yaml}contexts:\n- name: local\n  context:\n    cluster: local\n    user: {name}\n    namespace: default\ncurrent-context: local\n",
            api.url,
            pki.path("ca.crt").display()
        ),
    )
    .unwrap();
    path
}

/// curl without the admin identity (anonymous unless `opts` add credentials).
fn curl_as(api: &ApiServer, pki: &ClusterPki, path: &str, opts: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(pki.path("ca.crt"))
        .args(opts)
        .arg(format!("{}{path}", api.url))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(Value::String(body.into())))
}

fn etcdctl_get(etcd: &Etcd, key: &str) -> Value {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.endpoint, "get", key, "--print-value-only"])
        .output()
        .expect("etcdctl (Debian etcd-client) must be installed");
    assert!(out.status.success(), "etcdctl get: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{key}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn whoami(kc: &Path) -> Vec<(String, String)> {
    whoami_text(&ok(kubectl_with(kc, &["auth", "whoami"]), "auth whoami"))
}

fn field(rows: &[(String, String)], k: &str) -> String {
    rows.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn scenario(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "tok-bob,bob,uid-bob,\"qa\"\n").unwrap();
    let etcd = Etcd::start(backend);
    let api = ApiServer::start_secure(
        &etcd,
        &pki,
        &["--authorization-mode", "Node,RBAC", "--token-auth-file", tokens.to_str().unwrap()],
    );
    let admin = api.kubeconfig.clone();
    let p = |f: &str| pki.path(f).display().to_string();
    let alice = kubeconfig(
        dir.path(),
        &api,
        &pki,
        "alice",
        &format!("    client-certificate: {}\n    client-key: {}\n", p("alice.crt"), p("alice.key")),
    );
    let bob = kubeconfig(dir.path(), &api, &pki, "bob", "    token: tok-bob\n");
    let wrong = kubeconfig(dir.path(), &api, &pki, "wrong", "    token: not-a-token\n");

    // The admin certificate (system:masters), the server verified against the CA.
    assert!(!std::fs::read_to_string(&admin).unwrap().contains("insecure"));
    let ns = ok(kubectl(&api, &["get", "ns"]), "get ns");
    assert!(ns.contains("kube-system"), "{ns}");
    let me = whoami(&admin);
    assert_eq!(field(&me, "Username"), "kubernetes-admin");
    assert_eq!(field(&me, "Groups"), "[system:masters system:authenticated]");
    let id = field(&me, "Extra: authentication.kubernetes.io/credential-id");
    assert!(id.starts_with("[X509SHA256=") && id.len() == "[X509SHA256=]".len() + 64, "{me:?}");
    assert_eq!(ok(kubectl(&api, &["auth", "can-i", "*", "*"]), "can-i").trim(), "yes");

    // Another x509 user and a token-file user.
    let me = whoami(&alice);
    assert_eq!((field(&me, "Username"), field(&me, "Groups")), ("alice".into(), "[devs system:authenticated]".into()));
    let me = whoami(&bob);
    assert_eq!(field(&me, "Username"), "bob");
    assert_eq!(field(&me, "UID"), "uid-bob");
    assert_eq!(field(&me, "Groups"), "[qa system:authenticated]");

    // RBAC: bob may not list or create configmaps, and nothing is stored.
    let denied = kubectl_with(&bob, &["get", "configmaps"]);
    assert_eq!(denied.code, 1);
    assert_eq!(
        denied.stderr.trim(),
        r#"Error from server (Forbidden): configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    let denied = kubectl_with(&bob, &["create", "configmap", "sneaky", "--from-literal=a=b"]);
    assert_eq!(denied.code, 1);
    assert!(
        denied.stderr.contains(
            r#"configmaps is forbidden: User "bob" cannot create resource "configmaps" in API group "" in the namespace "default""#
        ),
        "{}",
        denied.stderr
    );
    assert_eq!(api.curl(&["/api/v1/namespaces/default/configmaps/sneaky"]).0, 404);
    let can = kubectl_with(&bob, &["auth", "can-i", "list", "configmaps"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"));
    let can = kubectl(&api, &["auth", "can-i", "list", "configmaps", "--as", "bob"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"));

    // A Role and RoleBinding allow it (stored in upstream's key layout).
    assert_eq!(
        ok(kubectl(&api, &["create", "role", "cm-reader", "--verb=get,list,watch", "--resource=configmaps"]), "role")
            .trim(),
        "role.rbac.authorization.k8s.io/cm-reader created"
    );
    ok(kubectl(&api, &["create", "rolebinding", "bob-reads", "--role=cm-reader", "--user=bob"]), "rolebinding");
    let stored = etcdctl_get(&etcd, "/registry/rolebindings/default/bob-reads");
    assert_eq!(
        stored["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"})
    );
    assert_eq!(etcdctl_get(&etcd, "/registry/roles/default/cm-reader")["rules"][0]["resources"], json!(["configmaps"]));
    let wide = ok(kubectl(&api, &["get", "rolebinding", "bob-reads", "-o", "wide"]), "get rolebinding");
    let row: Vec<&str> = wide.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[1], row[3]), ("bob-reads", "Role/cm-reader", "bob"), "{wide}");
    ok(kubectl(&api, &["create", "configmap", "shared", "--from-literal=a=b"]), "create cm");
    let got = ok(kubectl_with(&bob, &["get", "configmaps", "-o", "name"]), "bob lists configmaps");
    assert!(got.contains("configmap/shared"), "{got}");
    assert_eq!(ok(kubectl_with(&bob, &["auth", "can-i", "list", "configmaps"]), "can-i").trim(), "yes");
    assert_eq!(ok(kubectl(&api, &["auth", "can-i", "get", "configmaps", "--as", "bob"]), "can-i --as").trim(), "yes");
    let can = kubectl_with(&bob, &["auth", "can-i", "delete", "configmaps"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"));
    let can = kubectl_with(&bob, &["auth", "can-i", "list", "configmaps", "-n", "kube-system"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"), "a RoleBinding only covers its namespace");
    let list = ok(kubectl_with(&bob, &["auth", "can-i", "--list"]), "can-i --list");
    assert!(list.lines().any(|l| l.starts_with("configmaps ") && l.contains("[get list watch]")), "{list}");
    // A binding to a missing role: upstream's reason after the message.
    ok(kubectl(&api, &["create", "rolebinding", "dangling", "--role=nope", "--user=bob"]), "dangling binding");
    let denied = kubectl_with(&bob, &["delete", "configmap", "shared"]);
    assert!(
        denied.stderr.contains(
            r#"configmaps "shared" is forbidden: User "bob" cannot delete resource "configmaps" in API group "" in the namespace "default": RBAC: role.rbac.authorization.k8s.io "nope" not found"#
        ),
        "{}",
        denied.stderr
    );

    // Service-account tokens: TokenRequest, then the token authenticates.
    ok(kubectl(&api, &["create", "serviceaccount", "builder"]), "create sa");
    let token = ok(kubectl(&api, &["create", "token", "builder"]), "create token").trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let sa = kubeconfig(dir.path(), &api, &pki, "builder", &format!("    token: {token}\n"));
    let me = whoami(&sa);
    assert_eq!(field(&me, "Username"), "system:serviceaccount:default:builder");
    assert_eq!(field(&me, "Groups"), "[system:serviceaccounts system:serviceaccounts:default system:authenticated]");
    assert!(field(&me, "Extra: authentication.kubernetes.io/credential-id").starts_with("[JTI="), "{me:?}");
    let denied = kubectl_with(&sa, &["get", "configmaps"]);
    assert!(
        denied.stderr.contains(r#"User "system:serviceaccount:default:builder" cannot list resource "configmaps""#),
        "{}",
        denied.stderr
    );
    // A ClusterRole and ClusterRoleBinding for the service account.
    ok(
        kubectl(&api, &["create", "clusterrole", "ns-reader", "--verb=get,list", "--resource=namespaces"]),
        "clusterrole",
    );
    let denied = kubectl_with(&sa, &["get", "namespaces"]);
    assert!(
        denied.stderr.contains(r#"cannot list resource "namespaces" in API group "" at the cluster scope"#),
        "{}",
        denied.stderr
    );
    ok(
        kubectl(
            &api,
            &[
                "create",
                "clusterrolebinding",
                "builder-ns",
                "--clusterrole=ns-reader",
                "--serviceaccount=default:builder",
            ],
        ),
        "clusterrolebinding",
    );
    assert!(ok(kubectl_with(&sa, &["get", "namespaces"]), "sa lists namespaces").contains("kube-system"));
    let wide = ok(kubectl(&api, &["get", "clusterrolebinding", "builder-ns", "-o", "wide"]), "crb wide");
    assert!(wide.lines().nth(1).unwrap().ends_with("default/builder"), "{wide}");
    assert!(wide.lines().nth(1).unwrap().contains("ClusterRole/ns-reader"), "{wide}");
    // TokenReview says the same.
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let (code, out) = api.curl(&[
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        &review.to_string(),
    ]);
    assert_eq!(code, 201, "{out}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["status"]["authenticated"], true);
    assert_eq!(out["status"]["user"]["username"], "system:serviceaccount:default:builder");
    // Too short a token: upstream's 422.
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/serviceaccounts/builder/token",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"spec":{"expirationSeconds":60}}"#,
    ]);
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["message"],
        r#"TokenRequest.authentication.k8s.io "builder" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"#
    );
    // Issuer discovery: readable by service accounts, with the token's key.
    let (code, jwks) = curl_as(&api, &pki, "/openid/v1/jwks", &["-H", &format!("Authorization: Bearer {token}")]);
    assert_eq!(code, 200, "{jwks}");
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    let (code, oidc) =
        curl_as(&api, &pki, "/.well-known/openid-configuration", &["-H", &format!("Authorization: Bearer {token}")]);
    assert_eq!((code, &oidc["issuer"]), (200, &json!("https://kubernetes.default.svc.cluster.local")));
    assert_eq!(curl_as(&api, &pki, "/openid/v1/jwks", &[]).0, 403, "not for anonymous");
    // A token bound to a secret dies with the secret.
    ok(kubectl(&api, &["create", "secret", "generic", "anchor", "--from-literal=a=b"]), "secret");
    let bound = ok(
        kubectl(
            &api,
            &["create", "token", "builder", "--bound-object-kind", "Secret", "--bound-object-name", "anchor"],
        ),
        "create bound token",
    )
    .trim()
    .to_string();
    let bound_kc = kubeconfig(dir.path(), &api, &pki, "bound", &format!("    token: {bound}\n"));
    assert_eq!(field(&whoami(&bound_kc), "Username"), "system:serviceaccount:default:builder");
    ok(kubectl(&api, &["delete", "secret", "anchor"]), "delete secret");
    let out = kubectl_with(&bound_kc, &["auth", "whoami"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let out =
        kubectl(&api, &["create", "token", "builder", "--bound-object-kind", "Secret", "--bound-object-name", "gone"]);
    assert_eq!(out.stderr.trim(), r#"error: failed to create token: secrets "gone" not found"#);

    // A legacy, secret-based token (as a token controller writes it) works while its
    // secret holds it.
    let uid = ok(kubectl(&api, &["get", "sa", "builder", "-o", "jsonpath={.metadata.uid}"]), "sa uid");
    let signer = apiserver::auth::serviceaccount::Signer::load(&pki.path("sa.key")).unwrap();
    let legacy = signer
        .sign(&json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/secret.name": "builder-token",
            "kubernetes.io/serviceaccount/service-account.name": "builder",
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "sub": "system:serviceaccount:default:builder",
        }))
        .unwrap();
    let secret = dir.path().join("legacy.json");
    std::fs::write(
        &secret,
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "builder-token", "annotations": {"kubernetes.io/service-account.name": "builder"}},
            "data": {"token": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &legacy)}})
        .to_string(),
    )
    .unwrap();
    ok(kubectl(&api, &["create", "--validate=false", "-f", secret.to_str().unwrap()]), "legacy token secret");
    let legacy_kc = kubeconfig(dir.path(), &api, &pki, "legacy", &format!("    token: {legacy}\n"));
    assert_eq!(field(&whoami(&legacy_kc), "Username"), "system:serviceaccount:default:builder");
    ok(kubectl(&api, &["delete", "secret", "builder-token"]), "delete legacy secret");
    assert_eq!(kubectl_with(&legacy_kc, &["auth", "whoami"]).code, 1);

    // A deleted service account's tokens stop working.
    ok(kubectl(&api, &["delete", "serviceaccount", "builder"]), "delete sa");
    let gone = kubectl_with(&sa, &["get", "configmaps"]);
    assert_eq!(gone.code, 1);
    // (Discovery is cached from before, so kubectl decodes the Status of the list call.)
    assert_eq!(gone.stderr.trim(), "error: You must be logged in to the server (Unauthorized)");

    // Wrong credentials: 401 with upstream's body; kubectl's message.
    let unauthorized = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401});
    let (code, body) = curl_as(&api, &pki, "/api/v1/namespaces", &["-H", "Authorization: Bearer not-a-token"]);
    assert_eq!((code, &body), (401, &unauthorized));
    let out = kubectl_with(&wrong, &["get", "ns"]);
    assert_eq!((out.code, out.stderr.trim().lines().last()), (1, Some(LOGIN_ERROR)), "{}", out.stderr);
    // A client certificate from another CA is refused the same way.
    let other = pki_other(&dir.path().join("other"));
    let (code, body) = curl_as(
        &api,
        &pki,
        "/api/v1/namespaces",
        &[
            "--cert",
            &other.path("admin.crt").display().to_string(),
            "--key",
            &other.path("admin.key").display().to_string(),
        ],
    );
    assert_eq!((code, &body), (401, &unauthorized));

    // The bootstrap policy: cluster-admin for system:masters, aggregated admin/edit/view.
    let crb = ok(kubectl(&api, &["get", "clusterrolebinding", "cluster-admin", "-o", "wide"]), "cluster-admin");
    assert!(
        crb.lines().nth(1).unwrap().contains("ClusterRole/cluster-admin") && crb.contains("system:masters"),
        "{crb}"
    );
    let view: Value =
        serde_json::from_str(&ok(kubectl(&api, &["get", "clusterrole", "view", "-o", "json"]), "view")).unwrap();
    assert_eq!(view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"], "true");
    assert!(
        view["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"].as_array().unwrap().contains(&json!("configmaps")))
    );
    // Binding edit in a namespace lets alice (group devs) write there, but not RBAC.
    ok(kubectl(&api, &["create", "namespace", "team"]), "ns");
    ok(
        kubectl(&api, &["create", "rolebinding", "devs-edit", "-n", "team", "--clusterrole=edit", "--group=devs"]),
        "rb",
    );
    ok(kubectl_with(&alice, &["create", "configmap", "c1", "-n", "team", "--from-literal=a=b"]), "alice creates");
    let can = kubectl_with(&alice, &["auth", "can-i", "create", "rolebindings", "-n", "team"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"), "edit does not grant RBAC writes");
    let can = kubectl_with(&alice, &["auth", "can-i", "create", "configmaps", "-n", "default"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"), "only in its namespace");

    // Escalation prevention: with admin in "team", alice may grant what she holds there,
    // nothing more.
    ok(
        kubectl(&api, &["create", "rolebinding", "alice-admin", "-n", "team", "--clusterrole=admin", "--user=alice"]),
        "rb",
    );
    ok(
        kubectl_with(&alice, &["create", "role", "cm-only", "-n", "team", "--verb=get", "--resource=configmaps"]),
        "alice creates a role she holds",
    );
    ok(
        kubectl_with(&alice, &["create", "rolebinding", "view-bob", "-n", "team", "--clusterrole=view", "--user=bob"]),
        "alice binds view",
    );
    let out =
        kubectl_with(&alice, &["create", "role", "too-much", "-n", "team", "--verb=get", "--resource=priorityclasses"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim().lines().filter(|l| !l.starts_with("Warning:")).collect::<Vec<_>>().join("\n"),
        "Error from server (Forbidden): roles.rbac.authorization.k8s.io \"too-much\" is forbidden: user \"alice\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"scheduling.k8s.io\"], Resources:[\"priorityclasses\"], Verbs:[\"get\"]}"
    );
    let out = kubectl_with(
        &alice,
        &["create", "rolebinding", "root", "-n", "team", "--clusterrole=cluster-admin", "--user=alice"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(r#"rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "alice""#)
            && out.stderr.contains(r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#),
        "{}",
        out.stderr
    );
    assert_eq!(api.curl(&["/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/root"]).0, 404);
    // An aggregation rule takes cluster-admin, even with the rights to create ClusterRoles.
    ok(
        kubectl(
            &api,
            &[
                "create",
                "clusterrole",
                "role-writer",
                "--verb=create",
                "--resource=clusterroles.rbac.authorization.k8s.io",
            ],
        ),
        "role-writer",
    );
    ok(
        kubectl(&api, &["create", "clusterrolebinding", "alice-roles", "--clusterrole=role-writer", "--user=alice"]),
        "crb",
    );
    let out = kubectl_with(
        &alice,
        &["create", "clusterrole", "sneaky", "--aggregation-rule=rbac.authorization.k8s.io/aggregate-to-admin=true"],
    );
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): clusterroles.rbac.authorization.k8s.io "sneaky" is forbidden: must have cluster-admin privileges to use the aggregationRule"#
    );

    // SubjectAccessReview and LocalSubjectAccessReview, as an admin asks them.
    let sar = |kind: &str, ns: &str, spec: Value| {
        let path = if kind == "LocalSubjectAccessReview" {
            format!("/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews")
        } else {
            "/apis/authorization.k8s.io/v1/subjectaccessreviews".to_string()
        };
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec});
        let (code, out) =
            api.curl(&[&path, "-X", "POST", "-H", "Content-Type: application/json", "--data", &body.to_string()]);
        (code, serde_json::from_str::<Value>(&out).unwrap())
    };
    let (code, out) = sar(
        "SubjectAccessReview",
        "",
        json!({"user": "bob", "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "configmaps"}}),
    );
    assert_eq!(code, 201, "{out}");
    assert_eq!(out["status"]["allowed"], true);
    assert_eq!(
        out["status"]["reason"],
        r#"RBAC: allowed by RoleBinding "bob-reads/default" of Role "cm-reader" to User "bob""#
    );
    let (_, out) = sar(
        "SubjectAccessReview",
        "",
        json!({"user": "bob", "resourceAttributes": {"namespace": "default", "verb": "delete", "resource": "configmaps"}}),
    );
    assert_eq!(out["status"]["allowed"], false);
    let (code, out) =
        sar("SubjectAccessReview", "", json!({"resourceAttributes": {"verb": "get", "resource": "pods"}}));
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        out["message"],
        r#"SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified"#
    );
    let (code, out) = sar(
        "LocalSubjectAccessReview",
        "team",
        json!({"user": "bob", "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "configmaps"}}),
    );
    assert_eq!(code, 422, "{out}");
    // Impersonating a service account gives it its groups.
    let me = whoami_text(&ok(
        kubectl(&api, &["auth", "whoami", "--as", "system:serviceaccount:team:robot"]),
        "whoami --as sa",
    ));
    assert_eq!(field(&me, "Groups"), "[system:serviceaccounts system:serviceaccounts:team system:authenticated]");

    // Revoking: the watch-fed RBAC cache drops the binding within moments.
    ok(kubectl(&api, &["delete", "rolebinding", "bob-reads"]), "delete rolebinding");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let (code, _) =
            curl_as(&api, &pki, "/api/v1/namespaces/default/configmaps", &["-H", "Authorization: Bearer tok-bob"]);
        if code == 403 {
            break;
        }
        assert_eq!(code, 200);
        assert!(std::time::Instant::now() < deadline, "bob still allowed 3 s after the binding was deleted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    // A CertificateSigningRequest records its requester; approving needs `approve` on
    // the signer beyond RBAC on the approval subresource.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "carol");
    let request = params.serialize_request(&key).unwrap().pem().unwrap();
    let csr = json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "carol"},
        "spec": {"request": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, request),
            "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"],
            "username": "someone-else", "groups": ["system:masters"]}});
    let csr_file = dir.path().join("csr.json");
    std::fs::write(&csr_file, csr.to_string()).unwrap();
    ok(kubectl(&api, &["create", "--validate=false", "-f", csr_file.to_str().unwrap()]), "create csr");
    let stored: Value =
        serde_json::from_str(&ok(kubectl(&api, &["get", "csr", "carol", "-o", "json"]), "get csr")).unwrap();
    assert_eq!(stored["spec"]["username"], "kubernetes-admin");
    assert_eq!(stored["spec"]["groups"], json!(["system:masters", "system:authenticated"]));
    ok(
        kubectl(
            &api,
            &[
                "create",
                "clusterrole",
                "csr-approver",
                "--verb=get,list,update",
                "--resource=certificatesigningrequests,certificatesigningrequests/approval",
            ],
        ),
        "csr-approver",
    );
    ok(
        kubectl(&api, &["create", "clusterrolebinding", "alice-csr", "--clusterrole=csr-approver", "--user=alice"]),
        "crb",
    );
    let out = kubectl_with(&alice, &["certificate", "approve", "carol"]);
    assert!(
        out.stderr.contains(r#"certificatesigningrequests.certificates.k8s.io "carol" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client""#),
        "{}",
        out.stderr
    );
    let signer_rule = dir.path().join("signer.json");
    std::fs::write(
        &signer_rule,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "client-signer-approver"},
            "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"],
                "resourceNames": ["kubernetes.io/*"]}]})
        .to_string(),
    )
    .unwrap();
    ok(kubectl(&api, &["create", "--validate=false", "-f", signer_rule.to_str().unwrap()]), "signer role");
    ok(
        kubectl(
            &api,
            &["create", "clusterrolebinding", "alice-signer", "--clusterrole=client-signer-approver", "--user=alice"],
        ),
        "crb",
    );
    ok(kubectl_with(&alice, &["certificate", "approve", "carol"]), "alice approves with the signer wildcard");
    // No client certificate for system:masters through the API.
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "mallory");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
    let request = params.serialize_request(&key).unwrap().pem().unwrap();
    let mut bad = csr.clone();
    bad["metadata"]["name"] = json!("mallory");
    bad["spec"]["request"] = json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, request));
    std::fs::write(&csr_file, bad.to_string()).unwrap();
    let out = kubectl(&api, &["create", "--validate=false", "-f", csr_file.to_str().unwrap()]);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): error when creating "CSR": certificatesigningrequests.certificates.k8s.io "mallory" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"#
            .replace("CSR", csr_file.to_str().unwrap())
    );

    // Invalid RBAC objects: upstream's 422, nothing stored.
    let (code, out) = api.curl(&[
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"bad"},"rules":[{"verbs":["get"],"nonResourceURLs":["/x"]}]}"#,
    ]);
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["message"],
        r#"Role.rbac.authorization.k8s.io "bad" is invalid: rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs"#
    );
    assert_eq!(api.curl(&["/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/bad"]).0, 404);

    // Anonymous: public info only.
    let (code, body) = curl_as(&api, &pki, "/api", &[]);
    assert_eq!(code, 403);
    assert_eq!(
        body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/api\"","reason":"Forbidden","code":403,"details":{}})
    );
    assert_eq!(curl_as(&api, &pki, "/version", &[]).0, 200);
    assert_eq!(curl_as(&api, &pki, "/readyz", &[]).0, 200);

    // Impersonation: refused without the permission, honoured for the admin.
    let out = kubectl_with(&bob, &["get", "configmaps", "--as", "alice"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): users "alice" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
    // (kubectl turns whoami's 403 into its own message.)
    let out = kubectl_with(&bob, &["auth", "whoami", "--as", "bob", "--as-group", "system:masters"]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (1, "error: the selfsubjectreviews API is not enabled in the cluster or you do not have permission to call it")
    );
    let (code, body) = curl_as(
        &api,
        &pki,
        "/api/v1/namespaces",
        &[
            "-H",
            "Authorization: Bearer tok-bob",
            "-H",
            "Impersonate-User: bob",
            "-H",
            "Impersonate-Group: system:masters",
        ],
    );
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        r#"users "bob" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
    assert_eq!(body["details"], json!({"name": "bob", "kind": "users"}));
    let out = kubectl(&api, &["auth", "whoami", "--as", "alice", "--as-group", "devs"]);
    let me = whoami_text(&ok(out, "whoami --as"));
    assert_eq!(field(&me, "Username"), "alice");
    assert_eq!(field(&me, "Groups"), "[devs system:authenticated]");
    let can = kubectl(&api, &["auth", "can-i", "create", "configmaps", "--as", "alice"]);
    assert_eq!((can.code, can.stdout.trim()), (1, "no"));
}

fn whoami_text(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let (k, v) = l.split_once("  ").unwrap_or((l, ""));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn pki_other(dir: &Path) -> ClusterPki {
    let opts = PkiOptions {
        service_ip: "10.0.0.1".parse().unwrap(),
        advertise_address: None,
        cluster_domain: "cluster.local".into(),
    };
    ClusterPki::ensure(dir, &opts).expect("second pki")
}

#[test]
fn kubectl_authn_authz_on_our_store() {
    scenario(Backend::Store);
}

#[test]
fn kubectl_authn_authz_on_etcd() {
    scenario(Backend::Etcd);
}

/// The Node authorizer: a kubelet's identity reaches its own lease and the secrets of
/// pods bound to its node, nothing else of those kinds.
#[test]
fn node_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start_secure(&etcd, &pki, &["--authorization-mode", "Node,RBAC"]);
    let p = |f: &str| pki.path(f).display().to_string();
    let node = kubeconfig(
        dir.path(),
        &api,
        &pki,
        "node",
        &format!("    client-certificate: {}\n    client-key: {}\n", p("node-n1.crt"), p("node-n1.key")),
    );
    ok(kubectl(&api, &["create", "secret", "generic", "s1", "--from-literal=a=b"]), "s1");
    ok(kubectl(&api, &["create", "secret", "generic", "s2", "--from-literal=a=b"]), "s2");
    // A pod bound to n1 that uses s1.
    let pod = dir.path().join("pod.json");
    std::fs::write(
        &pod,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox",
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "a"}}}]}]}})
        .to_string(),
    )
    .unwrap();
    ok(kubectl(&api, &["create", "--validate=false", "-f", pod.to_str().unwrap()]), "create pod");
    assert!(ok(kubectl_with(&node, &["get", "secret", "s1"]), "node reads s1").contains("s1"));
    let out = kubectl_with(&node, &["get", "secret", "s2"]);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Forbidden): secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'n1' and this object"#
    );
    let out = kubectl_with(&node, &["get", "secrets"]);
    assert!(out.stderr.contains("can only get individual resources of this type"), "{}", out.stderr);
    // Its own lease only.
    let lease = |name: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name}})
        .to_string()
    };
    let f1 = dir.path().join("n1.json");
    std::fs::write(&f1, lease("n1")).unwrap();
    ok(kubectl_with(&node, &["create", "--validate=false", "-f", f1.to_str().unwrap()]), "node creates its lease");
    let f2 = dir.path().join("n2.json");
    std::fs::write(&f2, lease("n2")).unwrap();
    ok(kubectl(&api, &["create", "--validate=false", "-f", f2.to_str().unwrap()]), "admin creates n2's lease");
    let out = kubectl_with(&node, &["delete", "lease", "n2", "-n", "kube-node-lease"]);
    assert!(
        out.stderr.contains("can only access node lease with the same name as the requesting node"),
        "{}",
        out.stderr
    );
}

/// `--anonymous-auth=false`: no credentials is a 401 too; public paths included.
#[test]
fn anonymous_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("pki"));
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start_secure(&etcd, &pki, &["--authorization-mode", "RBAC", "--anonymous-auth=false"]);
    let (code, body) = curl_as(&api, &pki, "/version", &[]);
    assert_eq!((code, body["reason"].as_str()), (401, Some("Unauthorized")));
    assert_eq!(ok(kubectl(&api, &["auth", "can-i", "get", "namespaces"]), "can-i").trim(), "yes");
}

/// `make run`'s PKI: the `cluster-pki` tool creates the files once and reuses them; an
/// apiserver on them and kubectl with the kubeconfig it writes work at once, verifying
/// the server (no insecure-skip-tls-verify).
#[test]
fn cluster_pki_tool_for_make_run() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let tool = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_cluster-pki"))
            .args(["--dir", pki_dir.to_str().unwrap(), "--advertise-address", "127.0.0.1"])
            .args(extra)
            .output()
            .expect("cluster-pki");
        assert!(out.status.success(), "cluster-pki: {}", String::from_utf8_lossy(&out.stderr));
    };
    tool(&[]);
    let files = ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key", "sa.pub"];
    let read = || files.iter().map(|f| std::fs::read(pki_dir.join(f)).unwrap()).collect::<Vec<_>>();
    let first = read();
    tool(&[]);
    assert_eq!(first, read(), "a restart reuses the PKI");
    let bad = Command::new(env!("CARGO_BIN_EXE_cluster-pki"))
        .args(["--dir", pki_dir.to_str().unwrap(), "--service-cluster-ip-range", "10.0.0.0/33"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let pki = ClusterPki { dir: pki_dir.clone() };
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start_secure(&etcd, &pki, &["--authorization-mode", "Node,RBAC"]);
    let kc = dir.path().join("admin").join("admin.kubeconfig");
    std::fs::create_dir_all(kc.parent().unwrap()).unwrap();
    tool(&["--kubeconfig", kc.to_str().unwrap(), "--server", &api.url]);
    let text = std::fs::read_to_string(&kc).unwrap();
    assert!(text.contains("certificate-authority-data:") && !text.contains("insecure"), "{text}");
    let me = whoami(&kc);
    assert_eq!(field(&me, "Username"), "kubernetes-admin");
    assert!(ok(kubectl_with(&kc, &["get", "ns"]), "get ns").contains("kube-system"));
}
