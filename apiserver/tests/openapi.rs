//! The OpenAPI documents through the real kubectl (v1.32): `kubectl explain` (which reads
//! `/openapi/v3`) for core and group resources and nested fields, kubectl's probe for
//! server-side field validation (an unknown field is refused by the server under the
//! default `--validate=strict`, and only warned about with `--validate=warn`), and the
//! Swagger 2.0 document at `/openapi/v2`.

mod common;

use common::{ApiServer, Backend, Etcd, kubectl};
use serde_json::Value;

fn ok(api: &ApiServer, args: &[&str]) -> String {
    let out = kubectl(api, args);
    assert_eq!(out.code, 0, "kubectl {args:?} failed:\n{}\n{}", out.stderr, api.proc.log_text());
    out.stdout
}

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
