//! apps/v1: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use serde_json::{Value, json};

use super::core::{CONTAINERS_COLUMN, IMAGES_COLUMN};
use super::podspec::{default, default_template, validate_template};
use super::*;
use crate::status::FieldError;

const SELECTOR_COLUMN: Column = Column::new(
    "Selector",
    "string",
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
)
.wide();

pub static GROUP: Group = Group {
    name: "apps",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: "apps",
                name: "controllerrevisions",
                singular: "controllerrevision",
                kind: "ControllerRevision",
                etcd_prefix: "controllerrevisions",
                decode: typed::<ControllerRevision>,
                validate_update: |new, old| {
                    if new["data"] != old["data"] { vec![immutable("data", &new["data"])] } else { Vec::new() }
                },
                columns: &[
                    NAME_COLUMN,
                    Column::new("Controller", "string", "Controller of the object"),
                    Column::new(
                        "Revision",
                        "string",
                        "Revision indicates the revision of the state represented by Data.",
                    ),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    let owner = o["metadata"]["ownerReferences"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|r| r["controller"] == json!(true))
                        .map(|r| {
                            let group =
                                r["apiVersion"].as_str().unwrap_or_default().split('/').next().unwrap_or_default();
                            let kind = r["kind"].as_str().unwrap_or_default().to_lowercase();
                            let kind =
                                if group.is_empty() || !r["apiVersion"].as_str().unwrap_or_default().contains('/') {
                                    kind
                                } else {
                                    format!("{kind}.{group}")
                                };
                            format!("{kind}/{}", r["name"].as_str().unwrap_or_default())
                        })
                        .unwrap_or_else(|| "<none>".into());
                    vec![o["metadata"]["name"].clone(), json!(owner), o["revision"].clone(), json!(age(o))]
                },
                ..BASE
            },
            Resource {
                group: "apps",
                name: "daemonsets",
                singular: "daemonset",
                kind: "DaemonSet",
                short_names: &["ds"],
                categories: &["all"],
                subresources: &[Subresource::Status],
                generation: true,
                etcd_prefix: "daemonsets",
                decode: typed::<DaemonSet>,
                prepare_for_create: default_daemonset,
                prepare_for_update: |new, _| default_daemonset(new),
                validate: |o| validate_template(o, "spec.template", true, &["Always"]),
                validate_update: selector_immutable,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Desired",
                        "integer",
                        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
                    ),
                    Column::new(
                        "Current",
                        "integer",
                        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                    ),
                    Column::new(
                        "Ready",
                        "integer",
                        "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
                    ),
                    Column::new(
                        "Up-to-date",
                        "integer",
                        "The total number of nodes that are running updated daemon pod",
                    ),
                    Column::new(
                        "Available",
                        "integer",
                        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
                    ),
                    Column::new(
                        "Node Selector",
                        "string",
                        "NodeSelector is a selector which must be true for the pod to fit on a node.",
                    ),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                    SELECTOR_COLUMN,
                ],
                cells: |o| {
                    let (c, i) = containers_and_images(&o["spec"]["template"]["spec"]);
                    let n = |f: &str| json!(o["status"][f].as_i64().unwrap_or(0));
                    vec![
                        o["metadata"]["name"].clone(),
                        n("desiredNumberScheduled"),
                        n("currentNumberScheduled"),
                        n("numberReady"),
                        n("updatedNumberScheduled"),
                        n("numberAvailable"),
                        or_none(selector_string(&o["spec"]["template"]["spec"]["nodeSelector"])),
                        json!(age(o)),
                        c,
                        i,
                        or_none(selector_string(&o["spec"]["selector"])),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "apps",
                name: "deployments",
                singular: "deployment",
                kind: "Deployment",
                short_names: &["deploy"],
                categories: &["all"],
                subresources: &[Subresource::Status, Subresource::Scale],
                generation: true,
                etcd_prefix: "deployments",
                decode: typed::<Deployment>,
                proto: proto::DEPLOYMENT,
                prepare_for_create: default_deployment,
                prepare_for_update: |new, _| default_deployment(new),
                validate: |o| {
                    let mut errs = validate_template(o, "spec.template", true, &["Always"]);
                    errs.extend(replicas_non_negative(o));
                    errs.extend(validate_deployment_strategy(o));
                    errs
                },
                validate_update: selector_immutable,
                columns: &[
                    NAME_COLUMN,
                    Column::new("Ready", "string", "Number of the pod with ready state"),
                    Column::new(
                        "Up-to-date",
                        "string",
                        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
                    ),
                    Column::new(
                        "Available",
                        "string",
                        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
                    ),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                    SELECTOR_COLUMN,
                ],
                cells: |o| {
                    let (c, i) = containers_and_images(&o["spec"]["template"]["spec"]);
                    let n = |f: &str| o["status"][f].as_i64().unwrap_or(0);
                    vec![
                        o["metadata"]["name"].clone(),
                        json!(format!("{}/{}", n("readyReplicas"), o["spec"]["replicas"].as_i64().unwrap_or(0))),
                        json!(n("updatedReplicas")),
                        json!(n("availableReplicas")),
                        json!(age(o)),
                        c,
                        i,
                        or_none(selector_string(&o["spec"]["selector"])),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "apps",
                name: "replicasets",
                field_selectors: &[("status.replicas", "status.replicas")],
                singular: "replicaset",
                kind: "ReplicaSet",
                short_names: &["rs"],
                categories: &["all"],
                subresources: &[Subresource::Status, Subresource::Scale],
                generation: true,
                etcd_prefix: "replicasets",
                decode: typed::<ReplicaSet>,
                prepare_for_create: default_replicaset,
                prepare_for_update: |new, _| default_replicaset(new),
                validate: |o| {
                    let mut errs = validate_template(o, "spec.template", true, &["Always"]);
                    errs.extend(replicas_non_negative(o));
                    errs
                },
                validate_update: selector_immutable,
                columns: &[
                    NAME_COLUMN,
                    Column::new("Desired", "integer", "Replicas is the number of desired pods."),
                    Column::new(
                        "Current",
                        "integer",
                        "Replicas is the most recently observed number of non-terminating pods.",
                    ),
                    Column::new(
                        "Ready",
                        "integer",
                        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
                    ),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                    SELECTOR_COLUMN,
                ],
                cells: super::core::replica_cells,
                ..BASE
            },
            Resource {
                group: "apps",
                name: "statefulsets",
                singular: "statefulset",
                kind: "StatefulSet",
                short_names: &["sts"],
                categories: &["all"],
                subresources: &[Subresource::Status, Subresource::Scale],
                generation: true,
                etcd_prefix: "statefulsets",
                decode: typed::<StatefulSet>,
                prepare_for_create: default_statefulset,
                prepare_for_update: |new, _| default_statefulset(new),
                validate: |o| {
                    let mut errs = validate_template(o, "spec.template", true, &["Always"]);
                    errs.extend(replicas_non_negative(o));
                    if let Some(p) = o["spec"]["podManagementPolicy"].as_str()
                        && p != "OrderedReady"
                        && p != "Parallel"
                    {
                        errs.push(FieldError::not_supported(
                            "spec.podManagementPolicy",
                            p,
                            &["OrderedReady", "Parallel"],
                        ));
                    }
                    errs
                },
                validate_update: |new, old| {
                    let mut errs = selector_immutable(new, old);
                    // Only these spec fields may change (upstream's rule).
                    let mask = |o: &Value| {
                        let mut s = o["spec"].clone();
                        if let Some(m) = s.as_object_mut() {
                            for f in [
                                "replicas",
                                "ordinals",
                                "template",
                                "updateStrategy",
                                "persistentVolumeClaimRetentionPolicy",
                                "minReadySeconds",
                                "revisionHistoryLimit",
                            ] {
                                m.shift_remove(f);
                            }
                        }
                        s
                    };
                    if errs.is_empty() && mask(new) != mask(old) {
                        errs.push(FieldError::forbidden(
                            "spec",
                            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                        ));
                    }
                    errs
                },
                columns: &[
                    NAME_COLUMN,
                    Column::new("Ready", "string", "Number of the pod with ready state"),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                ],
                cells: |o| {
                    let (c, i) = containers_and_images(&o["spec"]["template"]["spec"]);
                    let ready = o["status"]["readyReplicas"].as_i64().unwrap_or(0);
                    vec![
                        o["metadata"]["name"].clone(),
                        json!(format!("{ready}/{}", o["spec"]["replicas"].as_i64().unwrap_or(0))),
                        json!(age(o)),
                        c,
                        i,
                    ]
                },
                ..BASE
            },
        ],
    }],
};

