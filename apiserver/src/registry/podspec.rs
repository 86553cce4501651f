//! The pod spec's defaulting and validation (upstream's `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, `ValidatePodSpec`), shared by pods and every resource with a
//! pod template.

use serde_json::{Map, Value, json};

use super::{dns1123_label, selector_string};
use crate::status::FieldError;

/// Sets `obj[key]` when it is absent or null.
pub fn default(obj: &mut Value, key: &str, v: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj[key] = v;
    }
}

/// `SetDefaults_PodSpec` and the container/volume defaults below it.
pub fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                default_container(c);
            }
        }
    }
    if let Some(vs) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vs {
            for source in ["secret", "configMap", "downwardAPI", "projected"] {
                if v[source].is_object() {
                    default(&mut v[source], "defaultMode", json!(420));
                }
            }
            if v["hostPath"].is_object() {
                default(&mut v["hostPath"], "type", json!(""));
            }
        }
    }
}

/// The image's tag is `latest` or absent (and there is no digest): pull always.
fn pulls_always(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

fn default_probe(p: &mut Value) {
    if !p.is_object() {
        return;
    }
    default(p, "timeoutSeconds", json!(1));
    default(p, "periodSeconds", json!(10));
    default(p, "successThreshold", json!(1));
    default(p, "failureThreshold", json!(3));
    if p["httpGet"].is_object() {
        default(&mut p["httpGet"], "path", json!("/"));
        default(&mut p["httpGet"], "scheme", json!("HTTP"));
    }
}

pub fn default_container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or_default().to_string();
    if !image.is_empty() {
        default(c, "imagePullPolicy", json!(if pulls_always(&image) { "Always" } else { "IfNotPresent" }));
    }
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe) {
            default_probe(p);
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env {
            if e["valueFrom"]["fieldRef"].is_object() {
                default(&mut e["valueFrom"]["fieldRef"], "apiVersion", json!("v1"));
            }
        }
    }
    // Requests default to the limits where only limits are given.
    if let Some(limits) = c["resources"]["limits"].as_object().cloned() {
        let requests = c["resources"]
            .as_object_mut()
            .map(|r| r.entry("requests").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut);
        if let Some(req) = requests {
            for (k, v) in limits {
                req.entry(k).or_insert(v);
            }
        }
    }
}

/// A pod template's defaults: the spec's, and the template metadata kept as an object.
pub fn default_template(t: &mut Value) {
    if !t.is_object() {
        return;
    }
    default_pod_spec(&mut t["spec"]);
}

