//! LimitRanger: containers get the default requests and limits of their namespace's
//! LimitRanges (noted in the `kubernetes.io/limit-ranger` annotation), and are refused
//! when outside a range's min/max.

use serde_json::{Map, Value, json};

use super::{Attributes, Operation, list};
use crate::registry::podspec::parse_quantity;
use crate::rest::Rest;
use crate::status::ApiError;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

async fn container_items(rest: &Rest, a: &Attributes<'_>) -> Result<Vec<Value>, ApiError> {
    items_of_type(rest, a, "Container").await
}

/// The items of one type of the namespace's LimitRanges, with the API defaulting of a
/// LimitRange applied (`default` ← `max`, `defaultRequest` ← `default`).
async fn items_of_type(rest: &Rest, a: &Attributes<'_>, kind: &str) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for lr in list(rest, "limitranges", a.namespace).await? {
        for item in lr["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"] != kind {
                continue;
            }
            let mut item = item.clone();
            for (from, to) in [("max", "default"), ("default", "defaultRequest")] {
                let source = item[from].as_object().cloned().unwrap_or_default();
                for (k, v) in source {
                    if item[to].get(&k).is_none() {
                        if !item[to].is_object() {
                            item[to] = json!({});
                        }
                        item[to][&k] = v;
                    }
                }
            }
            out.push(item);
        }
    }
    Ok(out)
}

/// The containers of a pod spec with the annotation's word for them.
fn pod_containers(spec: &mut Value) -> Vec<(&'static str, &mut Value)> {
    let mut out = Vec::new();
    let Some(m) = spec.as_object_mut() else { return out };
    for (k, v) in m.iter_mut() {
        let what = match k.as_str() {
            "initContainers" => "init container",
            "containers" => "container",
            _ => continue,
        };
        out.extend(v.as_array_mut().into_iter().flatten().map(|c| (what, c)));
    }
    // Upstream notes init containers after the regular ones.
    out.sort_by_key(|(w, _)| *w == "init container");
    out
}

pub async fn mutate(rest: &Rest, a: &Attributes<'_>, obj: &mut Value) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.is("", "pods") {
        return Ok(());
    }
    let items = container_items(rest, a).await?;
    if items.is_empty() {
        return Ok(());
    }
    let mut notes = Vec::new();
    for (what, c) in pod_containers(&mut obj["spec"]) {
        let name = c["name"].as_str().unwrap_or_default().to_string();
        for (side, defaults, word) in [("requests", "defaultRequest", "request"), ("limits", "default", "limit")] {
            let mut set = Vec::new();
            for item in &items {
                for (k, v) in item[defaults].as_object().into_iter().flatten() {
                    let have = &mut c["resources"][side];
                    if !have.is_object() {
                        *have = Value::Object(Map::new());
                    }
                    if have.get(k).is_none() {
                        have[k] = v.clone();
                        set.push(k.clone());
                    }
                }
            }
            if !set.is_empty() {
                set.sort();
                notes.push(format!("{} {word} for {what} {name}", set.join(", ")));
            }
        }
    }
    if !notes.is_empty() {
        if !obj["metadata"]["annotations"].is_object() {
            obj["metadata"]["annotations"] = json!({});
        }
        obj["metadata"]["annotations"][ANNOTATION] = json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
    }
    Ok(())
}