/// `ValidateDeploymentStrategy` and the non-negative counts of a deployment spec.
fn validate_deployment_strategy(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let strategy = &o["spec"]["strategy"];
    match strategy["type"].as_str().unwrap_or_default() {
        "Recreate" => {
            if !strategy["rollingUpdate"].is_null() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = &strategy["rollingUpdate"];
            let zero = |v: &Value| v.is_null() || *v == json!(0) || *v == json!("0%");
            if zero(&ru["maxUnavailable"]) && zero(&ru["maxSurge"]) {
                errs.push(FieldError {
                    reason: "FieldValueInvalid",
                    field: "spec.strategy.rollingUpdate.maxUnavailable".into(),
                    message: format!(
                        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: {}: may not be 0 when `maxSurge` is 0",
                        go_int_or_string(&ru["maxUnavailable"])
                    ),
                });
            }
        }
        other => errs.push(FieldError::not_supported("spec.strategy.type", other, &["Recreate", "RollingUpdate"])),
    }
    for f in ["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"] {
        if let Some(n) = o["spec"][f].as_i64()
            && n < 0
        {
            errs.push(FieldError::invalid_value(&format!("spec.{f}"), &json!(n), "must be greater than or equal to 0"));
        }
    }
    errs
}

fn replicas_non_negative(o: &Value) -> Vec<FieldError> {
    match o["spec"]["replicas"].as_i64() {
        Some(n) if n < 0 => {
            vec![FieldError::invalid_value("spec.replicas", &json!(n), "must be greater than or equal to 0")]
        }
        _ => Vec::new(),
    }
}

