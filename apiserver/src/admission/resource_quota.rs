//! ResourceQuota: a create (or an update that grows usage: a service turned NodePort or
//! LoadBalancer, a PVC resized) that would take a namespace's usage past a quota's `hard`
//! limits is refused; an admitted one is first counted in the quota's `status.used`
//! (compare-and-swap on the quota, retried on conflict), as upstream's quota evaluator
//! does before the object itself is written. Usage a quota has not recorded yet is
//! computed from the namespace's objects (upstream's quota controller does that).
//!
//! Quotas with `scopes` or a `scopeSelector` (Terminating, NotTerminating, BestEffort,
//! NotBestEffort, PriorityClass, CrossNamespacePodAffinity) count only the pods that
//! match every scope, and no other objects, as upstream's pod evaluator does.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Attributes, Operation, all_containers, list};
use crate::registry::podspec::parse_quantity;
use crate::registry::{self, Resource};
use crate::rest::{Rest, decode_stored, encode_for_storage, storage_error};
use crate::status::ApiError;
use crate::status::FieldError;
use crate::storage::StorageError;

const RETRIES: usize = 5;

/// The names a count of `resource` goes by (`count/<resource>[.<group>]`, and the
/// legacy name of the core types).
fn count_names(resource: &Resource) -> Vec<String> {
    let mut names = vec![if resource.group.is_empty() {
        format!("count/{}", resource.name)
    } else {
        format!("count/{}.{}", resource.name, resource.group)
    }];
    if resource.group.is_empty()
        && matches!(
            resource.name,
            "pods"
                | "services"
                | "configmaps"
                | "secrets"
                | "persistentvolumeclaims"
                | "replicationcontrollers"
                | "resourcequotas"
        )
    {
        names.push(resource.name.to_string());
    }
    names
}

/// A pod's effective requests or limits of one resource: the larger of the regular
/// containers' sum and any init container.
fn pod_compute(pod: &Value, side: &str, res: &str) -> Option<f64> {
    let spec = &pod["spec"];
    let get = |c: &Value| c["resources"][side][res].as_str().and_then(parse_quantity);
    let regular: Vec<Option<f64>> = spec["containers"].as_array().into_iter().flatten().map(get).collect();
    let init: Vec<Option<f64>> = spec["initContainers"].as_array().into_iter().flatten().map(get).collect();
    if regular.iter().chain(&init).all(Option::is_none) {
        return None;
    }
    let sum: f64 = regular.iter().flatten().sum();
    Some(init.iter().flatten().fold(sum, |m, v| m.max(*v)))
}

