//! The OpenAPI documents through the real kubectl (v1.32): `kubectl explain` (which reads
//! `/openapi/v3`) for core and group resources and nested fields, kubectl's probe for
//! server-side field validation (an unknown field is refused by the server under the
//! default `--validate=strict`, and only warned about with `--validate=warn`), and the
//! Swagger 2.0 document at `/openapi/v2`.

mod common;

use common::{ApiServer, Backend, Etcd, kubectl, kubectl_ok as ok};
use serde_json::Value;

#[test]
fn kubectl_explain_and_field_validation_read_the_openapi_documents() {
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start(&etcd);

    let pods = ok(&api, &["explain", "pods"]);
    assert!(pods.starts_with("KIND:       Pod\nVERSION:    v1\n"), "{pods}");
    assert!(pods.contains("Pod is a collection of containers that can run on a host."), "{pods}");
    assert!(pods.contains("spec\t<PodSpec>"), "{pods}");

    let image = ok(&api, &["explain", "deployment.spec.template.spec.containers.image"]);
    assert!(image.contains("GROUP:      apps"), "{image}");
    assert!(image.contains("FIELD: image <string>"), "{image}");
    assert!(image.contains("Container image name."), "{image}");

    let rec = ok(&api, &["explain", "cm", "--recursive"]);
    assert!(rec.contains("immutable\t<boolean>"), "{rec}");
    assert!(rec.contains("creationTimestamp\t<string>"), "{rec}");

    let missing = kubectl(&api, &["explain", "pods.spec.nosuchfield"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains(r#"field "nosuchfield" does not exist"#), "{}", missing.stderr);

    // kubectl finds fieldValidation in the PATCH operation of the kind and leaves the
    // check to the server: strict refuses, warn stores and warns.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cm.yaml");
    std::fs::write(&f, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: 1\ndata:\n  a: b\n")
        .unwrap();
    let strict = kubectl(&api, &["create", "-f", f.to_str().unwrap()]);
    assert_ne!(strict.code, 0);
    assert!(
        strict.stderr.contains(r#"strict decoding error: unknown field "bogus""#),
        "{}\n{}",
        strict.stderr,
        api.proc.log_text()
    );
    assert_ne!(kubectl(&api, &["get", "cm", "strict"]).code, 0, "nothing is stored");
    let warn = kubectl(&api, &["create", "--validate=warn", "-f", f.to_str().unwrap()]);
    assert_eq!(warn.code, 0, "{}", warn.stderr);
    assert!(warn.stderr.contains(r#"unknown field "bogus""#), "{}", warn.stderr);

    // The Swagger 2.0 document as JSON; the protobuf form is refused as not acceptable.
    let (code, v2) = api.curl(&["/openapi/v2"]);
    assert_eq!(code, 200);
    let v2: Value = serde_json::from_str(&v2).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"].is_object());
    let (code, _) =
        api.curl(&["/openapi/v2", "-H", "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf"]);
    assert_eq!(code, 406);
}

/// upstream's v1.33 definitions as the PyPI package `kubernetes-validate` ships them
/// (installed by `make deps`; `$PYTHON_KUBERNETES` picks another interpreter).
fn upstream_definitions() -> serde_json::Map<String, Value> {
    let py = std::env::var_os("PYTHON_KUBERNETES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let out = std::process::Command::new(&py)
        .args(["-c", "import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}: run `make deps`", py.display()));
    assert!(out.status.success(), "kubernetes-validate is not installed: run `make deps`");
    let dir = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(dir.trim()).join("kubernetes-json-schema/v1.33.0-local/_definitions.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["$defs"].as_object().expect("$defs").clone()
}

const MERGE_EXTENSIONS: &[&str] = &[
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
];

/// The merge extensions of a schema (a definition or one of its properties).
fn merge_extensions(schema: &Value) -> Vec<(&'static str, Value)> {
    MERGE_EXTENSIONS.iter().filter_map(|k| schema.get(*k).map(|v| (*k, v.clone()))).collect()
}

/// Every definition both sides have: the same merge extensions on it and on each of its
/// properties. Returns the differences and how many definitions were compared.
fn compare(ours: &serde_json::Map<String, Value>, upstream: &serde_json::Map<String, Value>) -> (Vec<String>, usize) {
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (name, schema) in ours {
        let Some(up) = upstream.get(name) else { continue };
        compared += 1;
        if merge_extensions(schema) != merge_extensions(up) {
            diffs.push(format!("{name}: {:?} != upstream {:?}", merge_extensions(schema), merge_extensions(up)));
        }
        let empty = serde_json::Map::new();
        let props =
            |s: &Value| s.get("properties").and_then(Value::as_object).cloned().unwrap_or_else(|| empty.clone());
        let (ours_p, up_p) = (props(schema), props(up));
        for (p, up_schema) in &up_p {
            let mine = ours_p.get(p).map(merge_extensions).unwrap_or_default();
            if mine != merge_extensions(up_schema) {
                diffs.push(format!("{name}.{p}: {mine:?} != upstream {:?}", merge_extensions(up_schema)));
            }
        }
    }
    (diffs, compared)
}

/// The merge facts (list types and keys, map types, patch strategies and merge keys)
/// of every type the OpenAPI documents publish are upstream's, in v3 and in v2.
#[test]
fn merge_extensions_match_upstreams_definitions() {
    let upstream = upstream_definitions();
    let etcd = Etcd::start(Backend::Store);
    let api = ApiServer::start(&etcd);

    let (code, index) = api.curl(&["/openapi/v3"]);
    assert_eq!(code, 200);
    let index: Value = serde_json::from_str(&index).unwrap();
    let mut schemas = serde_json::Map::new();
    for (gv, entry) in index["paths"].as_object().unwrap() {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        let (code, doc) = api.curl(&[url]);
        assert_eq!(code, 200, "{gv}");
        let doc: Value = serde_json::from_str(&doc).unwrap();
        if let Some(s) = doc["components"]["schemas"].as_object() {
            schemas.extend(s.clone());
        }
    }
    let (diffs, compared) = compare(&schemas, &upstream);
    assert!(compared > 200, "only {compared} definitions compared");
    assert!(diffs.is_empty(), "{} differences in /openapi/v3:\n{}", diffs.len(), diffs.join("\n"));

    let (code, v2) = api.curl(&["/openapi/v2"]);
    assert_eq!(code, 200);
    let v2: Value = serde_json::from_str(&v2).unwrap();
    let (diffs, compared) = compare(v2["definitions"].as_object().unwrap(), &upstream);
    assert!(compared > 200, "only {compared} definitions compared");
    assert!(diffs.is_empty(), "{} differences in /openapi/v2:\n{}", diffs.len(), diffs.join("\n"));

    // kubectl reads them: a client-side apply merges containers by name.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d.yaml");
    let deploy = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: merge\nspec:\n  selector:\n    matchLabels: {{app: m}}\n  template:\n    metadata:\n      labels: {{app: m}}\n    spec:\n      containers:\n      - name: a\n        image: {image}\n        ports:\n        - containerPort: 80\n"
        )
    };
    std::fs::write(&f, deploy("busybox:1")).unwrap();
    ok(&api, &["apply", "-f", f.to_str().unwrap()]);
    // Another writer adds a port to the container; apply leaves it alone.
    ok(
        &api,
        &[
            "patch",
            "deployment",
            "merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"a","ports":[{"containerPort":81}]}]}}}}"#,
        ],
    );
    std::fs::write(&f, deploy("busybox:2")).unwrap();
    ok(&api, &["apply", "-f", f.to_str().unwrap()]);
    let ports = ok(
        &api,
        &[
            "get",
            "deployment",
            "merge",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].ports[*].containerPort} {.spec.template.spec.containers[0].image}",
        ],
    );
    assert_eq!(ports, "80 81 busybox:2");
}