/// Min, max and maxLimitRequestRatio of one container (`kind` "Container") or of a
/// whole pod's aggregate (`kind` "Pod"), upstream's messages.
fn check_as(kind: &str, item: &Value, res: &Value, errs: &mut Vec<String>) {
    for (k, min) in item["min"].as_object().into_iter().flatten() {
        let min_s = min.as_str().unwrap_or_default();
        match res["requests"][k].as_str() {
            None => errs.push(format!("minimum {k} usage per {kind} is {min_s}.  No request is specified")),
            Some(r) if parse_quantity(r) < parse_quantity(min_s) => {
                errs.push(format!("minimum {k} usage per {kind} is {min_s}, but request is {r}"))
            }
            Some(_) => {}
        }
    }
    for (k, max) in item["max"].as_object().into_iter().flatten() {
        let max_s = max.as_str().unwrap_or_default();
        match res["limits"][k].as_str() {
            None => errs.push(format!("maximum {k} usage per {kind} is {max_s}.  No limit is specified")),
            Some(l) if parse_quantity(l) > parse_quantity(max_s) => {
                errs.push(format!("maximum {k} usage per {kind} is {max_s}, but limit is {l}"))
            }
            Some(_) => {}
        }
    }
    for (k, ratio) in item["maxLimitRequestRatio"].as_object().into_iter().flatten() {
        let ratio_s = ratio.as_str().unwrap_or_default();
        let request = res["requests"][k].as_str().and_then(parse_quantity).unwrap_or(0.0);
        match res["limits"][k].as_str().and_then(parse_quantity) {
            None => {
                errs.push(format!("{k} max limit to request ratio per {kind} is {ratio_s}, but no limit is specified"))
            }
            Some(_) if request == 0.0 => errs.push(format!(
                "{k} max limit to request ratio per {kind} is {ratio_s}, but no request is specified or request is 0"
            )),
            Some(limit) if Some(limit / request) > parse_quantity(ratio_s) => errs.push(format!(
                "{k} max limit to request ratio per {kind} is {ratio_s}, but provided ratio is {:.6}",
                limit / request
            )),
            Some(_) => {}
        }
    }
}

fn check(item: &Value, c: &Value, errs: &mut Vec<String>) {
    check_as("Container", item, &c["resources"], errs);
}

/// A pod's requests and limits as one: the regular containers' sum or the largest init
/// container, whichever is more; a side is absent when a container leaves it unset.
fn pod_resources(spec: &Value) -> Value {
    let mut out = json!({"requests": {}, "limits": {}});
    for side in ["requests", "limits"] {
        let mut names: Vec<String> = Vec::new();
        for c in super::all_containers(spec) {
            for k in c["resources"][side].as_object().into_iter().flatten().map(|(k, _)| k) {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        for k in names {
            let get = |c: &Value| c["resources"][side][&k].as_str().and_then(parse_quantity);
            let regular: Vec<Option<f64>> = spec["containers"].as_array().into_iter().flatten().map(get).collect();
            let init: Vec<Option<f64>> = spec["initContainers"].as_array().into_iter().flatten().map(get).collect();
            if regular.iter().chain(&init).any(Option::is_none) {
                continue;
            }
            let sum: f64 = regular.iter().flatten().sum();
            let total = init.iter().flatten().fold(sum, |m, v| m.max(*v));
            out[side][&k] = json!(super::resource_quota::format_quantity(total));
        }
    }
    out
}

pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.is("", "pods") {
        return Ok(());
    }
    let items = container_items(rest, a).await?;
    let mut errs = Vec::new();
    for item in &items {
        for c in super::all_containers(&obj["spec"]) {
            check(item, c, &mut errs);
        }
    }
    let pod_items = items_of_type(rest, a, "Pod").await?;
    if !pod_items.is_empty() {
        let total = pod_resources(&obj["spec"]);
        for item in &pod_items {
            check_as("Pod", item, &total, &mut errs);
        }
    }
    match errs.len() {
        0 => Ok(()),
        1 => Err(a.forbidden(&errs[0])),
        _ => Err(a.forbidden(&format!("[{}]", errs.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_and_max_use_upstream_messages() {
        let item = json!({"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}});
        let mut errs = Vec::new();
        check(&item, &json!({"resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "2Gi"}}}), &mut errs);
        assert_eq!(
            errs,
            [
                "minimum cpu usage per Container is 100m, but request is 50m",
                "maximum memory usage per Container is 1Gi, but limit is 2Gi"
            ]
        );
        errs.clear();
        check(&item, &json!({"resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}}), &mut errs);
        assert!(errs.is_empty());
        let ratio = json!({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}});
        check(&ratio, &json!({"resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "400m"}}}), &mut errs);
        assert_eq!(errs, ["cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"]);
        let spec = json!({"containers": [
            {"resources": {"requests": {"cpu": "300m", "memory": "1Gi"}}},
            {"resources": {"requests": {"cpu": "300m"}}},
        ]});
        let total = pod_resources(&spec);
        assert_eq!(total, json!({"requests": {"cpu": "600m"}, "limits": {}}));
        errs.clear();
        check_as("Pod", &json!({"max": {"cpu": "500m"}}), &total, &mut errs);
        assert_eq!(errs, ["maximum cpu usage per Pod is 500m.  No limit is specified"]);
    }
}
