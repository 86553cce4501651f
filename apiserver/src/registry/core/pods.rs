//! Pods: defaulting (the pod spec's, the default service account, Pending status with
//! its QoS class), validation, the mostly-immutable spec, table and field selectors.

use serde_json::{Value, json};

use super::super::podspec::{default_pod_spec, qos_class, validate_pod_spec};
use super::super::*;
use crate::status::FieldError;

pub const FIELD_SELECTORS: &[(&str, &str)] = &[
    ("spec.nodeName", "spec.nodeName"),
    ("spec.restartPolicy", "spec.restartPolicy"),
    ("spec.schedulerName", "spec.schedulerName"),
    ("spec.serviceAccountName", "spec.serviceAccountName"),
    ("spec.hostNetwork", "spec.hostNetwork"),
    ("status.phase", "status.phase"),
    ("status.podIP", "status.podIP"),
    ("status.nominatedNodeName", "status.nominatedNodeName"),
];

pub const COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column::new("Status", "string", "The aggregate status of the containers in this pod."),
    Column::new(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE_COLUMN,
    Column::new(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    )
    .wide(),
    Column::new(
        "Node",
        "string",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    )
    .wide(),
    Column::new(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    )
    .wide(),
    Column::new(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    )
    .wide(),
];

pub fn prepare_for_create(o: &mut Value) {
    default_pod_spec(&mut o["spec"]);
    // The deprecated alias follows the name (the ServiceAccount admission plugin
    // defaults the name itself).
    if o["spec"]["serviceAccountName"].is_string() {
        o["spec"]["serviceAccount"] = o["spec"]["serviceAccountName"].clone();
    }
    let qos = qos_class(&o["spec"]);
    o["status"] = json!({"phase": "Pending", "qosClass": qos});
}

pub fn prepare_for_update(new: &mut Value, _old: &Value) {
    default_pod_spec(&mut new["spec"]);
}

pub fn validate(o: &Value) -> Vec<FieldError> {
    validate_pod_spec(&o["spec"], "spec")
}

/// The fields a pod update may change: the containers' images, activeDeadlineSeconds,
/// added tolerations, terminationGracePeriodSeconds.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mask = |o: &Value| {
        let mut s = o["spec"].clone();
        for list in ["containers", "initContainers"] {
            if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
                for c in cs {
                    c["image"] = Value::Null;
                }
            }
        }
        if let Some(m) = s.as_object_mut() {
            for f in ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"] {
                m.shift_remove(f);
            }
        }
        s
    };
    let mut errs = Vec::new();
    if mask(new) != mask(old) {
        errs.push(FieldError::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
    let old_tol = old["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    let new_tol = new["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    if !old_tol.iter().all(|t| new_tol.contains(t)) && errs.is_empty() {
        errs.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    errs
}

/// The STATUS column (kubectl's `printPod`).
pub fn status_reason(o: &Value) -> String {
    let st = &o["status"];
    let mut reason = st["phase"].as_str().unwrap_or_default().to_string();
    if let Some(r) = st["reason"].as_str().filter(|r| !r.is_empty()) {
        reason = r.to_string();
    }
    let gated = st["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated");
    if gated {
        reason = "SchedulingGated".into();
    }
    let mut initializing = false;
    let inits = st["initContainerStatuses"].as_array().cloned().unwrap_or_default();
    let init_count = o["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    for (i, c) in inits.iter().enumerate() {
        let term = &c["state"]["terminated"];
        if term.is_object() && term["exitCode"].as_i64() == Some(0) {
            continue;
        }
        initializing = true;
        if term.is_object() {
            reason = match term["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if term["signal"].as_i64().unwrap_or(0) != 0 => format!("Init:Signal:{}", term["signal"]),
                None => format!("Init:ExitCode:{}", term["exitCode"].as_i64().unwrap_or(0)),
            };
        } else if let Some(r) =
            c["state"]["waiting"]["reason"].as_str().filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_count}");
        }
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in st["containerStatuses"].as_array().into_iter().flatten().rev() {
            let s = &c["state"];
            if let Some(r) = s["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(r) = s["terminated"]["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if s["terminated"].is_object() {
                reason = if s["terminated"]["signal"].as_i64().unwrap_or(0) != 0 {
                    format!("Signal:{}", s["terminated"]["signal"])
                } else {
                    format!("ExitCode:{}", s["terminated"]["exitCode"].as_i64().unwrap_or(0))
                };
            } else if s["running"].is_object() && c["ready"] == json!(true) {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if o["metadata"]["deletionTimestamp"].is_string() {
        reason = if st["reason"] == "NodeLost" { "Unknown".into() } else { "Terminating".into() };
    }
    reason
}

pub fn cells(o: &Value) -> Vec<Value> {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let statuses = o["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let ready = statuses.iter().filter(|c| c["ready"] == json!(true)).count();
    let restarts: i64 = statuses.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum();
    let last_restart = statuses.iter().filter_map(|c| timestamp(&c["lastState"]["terminated"]["finishedAt"])).max();
    let restarts = match last_restart {
        Some(t) if restarts > 0 => format!("{restarts} ({} ago)", human_duration((unix_now() - t).max(0))),
        _ => restarts.to_string(),
    };
    let gates = o["spec"]["readinessGates"].as_array().cloned().unwrap_or_default();
    let gates_cell = if gates.is_empty() {
        json!("<none>")
    } else {
        let conds = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let true_count = gates
            .iter()
            .filter(|g| conds.iter().any(|c| c["type"] == g["conditionType"] && c["status"] == "True"))
            .count();
        json!(format!("{true_count}/{}", gates.len()))
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(format!("{ready}/{total}")),
        json!(status_reason(o)),
        json!(restarts),
        json!(age(o)),
        or_none(field_value(o, "status.podIP")),
        or_none(field_value(o, "spec.nodeName")),
        or_none(field_value(o, "status.nominatedNodeName")),
        gates_cell,
    ]
}

/// The pod strategy's `CheckGracefulDelete`: the requested period, else the pod's
/// `terminationGracePeriodSeconds`; unscheduled and finished pods go at once.
pub fn grace_period(o: &Value, requested: Option<i64>) -> i64 {
    let unscheduled = o["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let finished = matches!(o["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    if unscheduled || finished {
        return 0;
    }
    requested.unwrap_or_else(|| o["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30))
}
