//! ResourceQuota: a create that would take a namespace's usage past a quota's `hard`
//! limits is refused; an admitted one is first counted in the quota's `status.used`
//! (compare-and-swap on the quota, retried on conflict), as upstream's quota evaluator
//! does before the object itself is written. Usage a quota has not recorded yet is
//! computed from the namespace's objects (upstream's quota controller does that).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Attributes, Operation, all_containers, list};
use crate::registry::podspec::parse_quantity;
use crate::registry::{self, Resource};
use crate::rest::{Rest, decode_stored, encode_for_storage, storage_error};
use crate::status::ApiError;
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
            for (name, side, res) in [
                ("requests.cpu", "requests", "cpu"),
                ("cpu", "requests", "cpu"),
                ("requests.memory", "requests", "memory"),
                ("memory", "requests", "memory"),
                ("limits.cpu", "limits", "cpu"),
                ("limits.memory", "limits", "memory"),
                ("requests.ephemeral-storage", "requests", "ephemeral-storage"),
                ("limits.ephemeral-storage", "limits", "ephemeral-storage"),
            ] {
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
                let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len);
                u.insert("services.loadbalancers".into(), 1.0);
                u.insert("services.nodeports".into(), ports as f64);
            }
            _ => {}
        },
        ("", "persistentvolumeclaims") => {
            if let Some(v) = obj["spec"]["resources"]["requests"]["storage"].as_str().and_then(parse_quantity) {
                u.insert("requests.storage".into(), v);
            }
        }
        _ => {}
    }
    u
}

/// Compute resources a pod quota needs every pod to state.
fn must_specify(hard: &serde_json::Map<String, Value>, pod: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for (name, side, res) in [
        ("requests.cpu", "requests", "cpu"),
        ("cpu", "requests", "cpu"),
        ("requests.memory", "requests", "memory"),
        ("memory", "requests", "memory"),
        ("limits.cpu", "limits", "cpu"),
        ("limits.memory", "limits", "memory"),
    ] {
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

/// What the namespace already uses of `name` (for usage the quota has not recorded).
async fn current_usage(rest: &Rest, ns: &str, resource: &Resource, name: &str) -> Result<f64, ApiError> {
    let items = super::list_of(rest, resource, Some(ns)).await?;
    Ok(items.iter().map(|o| usage(resource, o).get(name).copied().unwrap_or(0.0)).sum())
}

fn pretty(m: &BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.resource.namespaced || a.is("", "resourcequotas") {
        return Ok(());
    }
    let quota_res = registry::find("resourcequotas").expect("resourcequotas are registered");
    let ns = a.ns();
    let delta = usage(a.resource, obj);
    for _ in 0..RETRIES {
        let quotas = list(rest, "resourcequotas", Some(ns)).await?;
        let mut conflicted = false;
        for q in &quotas {
            let qname = q["metadata"]["name"].as_str().unwrap_or_default();
            let Some(hard) = q["spec"]["hard"].as_object().filter(|h| !h.is_empty()) else { continue };
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
                    None => current_usage(rest, ns, a.resource, k).await?,
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
    let quota_res = registry::find("resourcequotas").expect("resourcequotas are registered");
    let delta = usage(resource, obj);
    let Ok(quotas) = list(rest, "resourcequotas", Some(ns)).await else { return };
    for q in quotas {
        let qname = q["metadata"]["name"].as_str().unwrap_or_default();
        let key = quota_res.key(Some(ns), qname);
        for _ in 0..RETRIES {
            let Ok(Some(kv)) = rest.storage.get(key.as_bytes()).await else { break };
            let Ok(mut stored) = decode_stored(quota_res, &kv.value) else { break };
            let mut changed = false;
            for (k, d) in &delta {
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
}
