//! PodSecurity: the Pod Security Standards, chosen per namespace by the labels
//! `pod-security.kubernetes.io/{enforce,warn,audit}` = `privileged|baseline|restricted`
//! (`-version` labels are read as `latest`). `enforce` refuses a violating pod, `warn`
//! answers with a `Warning` header; `audit` has no audit log to write to here.
//! The checks are upstream's main baseline and restricted ones, reported in upstream's
//! order (by check ID) and words.

use serde_json::Value;

use super::{Attributes, Operation, all_containers};
use crate::registry;
use crate::rest::{Rest, WriteContext};
use crate::status::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// The capabilities baseline allows to be added (`capabilities_baseline`).
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn quote_all(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

/// `container "a"` or `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    if names.len() == 1 {
        format!("container {}", quote_all(names))
    } else {
        format!("containers {}", quote_all(names))
    }
}

fn names_where(spec: &Value, f: impl Fn(&Value) -> bool) -> Vec<String> {
    all_containers(spec).filter(|c| f(c)).map(|c| c["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// The violations of a pod spec at `level`: `(check, detail)` in upstream's order.
pub fn check(level: Level, spec: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if level == Level::Privileged {
        return out;
    }
    let restricted = level == Level::Restricted;
    let sc = |c: &Value, f: &str| c["securityContext"][f].clone();
    // allowPrivilegeEscalation (restricted)
    if restricted {
        let bad = names_where(spec, |c| sc(c, "allowPrivilegeEscalation").as_bool() != Some(false));
        if !bad.is_empty() {
            out.push(format!(
                "allowPrivilegeEscalation != false ({} must set securityContext.allowPrivilegeEscalation=false)",
                containers_phrase(&bad)
            ));
        }
    }
    // capabilities_baseline (overridden by capabilities_restricted)
    let added = |c: &Value| -> Vec<String> {
        c["securityContext"]["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    let mut bad_adds: Vec<String> = Vec::new();
    let mut bad_add_containers = Vec::new();
    for c in all_containers(spec) {
        let allowed =
            |cap: &str| if restricted { cap == "NET_BIND_SERVICE" } else { BASELINE_CAPABILITIES.contains(&cap) };
        let extra: Vec<String> = added(c).into_iter().filter(|a| !allowed(a)).collect();
        if !extra.is_empty() {
            bad_add_containers.push(c["name"].as_str().unwrap_or_default().to_string());
            for e in extra {
                if !bad_adds.contains(&e) {
                    bad_adds.push(e);
                }
            }
        }
    }
    if !restricted && !bad_adds.is_empty() {
        out.push(format!(
            "non-default capabilities ({} must not include {} in securityContext.capabilities.add)",
            containers_phrase(&bad_add_containers),
            quote_all(&bad_adds)
        ));
    }
    if restricted {
        let no_drop = names_where(spec, |c| {
            !c["securityContext"]["capabilities"]["drop"].as_array().is_some_and(|d| d.iter().any(|x| x == "ALL"))
        });
        let mut parts = Vec::new();
        if !no_drop.is_empty() {
            parts.push(format!("{} must set securityContext.capabilities.drop=[\"ALL\"]", containers_phrase(&no_drop)));
        }
        if !bad_adds.is_empty() {
            parts.push(format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&bad_add_containers),
                quote_all(&bad_adds)
            ));
        }
        if !parts.is_empty() {
            out.push(format!("unrestricted capabilities ({})", parts.join("; ")));
        }
    }
    // hostNamespaces
    let hosts: Vec<&str> =
        ["hostNetwork", "hostPID", "hostIPC"].into_iter().filter(|f| spec[*f].as_bool() == Some(true)).collect();
    if !hosts.is_empty() {
        let list = hosts.iter().map(|h| format!("{h}=true")).collect::<Vec<_>>().join(", ");
        out.push(format!("host namespaces ({list})"));
    }
    // hostPathVolumes
    let host_paths: Vec<String> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect();
    if !host_paths.is_empty() {
        let what = if host_paths.len() == 1 { "volume" } else { "volumes" };
        out.push(format!("hostPath volumes ({what} {})", quote_all(&host_paths)));
    }
    // hostPorts
    let mut port_parts = Vec::new();
    for c in all_containers(spec) {
        let ports: Vec<String> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["hostPort"].as_i64().filter(|p| *p != 0))
            .map(|p| p.to_string())
            .collect();
        if !ports.is_empty() {
            let what = if ports.len() == 1 { "hostPort" } else { "hostPorts" };
            port_parts.push(format!(
                "container {:?} uses {what} {}",
                c["name"].as_str().unwrap_or_default(),
                ports.join(", ")
            ));
        }
    }
    if !port_parts.is_empty() {
        out.push(format!("hostPort ({})", port_parts.join("; ")));
    }
    // privileged
    let privileged = names_where(spec, |c| sc(c, "privileged").as_bool() == Some(true));
    if !privileged.is_empty() {
        out.push(format!(
            "privileged ({} must not set securityContext.privileged=true)",
            containers_phrase(&privileged)
        ));
    }
    if restricted {
        // runAsNonRoot
        let pod_non_root = spec["securityContext"]["runAsNonRoot"].as_bool();
        let bad = names_where(spec, |c| match sc(c, "runAsNonRoot").as_bool() {
            Some(v) => !v,
            None => pod_non_root != Some(true),
        });
        if !bad.is_empty() {
            let who = if pod_non_root == Some(true) {
                containers_phrase(&bad)
            } else {
                format!("pod or {}", containers_phrase(&bad))
            };
            out.push(format!("runAsNonRoot != true ({who} must set securityContext.runAsNonRoot=true)"));
        }
        // seccompProfile_restricted
        let ok_type = |t: &Value| t == "RuntimeDefault" || t == "Localhost";
        let pod_type = &spec["securityContext"]["seccompProfile"]["type"];
        let bad = names_where(spec, |c| {
            let t = &c["securityContext"]["seccompProfile"]["type"];
            if t.is_null() { !ok_type(pod_type) } else { !ok_type(t) }
        });
        if !bad.is_empty() {
            let who =
                if ok_type(pod_type) { containers_phrase(&bad) } else { format!("pod or {}", containers_phrase(&bad)) };
            out.push(format!(
                "seccompProfile ({who} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
            ));
        }
    }
    out
}

/// The pod template of a workload resource (upstream's `DefaultPodSpecExtractor`).
fn template_spec<'v>(a: &Attributes<'_>, obj: &'v Value) -> Option<&'v Value> {
    match (a.resource.group, a.resource.name) {
        ("", "replicationcontrollers")
        | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
        | ("batch", "jobs") => Some(&obj["spec"]["template"]["spec"]),
        ("batch", "cronjobs") => Some(&obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]),
        _ => None,
    }
}

/// A namespace update that tightens `enforce` warns about the pods already there that
/// violate the new level (`existing pods in namespace ...`), grouped by violations.
async fn check_namespace(rest: &Rest, a: &Attributes<'_>, obj: &Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    let label = "pod-security.kubernetes.io/enforce";
    let Some(old) = a.old else { return Ok(()) };
    let Some(level) = obj["metadata"]["labels"][label].as_str().and_then(Level::parse) else { return Ok(()) };
    if level == Level::Privileged || old["metadata"]["labels"][label] == obj["metadata"]["labels"][label] {
        return Ok(());
    }
    let ns = obj["metadata"]["name"].as_str().unwrap_or_default();
    let pods = super::list(rest, "pods", Some(ns)).await?;
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for p in &pods {
        let v = check(level, &p["spec"]);
        if v.is_empty() {
            continue;
        }
        // The check names only, without their details.
        let reasons = v.iter().map(|r| r.split(" (").next().unwrap_or(r)).collect::<Vec<_>>().join(", ");
        let name = p["metadata"]["name"].as_str().unwrap_or_default().to_string();
        match groups.iter_mut().find(|(r, _)| *r == reasons) {
            Some((_, names)) => names.push(name),
            None => groups.push((reasons, vec![name])),
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    ctx.warnings.push(format!(
        "existing pods in namespace {ns:?} violate the new PodSecurity enforce level \"{}:latest\"",
        level.name()
    ));
    for (reasons, names) in groups {
        ctx.warnings.push(format!("{}: {reasons}", names.join(", ")));
    }
    Ok(())
}

pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    if a.is("", "namespaces") {
        return check_namespace(rest, a, obj, ctx).await;
    }
    if let Some(spec) = template_spec(a, obj).filter(|s| s.is_object()) {
        // Workloads are never refused: their pods will be. Both the enforce and the
        // warn level answer with a warning.
        let nsres = registry::find("namespaces").expect("namespaces are registered");
        let Ok(ns) = rest.get(nsres, None, a.ns()).await else { return Ok(()) };
        let labels = &ns["metadata"]["labels"];
        let level = |mode: &str| labels[format!("pod-security.kubernetes.io/{mode}")].as_str().and_then(Level::parse);
        let mut levels: Vec<Level> = [level("enforce"), level("warn")].into_iter().flatten().collect();
        levels.dedup();
        for l in levels {
            let v = check(l, spec);
            if !v.is_empty() {
                ctx.warnings.push(format!("would violate PodSecurity \"{}:latest\": {}", l.name(), v.join(", ")));
            }
        }
        return Ok(());
    }
    if !a.is("", "pods") {
        return Ok(());
    }
    // Updates are checked only when they change more than the metadata and the
    // images (upstream exempts those).
    if a.operation == Operation::Update && a.old.is_some_and(|o| o["spec"] == obj["spec"]) {
        return Ok(());
    }
    let nsres = registry::find("namespaces").expect("namespaces are registered");
    let Ok(ns) = rest.get(nsres, None, a.ns()).await else { return Ok(()) };
    let labels = &ns["metadata"]["labels"];
    let level = |mode: &str| labels[format!("pod-security.kubernetes.io/{mode}")].as_str().and_then(Level::parse);
    let enforce = level("enforce");
    let warn = level("warn");
    if let Some(l) = enforce {
        let v = check(l, &obj["spec"]);
        if !v.is_empty() {
            return Err(a.forbidden(&format!("violates PodSecurity \"{}:latest\": {}", l.name(), v.join(", "))));
        }
    }
    if let Some(l) = warn.filter(|w| Some(*w) > enforce) {
        let v = check(l, &obj["spec"]);
        if !v.is_empty() {
            ctx.warnings.push(format!("would violate PodSecurity \"{}:latest\": {}", l.name(), v.join(", ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn restricted_lists_every_violation_in_order() {
        let spec = json!({"containers": [{"name": "c", "securityContext": {"privileged": true}}], "hostNetwork": true});
        assert_eq!(
            check(Level::Baseline, &spec),
            [
                "host namespaces (hostNetwork=true)",
                "privileged (container \"c\" must not set securityContext.privileged=true)"
            ]
        );
        let plain = json!({"containers": [{"name": "nginx"}]});
        assert_eq!(
            check(Level::Restricted, &plain).join(", "),
            "allowPrivilegeEscalation != false (container \"nginx\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"nginx\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"nginx\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"nginx\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
        let good = json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
        assert!(check(Level::Restricted, &good).is_empty());
        assert!(check(Level::Privileged, &spec).is_empty());
    }
}