/// The usage one object adds, by quota resource name.
fn usage(resource: &Resource, obj: &Value) -> BTreeMap<String, f64> {
    let mut u = BTreeMap::new();
    for n in count_names(resource) {
        u.insert(n, 1.0);
    }
    match (resource.group, resource.name) {
        ("", "pods") => {
            let terminal = matches!(obj["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
            if terminal {
                u.remove("pods");
            }
            for &(name, side, res) in POD_CHARGES {
                if let (false, Some(v)) = (terminal, pod_compute(obj, side, res)) {
                    u.insert(name.to_string(), v);
                }
            }
        }
        ("", "services") => match obj["spec"]["type"].as_str() {
            Some("NodePort") => {
                let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len);
                u.insert("services.nodeports".into(), ports as f64);
            }
            Some("LoadBalancer") => {
                let node_ports = obj["spec"]["allocateLoadBalancerNodePorts"].as_bool() != Some(false);
                let ports = if node_ports { obj["spec"]["ports"].as_array().map_or(0, Vec::len) } else { 0 };
                u.insert("services.loadbalancers".into(), 1.0);
                u.insert("services.nodeports".into(), ports as f64);
            }
            _ => {}
        },
        ("", "persistentvolumeclaims") => {
            let class = obj["spec"]["storageClassName"].as_str().filter(|c| !c.is_empty());
            if let Some(c) = class {
                u.insert(format!("{c}.storageclass.storage.k8s.io/persistentvolumeclaims"), 1.0);
            }
            if let Some(v) = obj["spec"]["resources"]["requests"]["storage"].as_str().and_then(parse_quantity) {
                u.insert("requests.storage".into(), v);
                if let Some(c) = class {
                    u.insert(format!("{c}.storageclass.storage.k8s.io/requests.storage"), v);
                }
            }
        }
        _ => {}
    }
    u
}

/// The scopes upstream knows (`IsStandardResourceQuotaScope`).
const SCOPES: &[&str] =
    &["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity"];

/// The quota resource names upstream validates scopes against (`standardQuotaResources`).
const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

const POD_COMPUTE: &[&str] = &["cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"];

/// `IsResourceQuotaScopeValidForResource`.
fn scope_valid_for(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating" | "NotTerminating" | "NotBestEffort" | "PriorityClass" | "CrossNamespacePodAffinity" => {
            resource == "pods" || POD_COMPUTE.contains(&resource)
        }
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

fn go_strings(items: &[String]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

fn invalid_raw(field: &str, value: String, detail: &str) -> FieldError {
    FieldError {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("{field}: Invalid value: {value}: {detail}"),
    }
}

/// One `scopeSelector.matchExpressions` entry.
struct Requirement {
    scope: String,
    operator: String,
    values: Option<Vec<String>>,
}

fn requirements(q: &Value) -> Vec<Requirement> {
    let strs = |v: &Value| v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect());
    let mut out: Vec<Requirement> = q["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Requirement { scope: s.as_str().unwrap_or_default().into(), operator: "Exists".into(), values: None })
        .collect();
    for r in q["spec"]["scopeSelector"]["matchExpressions"].as_array().into_iter().flatten() {
        out.push(Requirement {
            scope: r["scopeName"].as_str().unwrap_or_default().into(),
            operator: r["operator"].as_str().unwrap_or_default().into(),
            values: strs(&r["values"]),
        });
    }
    out
}

/// Upstream's `validateResourceQuotaScopes` and `validateScopedResourceSelectorRequirement`,
/// in their words (Go's `%#v` for the values they print).
pub fn validate_spec(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut hard: Vec<&String> = o["spec"]["hard"].as_object().map(|h| h.keys().collect()).unwrap_or_default();
    hard.sort();
    let standard_hard: Vec<&str> =
        hard.iter().map(|k| k.as_str()).filter(|k| STANDARD_QUOTA_RESOURCES.contains(k)).collect();
    let conflicting = |set: &[String]| {
        [("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")]
            .iter()
            .filter(|(a, b)| set.iter().any(|s| s == a) && set.iter().any(|s| s == b))
            .count()
    };
    let scopes: Vec<String> = o["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    if !scopes.is_empty() {
        let shown = format!("[]core.ResourceQuotaScope{{{}}}", go_strings(&scopes));
        for scope in &scopes {
            if !SCOPES.contains(&scope.as_str()) {
                errs.push(invalid_raw("spec.scopes", shown.clone(), "unsupported scope"));
            }
            for k in &standard_hard {
                if !scope_valid_for(scope, k) {
                    errs.push(invalid_raw("spec.scopes", shown.clone(), "unsupported scope applied to resource"));
                }
            }
        }
        for _ in 0..conflicting(&scopes) {
            errs.push(invalid_raw("spec.scopes", shown.clone(), "conflicting scopes"));
        }
    }
    let selector = &o["spec"]["scopeSelector"];
    if let Some(exprs) = selector["matchExpressions"].as_array() {
        let path = "spec.scopeSelector.matchExpressions";
        let reqs: Vec<Requirement> = requirements(&json!({"spec": {"scopeSelector": selector}}));
        let shown_selector = {
            let items: Vec<String> = reqs
                .iter()
                .map(|r| {
                    let values = match &r.values {
                        None => "[]string(nil)".to_string(),
                        Some(v) => format!("[]string{{{}}}", go_strings(v)),
                    };
                    format!(
                        "core.ScopedResourceSelectorRequirement{{ScopeName:{:?}, Operator:{:?}, Values:{values}}}",
                        r.scope, r.operator
                    )
                })
                .collect();
            format!(
                "core.ScopeSelector{{MatchExpressions:[]core.ScopedResourceSelectorRequirement{{{}}}}}",
                items.join(", ")
            )
        };
        let _ = exprs;
        let mut names = Vec::new();
        for r in &reqs {
            if !SCOPES.contains(&r.scope.as_str()) {
                errs.push(invalid_raw(&format!("{path}.scopeName"), format!("{:?}", r.scope), "unsupported scope"));
            }
            for k in &standard_hard {
                if !scope_valid_for(&r.scope, k) {
                    errs.push(invalid_raw(path, shown_selector.clone(), "unsupported scope applied to resource"));
                }
            }
            if r.scope != "PriorityClass" && SCOPES.contains(&r.scope.as_str()) && r.operator != "Exists" {
                errs.push(invalid_raw(
                    &format!("{path}.operator"),
                    format!("{:?}", r.operator),
                    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                ));
            }
            let n = r.values.as_ref().map_or(0, Vec::len);
            match r.operator.as_str() {
                "In" | "NotIn" if n == 0 => errs.push(FieldError::required(
                    &format!("{path}.values"),
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                )),
                "Exists" | "DoesNotExist" if n != 0 => errs.push(invalid_raw(
                    &format!("{path}.values"),
                    format!("[]string{{{}}}", go_strings(r.values.as_deref().unwrap_or_default())),
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                )),
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => errs.push(invalid_raw(
                    &format!("{path}.operator"),
                    format!("{other:?}"),
                    "not a valid selector operator",
                )),
            }
            names.push(r.scope.clone());
        }
        let shown_scopes = if scopes.is_empty() {
            "[]core.ResourceQuotaScope(nil)".to_string()
        } else {
            format!("[]core.ResourceQuotaScope{{{}}}", go_strings(&scopes))
        };
        for _ in 0..conflicting(&names) {
            errs.push(invalid_raw(path, shown_scopes.clone(), "conflicting scopes"));
        }
    }
    errs
}

/// `activeDeadlineSeconds >= 0`.
fn is_terminating(pod: &Value) -> bool {
    pod["spec"]["activeDeadlineSeconds"].as_i64().is_some_and(|s| s >= 0)
}

/// The BestEffort QoS class: no container (init or regular) requests or limits cpu or memory.
fn is_best_effort(pod: &Value) -> bool {
    let spec = &pod["spec"];
    ["initContainers", "containers"].iter().flat_map(|k| spec[*k].as_array().into_iter().flatten()).all(|c| {
        ["requests", "limits"].iter().all(|side| ["cpu", "memory"].iter().all(|r| c["resources"][*side][*r].is_null()))
    })
}

/// Pod (anti-)affinity terms that name namespaces or select them.
fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let aff = &pod["spec"]["affinity"];
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let required = aff[*kind]["requiredDuringSchedulingIgnoredDuringExecution"].as_array().cloned();
        let preferred = aff[*kind]["preferredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .map(|p| p.iter().map(|w| w["podAffinityTerm"].clone()).collect::<Vec<_>>());
        required
            .into_iter()
            .chain(preferred)
            .flatten()
            .any(|t| t["namespaces"].as_array().is_some_and(|n| !n.is_empty()) || !t["namespaceSelector"].is_null())
    })
}

