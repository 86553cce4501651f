//! The bad-input matrix: one table of bad requests, each sent once (raw HTTP with curl,
//! and kubectl where kubectl is what users see), each answered with upstream's status
//! code, reason and message (kube-apiserver v1.33), and each leaving nothing stored — a
//! GET afterwards finds the object absent or unchanged. Runs on our store and on a real
//! etcd. Other suites cover some of these cases too; this is the one place that lists
//! them all.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ApiServer, Backend, Etcd, kubectl_with};
use component_base::pki::{ClusterPki, PkiOptions};
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/bad";
const CMS: &str = "/api/v1/namespaces/bad/configmaps";

/// Who sends the request.
#[derive(Clone, Copy)]
enum Who {
    Admin,
    Anonymous,
    /// A `--token-auth-file` bearer token.
    Token(&'static str),
}

/// What the Status message must be.
enum Msg {
    Exact(String),
    /// Starts with the first and ends with the second (where a part of the text is not
    /// ours to reproduce byte for byte, e.g. go-yaml's parser errors).
    Around(String, String),
}

/// What must hold after the request.
enum After {
    /// GET of this path answers 404.
    Absent(String),
    /// GET of this path answers an object whose `pointer` is `value`.
    Unchanged(String, &'static str, Value),
    /// Nothing to check (e.g. a refused read).
    Nothing,
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    who: Who,
    code: u16,
    reason: &'static str,
    message: Msg,
    after: After,
}

fn case(name: &'static str, method: &'static str, path: &str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        content_type: "application/json",
        body: body.into(),
        who: Who::Admin,
        code: 0,
        reason: "",
        message: Msg::Exact(String::new()),
        after: After::Nothing,
    }
}

impl Case {
    fn answers(mut self, code: u16, reason: &'static str, message: impl Into<String>) -> Case {
        (self.code, self.reason, self.message) = (code, reason, Msg::Exact(message.into()));
        self
    }
    fn answers_around(mut self, code: u16, reason: &'static str, start: &str, end: &str) -> Case {
        (self.code, self.reason, self.message) = (code, reason, Msg::Around(start.into(), end.into()));
        self
    }
    fn content_type(mut self, ct: &'static str) -> Case {
        self.content_type = ct;
        self
    }
    fn by(mut self, who: Who) -> Case {
        self.who = who;
        self
    }
    fn absent(mut self, path: &str) -> Case {
        self.after = After::Absent(path.to_string());
        self
    }
    fn unchanged(mut self, path: &str, pointer: &'static str, value: Value) -> Case {
        self.after = After::Unchanged(path.to_string(), pointer, value);
        self
    }
}

struct Server {
    api: ApiServer,
    pki: ClusterPki,
    dir: tempfile::TempDir,
}

impl Server {
    /// curl as `who`; returns (status, body, response headers).
    fn send(&self, who: Who, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value, String) {
        let body_file = self.dir.path().join("body");
        std::fs::write(&body_file, body).expect("body");
        let headers = self.dir.path().join("headers");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-D"]).arg(&headers);
        match who {
            Who::Admin => {
                cmd.args(&self.api.curl_auth);
            }
            Who::Anonymous => {
                cmd.arg("--cacert").arg(self.pki.path("ca.crt"));
            }
            Who::Token(t) => {
                cmd.arg("--cacert").arg(self.pki.path("ca.crt")).args(["-H", &format!("Authorization: Bearer {t}")]);
            }
        }
        if !body.is_empty() {
            cmd.args(["-H", &format!("Content-Type: {content_type}"), "--data-binary"])
                .arg(format!("@{}", body_file.display()));
        }
        let out = cmd.arg(format!("{}{path}", self.api.url)).output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        let headers = std::fs::read_to_string(&headers).unwrap_or_default();
        (code.trim().parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(Value::String(body.into())), headers)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (code, body, _) = self.send(Who::Admin, "GET", path, "", b"");
        (code, body)
    }