/// A `resource.Quantity` as a number (None when malformed): decimal and binary SI
/// suffixes and exponents, as upstream parses them.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// Requests within limits, no negative quantities (`ValidateResourceRequirements`).
fn validate_resources(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let res = &c["resources"];
    for side in ["limits", "requests"] {
        for (k, v) in res[side].as_object().into_iter().flatten() {
            let text = v.as_str().unwrap_or_default();
            if parse_quantity(text).is_some_and(|n| n < 0.0) {
                errs.push(FieldError::invalid(
                    &format!("{path}.resources.{side}[{k}]"),
                    text,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    for (k, req) in res["requests"].as_object().into_iter().flatten() {
        let (Some(r), Some(l)) = (req.as_str(), res["limits"][k.as_str()].as_str()) else { continue };
        if let (Some(rn), Some(ln)) = (parse_quantity(r), parse_quantity(l))
            && rn > ln
        {
            errs.push(FieldError::invalid(
                &format!("{path}.resources.requests"),
                r,
                &format!("must be less than or equal to {k} limit of {l}"),
            ));
        }
    }
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_containers(list: &[Value], path: &str, errs: &mut Vec<FieldError>, seen: &mut Vec<String>) {
    for (i, c) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = c["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        } else {
            for d in dns1123_label(name) {
                errs.push(FieldError::invalid(&format!("{p}.name"), name, &d));
            }
            if seen.iter().any(|s| s == name) {
                errs.push(FieldError::duplicate(&format!("{p}.name"), &json!(name)));
            }
            seen.push(name.to_string());
        }
        if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
            errs.push(FieldError::required(&format!("{p}.image"), ""));
        }
        validate_resources(c, &p, errs);
        if let Some(pp) = c["imagePullPolicy"].as_str()
            && !PULL_POLICIES.contains(&pp)
        {
            errs.push(FieldError::not_supported(&format!("{p}.imagePullPolicy"), pp, PULL_POLICIES));
        }
        for (j, port) in c["ports"].as_array().into_iter().flatten().enumerate() {
            let pp = format!("{p}.ports[{j}]");
            let n = port["containerPort"].as_i64().unwrap_or(0);
            if !(1..=65535).contains(&n) {
                errs.push(FieldError::invalid_value(
                    &format!("{pp}.containerPort"),
                    &port["containerPort"],
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if let Some(proto) = port["protocol"].as_str()
                && !PROTOCOLS.contains(&proto)
            {
                errs.push(FieldError::not_supported(&format!("{pp}.protocol"), proto, PROTOCOLS));
            }
        }
    }
}

/// `ValidatePodSpec`'s common checks; `path` is where the spec sits (`spec`,
/// `spec.template.spec`).
pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = Vec::new();
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        errs.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    let inits = spec["initContainers"].as_array().cloned().unwrap_or_default();
    validate_containers(&inits, &format!("{path}.initContainers"), &mut errs, &mut seen);
    validate_containers(&containers, &format!("{path}.containers"), &mut errs, &mut seen);
    if let Some(rp) = spec["restartPolicy"].as_str()
        && !RESTART_POLICIES.contains(&rp)
    {
        errs.push(FieldError::not_supported(&format!("{path}.restartPolicy"), rp, RESTART_POLICIES));
    }
    if let Some(dp) = spec["dnsPolicy"].as_str()
        && !DNS_POLICIES.contains(&dp)
    {
        errs.push(FieldError::not_supported(&format!("{path}.dnsPolicy"), dp, DNS_POLICIES));
    }
    if let Some(t) = spec["terminationGracePeriodSeconds"].as_i64()
        && t < 0
    {
        errs.push(FieldError::invalid_value(
            &format!("{path}.terminationGracePeriodSeconds"),
            &json!(t),
            "must be greater than or equal to 0",
        ));
    }
    let mut volumes: Vec<&str> = Vec::new();
    for (i, v) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        let name = v["name"].as_str().unwrap_or_default();
        let p = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if volumes.contains(&name) {
            errs.push(FieldError::duplicate(&p, &json!(name)));
        } else {
            for d in dns1123_label(name) {
                errs.push(FieldError::invalid(&p, name, &d));
            }
        }
        volumes.push(name);
    }
    errs
}

/// A workload's template checks: a valid pod spec, labels matching the selector, and a
/// restart policy among `allowed`.
pub fn validate_template(
    obj: &Value,
    template_path: &str,
    selector_required: bool,
    allowed_restart: &[&str],
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut t = obj;
    for p in template_path.split('.') {
        t = &t[p];
    }
    let spec_path = format!("{template_path}.spec");
    errs.extend(validate_pod_spec(&t["spec"], &spec_path));
    if let Some(rp) = t["spec"]["restartPolicy"].as_str()
        && !allowed_restart.contains(&rp)
    {
        errs.push(FieldError::not_supported(&format!("{spec_path}.restartPolicy"), rp, allowed_restart));
    }
    let sel = &obj["spec"]["selector"];
    if selector_required {
        let empty = sel.as_object().is_none_or(|m| {
            m.get("matchLabels").and_then(Value::as_object).is_none_or(Map::is_empty)
                && m.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty)
        });
        if empty {
            errs.push(FieldError::required("spec.selector", ""));
        } else if !selector_matches(sel, &t["metadata"]["labels"]) {
            errs.push(FieldError::invalid_value(
                &format!("{template_path}.metadata.labels"),
                &t["metadata"]["labels"],
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs
}

/// Whether a `metav1.LabelSelector` selects the given labels.
pub fn selector_matches(sel: &Value, labels: &Value) -> bool {
    let text = selector_string(sel);
    match crate::selector::LabelSelector::parse(&text) {
        Ok(s) => s.matches(&json!({"metadata": {"labels": labels}})),
        Err(_) => false,
    }
}

/// The QoS class of a pod (`GetPodQOS`).
pub fn qos_class(spec: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    let all =
        ["initContainers", "containers"].into_iter().flat_map(|l| spec[l].as_array().cloned().unwrap_or_default());
    for c in all {
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        for r in ["cpu", "memory"] {
            if req[r].is_string() || lim[r].is_string() {
                any = true;
            }
            let q = |v: &Value| v.as_str().and_then(parse_quantity);
            if !lim[r].is_string() || (req[r].is_string() && q(&req[r]) != q(&lim[r])) {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_defaults_follow_upstream() {
        let mut spec = json!({"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:1.27"}, {"name": "c", "image": "r.io/x:latest"}]});
        default_pod_spec(&mut spec);
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(spec["containers"][2]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][0]["terminationMessagePath"], "/dev/termination-log");
        assert!(validate_pod_spec(&spec, "spec").is_empty());
        assert_eq!(qos_class(&spec), "BestEffort");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("abc"), None);
        let spec = json!({"containers": [{"name": "a", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]});
        let errs = validate_pod_spec(&spec, "spec");
        assert_eq!(
            errs[0].message,
            r#"spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#
        );
        let g = json!({"containers": [{"resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
    }

    #[test]
    fn pod_spec_errors_name_their_fields() {
        let spec = json!({"containers": [{"name": "A"}, {"name": "A", "image": "x"}], "restartPolicy": "Sometimes"});
        let msgs: Vec<String> = validate_pod_spec(&spec, "spec").into_iter().map(|e| e.message).collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with(r#"spec.containers[0].name: Invalid value: "A": a lowercase RFC 1123 label"#)),
            "{msgs:?}"
        );
        assert!(msgs.contains(&"spec.containers[0].image: Required value".to_string()), "{msgs:?}");
        assert!(msgs.contains(&r#"spec.containers[1].name: Duplicate value: "A""#.to_string()), "{msgs:?}");
        assert!(msgs.contains(&r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#.to_string()), "{msgs:?}");
    }
}