fn pod_matches(r: &Requirement, pod: &Value) -> bool {
    match r.scope.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        "PriorityClass" => {
            // As a label selector over {PriorityClass: <name>} (no label without a name).
            let class = pod["spec"]["priorityClassName"].as_str().filter(|c| !c.is_empty());
            let values = r.values.as_deref().unwrap_or_default();
            match r.operator.as_str() {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => class.is_none_or(|c| !values.iter().any(|v| v == c)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a quota governs an object: an unscoped quota governs every object; a scoped
/// one only pods that match all its scopes.
fn quota_matches(q: &Value, resource: &Resource, obj: &Value) -> bool {
    let reqs = requirements(q);
    if reqs.is_empty() {
        return true;
    }
    resource.group.is_empty() && resource.name == "pods" && reqs.iter().all(|r| pod_matches(r, obj))
}

/// The compute resources pods are charged: (quota resource, requests or limits, container
/// resource).
const POD_CHARGES: &[(&str, &str, &str)] = &[
    ("requests.cpu", "requests", "cpu"),
    ("cpu", "requests", "cpu"),
    ("requests.memory", "requests", "memory"),
    ("memory", "requests", "memory"),
    ("limits.cpu", "limits", "cpu"),
    ("limits.memory", "limits", "memory"),
    ("requests.ephemeral-storage", "requests", "ephemeral-storage"),
    ("limits.ephemeral-storage", "limits", "ephemeral-storage"),
];

/// Compute resources a pod quota needs every pod to state.
fn must_specify(hard: &serde_json::Map<String, Value>, pod: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    // Ephemeral storage is charged but need not be stated.
    for &(name, side, res) in POD_CHARGES.iter().filter(|(name, _, _)| POD_COMPUTE.contains(name)) {
        let every = all_containers(&pod["spec"]).all(|c| c["resources"][side][res].is_string());
        if hard.contains_key(name) && !every {
            missing.push(name.to_string());
        }
    }
    missing.sort();
    missing
}

/// A number in Quantity notation: integers as they are (binary suffixes when exact),
/// fractions in milli-units.
pub fn format_quantity(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        let n = v.round() as i64;
        for (suffix, unit) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if n != 0 && n % unit == 0 {
                return format!("{}{suffix}", n / unit);
            }
        }
        return n.to_string();
    }
    format!("{}m", (v * 1000.0).round() as i64)
}

/// What the namespace already uses of `name`, among the objects `quota` governs (for
/// usage the quota has not recorded).
async fn current_usage(rest: &Rest, ns: &str, resource: &Resource, quota: &Value, name: &str) -> Result<f64, ApiError> {
    let items = super::list_of(rest, resource, Some(ns)).await?;
    Ok(items
        .iter()
        .filter(|o| quota_matches(quota, resource, o))
        .map(|o| usage(resource, o).get(name).copied().unwrap_or(0.0))
        .sum())
}

fn pretty(m: &BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Which operations upstream's evaluators charge: creates of everything; updates of
/// services and persistent volume claims (a pod's resources change only through
/// in-place resize, which is out of scope here).
fn charges_update(resource: &Resource) -> bool {
    resource.group.is_empty() && matches!(resource.name, "services" | "persistentvolumeclaims")
}

/// What a write adds: the new object's usage, less the old object's on an update (only
/// the growth, as upstream's `SubtractWithNonNegativeResult`).
fn delta(resource: &Resource, obj: &Value, old: Option<&Value>) -> BTreeMap<String, f64> {
    let mut d = usage(resource, obj);
    if let Some(old) = old {
        let prev = usage(resource, old);
        for (k, v) in d.iter_mut() {
            *v = (*v - prev.get(k).copied().unwrap_or(0.0)).max(0.0);
        }
    }
    d.retain(|_, v| *v > 1e-12);
    d
}

pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value) -> Result<(), ApiError> {
    if !a.resource.namespaced || a.is("", "resourcequotas") {
        return Ok(());
    }
    let old = match a.operation {
        Operation::Create => None,
        Operation::Update if charges_update(a.resource) => a.old,
        Operation::Update | Operation::Delete | Operation::Connect => return Ok(()),
    };
    let quota_res = registry::find("resourcequotas").expect("resourcequotas are registered");
    let ns = a.ns();
    let delta = delta(a.resource, obj, old);
    for _ in 0..RETRIES {
        let quotas = list(rest, "resourcequotas", Some(ns)).await?;
        let mut conflicted = false;
        for q in &quotas {
            let qname = q["metadata"]["name"].as_str().unwrap_or_default();
            let Some(hard) = q["spec"]["hard"].as_object().filter(|h| !h.is_empty()) else { continue };
            if !quota_matches(q, a.resource, obj) {
                continue;
            }
            if a.is("", "pods") {
                let missing = must_specify(hard, obj);
                if !missing.is_empty() {
                    return Err(a.forbidden(&format!("failed quota: {qname}: must specify {}", missing.join(","))));
                }
            }
            let tracked: Vec<(&String, f64)> =
                delta.iter().filter(|(k, _)| hard.contains_key(*k)).map(|(k, v)| (k, *v)).collect();
            if tracked.is_empty() {
                continue;
            }
            // The stored quota, to compare-and-swap its status.
            let key = quota_res.key(Some(ns), qname);
            let Some(kv) = rest.storage.get(key.as_bytes()).await.map_err(|e| storage_error(quota_res, qname, e))?
            else {
                continue;
            };
            let mut stored = decode_stored(quota_res, &kv.value)?;
            let mut exceeded = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
            let mut new_used = Vec::new();
            for (k, d) in tracked {
                let used = match stored["status"]["used"][k].as_str().and_then(parse_quantity) {
                    Some(u) => u,
                    None => {
                        // Not recorded yet: what the other objects use (an updated object
                        // is counted at its old size).
                        current_usage(rest, ns, a.resource, q, k).await?
                    }
                };
                let limit = hard[k].as_str().and_then(parse_quantity).unwrap_or(0.0);
                if used + d > limit + 1e-9 {
                    exceeded.0.insert(k.clone(), format_quantity(d));
                    exceeded.1.insert(k.clone(), format_quantity(used));
                    exceeded.2.insert(k.clone(), hard[k].as_str().unwrap_or_default().to_string());
                }
                new_used.push((k.clone(), used + d));
            }
            if !exceeded.0.is_empty() {
                return Err(a.forbidden(&format!(
                    "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                    pretty(&exceeded.0),
                    pretty(&exceeded.1),
                    pretty(&exceeded.2)
                )));
            }
            if a.dry_run {
                continue;
            }
            stored["status"]["hard"] = Value::Object(hard.clone());
            if !stored["status"]["used"].is_object() {
                stored["status"]["used"] = json!({});
            }
            for (k, v) in new_used {
                stored["status"]["used"][&k] = json!(format_quantity(v));
            }
            match rest.storage.update(key.as_bytes(), encode_for_storage(quota_res, &stored), kv.mod_revision).await {
                Ok(_) => {}
                Err(StorageError::Conflict) => {
                    conflicted = true;
                    break;
                }
                Err(e) => return Err(storage_error(quota_res, qname, e)),
            }
        }
        if !conflicted {
            return Ok(());
        }
    }
    Err(ApiError::conflict("resourcequotas", ns))
}

/// Gives back what an admitted create counted when the create then failed (or what a
/// deleted object used), so that usage matches the stored objects without a quota
/// controller recomputing it.
pub async fn release(rest: &Rest, resource: &Resource, ns: &str, obj: &Value) {
    release_usage(rest, resource, ns, obj, &usage(resource, obj)).await;
}

/// After an update: the usage it gave up is given back once it is stored; if the write
/// failed, the growth admission counted is.
pub async fn updated(rest: &Rest, resource: &Resource, ns: &str, old: &Value, new: &Value, stored: bool) {
    if !charges_update(resource) {
        return;
    }
    if stored {
        release_usage(rest, resource, ns, old, &delta(resource, old, Some(new))).await;
    } else {
        release_usage(rest, resource, ns, new, &delta(resource, new, Some(old))).await;
    }
}

async fn release_usage(rest: &Rest, resource: &Resource, ns: &str, obj: &Value, delta: &BTreeMap<String, f64>) {
    if delta.is_empty() {
        return;
    }
    let quota_res = registry::find("resourcequotas").expect("resourcequotas are registered");
    let Ok(quotas) = list(rest, "resourcequotas", Some(ns)).await else { return };
    for q in quotas.iter().filter(|q| quota_matches(q, resource, obj)) {
        let qname = q["metadata"]["name"].as_str().unwrap_or_default();
        let key = quota_res.key(Some(ns), qname);
        for _ in 0..RETRIES {
            let Ok(Some(kv)) = rest.storage.get(key.as_bytes()).await else { break };
            let Ok(mut stored) = decode_stored(quota_res, &kv.value) else { break };
            let mut changed = false;
            for (k, d) in delta {
                if let Some(used) = stored["status"]["used"][k].as_str().and_then(parse_quantity) {
                    stored["status"]["used"][k] = json!(format_quantity((used - d).max(0.0)));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            match rest.storage.update(key.as_bytes(), encode_for_storage(quota_res, &stored), kv.mod_revision).await {
                Err(StorageError::Conflict) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, quota = qname, "releasing quota usage failed");
                    break;
                }
                Ok(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_pod_usage() {
        assert_eq!(format_quantity(0.5), "500m");
        assert_eq!(format_quantity(3.0), "3");
        assert_eq!(format_quantity(200.0 * 1024.0 * 1024.0), "200Mi");
        let pods = registry::find("pods").unwrap();
        let pod = json!({"spec": {
            "containers": [{"resources": {"requests": {"cpu": "100m"}}}, {"resources": {"requests": {"cpu": "200m"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "250m"}}}],
        }});
        let u = usage(pods, &pod);
        assert_eq!(u["pods"], 1.0);
        assert_eq!(u["count/pods"], 1.0);
        assert!((u["requests.cpu"] - 0.3).abs() < 1e-9);
        let hard = json!({"limits.cpu": "1", "requests.cpu": "1"});
        assert_eq!(must_specify(hard.as_object().unwrap(), &pod), ["limits.cpu"]);
    }

    #[test]
    fn scopes_select_pods() {
        let pods = registry::find("pods").unwrap();
        let cms = registry::find("configmaps").unwrap();
        let q = |spec: Value| json!({"spec": spec});
        let best_effort = json!({"spec": {"containers": [{"name": "c"}]}});
        let burstable = json!({"spec": {"activeDeadlineSeconds": 10, "priorityClassName": "high",
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}});
        let be = q(json!({"scopes": ["BestEffort"]}));
        assert!(quota_matches(&be, pods, &best_effort) && !quota_matches(&be, pods, &burstable));
        assert!(!quota_matches(&be, cms, &json!({})), "a scoped quota governs pods only");
        assert!(quota_matches(&q(json!({})), cms, &json!({})));
        let both = q(json!({"scopes": ["Terminating", "NotBestEffort"]}));
        assert!(quota_matches(&both, pods, &burstable) && !quota_matches(&both, pods, &best_effort));
        let sel = |op: &str, values: Value| {
            q(
                json!({"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": op, "values": values}]}}),
            )
        };
        assert!(quota_matches(&sel("In", json!(["high", "low"])), pods, &burstable));
        assert!(!quota_matches(&sel("In", json!(["high"])), pods, &best_effort));
        assert!(quota_matches(&sel("NotIn", json!(["high"])), pods, &best_effort));
        assert!(!quota_matches(&sel("NotIn", json!(["high"])), pods, &burstable));
        assert!(quota_matches(&sel("Exists", Value::Null), pods, &burstable));
        assert!(quota_matches(&sel("DoesNotExist", Value::Null), pods, &best_effort));
        let cross = json!({"spec": {"containers": [{"name": "c"}], "affinity": {"podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "k", "namespaceSelector": {}}}]}}}});
        let cq = q(json!({"scopes": ["CrossNamespacePodAffinity"]}));
        assert!(quota_matches(&cq, pods, &cross) && !quota_matches(&cq, pods, &best_effort));
    }

    #[test]
    fn scope_validation_in_upstream_words() {
        let msgs = |spec: Value| -> Vec<String> {
            validate_spec(&json!({"spec": spec})).into_iter().map(|e| e.message).collect()
        };
        assert_eq!(
            msgs(json!({"hard": {"pods": "1"}, "scopes": ["BestEffort", "NotBestEffort"]})),
            [
                r#"spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}: conflicting scopes"#
            ]
        );
        assert_eq!(
            msgs(json!({"hard": {"configmaps": "1", "count/secrets": "1"}, "scopes": ["Terminating", "Bogus"]})),
            [
                r#"spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating", "Bogus"}: unsupported scope applied to resource"#,
                r#"spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating", "Bogus"}: unsupported scope"#,
            ]
        );
        assert_eq!(
            msgs(json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "BestEffort", "operator": "In", "values": ["x"]},
                {"scopeName": "PriorityClass", "operator": "In"},
                {"scopeName": "PriorityClass", "operator": "Gt", "values": ["1"]}]}})),
            [
                r#"spec.scopeSelector.matchExpressions.operator: Invalid value: "In": must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"#,
                "spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                r#"spec.scopeSelector.matchExpressions.operator: Invalid value: "Gt": not a valid selector operator"#,
            ]
        );
        assert!(
            msgs(json!({"hard": {"pods": "1", "requests.cpu": "1"}, "scopes": ["NotBestEffort", "Terminating"]}))
                .is_empty()
        );
    }

    #[test]
    fn updates_charge_growth_only() {
        let svc = registry::find("services").unwrap();
        let old = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80}, {"port": 81}]}});
        let new = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}});
        let d = delta(svc, &new, Some(&old));
        assert_eq!(d.len(), 1);
        assert_eq!(d["services.nodeports"], 2.0);
        assert!(delta(svc, &old, Some(&new)).is_empty(), "shrinking charges nothing");
        let pvc = registry::find("persistentvolumeclaims").unwrap();
        let small = json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}});
        let big = json!({"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "3Gi"}}}});
        let d = delta(pvc, &big, Some(&small));
        assert_eq!(d["requests.storage"], 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(d["fast.storageclass.storage.k8s.io/requests.storage"], 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert!(!d.contains_key("persistentvolumeclaims"));
    }
}
