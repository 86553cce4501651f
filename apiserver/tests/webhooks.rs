//! Admission webhooks (admissionregistration.k8s.io/v1) through the real kubectl (v1.32), on
//! our store and on a real etcd, against a real HTTPS webhook server started here (hyper +
//! rustls, with its own rcgen CA): configurations applied with kubectl, refusals in
//! upstream's words, JSONPatch mutation, reinvocation, failurePolicy Ignore and Fail against
//! a server that is down, timeouts, namespace and object selectors, dry run and side
//! effects, service references, and the AdmissionReviews the server was sent.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use common::{ApiServer, Backend, Etcd, kubectl, kubectl_fails as fails, kubectl_ok as ok};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

/// What the webhook server was sent: (path, AdmissionReview).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

struct WebhookServer {
    port: u16,
    ca_pem: String,
    seen: Seen,
    _runtime: tokio::runtime::Runtime,
}

/// The server's answer to one review, by path:
/// - `/validate`: refuses objects labelled `deny=true` (403, Forbidden) and warns.
/// - `/mutate`: adds the label `mutated=yes` (JSONPatch), and renames objects labelled
///   `rename=1`.
/// - `/first`: allows without changes (reinvocation is observed through its calls).
/// - `/slow`: answers after 3 s.
/// - `/allow`: allows.
async fn answer(path: &str, review: &Value) -> Value {
    let req = &review["request"];
    let mut response = json!({"uid": req["uid"], "allowed": true});
    match path {
        "/validate" => {
            let labels = if req["object"].is_object() { &req["object"] } else { &req["oldObject"] };
            if labels["metadata"]["labels"]["deny"] == "true" && req["operation"] != "DELETE" {
                response["allowed"] = json!(false);
                response["status"] =
                    json!({"code": 403, "reason": "Forbidden", "message": "label deny=true is not allowed"});
            }
            response["warnings"] = json!(["validated by test webhook"]);
        }
        "/mutate" => {
            let mut ops = if req["object"]["metadata"]["labels"].is_object() {
                json!([{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}])
            } else {
                json!([{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}])
            };
            if req["object"]["metadata"]["labels"]["rename"] == "1" {
                let renamed = format!("{}-renamed", req["object"]["metadata"]["name"].as_str().unwrap_or_default());
                ops.as_array_mut().unwrap().push(json!({"op": "replace", "path": "/metadata/name", "value": renamed}));
            }
            let patch = base64::engine::general_purpose::STANDARD.encode(ops.to_string());
            response["patchType"] = json!("JSONPatch");
            response["patch"] = json!(patch);
        }
        "/slow" => tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

impl WebhookServer {
    fn start() -> WebhookServer {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "webhook-ca");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let sans = vec!["127.0.0.1".to_string(), "whsvc.default.svc".to_string()];
        let cert = CertificateParams::new(sans).unwrap().signed_by(&key, &issuer).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key_der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key_der)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Seen = Arc::default();
        let record = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let record = record.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            record.lock().unwrap().push((path.clone(), review.clone()));
                            let out = answer(&path, &review).await;
                            let resp = http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(out.to_string())))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        WebhookServer { port, ca_pem: ca_cert.pem(), seen, _runtime: runtime }
    }

    fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The reviews sent to `path` about the object `name` (by `request.name`).
    fn reviews(&self, path: &str, name: &str) -> Vec<Value> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|(p, r)| p == path && r["request"]["name"] == name).map(|(_, r)| r.clone()).collect()
    }
}

struct Files(tempfile::TempDir);

impl Files {
    fn write(&self, name: &str, v: &Value) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, v.to_string()).expect("manifest");
        path.display().to_string()
    }
}

fn configmap(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn webhook(name: &str, url: &str, ca: &str, ops: &[&str]) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [{"operations": ops, "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    })
}

fn configuration(kind: &str, name: &str, webhooks: Vec<Value>) -> Value {
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name}, "webhooks": webhooks})
}

/// Retries `f` until it holds: configurations reach the admission chain through the
/// watch cache, a moment after they are written.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 10 s");
}

fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let server = WebhookServer::start();
    let files = Files(tempfile::tempdir().expect("tempdir"));
    let ca = server.ca_bundle();

    // Bad configurations: upstream's validation, nothing stored.
    let mut bad = webhook("deny", &server.url("/validate"), &ca, &["CREATE"]);
    let path = files.write("bad.json", &configuration("ValidatingWebhookConfiguration", "bad", vec![bad.clone()]));
    fails(
        &api,
        &["create", "-f", &path],
        r#"The ValidatingWebhookConfiguration "bad" is invalid: webhooks[0].name: Invalid value: "deny": should be a domain with at least three segments separated by dots"#,
    );
    bad["name"] = json!("deny.example.com");
    bad["sideEffects"] = json!("Some");
    bad["clientConfig"]["url"] = json!("http://127.0.0.1/x");
    let path = files.write("bad.json", &configuration("ValidatingWebhookConfiguration", "bad", vec![bad]));
    let out = kubectl(&api, &["create", "-f", &path]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(r#"webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun""#)
            && out.stderr.contains(r#"webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#),
        "{}",
        out.stderr
    );
    let out = kubectl(&api, &["get", "validatingwebhookconfigurations", "bad"]);
    assert!(out.stderr.contains("NotFound"), "{}", out.stderr);

    // The configurations, with upstream's defaults filled in.
    let mut deny = webhook("deny.example.com", &server.url("/validate"), &ca, &["CREATE", "UPDATE", "DELETE"]);
    deny["namespaceSelector"] =
        json!({"matchExpressions": [{"key": "webhooks", "operator": "NotIn", "values": ["skip"]}]});
    deny["objectSelector"] = json!({"matchExpressions": [{"key": "skip-webhook", "operator": "DoesNotExist"}]});
    let path = files.write("deny.json", &configuration("ValidatingWebhookConfiguration", "deny-cfg", vec![deny]));
    ok(&api, &["apply", "-f", &path]);
    let path = files.write(
        "mutate.json",
        &configuration(
            "MutatingWebhookConfiguration",
            "mutate-cfg",
            vec![webhook("mutate.example.com", &server.url("/mutate"), &ca, &["CREATE"])],
        ),
    );
    ok(&api, &["apply", "-f", &path]);
    let stored: Value =
        serde_json::from_str(&ok(&api, &["get", "validatingwebhookconfigurations", "deny-cfg", "-o", "json"])).unwrap();
    let h = &stored["webhooks"][0];
    assert_eq!(
        (&h["failurePolicy"], &h["matchPolicy"], &h["timeoutSeconds"], &h["rules"][0]["scope"]),
        (&json!("Fail"), &json!("Equivalent"), &json!(10), &json!("*")),
        "{h}"
    );
    // An update is validated once, in the same words.
    fails(
        &api,
        &[
            "patch",
            "validatingwebhookconfigurations",
            "deny-cfg",
            "--type=json",
            "-p",
            r#"[{"op": "replace", "path": "/webhooks/0/timeoutSeconds", "value": 31}]"#,
        ],
        r#"The ValidatingWebhookConfiguration "deny-cfg" is invalid: webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"#,
    );
    let mutating: Value =
        serde_json::from_str(&ok(&api, &["get", "mutatingwebhookconfigurations", "mutate-cfg", "-o", "json"])).unwrap();
    let m = &mutating["webhooks"][0];
    assert_eq!(
        (&m["reinvocationPolicy"], &m["namespaceSelector"], &m["objectSelector"]),
        (&json!("Never"), &json!({}), &json!({}))
    );
    let table = ok(&api, &["get", "mutatingwebhookconfigurations"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "WEBHOOKS", "AGE"], "{table}");
    assert!(table.lines().nth(1).unwrap_or_default().starts_with("mutate-cfg   1 "), "{table}");
    assert!(
        ok(&api, &["api-resources", "--api-group=admissionregistration.k8s.io"])
            .contains("mutatingwebhookconfigurations")
    );

    // A refusal, in upstream's words and the webhook's code and reason; nothing stored.
    let denied = files.write("denied.json", &configmap("denied", json!({"deny": "true"})));
    eventually("the validating webhook takes effect", || {
        kubectl(&api, &["create", "-f", &denied, "--dry-run=server"]).code == 1
    });
    fails(
        &api,
        &["create", "-f", &denied],
        &format!(
            "Warning: validated by test webhook\nError from server (Forbidden): error when creating {denied:?}: admission webhook \"deny.example.com\" denied the request: label deny=true is not allowed"
        ),
    );
    let (code, body) = api.curl(&["/api/v1/namespaces/default/configmaps/denied"]);
    assert_eq!(code, 404, "{body}");

    // Mutation: the label the JSONPatch added is stored; the validating webhook saw it.
    let allowed = files.write("allowed.json", &configmap("allowed", json!({"app": "x"})));
    let out = kubectl(&api, &["create", "-f", &allowed]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr.trim(), "Warning: validated by test webhook");
    let labels = ok(&api, &["get", "configmap", "allowed", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(serde_json::from_str::<Value>(&labels).unwrap(), json!({"app": "x", "mutated": "yes"}));

    // A webhook that renames the object: it is stored under its new name.
    let rename = files.write("rename.json", &configmap("old-name", json!({"rename": "1"})));
    assert_eq!(ok(&api, &["create", "-f", &rename]).trim(), "configmap/old-name-renamed created");
    ok(&api, &["get", "configmap", "old-name-renamed"]);
    assert_eq!(api.curl(&["/api/v1/namespaces/default/configmaps/old-name"]).0, 404);

    // The AdmissionReview as upstream sends it.
    let reviews = server.reviews("/validate", "allowed");
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let r = &reviews[0];
    assert_eq!((&r["apiVersion"], &r["kind"]), (&json!("admission.k8s.io/v1"), &json!("AdmissionReview")));
    let q = &r["request"];
    assert_eq!(q["uid"].as_str().map(str::len), Some(36), "{q}");
    let gvk = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    let gvr = json!({"group": "", "version": "v1", "resource": "configmaps"});
    assert_eq!((&q["kind"], &q["resource"], &q["requestKind"], &q["requestResource"]), (&gvk, &gvr, &gvk, &gvr));
    assert_eq!(
        (&q["name"], &q["namespace"], &q["operation"]),
        (&json!("allowed"), &json!("default"), &json!("CREATE"))
    );
    assert!(q["userInfo"]["username"].is_string(), "{q}");
    assert_eq!(q["object"]["metadata"]["labels"]["mutated"], "yes", "validating webhooks see the mutated object");
    assert_eq!(q["object"]["data"], json!({"k": "v"}));
    assert_eq!((&q["oldObject"], &q["dryRun"]), (&Value::Null, &json!(false)));
    assert_eq!(q["options"]["kind"], "CreateOptions");
    assert_eq!(q["options"]["apiVersion"], "meta.k8s.io/v1");
    assert!(q.get("subResource").is_none());
    let mutate_review = &server.reviews("/mutate", "allowed")[0]["request"];
    assert!(mutate_review["object"]["metadata"]["labels"].get("mutated").is_none());

    // An update carries the old object; a delete carries only the old object.
    ok(&api, &["label", "configmap", "allowed", "tier=web"]);
    let reviews = server.reviews("/validate", "allowed");
    let update = &reviews.last().unwrap()["request"];
    assert_eq!(update["operation"], "UPDATE");
    assert_eq!(update["object"]["metadata"]["labels"]["tier"], "web");
    assert!(update["oldObject"]["metadata"]["labels"].get("tier").is_none(), "{update}");
    assert_eq!(update["options"]["kind"], "UpdateOptions");
    ok(&api, &["delete", "configmap", "allowed"]);
    let reviews = server.reviews("/validate", "allowed");
    let delete = &reviews.last().unwrap()["request"];
    assert_eq!(delete["operation"], "DELETE");
    assert_eq!(delete["object"], Value::Null);
    assert_eq!(delete["oldObject"]["metadata"]["name"], "allowed");
    assert_eq!(delete["oldObject"]["metadata"]["labels"]["mutated"], "yes");
    assert_eq!(
        (&delete["options"]["kind"], &delete["options"]["propagationPolicy"]),
        (&json!("DeleteOptions"), &json!("Background"))
    );

    // Selectors: a namespace labelled out, and an object labelled out, are not sent.
    ok(&api, &["create", "namespace", "skipped"]);
    ok(&api, &["label", "namespace", "skipped", "webhooks=skip"]);
    ok(&api, &["create", "-n", "skipped", "-f", &denied]);
    let opted_out = files.write("optout.json", &configmap("opted-out", json!({"deny": "true", "skip-webhook": "1"})));
    ok(&api, &["create", "-f", &opted_out]);
    assert!(server.reviews("/validate", "opted-out").is_empty());
    let seen = server.seen.lock().unwrap().clone();
    let in_skipped =
        |path: &str| seen.iter().filter(|(p, r)| p == path && r["request"]["namespace"] == "skipped").count();
    assert_eq!(in_skipped("/validate"), 0, "the namespace selector left the skipped namespace out");
    assert_eq!(in_skipped("/mutate"), 1, "a webhook without a namespace selector still sees it");

    // Dry run: sent with dryRun true to side-effect-free webhooks, nothing stored.
    let dry = files.write("dry.json", &configmap("dry", json!({})));
    ok(&api, &["create", "-f", &dry, "--dry-run=server"]);
    let reviews = server.reviews("/validate", "dry");
    assert_eq!(reviews[0]["request"]["dryRun"], true);
    assert_eq!(reviews[0]["request"]["options"]["dryRun"], json!(["All"]));
    assert_eq!(api.curl(&["/api/v1/namespaces/default/configmaps/dry"]).0, 404);
    // A webhook with side effects (only a configuration from admissionregistration/v1beta1
    // times can have them: v1 refuses them) is not called on a dry run: the request fails.
    let mut legacy = webhook("legacy.example.com", &server.url("/allow"), &ca, &["CREATE"]);
    legacy["sideEffects"] = json!("Unknown");
    legacy["objectSelector"] = json!({"matchLabels": {"legacy": "1"}});
    let mut legacy_cfg = configuration("ValidatingWebhookConfiguration", "legacy", vec![legacy]);
    legacy_cfg["metadata"]["uid"] = json!("0b6c7a34-3a63-4a4e-9d2e-0d3f2c1b9a01");
    legacy_cfg["metadata"]["creationTimestamp"] = json!("2019-01-01T00:00:00Z");
    etcd_put(&etcd, "/registry/validatingwebhookconfigurations/legacy", &legacy_cfg);
    let legacy_cm = files.write("legacy.json", &configmap("legacy", json!({"legacy": "1"})));
    eventually("the stored legacy configuration takes effect", || {
        kubectl(&api, &["create", "-f", &legacy_cm, "--dry-run=server"]).code == 1
    });
    fails(
        &api,
        &["create", "-f", &legacy_cm, "--dry-run=server"],
        &format!(
            "Warning: validated by test webhook\nError from server (BadRequest): error when creating {legacy_cm:?}: admission webhook \"legacy.example.com\" does not support dry run"
        ),
    );
    assert!(server.reviews("/allow", "legacy").is_empty());
    ok(&api, &["create", "-f", &legacy_cm]);
    assert_eq!(server.reviews("/allow", "legacy").len(), 1);
    ok(&api, &["delete", "validatingwebhookconfigurations", "legacy"]);

    // failurePolicy against a server that is down; a timeout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("https://127.0.0.1:{}/down", closed.local_addr().unwrap().port());
    drop(closed);
    let mut ignore = webhook("ignore.example.com", &down, &ca, &["CREATE"]);
    ignore["failurePolicy"] = json!("Ignore");
    ignore["objectSelector"] = json!({"matchLabels": {"down": "ignore"}});
    let mut fail = webhook("fail.example.com", &down, &ca, &["CREATE"]);
    fail["objectSelector"] = json!({"matchLabels": {"down": "fail"}});
    let mut slow = webhook("slow.example.com", &server.url("/slow"), &ca, &["CREATE"]);
    slow["timeoutSeconds"] = json!(1);
    slow["objectSelector"] = json!({"matchLabels": {"slow": "1"}});
    let path = files
        .write("down.json", &configuration("ValidatingWebhookConfiguration", "down-cfg", vec![ignore, fail, slow]));
    ok(&api, &["apply", "-f", &path]);
    let fail_cm = files.write("fail.json", &configmap("fail", json!({"down": "fail"})));
    eventually("the failing webhook takes effect", || {
        kubectl(&api, &["create", "-f", &fail_cm, "--dry-run=server"]).code == 1
    });
    fails(
        &api,
        &["create", "-f", &fail_cm],
        &format!(
            "Warning: validated by test webhook\nError from server (InternalError): error when creating {fail_cm:?}: Internal error occurred: failed calling webhook \"fail.example.com\": failed to call webhook: Post \"{down}?timeout=10s\": dial tcp 127.0.0.1:{}: connect: connection refused",
            down.split(':').nth(2).unwrap().trim_end_matches("/down")
        ),
    );
    let ignore_cm = files.write("ignore.json", &configmap("ignored", json!({"down": "ignore"})));
    ok(&api, &["create", "-f", &ignore_cm]);
    let slow_cm = files.write("slow.json", &configmap("slow", json!({"slow": "1"})));
    fails(
        &api,
        &["create", "-f", &slow_cm],
        &format!(
            "Warning: validated by test webhook\nError from server (InternalError): error when creating {slow_cm:?}: Internal error occurred: failed calling webhook \"slow.example.com\": failed to call webhook: Post \"{}?timeout=1s\": context deadline exceeded",
            server.url("/slow")
        ),
    );
    ok(&api, &["delete", "validatingwebhookconfigurations", "down-cfg"]);

    // Reinvocation: an IfNeeded webhook runs again after a later one changed the object.
    let mut first = webhook("first.example.com", &server.url("/first"), &ca, &["CREATE"]);
    first["reinvocationPolicy"] = json!("IfNeeded");
    first["objectSelector"] = json!({"matchLabels": {"reinvoke": "1"}});
    let path = files.write("first.json", &configuration("MutatingWebhookConfiguration", "a-first", vec![first]));
    ok(&api, &["apply", "-f", &path]);
    let reinvoke_cm = files.write("reinvoke.json", &configmap("reinvoked", json!({"reinvoke": "1"})));
    eventually("the reinvocable webhook takes effect", || {
        ok(&api, &["create", "-f", &reinvoke_cm, "--dry-run=server"]);
        !server.reviews("/first", "reinvoked").is_empty()
    });
    let before = server.reviews("/first", "reinvoked").len();
    ok(&api, &["create", "-f", &reinvoke_cm]);
    let calls = server.reviews("/first", "reinvoked");
    assert_eq!(calls.len() - before, 2, "called, then reinvoked once");
    assert!(calls[before]["request"]["object"]["metadata"]["labels"].get("mutated").is_none());
    assert_eq!(calls[before + 1]["request"]["object"]["metadata"]["labels"]["mutated"], "yes");

    // Subresources: a rule on pods/status sees status writes, and not the pod's own.
    let mut status = webhook("status.example.com", &server.url("/allow"), &ca, &["UPDATE"]);
    status["rules"][0]["resources"] = json!(["pods/status"]);
    let path = files.write("status.json", &configuration("ValidatingWebhookConfiguration", "status-cfg", vec![status]));
    ok(&api, &["apply", "-f", &path]);
    ok(&api, &["run", "p", "--image=nginx"]);
    eventually("the status webhook takes effect", || {
        ok(
            &api,
            &["patch", "pod", "p", "--subresource=status", "--type=merge", "-p", r#"{"status":{"message":"m1"}}"#],
        );
        !server.reviews("/allow", "p").is_empty()
    });
    let before = server.reviews("/allow", "p").len();
    ok(&api, &["label", "pod", "p", "tier=web"]);
    ok(&api, &["patch", "pod", "p", "--subresource=status", "--type=merge", "-p", r#"{"status":{"message":"m2"}}"#]);
    let reviews = server.reviews("/allow", "p");
    assert_eq!(reviews.len(), before + 1, "only the status write was sent");
    let q = &reviews[before]["request"];
    assert_eq!((&q["subResource"], &q["requestSubResource"]), (&json!("status"), &json!("status")));
    assert_eq!(q["kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
    assert_eq!(q["resource"], json!({"group": "", "version": "v1", "resource": "pods"}));
    assert_eq!((&q["operation"], &q["object"]["status"]["message"]), (&json!("UPDATE"), &json!("m2")));
    assert_eq!(q["oldObject"]["status"]["message"], "m1");
    ok(&api, &["delete", "validatingwebhookconfigurations", "status-cfg"]);

    // pods/binding and pods/eviction: webhooks see the Binding and the Eviction.
    let mut subs = webhook("subresources.example.com", &server.url("/allow"), &ca, &["CREATE"]);
    subs["rules"][0]["resources"] = json!(["pods/binding", "pods/eviction"]);
    let path = files.write("subs-cfg.json", &configuration("ValidatingWebhookConfiguration", "subs-cfg", vec![subs]));
    ok(&api, &["apply", "-f", &path]);
    let post = |sub: &str, query: &str, body: Value| {
        let path = format!("/api/v1/namespaces/default/pods/p/{sub}{query}");
        api.curl(&[&path, "-X", "POST", "-H", "Content-Type: application/json", "-d", &body.to_string()])
    };
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    let sent = |sub: &str| {
        server.reviews("/allow", "p").into_iter().filter(|r| r["request"]["subResource"] == sub).collect::<Vec<_>>()
    };
    eventually("the subresource webhook takes effect", || {
        post("binding", "?dryRun=All", binding.clone());
        !sent("binding").is_empty()
    });
    let (code, body) = post("binding", "", binding);
    assert_eq!(code, 201, "{body}");
    let q = &sent("binding").last().unwrap()["request"].clone();
    assert_eq!(q["kind"], json!({"group": "", "version": "v1", "kind": "Binding"}));
    assert_eq!((&q["operation"], &q["object"]["target"]["name"]), (&json!("CREATE"), &json!("n1")));
    let (code, body) =
        post("eviction", "", json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}));
    assert_eq!(code, 201, "{body}");
    let q = &sent("eviction").last().unwrap()["request"].clone();
    assert_eq!(q["kind"], json!({"group": "policy", "version": "v1", "kind": "Eviction"}));
    assert_eq!((&q["resource"]["resource"], &q["object"]["kind"]), (&json!("pods"), &json!("Eviction")));
    ok(&api, &["delete", "validatingwebhookconfigurations", "subs-cfg"]);

    // The scale subresource: webhooks see the Scale.
    let mut scale = webhook("scale.example.com", &server.url("/allow"), &ca, &["UPDATE"]);
    scale["rules"] = json!([{"operations": ["UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments/scale"]}]);
    let path =
        files.write("scale-cfg.json", &configuration("ValidatingWebhookConfiguration", "scale-cfg", vec![scale]));
    ok(&api, &["apply", "-f", &path]);
    ok(&api, &["create", "deployment", "scaled", "--image=nginx"]);
    eventually("the scale webhook takes effect", || {
        ok(&api, &["scale", "deployment", "scaled", "--replicas=2", "--dry-run=server"]);
        !server.reviews("/allow", "scaled").is_empty()
    });
    ok(&api, &["scale", "deployment", "scaled", "--replicas=3"]);
    let q = &server.reviews("/allow", "scaled").last().unwrap()["request"].clone();
    assert_eq!(q["kind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
    assert_eq!(q["resource"], json!({"group": "apps", "version": "v1", "resource": "deployments"}));
    assert_eq!((&q["subResource"], &q["operation"]), (&json!("scale"), &json!("UPDATE")));
    assert_eq!((&q["object"]["kind"], &q["object"]["spec"]["replicas"]), (&json!("Scale"), &json!(3)));
    assert_eq!(q["oldObject"]["spec"]["replicas"], 1);
    assert_eq!(ok(&api, &["get", "deployment", "scaled", "-o", "jsonpath={.spec.replicas}"]), "3");
    ok(&api, &["delete", "validatingwebhookconfigurations", "scale-cfg"]);

    // matchPolicy: Equivalent also matches another version of the resource (sent the object
    // converted to it); Exact does not.
    let rule = json!([{"operations": ["CREATE"], "apiGroups": ["autoscaling"], "apiVersions": ["v1"], "resources": ["horizontalpodautoscalers"]}]);
    let mut equivalent = webhook("equivalent.example.com", &server.url("/allow"), &ca, &["CREATE"]);
    equivalent["rules"] = rule.clone();
    let mut exact = webhook("exact.example.com", &server.url("/exact"), &ca, &["CREATE"]);
    exact["rules"] = rule;
    exact["matchPolicy"] = json!("Exact");
    let path = files
        .write("hpa-cfg.json", &configuration("ValidatingWebhookConfiguration", "hpa-cfg", vec![equivalent, exact]));
    ok(&api, &["apply", "-f", &path]);
    let hpa = json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
    });
    let hpa_path = files.write("hpa.json", &hpa);
    eventually("the HPA webhook takes effect", || {
        ok(&api, &["create", "-f", &hpa_path, "--dry-run=server"]);
        !server.reviews("/allow", "web").is_empty()
    });
    assert!(server.reviews("/exact", "web").is_empty(), "Exact does not match another version");
    let q = &server.reviews("/allow", "web")[0]["request"];
    assert_eq!(q["kind"], json!({"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"}));
    assert_eq!(q["resource"], json!({"group": "autoscaling", "version": "v1", "resource": "horizontalpodautoscalers"}));
    assert_eq!(q["requestKind"], json!({"group": "autoscaling", "version": "v2", "kind": "HorizontalPodAutoscaler"}));
    assert_eq!(q["requestResource"]["version"], "v2");
    assert_eq!(
        (&q["object"]["apiVersion"], &q["object"]["spec"]["targetCPUUtilizationPercentage"]),
        (&json!("autoscaling/v1"), &json!(50))
    );
    ok(&api, &["delete", "validatingwebhookconfigurations", "hpa-cfg"]);

    // Upstream's webhook metrics.
    let (code, metrics) = api.curl(&["/metrics"]);
    assert_eq!(code, 200);
    for want in [
        r#"apiserver_admission_webhook_request_total{code="200",name="deny.example.com",operation="CREATE",rejected="true",type="validating"}"#,
        r#"apiserver_admission_webhook_request_total{code="200",name="mutate.example.com",operation="CREATE",rejected="false",type="admit"}"#,
        r#"apiserver_admission_webhook_request_total{code="0",name="fail.example.com",operation="CREATE",rejected="true",type="validating"}"#,
        r#"apiserver_admission_webhook_admission_duration_seconds_bucket{le="2.5",name="slow.example.com",operation="CREATE",rejected="true",type="validating"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l.starts_with(want)), "{want} in\n{metrics}");
    }

    // A service reference: resolved through the Service (an ExternalName here, as nothing
    // routes cluster IPs yet) and verified as <service>.<namespace>.svc.
    ok(&api, &["create", "service", "externalname", "whsvc", "--external-name", "localhost"]);
    let mut svc = webhook("svc.example.com", "", &ca, &["CREATE"]);
    svc["clientConfig"] = json!({"service": {"namespace": "default", "name": "whsvc", "path": "/validate", "port": server.port}, "caBundle": ca});
    svc["objectSelector"] = json!({"matchLabels": {"via": "service"}});
    let path = files.write("svc.json", &configuration("ValidatingWebhookConfiguration", "svc-cfg", vec![svc]));
    ok(&api, &["apply", "-f", &path]);
    let via = files
        .write("via.json", &configmap("via-service", json!({"via": "service", "skip-webhook": "1", "deny": "true"})));
    eventually("the service webhook takes effect", || {
        kubectl(&api, &["create", "-f", &via, "--dry-run=server"]).code == 1
    });
    let out = kubectl(&api, &["create", "-f", &via]);
    assert!(
        out.stderr
            .contains(r#"admission webhook "svc.example.com" denied the request: label deny=true is not allowed"#),
        "{}",
        out.stderr
    );
    // A service that does not exist fails the call.
    ok(&api, &["delete", "service", "whsvc"]);
    eventually("the missing service fails the call", || {
        kubectl(&api, &["create", "-f", &via, "--dry-run=server"]).stderr.contains("failed calling webhook")
    });
    let out = kubectl(&api, &["create", "-f", &via]);
    assert!(
        out.stderr.contains(&format!(
            r#"Internal error occurred: failed calling webhook "svc.example.com": failed to call webhook: Post "https://whsvc.default.svc:{}/validate?timeout=10s": service "whsvc" not found"#,
            server.port
        )),
        "{}",
        out.stderr
    );
}

/// `etcdctl put` of an object, as another writer (an old apiserver, a controller) left it.
fn etcd_put(etcd: &Etcd, key: &str, value: &Value) {
    let put = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.endpoint, "put", key])
        .arg(value.to_string())
        .output()
        .expect("etcdctl (Debian package etcd-client)");
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
}

/// `--enable-aggregator-routing`: a service reference goes to an address of the
/// service's Endpoints (there is no kube-proxy to route its cluster IP).
fn endpoint_routing(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start_with_flags(
        &etcd,
        &["--enable-aggregator-routing", "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition"],
    );
    let server = WebhookServer::start();
    let files = Files(tempfile::tempdir().expect("tempdir"));
    ok(&api, &["create", "service", "clusterip", "whsvc", "--tcp=443:8443"]);
    // What an endpoints controller would write for a webhook pod on this host, written to
    // the store (upstream's API refuses loopback addresses in Endpoints).
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "whsvc", "namespace": "default", "uid": "6f1d8a52-1c7e-4d8e-9a51-6a0b8e2f4c11", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "443-8443", "port": server.port, "protocol": "TCP"}]}],
    });
    etcd_put(&etcd, "/registry/services/endpoints/default/whsvc", &endpoints);
    let mut svc = webhook("svc.example.com", "", &server.ca_bundle(), &["CREATE"]);
    svc["clientConfig"] = json!({"service": {"namespace": "default", "name": "whsvc", "path": "/validate"}, "caBundle": server.ca_bundle()});
    let path = files.write("svc.json", &configuration("ValidatingWebhookConfiguration", "svc-cfg", vec![svc]));
    ok(&api, &["apply", "-f", &path]);
    let denied = files.write("denied.json", &configmap("denied", json!({"deny": "true"})));
    eventually("the service webhook takes effect", || {
        kubectl(&api, &["create", "-f", &denied, "--dry-run=server"]).code == 1
    });
    fails(
        &api,
        &["create", "-f", &denied],
        &format!(
            "Warning: validated by test webhook\nError from server (Forbidden): error when creating {denied:?}: admission webhook \"svc.example.com\" denied the request: label deny=true is not allowed"
        ),
    );
    ok(&api, &["delete", "endpoints", "whsvc"]);
    eventually("the missing endpoints fail the call", || {
        kubectl(&api, &["create", "-f", &denied, "--dry-run=server"]).stderr.contains("not found")
    });
    fails(
        &api,
        &["create", "-f", &denied],
        &format!(
            "Error from server (InternalError): error when creating {denied:?}: Internal error occurred: failed calling webhook \"svc.example.com\": failed to call webhook: Post \"https://whsvc.default.svc:443/validate?timeout=10s\": endpoints \"whsvc\" not found"
        ),
    );
}

#[test]
fn endpoint_routing_on_our_store() {
    endpoint_routing(Backend::Store);
}

#[test]
fn endpoint_routing_on_etcd() {
    endpoint_routing(Backend::Etcd);
}

#[test]
fn webhooks_on_our_store() {
    scenario(Backend::Store);
}

#[test]
fn webhooks_on_etcd() {
    scenario(Backend::Etcd);
}
