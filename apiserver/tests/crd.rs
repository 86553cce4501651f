//! CustomResourceDefinitions end to end with kubectl v1.32, on our store and on a real
//! etcd: the CRD round trip (apply, wait for Established, api-resources, custom objects
//! from YAML with printer columns, short names, explain, merge patch, the strategic patch
//! refused, scale, the status subresource, pruning, defaulting, schema violations, delete
//! taking the objects with it), CRD validation and name conflicts, and a second apiserver
//! learning about the CRD through its watch.

mod common;

use std::time::{Duration, Instant};

use common::{ApiServer, Backend, Etcd, both, kubectl, kubectl_ok as ok};
use futures::StreamExt;
use serde_json::Value;

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    selectableFields:
    - jsonPath: .spec.image
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Image
      type: string
      priority: 1
      jsonPath: .spec.image
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The desired schedule of the crontab.
            properties:
              cronSpec:
                type: string
                description: When the job runs, in cron syntax.
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name:
                      type: string
                    port:
                      type: integer
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
"#;

const CR: &str = r#"apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
  labels:
    app: cron
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
  unknownField: dropped
"#;

fn fails(api: &ApiServer, args: &[&str]) -> String {
    let out = kubectl(api, args);
    assert_ne!(out.code, 0, "kubectl {args:?} succeeded:\n{}", out.stdout);
    out.stderr
}

fn json_of(api: &ApiServer, args: &[&str]) -> Value {
    serde_json::from_str(&ok(api, args)).expect("json")
}