/// `spec.selector` may not change after creation (apps/v1).
pub fn selector_immutable(new: &Value, old: &Value) -> Vec<FieldError> {
    if new["spec"]["selector"] != old["spec"]["selector"] {
        vec![FieldError {
            reason: "FieldValueInvalid",
            field: "spec.selector".into(),
            message: format!(
                "spec.selector: Invalid value: {}: field is immutable",
                go_label_selector(&new["spec"]["selector"])
            ),
        }]
    } else {
        Vec::new()
    }
}

fn default_deployment(o: &mut Value) {
    let spec = &mut o["spec"];
    default(spec, "replicas", json!(1));
    default(spec, "strategy", json!({"type": "RollingUpdate"}));
    if spec["strategy"]["type"].as_str().is_none_or(str::is_empty) {
        spec["strategy"]["type"] = json!("RollingUpdate");
    }
    if spec["strategy"]["type"] == "RollingUpdate" {
        default(&mut spec["strategy"], "rollingUpdate", json!({}));
        default(&mut spec["strategy"]["rollingUpdate"], "maxUnavailable", json!("25%"));
        default(&mut spec["strategy"]["rollingUpdate"], "maxSurge", json!("25%"));
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    default_template(&mut spec["template"]);
}

fn default_replicaset(o: &mut Value) {
    default(&mut o["spec"], "replicas", json!(1));
    default_template(&mut o["spec"]["template"]);
}

fn default_daemonset(o: &mut Value) {
    let spec = &mut o["spec"];
    default(spec, "updateStrategy", json!({"type": "RollingUpdate"}));
    if spec["updateStrategy"]["type"] == "RollingUpdate" {
        default(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
        default(&mut spec["updateStrategy"]["rollingUpdate"], "maxUnavailable", json!(1));
        default(&mut spec["updateStrategy"]["rollingUpdate"], "maxSurge", json!(0));
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default_template(&mut spec["template"]);
}

fn default_statefulset(o: &mut Value) {
    let spec = &mut o["spec"];
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "updateStrategy", json!({"type": "RollingUpdate"}));
    if spec["updateStrategy"]["type"] == "RollingUpdate" {
        default(&mut spec["updateStrategy"], "rollingUpdate", json!({"partition": 0}));
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    default_template(&mut spec["template"]);
    for pvc in spec.get_mut("volumeClaimTemplates").and_then(Value::as_array_mut).into_iter().flatten() {
        default(&mut pvc["spec"], "volumeMode", json!("Filesystem"));
        default(pvc, "status", json!({"phase": "Pending"}));
    }
}

/// A `metav1.LabelSelector` as Go's `%#v` prints it (in upstream's error messages).
pub fn go_label_selector(sel: &Value) -> String {
    let labels = match sel["matchLabels"].as_object() {
        Some(m) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> =
                kv.iter().map(|(k, v)| format!("{:?}:{:?}", k, v.as_str().unwrap_or_default())).collect();
            format!("map[string]string{{{}}}", inner.join(", "))
        }
        None => "map[string]string(nil)".to_string(),
    };
    let exprs = match sel["matchExpressions"].as_array() {
        Some(a) => {
            let inner: Vec<String> = a
                .iter()
                .map(|e| {
                    let values = match e["values"].as_array() {
                        Some(vs) => {
                            let q: Vec<String> =
                                vs.iter().map(|v| format!("{:?}", v.as_str().unwrap_or_default())).collect();
                            format!("[]string{{{}}}", q.join(", "))
                        }
                        None => "[]string(nil)".to_string(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}",
                        e["key"].as_str().unwrap_or_default(),
                        e["operator"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", inner.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

/// An `intstr.IntOrString` as Go's `%#v` prints it.
pub fn go_int_or_string(v: &Value) -> String {
    match v.as_str() {
        Some(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{s:?}}}"),
        None => format!("intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}", v.as_i64().unwrap_or(0)),
    }
}