    fn must(&self, method: &str, path: &str, body: &Value) -> Value {
        let (code, out, _) = self.send(Who::Admin, method, path, "application/json", body.to_string().as_bytes());
        assert!((200..300).contains(&code), "{method} {path}: {code} {out}");
        out
    }
}

fn start(etcd: &Etcd, dir: &Path, extra: &[&str]) -> Server {
    let pki_dir = dir.join("pki");
    let opts = PkiOptions {
        service_ip: "10.0.0.1".parse().expect("ip"),
        advertise_address: None,
        cluster_domain: "cluster.local".into(),
    };
    let pki = ClusterPki::ensure(&pki_dir, &opts).expect("pki");
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "tok-alice,alice,uid-alice,\"devs\"\n").expect("tokens");
    let mut flags = vec!["--authorization-mode", "Node,RBAC", "--token-auth-file", tokens.to_str().expect("utf-8")];
    flags.extend_from_slice(extra);
    let api = ApiServer::start_secure(etcd, &pki, &flags);
    Server { api, pki, dir: tempfile::tempdir().expect("tempdir") }
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

/// `Bad-x7k2q` → `Bad-XXXXX`: a generated name's random suffix (five lowercase
/// alphanumerics after the prefix).
fn mask_generated(s: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        out.push_str(&rest[..i + prefix.len()]);
        let suffix = after.get(..5).filter(|x| x.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        rest = match suffix {
            Some(_) => {
                out.push_str("XXXXX");
                &after[5..]
            }
            None => after,
        };
    }
    out.push_str(rest);
    out
}

const DNS1123: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn cases(rv_stale: &str, svc: &Value, pod: &Value) -> Vec<Case> {
    let truncated = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mj""#;
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: [name: my\n";
    let long = "a".repeat(254);
    let mut long_label = cm("lv");
    long_label["metadata"]["labels"] = json!({"k": "v".repeat(64)});
    let mut bad_key = cm("lk");
    bad_key["metadata"]["labels"] = json!({"bad key": "v"});
    let huge = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"},
        "data": {"k": "x".repeat(3 * 1024 * 1024)}});
    let mut strict = cm("strict");
    strict["bogus"] = json!(1);
    let mut immutable = cm("immutable");
    immutable["immutable"] = json!(true);
    immutable["data"] = json!({"k": "changed"});
    let mut stale = cm("stale");
    stale["metadata"]["resourceVersion"] = json!(rv_stale);
    stale["data"] = json!({"k": "stale write"});
    let mut other_ns = cm("elsewhere");
    other_ns["metadata"]["namespace"] = json!("default");
    let mut new_ip = svc.clone();
    new_ip["spec"]["clusterIP"] = json!("10.0.0.99");
    new_ip["spec"]["clusterIPs"] = json!(["10.0.0.99"]);
    let old_ip = svc["spec"]["clusterIP"].clone();
    let mut pod_change = pod.clone();
    pod_change["spec"]["restartPolicy"] = json!("Never");
    let with = |kind: &str, api_version: &str, name: &str| {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}).to_string()
    };
    vec![
        case("malformed JSON", "POST", CMS, truncated)
            .answers(400, "BadRequest", format!("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input ({} ...)", &truncated[..30]))
            .absent(&format!("{CMS}/mj")),
        case("JSON syntax error", "POST", CMS, format!("{}}}", cm("mj2")))
            .answers(400, "BadRequest", format!("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: invalid character '}}' after top-level value ({} ...)", &cm("mj2").to_string()[..30]))
            .absent(&format!("{CMS}/mj2")),
        case("empty body", "POST", CMS, "")
            .answers(400, "BadRequest", "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)"),
        case("malformed YAML", "POST", CMS, yaml)
            .content_type("application/yaml")
            .answers_around(400, "BadRequest", "the object provided is unrecognized (must be of type ConfigMap): error converting YAML to JSON: yaml: ", &format!(" ({} ...)", hex(&yaml.as_bytes()[..30])))
            .absent(&format!("{CMS}/my")),
        case("wrong kind", "POST", CMS, with("Secret", "v1", "wk"))
            .answers(400, "BadRequest", r#"Secret in version "v1" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion"#)
            .absent(&format!("{CMS}/wk")),
        case("unknown kind", "POST", CMS, with("Bogus", "v1", "uk"))
            .answers(400, "BadRequest", r#"Bogus in version "v1" cannot be handled as a ConfigMap: no kind "Bogus" is registered for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .absent(&format!("{CMS}/uk")),
        case("wrong apiVersion", "POST", CMS, with("ConfigMap", "v2", "wv"))
            .answers(400, "BadRequest", r#"ConfigMap in version "v2" cannot be handled as a ConfigMap: no kind "ConfigMap" is registered for version "v2" in scheme "pkg/api/legacyscheme/scheme.go:30""#)
            .absent(&format!("{CMS}/wv")),
        case("kind and apiVersion of another group", "POST", CMS, with("Deployment", "apps/v1", "dep"))
            .answers(400, "BadRequest", r#"Deployment in version "v1" cannot be handled as a ConfigMap: converting (v1.Deployment) to (core.ConfigMap): unknown conversion"#)
            .absent(&format!("{CMS}/dep")),
        case("uppercase name", "POST", CMS, cm("Bad").to_string())
            .answers(422, "Invalid", format!(r#"ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": {DNS1123}"#))
            .absent(&format!("{CMS}/Bad")),
        case("name too long", "POST", CMS, cm(&long).to_string())
            .answers(422, "Invalid", format!(r#"ConfigMap "{long}" is invalid: metadata.name: Invalid value: "{long}": must be no more than 253 characters"#)),
        case("bad generateName", "POST", CMS, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Bad-"}}).to_string())
            .answers(422, "Invalid", format!(r#"ConfigMap "Bad-XXXXX" is invalid: [metadata.generateName: Invalid value: "Bad-": {DNS1123}, metadata.name: Invalid value: "Bad-XXXXX": {DNS1123}]"#)),
        case("invalid label key", "POST", CMS, bad_key.to_string())
            .answers(422, "Invalid", r#"ConfigMap "lk" is invalid: metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"#)
            .absent(&format!("{CMS}/lk")),
        case("invalid label value", "POST", CMS, long_label.to_string())
            .answers(422, "Invalid", format!(r#"ConfigMap "lv" is invalid: metadata.labels: Invalid value: "{}": must be no more than 63 characters"#, "v".repeat(64)))
            .absent(&format!("{CMS}/lv")),
        case("body over the 3 MiB request limit", "POST", CMS, huge.to_string())
            .answers(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
            .absent(&format!("{CMS}/huge")),
        case("unknown field under Strict", "POST", &format!("{CMS}?fieldValidation=Strict"), strict.to_string())
            .answers(400, "BadRequest", r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#)
            .absent(&format!("{CMS}/strict")),
        case("namespace in body differs from URL", "POST", CMS, other_ns.to_string())
            .answers(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            .absent(&format!("{CMS}/elsewhere")),
        case("immutable configmap", "PUT", &format!("{CMS}/immutable"), immutable.to_string())
            .answers(422, "Invalid", r#"ConfigMap "immutable" is invalid: data: Forbidden: field is immutable when `immutable` is set"#)
            .unchanged(&format!("{CMS}/immutable"), "/data/k", json!("v")),
        case("service clusterIP change", "PUT", &format!("{NS}/services/svc"), new_ip.to_string())
            .answers(422, "Invalid", r#"Service "svc" is invalid: spec.clusterIPs[0]: Invalid value: "10.0.0.99": may not change once set"#)
            .unchanged(&format!("{NS}/services/svc"), "/spec/clusterIP", old_ip),
        case("pod spec change", "PUT", &format!("{NS}/pods/pod1"), pod_change.to_string())
            .answers_around(422, "Invalid", "Pod \"pod1\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)", "")
            .unchanged(&format!("{NS}/pods/pod1"), "/spec/restartPolicy", json!("Always")),
        case("stale resourceVersion", "PUT", &format!("{CMS}/stale"), stale.to_string())
            .answers(409, "Conflict", r#"Operation cannot be fulfilled on configmaps "stale": the object has been modified; please apply your changes to the latest version and try again"#)
            .unchanged(&format!("{CMS}/stale"), "/data/k", json!("second")),
        case("dry run that would fail", "POST", &format!("{CMS}?dryRun=All"), cm("Dry").to_string())
            .answers(422, "Invalid", format!(r#"ConfigMap "Dry" is invalid: metadata.name: Invalid value: "Dry": {DNS1123}"#)),
        case("dry run of an existing name", "POST", &format!("{CMS}?dryRun=All"), cm("stale").to_string())
            .answers(409, "AlreadyExists", r#"configmaps "stale" already exists"#)
            .unchanged(&format!("{CMS}/stale"), "/data/k", json!("second")),
        case("unsupported media type", "POST", CMS, cm("mt").to_string())
            .content_type("text/plain")
            .answers(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
            .absent(&format!("{CMS}/mt")),
        case("unsupported patch type", "PATCH", &format!("{CMS}/stale"), r#"{"data":{"k":"patched"}}"#)
            .answers(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
            .unchanged(&format!("{CMS}/stale"), "/data/k", json!("second")),
        case("method not allowed", "PUT", CMS, cm("coll").to_string())
            .answers(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            .absent(&format!("{CMS}/coll")),
        case("wrong credentials", "GET", CMS, "")
            .by(Who::Token("not-a-token"))
            .answers(401, "Unauthorized", "Unauthorized"),
        case("anonymous without RBAC grants", "GET", CMS, "")
            .by(Who::Anonymous)
            .answers(403, "Forbidden", r#"configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" in API group "" in the namespace "bad""#),
        case("forbidden verb", "POST", CMS, cm("alice").to_string())
            .by(Who::Token("tok-alice"))
            .answers(403, "Forbidden", r#"configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "bad""#)
            .absent(&format!("{CMS}/alice")),
        case("forbidden get of a named object", "GET", &format!("{CMS}/stale"), "")
            .by(Who::Token("tok-alice"))
            .answers(403, "Forbidden", r#"configmaps "stale" is forbidden: User "alice" cannot get resource "configmaps" in API group "" in the namespace "bad""#),
        case("forbidden delete", "DELETE", &format!("{CMS}/stale"), "")
            .by(Who::Token("tok-alice"))
            .answers(403, "Forbidden", r#"configmaps "stale" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" in the namespace "bad""#)
            .unchanged(&format!("{CMS}/stale"), "/data/k", json!("second")),
    ]
}

fn check(s: &Server, c: &Case) {
    let (code, body, _) = s.send(c.who, c.method, &c.path, c.content_type, &c.body);
    let what = format!("{}: {} {}", c.name, c.method, c.path);
    assert_eq!(code, c.code, "{what}: {body}");
    assert_eq!(body["kind"], "Status", "{what}: {body}");
    assert_eq!(body["code"], c.code, "{what}: {body}");
    assert_eq!(body["reason"], c.reason, "{what}: {body}");
    let message = mask_generated(body["message"].as_str().unwrap_or_default(), "Bad-");
    match &c.message {
        Msg::Exact(m) => assert_eq!(&message, m, "{what}"),
        Msg::Around(start, end) => {
            assert!(message.starts_with(start.as_str()) && message.ends_with(end.as_str()), "{what}: {message}")
        }
    }
    match &c.after {
        After::Absent(path) => assert_eq!(s.get(path).0, 404, "{what}: {path} must not be stored"),
        After::Unchanged(path, pointer, value) => {
            let (code, obj) = s.get(path);
            assert_eq!(code, 200, "{what}: {obj}");
            assert_eq!(obj.pointer(pointer), Some(value), "{what}: {path} must be unchanged");
        }
        After::Nothing => {}
    }
}

/// kubectl with a file manifest; returns its stderr.
fn kubectl_file(kubeconfig: &Path, dir: &Path, verb: &[&str], manifest: &str) -> (i32, String) {
    let path: PathBuf = dir.join("manifest.json");
    std::fs::write(&path, manifest).expect("manifest");
    let mut args: Vec<&str> = verb.to_vec();
    let p = path.to_str().expect("utf-8");
    args.extend(["-f", p]);
    let out = kubectl_with(kubeconfig, &args);
    (out.code, out.stderr.trim().replace(&format!("\"{p}\""), "\"FILE\""))
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(&etcd, dir.path(), &[]);

    // The objects the updates aim at.
    s.must(
        "POST",
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad"}}),
    );
    let mut immutable = cm("immutable");
    immutable["immutable"] = json!(true);
    s.must("POST", CMS, &immutable);
    let first = s.must("POST", CMS, &cm("stale"));
    let rv_stale = first["metadata"]["resourceVersion"].as_str().expect("rv").to_string();
    let mut second = first.clone();
    second["data"] = json!({"k": "second"});
    s.must("PUT", &format!("{CMS}/stale"), &second);
    let svc = s.must(
        "POST",
        &format!("{NS}/services"),
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
            "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}}),
    );

    let pod = s.must(
        "POST",
        &format!("{NS}/pods"),
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    );
    let all = cases(&rv_stale, &svc, &pod);
    assert!(all.len() >= 29, "the matrix lists every case");
    for c in &all {
        check(&s, c);
    }

    // fieldValidation=Warn: stored, with upstream's Warning header.
    let mut warn = cm("warned");
    warn["bogus"] = json!(1);
    let (code, _, headers) = s.send(
        Who::Admin,
        "POST",
        &format!("{CMS}?fieldValidation=Warn"),
        "application/json",
        warn.to_string().as_bytes(),
    );
    assert_eq!(code, 201);
    // Header names are case-insensitive (and lowercase on HTTP/2).
    assert!(headers.to_ascii_lowercase().contains("warning: 299 - \"unknown field \\\"bogus\\\"\""), "{headers}");
    assert_eq!(s.get(&format!("{CMS}/warned")).0, 200);

    // An object etcd refuses as too large (1.5 MiB by default, below the 3 MiB request
    // limit; our store keeps the same limit): etcd's error, as upstream passes it on
    // (500, no reason).
    {
        let big = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
            "data": {"k": "x".repeat(1_800_000)}});
        let (code, body, _) = s.send(Who::Admin, "POST", CMS, "application/json", big.to_string().as_bytes());
        assert_eq!(code, 500, "{body}");
        assert_eq!(body["message"], "etcdserver: request is too large");
        assert_eq!(body["reason"], Value::Null, "no reason: {body}");
        assert_eq!(s.get(&format!("{CMS}/big")).0, 404);
    }

    // What kubectl users see for the same mistakes.
    let admin = s.api.kubeconfig.clone();
    let work = dir.path().join("kubectl");
    std::fs::create_dir_all(&work).expect("dir");
    let mut unknown = cm("kstrict");
    unknown["metadata"]["namespace"] = json!("bad");
    unknown["bogus"] = json!(1);
    assert_eq!(
        kubectl_file(&admin, &work, &["create"], &unknown.to_string()),
        (
            1,
            r#"Error from server (BadRequest): error when creating "FILE": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
                .to_string()
        )
    );
    let mut upper = cm("Upper");
    upper["metadata"]["namespace"] = json!("bad");
    assert_eq!(
        kubectl_file(&admin, &work, &["create"], &upper.to_string()),
        (1, format!(r#"The ConfigMap "Upper" is invalid: metadata.name: Invalid value: "Upper": {DNS1123}"#))
    );
    let mut stale = first.clone();
    stale["data"] = json!({"k": "kubectl"});
    assert_eq!(
        kubectl_file(&admin, &work, &["replace"], &stale.to_string()),
        (
            1,
            r#"Error from server (Conflict): error when replacing "FILE": Operation cannot be fulfilled on configmaps "stale": the object has been modified; please apply your changes to the latest version and try again"#
                .to_string()
        )
    );
    let out = kubectl_with(&admin, &["patch", "configmap", "immutable", "-n", "bad", "-p", r#"{"data":{"k":"x"}}"#]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (1, r#"The ConfigMap "immutable" is invalid: data: Forbidden: field is immutable when `immutable` is set"#)
    );
    let alice = work.join("alice.kubeconfig");
    std::fs::write(
        &alice,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: alice\n  user:\n    token: tok-alice\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: alice\ncurrent-context: local\n",
            s.api.url,
            s.pki.path("ca.crt").display()
        ),
    )
    .expect("kubeconfig");
    let out = kubectl_with(&alice, &["get", "configmaps", "-n", "bad"]);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (
            1,
            r#"Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "bad""#
        )
    );
    let wrong = work.join("wrong.kubeconfig");
    std::fs::write(&wrong, std::fs::read_to_string(&alice).expect("kubeconfig").replace("tok-alice", "nope"))
        .expect("kubeconfig");
    let out = kubectl_with(&wrong, &["get", "configmaps", "-n", "bad"]);
    assert_eq!((out.code, out.stderr.trim()), (1, "error: You must be logged in to the server (Unauthorized)"));

    // Missing credentials where anonymous requests are off: 401.
    let closed = start(&etcd, &dir.path().join("closed"), &["--anonymous-auth=false"]);
    let (code, body, _) = closed.send(Who::Anonymous, "GET", CMS, "", b"");
    assert_eq!(
        (code, body["reason"].clone(), body["message"].clone()),
        (401, json!("Unauthorized"), json!("Unauthorized"))
    );
}

#[test]
fn bad_input_on_store() {
    scenario(Backend::Store);
}

#[test]
fn bad_input_on_etcd() {
    scenario(Backend::Etcd);
}