fn write(api: &ApiServer, name: &str, text: &str) -> String {
    let path = api.kubeconfig.with_file_name(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Whether some line of `text` starts with `tokens` once whitespace is collapsed.
fn has_line_starting(text: &str, tokens: &str) -> bool {
    let want: Vec<&str> = tokens.split_whitespace().collect();
    text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().starts_with(&want))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn round_trip(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let crd_file = write(&api, "crd.yaml", CRD);
    assert_eq!(
        ok(&api, &["apply", "-f", &crd_file]).trim(),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"
    );
    assert_eq!(
        ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/crontabs.stable.example.com"])
            .trim(),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met"
    );
    let crd = json_of(&api, &["get", "crd", "crontabs.stable.example.com", "-o", "json"]);
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
    assert_eq!(crd["spec"]["names"]["singular"], "crontab");
    assert_eq!(crd["status"]["acceptedNames"]["shortNames"], serde_json::json!(["ct"]));
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1"]));
    let cond = |ty: &str| {
        crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == ty).cloned().unwrap_or_default()
    };
    assert_eq!(
        (cond("NamesAccepted")["status"].as_str(), cond("NamesAccepted")["reason"].as_str()),
        (Some("True"), Some("NoConflicts"))
    );
    assert_eq!(cond("Established")["reason"], "InitialNamesAccepted");
    assert!(has_line_starting(&ok(&api, &["get", "crd"]), "crontabs.stable.example.com"));

    // Discovery: api-resources, the group's legacy document and aggregated discovery.
    let resources = ok(&api, &["api-resources", "--api-group=stable.example.com"]);
    assert!(has_line_starting(&resources, "crontabs ct stable.example.com/v1 true CronTab"), "{resources}");
    let (code, body) = api.curl(&["/apis/stable.example.com/v1"]);
    assert_eq!(code, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["crontabs", "crontabs/scale", "crontabs/status"]);
    assert_eq!(
        list["resources"][0]["verbs"],
        serde_json::json!(["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"])
    );
    assert_eq!(list["resources"][0]["categories"], serde_json::json!(["all"]));
    assert_eq!(list["resources"][1]["group"], "autoscaling");
    let (_, body) =
        api.curl(&["/apis", "-H", "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"]);
    let agg: Value = serde_json::from_str(&body).unwrap();
    let groups: Vec<&str> =
        agg["items"].as_array().unwrap().iter().map(|g| g["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(groups.last(), Some(&"stable.example.com"), "{groups:?}");
    assert!(groups.contains(&"apiextensions.k8s.io"));

    // OpenAPI: the group version's v3 document and the v2 document carry the schema.
    let (_, index) = api.curl(&["/openapi/v3"]);
    let index: Value = serde_json::from_str(&index).unwrap();
    let url = index["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].as_str().expect("indexed").to_string();
    let (code, doc) = api.curl(&[&url]);
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let schema = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert_eq!(
        schema["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
    );
    assert_eq!(schema["properties"]["spec"]["properties"]["replicas"]["maximum"], 10);
    let (_, v2) = api.curl(&["/openapi/v2"]);
    let v2: Value = serde_json::from_str(&v2).unwrap();
    assert!(v2["definitions"]["com.example.stable.v1.CronTab"]["x-kubernetes-group-version-kind"].is_array());

    // Strict field validation (kubectl's default) refuses the unknown field ...
    let cr_file = write(&api, "cr.yaml", CR);
    let err = fails(&api, &["apply", "-f", &cr_file]);
    assert!(err.contains(r#"strict decoding error: unknown field "spec.unknownField""#), "{err}");
    // ... Warn reports it and the object is stored pruned, with defaults.
    let out = kubectl(&api, &["create", "--validate=warn", "-f", &cr_file]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "crontab.stable.example.com/my-cron created");
    assert!(out.stderr.contains(r#"unknown field "spec.unknownField""#), "{}", out.stderr);
    let cr = json_of(&api, &["get", "crontab", "my-cron", "-o", "json"]);
    assert!(cr["spec"].get("unknownField").is_none(), "{cr}");
    assert_eq!(cr["spec"]["replicas"], 1, "defaulted: {cr}");
    assert_eq!(cr["metadata"]["generation"], 1);
    assert_eq!(cr["apiVersion"], "stable.example.com/v1");

    // Printer columns, -o wide, the short name and the `all` category.
    let table = ok(&api, &["get", "crontabs"]);
    assert!(has_line_starting(&table, "NAME SPEC REPLICAS AGE"), "{table}");
    assert!(has_line_starting(&table, "my-cron * * * * */5 1"), "{table}");
    let wide = ok(&api, &["get", "ct", "-o", "wide"]);
    assert!(has_line_starting(&wide, "NAME SPEC REPLICAS IMAGE AGE"), "{wide}");
    assert!(wide.contains("my-awesome-cron-image"), "{wide}");
    assert!(ok(&api, &["get", "all"]).contains("crontab.stable.example.com/my-cron"));
    assert!(ok(&api, &["get", "ct", "-l", "app=cron", "-o", "name"]).contains("crontab.stable.example.com/my-cron"));
    assert_eq!(ok(&api, &["get", "ct", "-l", "app=other", "-o", "name"]).trim(), "");
    assert!(ok(&api, &["get", "ct", "--field-selector", "metadata.name=my-cron", "-o", "name"]).contains("my-cron"));
    let by_image = ["get", "ct", "--field-selector", "spec.image=my-awesome-cron-image", "-o", "name"];
    assert_eq!(ok(&api, &by_image).trim(), "crontab.stable.example.com/my-cron");
    assert_eq!(ok(&api, &["get", "ct", "--field-selector", "spec.image=other", "-o", "name"]).trim(), "");

    // explain reads the CRD's schema from the OpenAPI documents.
    let explain = ok(&api, &["explain", "crontab.spec"]);
    assert!(explain.contains("The desired schedule of the crontab."), "{explain}");
    assert!(explain.contains("cronSpec"), "{explain}");

    // Merge patch; the strategic merge patch refused like upstream.
    let out = ok(&api, &["patch", "crontab", "my-cron", "--type", "merge", "-p", r#"{"spec":{"image":"new-image"}}"#]);
    assert_eq!(out.trim(), "crontab.stable.example.com/my-cron patched");
    let cr = json_of(&api, &["get", "ct", "my-cron", "-o", "json"]);
    assert_eq!((cr["spec"]["image"].as_str(), cr["metadata"]["generation"].as_i64()), (Some("new-image"), Some(2)));
    let err = fails(&api, &["patch", "crontab", "my-cron", "-p", r#"{"spec":{"image":"x"}}"#]);
    assert!(
        err.contains("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
        "{err}"
    );

    // Client-side apply of a custom object: kubectl picks a merge patch from the OpenAPI.
    let applied_cr = write(
        &api,
        "cr-apply.yaml",
        &CR.replace("  unknownField: dropped\n", "").replace("my-awesome-cron-image", "applied-image"),
    );
    let out = kubectl(&api, &["apply", "-f", &applied_cr]);
    assert_eq!((out.code, out.stdout.trim()), (0, "crontab.stable.example.com/my-cron configured"), "{}", out.stderr);
    assert_eq!(json_of(&api, &["get", "ct", "my-cron", "-o", "json"])["spec"]["image"], "applied-image");
    ok(&api, &["patch", "crontab", "my-cron", "--type", "merge", "-p", r#"{"spec":{"image":"new-image"}}"#]);

    // A schema violation: upstream's message, nothing stored.
    let err = fails(&api, &["patch", "crontab", "my-cron", "--type", "merge", "-p", r#"{"spec":{"replicas":20}}"#]);
    assert!(
        err.contains(r#"The CronTab "my-cron" is invalid: spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10"#),
        "{err}"
    );
    assert_eq!(json_of(&api, &["get", "ct", "my-cron", "-o", "json"])["spec"]["replicas"], 1);

    // The scale subresource.
    assert_eq!(
        ok(&api, &["scale", "crontab", "my-cron", "--replicas=3"]).trim(),
        "crontab.stable.example.com/my-cron scaled"
    );
    assert_eq!(json_of(&api, &["get", "ct", "my-cron", "-o", "json"])["spec"]["replicas"], 3);

    // The status subresource: only status changes through it, without a new generation;
    // the main resource ignores status.
    let out = ok(
        &api,
        &[
            "patch",
            "crontab",
            "my-cron",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"replicas":2,"labelSelector":"app=cron"},"spec":{"image":"ignored"}}"#,
        ],
    );
    assert_eq!(out.trim(), "crontab.stable.example.com/my-cron patched");
    ok(&api, &["patch", "crontab", "my-cron", "--type", "merge", "-p", r#"{"status":{"replicas":9}}"#]);
    let cr = json_of(&api, &["get", "ct", "my-cron", "-o", "json"]);
    assert_eq!(cr["status"]["replicas"], 2, "{cr}");
    assert_eq!(cr["spec"]["image"], "new-image");
    assert_eq!(cr["metadata"]["generation"], 5, "four spec changes since creation, none by status: {cr}");
    let (code, body) = api.curl(&["/apis/stable.example.com/v1/namespaces/default/crontabs/my-cron/scale"]);
    assert_eq!(code, 200, "{body}");
    let scale: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((scale["kind"].as_str(), scale["apiVersion"].as_str()), (Some("Scale"), Some("autoscaling/v1")));
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"], serde_json::json!({"replicas": 2, "selector": "app=cron"}));

    // Server-side apply creates and owns fields.
    let ssa = write(
        &api,
        "ssa.yaml",
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: applied\nspec:\n  cronSpec: '0 * * * *'\n",
    );
    assert_eq!(
        ok(&api, &["apply", "--server-side", "-f", &ssa]).trim(),
        "crontab.stable.example.com/applied serverside-applied"
    );
    let cr = json_of(&api, &["get", "ct", "applied", "-o", "json", "--show-managed-fields"]);
    assert_eq!(cr["metadata"]["managedFields"][0]["manager"], "kubectl");
    assert_eq!(cr["spec"]["replicas"], 1);
    // Two managers own one entry each of a list-map (x-kubernetes-list-map-keys).
    for (manager, port) in [("first", 1), ("second", 2)] {
        let text = format!(
            "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: applied\nspec:\n  ports:\n  - name: {manager}\n    port: {port}\n"
        );
        let file = write(&api, &format!("{manager}.yaml"), &text);
        ok(&api, &["apply", "--server-side", "--field-manager", manager, "-f", &file]);
    }
    let cr = json_of(&api, &["get", "ct", "applied", "-o", "json"]);
    assert_eq!(
        cr["spec"]["ports"],
        serde_json::json!([{"name": "first", "port": 1}, {"name": "second", "port": 2}]),
        "{cr}"
    );
    assert_eq!(cr["spec"]["cronSpec"], "0 * * * *", "kubectl's fields stay: {cr}");

    // A watch sees the status (kubectl wait lists, then watches).
    ok(&api, &["wait", "--for=jsonpath={.status.replicas}=2", "--timeout=10s", "crontab/my-cron"]);
    // deletecollection with a label selector.
    ok(&api, &["label", "ct", "applied", "batch=one"]);
    let (code, body) = api.curl(&[
        "/apis/stable.example.com/v1/namespaces/default/crontabs?labelSelector=batch%3Done",
        "-X",
        "DELETE",
    ]);
    assert_eq!(code, 200, "{body}");
    let deleted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(deleted["kind"], "CronTabList");
    assert_eq!(deleted["items"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(ok(&api, &["get", "ct", "-o", "name"]).trim(), "crontab.stable.example.com/my-cron");
    // An object in another namespace, for the cleanup below.
    ok(&api, &["create", "namespace", "other"]);
    ok(&api, &["create", "--validate=false", "-n", "other", "-f", &cr_file]);

    // A deleted namespace takes its custom objects with it.
    ok(&api, &["create", "namespace", "gone"]);
    ok(&api, &["create", "--validate=false", "-n", "gone", "-f", &cr_file]);
    ok(&api, &["delete", "namespace", "gone", "--timeout=30s"]);
    let (code, body) = api.curl(&["/apis/stable.example.com/v1/namespaces/gone/crontabs"]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["items"], serde_json::json!([]), "{body}");

    // Deleting the CRD deletes its objects, then itself; the resources leave discovery.
    let out = ok(&api, &["delete", "crd", "crontabs.stable.example.com", "--timeout=30s"]);
    assert_eq!(out.trim(), "customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted");
    wait_until("the resources to leave discovery", || !ok(&api, &["api-resources"]).contains("stable.example.com"));
    let (code, _) = api.curl(&["/apis/stable.example.com/v1/namespaces/default/crontabs"]);
    assert_eq!(code, 404);
    ok(&api, &["apply", "-f", &crd_file]);
    ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/crontabs.stable.example.com"]);
    let out = kubectl(&api, &["get", "ct", "-A"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("No resources found"), "the old objects are gone: {}{}", out.stdout, out.stderr);
}

fn validation_and_conflicts(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    // No storage version and a name that does not match: upstream's messages, nothing stored.
    let bad = CRD
        .replace("storage: true", "storage: false")
        .replace("name: crontabs.stable.example.com", "name: crons.stable.example.com");
    let file = write(&api, "bad.yaml", &bad);
    let err = fails(&api, &["apply", "-f", &file]);
    assert!(err.contains(r#"The CustomResourceDefinition "crons.stable.example.com" is invalid"#), "{err}");
    assert!(
        err.contains(
            r#"metadata.name: Invalid value: "crons.stable.example.com": must be spec.names.plural+"."+spec.group"#
        ),
        "{err}"
    );
    assert!(err.contains("must have exactly one version marked as storage version"), "{err}");
    let err = fails(&api, &["get", "crd", "crons.stable.example.com"]);
    assert!(err.contains("NotFound"), "{err}");
    // A schema is required in v1.
    let no_schema = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: foos.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {plural: foos, kind: Foo}\n  versions:\n  - {name: v1, served: true, storage: true}\n";
    let err = fails(&api, &["apply", "-f", &write(&api, "noschema.yaml", no_schema)]);
    assert!(err.contains("spec.versions[0].schema.openAPIV3Schema: Required value"), "{err}");

    // Two CRDs in one group claiming the same short name: the second's names are not accepted.
    ok(&api, &["apply", "-f", &write(&api, "crd.yaml", CRD)]);
    ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/crontabs.stable.example.com"]);
    let other = CRD.replace("crontabs", "crons").replace("kind: CronTab", "kind: Cron");
    ok(&api, &["apply", "-f", &write(&api, "other.yaml", &other)]);
    ok(&api, &["wait", "--for", "condition=namesaccepted=false", "--timeout=20s", "crd/crons.stable.example.com"]);
    let crd = json_of(&api, &["get", "crd", "crons.stable.example.com", "-o", "json"]);
    let na =
        crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "NamesAccepted").unwrap().clone();
    assert_eq!(
        (na["reason"].as_str(), na["message"].as_str()),
        (Some("ShortNamesConflict"), Some(r#""ct" is already in use"#))
    );
    let est =
        crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Established").unwrap().clone();
    assert_eq!((est["status"].as_str(), est["reason"].as_str()), (Some("False"), Some("NotAccepted")));
    // Deleting the first frees the short name: the second is accepted then.
    ok(&api, &["delete", "crd", "crontabs.stable.example.com", "--timeout=30s"]);
    ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/crons.stable.example.com"]);
    ok(&api, &["apply", "-f", &write(&api, "crd.yaml", CRD)]);
    ok(&api, &["wait", "--for", "condition=namesaccepted=false", "--timeout=20s", "crd/crontabs.stable.example.com"]);
    ok(&api, &["delete", "crd", "crons.stable.example.com", "--timeout=30s"]);
    ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/crontabs.stable.example.com"]);

    // Two served versions (conversion None): objects are stored in the storage version and
    // read in the version asked for; the deprecated one warns.
    let gadgets = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {plural: gadgets, kind: Gadget}\n  versions:\n  - name: v1beta1\n    served: true\n    storage: false\n    deprecated: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n  - name: v1\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";
    ok(&api, &["apply", "-f", &write(&api, "gadgets.yaml", gadgets)]);
    ok(&api, &["wait", "--for", "condition=established", "--timeout=20s", "crd/gadgets.example.com"]);
    let gadget =
        write(&api, "gadget.yaml", "apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata:\n  name: g\nsize: 3\n");
    let out = kubectl(&api, &["create", "-f", &gadget]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Warning: example.com/v1beta1 Gadget is deprecated; use example.com/v1 Gadget"),
        "{}",
        out.stderr
    );
    let old = json_of(&api, &["get", "gadgets.v1beta1.example.com", "g", "-o", "json"]);
    let new = json_of(&api, &["get", "gadgets.v1.example.com", "g", "-o", "json"]);
    assert_eq!(
        (old["apiVersion"].as_str(), new["apiVersion"].as_str()),
        (Some("example.com/v1beta1"), Some("example.com/v1"))
    );
    assert_eq!((old["size"].as_i64(), new["size"].as_i64()), (Some(3), Some(3)));
    assert!(new["metadata"].get("namespace").is_none(), "cluster-scoped: {new}");

    // A second apiserver on the same store learns about the CRDs from its watch.
    let second = ApiServer::start(&etcd);
    ok(&api, &["apply", "--validate=false", "-f", &write(&api, "cr.yaml", CR)]);
    wait_until("the second apiserver to serve crontabs", || {
        second.curl(&["/apis/stable.example.com/v1/namespaces/default/crontabs/my-cron"]).0 == 200
    });
    let resources = ok(&second, &["api-resources", "--api-group=stable.example.com"]);
    assert!(has_line_starting(&resources, "crontabs ct stable.example.com/v1 true CronTab"), "{resources}");

    // An object's own finalizer holds a deleted CRD in Terminating; no objects are created
    // meanwhile; releasing it lets the cleanup finish.
    ok(
        &api,
        &["patch", "ct", "my-cron", "--type", "merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#],
    );
    ok(&api, &["delete", "crd", "crontabs.stable.example.com", "--wait=false"]);
    ok(&api, &["wait", "--for", "condition=terminating", "--timeout=20s", "crd/crontabs.stable.example.com"]);
    let crd = json_of(&api, &["get", "crd", "crontabs.stable.example.com", "-o", "json"]);
    assert_eq!(crd["metadata"]["finalizers"], serde_json::json!(["customresourcecleanup.apiextensions.k8s.io"]));
    let other = write(&api, "other-cr.yaml", &CR.replace("name: my-cron", "name: late"));
    let err = fails(&api, &["create", "--validate=false", "-f", &other]);
    assert!(
        err.contains("(MethodNotAllowed)")
            && err.contains("create not allowed while custom resource definition is terminating"),
        "{err}"
    );
    let cr = json_of(&api, &["get", "ct", "my-cron", "-o", "json"]);
    assert!(cr["metadata"]["deletionTimestamp"].is_string(), "the cleanup deleted it: {cr}");
    ok(&api, &["patch", "ct", "my-cron", "--type", "merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    wait_until("the CRD to go", || kubectl(&api, &["get", "crd", "crontabs.stable.example.com"]).code != 0);
}

/// kube-rs against custom resources: the CRD through its typed API, `await_condition`
/// for Established, discovery of the new kind, then `DynamicObject` create, list, merge
/// patch, the status subresource and a watch.
async fn kube_rs_dynamic(backend: Backend) {
    use futures::TryStreamExt;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
    use kube::runtime::{conditions, wait::await_condition, watcher};

    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = kube::Config::new(api.url.parse().expect("url"));
    cfg.accept_invalid_certs = true;
    let client = kube::Client::try_from(cfg).expect("kube client");

    let crd: CustomResourceDefinition = serde_saphyr::from_str(CRD).expect("CRD yaml");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd).await.expect("create CRD");
    let established = await_condition(crds, "crontabs.stable.example.com", conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(20), established).await.expect("established in time").expect("watch");

    let discovery = kube::Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.kind == "CronTab")
        .expect("CronTab discovered");
    assert_eq!((ar.group.as_str(), ar.version.as_str(), ar.plural.as_str()), ("stable.example.com", "v1", "crontabs"));
    assert!(caps.subresources.iter().any(|(s, _)| s.plural == "status"), "{caps:?}");
    let crons: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);

    let mut events = watcher(crons.clone(), watcher::Config::default()).boxed();
    let obj: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "dyn"}, "spec": {"cronSpec": "* * * * *", "extra": 1},
    }))
    .unwrap();
    let created = crons.create(&PostParams::default(), &obj).await.expect("create");
    assert_eq!(created.data["spec"], serde_json::json!({"cronSpec": "* * * * *", "replicas": 1}));
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.try_next().await.expect("watch") {
            if let watcher::Event::Apply(o) | watcher::Event::InitApply(o) = ev
                && o.metadata.name.as_deref() == Some("dyn")
            {
                return o;
            }
        }
        panic!("watch ended")
    })
    .await
    .expect("the watch sees the object");
    assert_eq!(seen.types.as_ref().map(|t| t.kind.as_str()), Some("CronTab"));

    let patched = crons
        .patch("dyn", &PatchParams::default(), &Patch::Merge(serde_json::json!({"spec": {"image": "i"}})))
        .await
        .expect("merge patch");
    assert_eq!(patched.data["spec"]["image"], "i");
    let status = crons
        .patch_status("dyn", &PatchParams::default(), &Patch::Merge(serde_json::json!({"status": {"replicas": 4}})))
        .await
        .expect("status patch");
    assert_eq!(status.data["status"]["replicas"], 4);
    let list = crons.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].data["status"]["replicas"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_dynamic_on_store() {
    kube_rs_dynamic(Backend::Store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_dynamic_on_etcd() {
    kube_rs_dynamic(Backend::Etcd).await;
}

/// The Python `kubernetes` package (`tests/python/crd.py`, installed by `make deps` into
/// `<workspace>/.venv`, or `$PYTHON_KUBERNETES`): ApiextensionsV1Api and CustomObjectsApi.
fn python_custom_objects(backend: Backend) {
    let py = std::env::var_os("PYTHON_KUBERNETES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/crd.py");
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg(&api.url)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make deps` or set PYTHON_KUBERNETES)", py.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "crd.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect(&stdout);
    assert_eq!(
        summary,
        serde_json::json!({
            "accepted_kind": "Widget",
            "defaulted_size": 3,
            "listed": [["Widget", "w1"]],
            "patched_color": "blue",
            "ready": true,
            "invalid": "Widget.widgets.example.com \"w1\" is invalid: spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\"",
            "after_delete": "widgets.widgets.example.com \"w1\" not found",
        })
    );
}

both!(round_trip, crd_round_trip_on_store, crd_round_trip_on_etcd);
both!(validation_and_conflicts, crd_validation_on_store, crd_validation_on_etcd);
both!(python_custom_objects, python_custom_objects_on_store, python_custom_objects_on_etcd);
