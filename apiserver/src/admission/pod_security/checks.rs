//! The Pod Security Standards checks (upstream's `k8s.io/pod-security-admission/policy`),
//! each with the policy versions it applies from, in words and order as upstream reports
//! them: the baseline checks by check ID, then the restricted ones by check ID; at the
//! restricted level a restricted check replaces the baseline check it overrides.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Level, LevelVersion};

/// The newest policy version any check changes at (`latest` evaluates as this).
pub const MAX_MINOR: u32 = 32;

/// One failed check: upstream's `ForbiddenReason` and `ForbiddenDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub reason: String,
    pub detail: String,
}

fn v(reason: impl Into<String>, detail: impl Into<String>) -> Option<Violation> {
    Some(Violation { reason: reason.into(), detail: detail.into() })
}

fn pluralize<'a>(one: &'a str, many: &'a str, n: usize) -> &'a str {
    if n == 1 { one } else { many }
}

/// Go's `%q` of each, joined by `, ` (upstream's `joinQuote`).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items.into_iter().map(|s| go_quote(s.as_ref())).collect::<Vec<_>>().join(", ")
}

pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Init, regular and ephemeral containers, in upstream's visiting order.
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |k| spec[k].as_array().into_iter().flatten())
}

fn name(c: &Value) -> String {
    c["name"].as_str().unwrap_or_default().to_string()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!("{} {}", pluralize("container", "containers", names.len()), join_quote(names))
}

fn is_windows(spec: &Value) -> bool {
    spec["os"]["name"] == "windows"
}

// ---- baseline ----

fn app_armor_profile(meta: &Value, spec: &Value) -> Option<Violation> {
    let allowed_type = |t: &Value| t == "RuntimeDefault" || t == "Localhost";
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let pod = &spec["securityContext"]["appArmorProfile"];
    if pod.is_object() && !allowed_type(&pod["type"]) {
        setters.push("pod".to_string());
        values.insert(str_of(&pod["type"]));
    }
    let mut bad = Vec::new();
    for c in containers(spec) {
        let p = &c["securityContext"]["appArmorProfile"];
        if p.is_object() && !allowed_type(&p["type"]) {
            bad.push(name(c));
            values.insert(str_of(&p["type"]));
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    let mut annotations: Vec<String> = meta["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("container.apparmor.security.beta.kubernetes.io/"))
        .filter_map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            let ok = v.is_empty() || v == "runtime/default" || v.starts_with("localhost/");
            (!ok).then(|| format!("{k}={}", go_quote(v)))
        })
        .collect();
    let mut values: Vec<String> = values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    v(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", values.len()),
        format!("{} must not set AppArmor profile type to {}", setters.join(" and "), join_quote(&values)),
    )
}

const CAPABILITIES_BASELINE: &[&str] = &[
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

fn added_capabilities(c: &Value) -> impl Iterator<Item = String> + '_ {
    c["securityContext"]["capabilities"]["add"].as_array().into_iter().flatten().map(str_of)
}

fn capabilities_baseline(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        let extra: Vec<String> =
            added_capabilities(c).filter(|a| !CAPABILITIES_BASELINE.contains(&a.as_str())).collect();
        if !extra.is_empty() {
            bad.push(name(c));
            caps.extend(extra);
        }
    }
    if bad.is_empty() {
        return None;
    }
    v(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&caps)
        ),
    )
}

fn host_namespaces(spec: &Value) -> Option<Violation> {
    let set: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| spec[*f].as_bool() == Some(true))
        .map(|f| format!("{f}=true"))
        .collect();
    if set.is_empty() {
        return None;
    }
    v("host namespaces", set.join(", "))
}

fn volumes(spec: &Value) -> impl Iterator<Item = &Value> {
    spec["volumes"].as_array().into_iter().flatten()
}

fn present(vol: &Value, field: &str) -> bool {
    vol.get(field).is_some_and(|f| !f.is_null())
}

fn host_path_volumes(spec: &Value) -> Option<Violation> {
    let names: Vec<String> = volumes(spec).filter(|vol| present(vol, "hostPath")).map(name).collect();
    if names.is_empty() {
        return None;
    }
    v("hostPath volumes", format!("{} {}", pluralize("volume", "volumes", names.len()), join_quote(&names)))
}

fn host_ports(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let mine: Vec<String> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["hostPort"].as_i64().filter(|p| *p != 0))
            .map(|p| p.to_string())
            .collect();
        if !mine.is_empty() {
            bad.push(name(c));
            ports.extend(mine);
        }
    }
    if bad.is_empty() {
        return None;
    }
    // Sorted as strings, like upstream's string set.
    let ports: Vec<String> = ports.into_iter().collect();
    v(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    )
}

fn privileged(spec: &Value) -> Option<Violation> {
    let bad: Vec<String> =
        containers(spec).filter(|c| c["securityContext"]["privileged"].as_bool() == Some(true)).map(name).collect();
    if bad.is_empty() {
        return None;
    }
    v("privileged", format!("{} must not set securityContext.privileged=true", containers_phrase(&bad)))
}

fn proc_mount(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        let pm = &c["securityContext"]["procMount"];
        if pm.is_string() && pm != "Default" {
            bad.push(name(c));
            types.insert(str_of(pm));
        }
    }
    if bad.is_empty() {
        return None;
    }
    v(
        "procMount",
        format!("{} must not set securityContext.procMount to {}", containers_phrase(&bad), join_quote(&types)),
    )
}

fn se_linux_options(spec: &Value, minor: u32) -> Option<Violation> {
    let mut allowed = vec!["", "container_t", "container_init_t", "container_kvm_t"];
    if minor >= 31 {
        allowed.push("container_engine_t");
    }
    let mut types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |o: &Value| {
        let mut ok = true;
        let t = o["type"].as_str().unwrap_or_default();
        if !allowed.contains(&t) {
            ok = false;
            types.insert(t.to_string());
        }
        if o["user"].as_str().is_some_and(|s| !s.is_empty()) {
            ok = false;
            set_user = true;
        }
        if o["role"].as_str().is_some_and(|s| !s.is_empty()) {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters = Vec::new();
    let pod = &spec["securityContext"]["seLinuxOptions"];
    if pod.is_object() && !valid(pod) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| {
            let o = &c["securityContext"]["seLinuxOptions"];
            o.is_object() && !valid(o)
        })
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !types.is_empty() {
        data.push(format!("{} {}", pluralize("type", "types", types.len()), join_quote(&types)));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    v(
        "seLinuxOptions",
        format!("{} set forbidden securityContext.seLinuxOptions: {}", setters.join(" and "), data.join("; ")),
    )
}

fn valid_seccomp(t: &Value) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

/// v1.0-v1.18: the alpha annotations.
fn seccomp_baseline_annotations(meta: &Value, spec: &Value) -> Option<Violation> {
    let ok = |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let ann = &meta["annotations"];
    let mut bad = BTreeSet::new();
    let pod_key = "seccomp.security.alpha.kubernetes.io/pod";
    if let Some(val) = ann[pod_key].as_str().filter(|v| !ok(v)) {
        bad.insert(format!("{pod_key}={}", go_quote(val)));
    }
    for c in containers(spec) {
        let key = format!("container.seccomp.security.alpha.kubernetes.io/{}", name(c));
        if let Some(val) = ann[&key].as_str().filter(|v| !ok(v)) {
            bad.insert(format!("{key}={}", go_quote(val)));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let bad: Vec<String> = bad.into_iter().collect();
    v("seccompProfile", format!("forbidden {} {}", pluralize("annotation", "annotations", bad.len()), bad.join(", ")))
}

/// The setters of a bad `seccompProfile.type`: (pod and explicitly bad containers, values,
/// containers that set none).
fn seccomp_setters(spec: &Value) -> (Vec<String>, BTreeSet<String>, bool, Vec<String>) {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let pod = &spec["securityContext"]["seccompProfile"];
    let mut pod_set = false;
    if pod.is_object() {
        if valid_seccomp(&pod["type"]) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            values.insert(str_of(&pod["type"]));
        }
    }
    let mut bad = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        let p = &c["securityContext"]["seccompProfile"];
        if p.is_object() {
            if !valid_seccomp(&p["type"]) {
                bad.push(name(c));
                values.insert(str_of(&p["type"]));
            }
        } else {
            implicit.push(name(c));
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (setters, values, pod_set, implicit)
}

fn seccomp_baseline_fields(spec: &Value) -> Option<Violation> {
    let (setters, values, _, _) = seccomp_setters(spec);
    if setters.is_empty() {
        return None;
    }
    v(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    )
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

fn sysctls(spec: &Value, minor: u32) -> Option<Violation> {
    let allowed = |n: &str| {
        SYSCTLS_1_0.contains(&n)
            || (minor >= 27 && SYSCTLS_1_27.contains(&n))
            || (minor >= 29 && SYSCTLS_1_29.contains(&n))
            || (minor >= 32 && SYSCTLS_1_32.contains(&n))
    };
    let bad: Vec<String> = spec["securityContext"]["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| str_of(&s["name"]))
        .filter(|n| !allowed(n))
        .collect();
    if bad.is_empty() {
        return None;
    }
    v("forbidden sysctls", bad.join(", "))
}

fn windows_host_process(spec: &Value) -> Option<Violation> {
    let host = |sc: &Value| sc["windowsOptions"]["hostProcess"].as_bool() == Some(true);
    let bad: Vec<String> = containers(spec).filter(|c| host(&c["securityContext"])).map(name).collect();
    let mut setters = Vec::new();
    if host(&spec["securityContext"]) {
        setters.push("pod".to_string());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    v("hostProcess", format!("{} must not set securityContext.windowsOptions.hostProcess=true", setters.join(" and ")))
}

// ---- restricted ----

fn allow_privilege_escalation(spec: &Value, minor: u32) -> Option<Violation> {
    if minor >= 25 && is_windows(spec) {
        return None;
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| c["securityContext"]["allowPrivilegeEscalation"].as_bool() != Some(false))
        .map(name)
        .collect();
    if bad.is_empty() {
        return None;
    }
    v(
        "allowPrivilegeEscalation != false",
        format!("{} must set securityContext.allowPrivilegeEscalation=false", containers_phrase(&bad)),
    )
}

fn capabilities_restricted(spec: &Value, minor: u32) -> Option<Violation> {
    if minor >= 25 && is_windows(spec) {
        return None;
    }
    let mut no_drop = Vec::new();
    let mut adding = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        let cap = &c["securityContext"]["capabilities"];
        if !cap.is_object() {
            no_drop.push(name(c));
            continue;
        }
        if !cap["drop"].as_array().is_some_and(|d| d.iter().any(|x| x == "ALL")) {
            no_drop.push(name(c));
        }
        let extra: Vec<String> = added_capabilities(c).filter(|a| a != "NET_BIND_SERVICE").collect();
        if !extra.is_empty() {
            adding.push(name(c));
            caps.extend(extra);
        }
    }
    let mut details = Vec::new();
    if !no_drop.is_empty() {
        details.push(format!("{} must set securityContext.capabilities.drop=[\"ALL\"]", containers_phrase(&no_drop)));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&caps)
        ));
    }
    if details.is_empty() {
        return None;
    }
    v("unrestricted capabilities", details.join("; "))
}

/// The volume sources the restricted level allows, and the names of the others
/// (upstream's `restrictedVolumes`).
const ALLOWED_VOLUMES: &[&str] =
    &["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
const RESTRICTED_VOLUMES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("gitRepo", "gitRepo"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("rbd", "rbd"),
    ("flexVolume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephfs"),
    ("flocker", "flocker"),
    ("fc", "fc"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("quobyte", "quobyte"),
    ("azureDisk", "azureDisk"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("scaleIO", "scaleIO"),
    ("storageos", "storageos"),
];

fn restricted_volumes(spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for vol in volumes(spec) {
        if ALLOWED_VOLUMES.iter().any(|f| present(vol, f)) {
            continue;
        }
        bad.push(name(vol));
        let t = RESTRICTED_VOLUMES.iter().find(|(f, _)| present(vol, f)).map_or("unknown", |(_, t)| t);
        types.insert(t.to_string());
    }
    if bad.is_empty() {
        return None;
    }
    v(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("restricted volume type", "restricted volume types", types.len()),
            join_quote(&types)
        ),
    )
}

fn run_as_non_root(spec: &Value) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut pod_true = false;
    match spec["securityContext"]["runAsNonRoot"].as_bool() {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match c["securityContext"]["runAsNonRoot"].as_bool() {
            Some(false) => explicit.push(name(c)),
            Some(true) => {}
            None if !pod_true => implicit.push(name(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return v(
            "runAsNonRoot != true",
            format!("{} must not set securityContext.runAsNonRoot=false", setters.join(" and ")),
        );
    }
    if !implicit.is_empty() {
        return v(
            "runAsNonRoot != true",
            format!("pod or {} must set securityContext.runAsNonRoot=true", containers_phrase(&implicit)),
        );
    }
    None
}

fn run_as_user(spec: &Value) -> Option<Violation> {
    let mut setters = Vec::new();
    if spec["securityContext"]["runAsUser"].as_i64() == Some(0) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> =
        containers(spec).filter(|c| c["securityContext"]["runAsUser"].as_i64() == Some(0)).map(name).collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    v("runAsUser=0", format!("{} must not set runAsUser=0", setters.join(" and ")))
}

fn seccomp_restricted(spec: &Value, minor: u32) -> Option<Violation> {
    if minor >= 25 && is_windows(spec) {
        return None;
    }
    let (setters, values, pod_set, implicit) = seccomp_setters(spec);
    if !setters.is_empty() {
        return v(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        );
    }
    if !pod_set && !implicit.is_empty() {
        return v(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        );
    }
    None
}

/// Evaluates a pod's metadata and spec at a level and version: every violation, in
/// upstream's order.
pub fn evaluate(lv: LevelVersion, meta: &Value, spec: &Value) -> Vec<Violation> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let minor = lv.version.unwrap_or(MAX_MINOR).min(MAX_MINOR);
    let restricted = lv.level == Level::Restricted;
    // Overridden at the restricted level from the versions their replacements exist.
    let caps_overridden = restricted && minor >= 22;
    let seccomp_overridden = restricted && minor >= 19;
    let mut out: Vec<Option<Violation>> = vec![
        app_armor_profile(meta, spec),
        if caps_overridden { None } else { capabilities_baseline(spec) },
        host_namespaces(spec),
        host_path_volumes(spec),
        host_ports(spec),
        privileged(spec),
        proc_mount(spec),
        se_linux_options(spec, minor),
        match (seccomp_overridden, minor >= 19) {
            (true, _) => None,
            (false, true) => seccomp_baseline_fields(spec),
            (false, false) => seccomp_baseline_annotations(meta, spec),
        },
        sysctls(spec, minor),
        windows_host_process(spec),
    ];
    if restricted {
        out.extend([
            if minor >= 8 { allow_privilege_escalation(spec, minor) } else { None },
            if minor >= 22 { capabilities_restricted(spec, minor) } else { None },
            restricted_volumes(spec),
            run_as_non_root(spec),
            if minor >= 23 { run_as_user(spec) } else { None },
            if minor >= 19 { seccomp_restricted(spec, minor) } else { None },
        ]);
    }
    out.into_iter().flatten().collect()
}

/// `reason (detail), ...` (upstream's `ForbiddenDetail`).
pub fn forbidden_detail(vs: &[Violation]) -> String {
    vs.iter()
        .map(|v| if v.detail.is_empty() { v.reason.clone() } else { format!("{} ({})", v.reason, v.detail) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reason, ...` (upstream's `ForbiddenReason`).
pub fn forbidden_reason(vs: &[Violation]) -> String {
    vs.iter().map(|v| v.reason.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lv(level: Level, version: Option<u32>) -> LevelVersion {
        LevelVersion { level, version }
    }

    fn detail(level: Level, version: Option<u32>, meta: Value, spec: Value) -> String {
        forbidden_detail(&evaluate(lv(level, version), &meta, &spec))
    }

    #[test]
    fn restricted_orders_baseline_checks_first() {
        let spec = json!({"hostNetwork": true, "containers": [{"name": "c", "securityContext": {"privileged": true}}]});
        assert_eq!(
            detail(Level::Restricted, None, json!({}), spec),
            "host namespaces (hostNetwork=true), privileged (container \"c\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        );
        let good = json!({"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]});
        assert!(evaluate(lv(Level::Restricted, None), &json!({}), &good).is_empty());
    }

    #[test]
    fn baseline_checks_in_upstream_words() {
        let meta = json!({"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}});
        let spec = json!({
            "securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "u"}, "sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_rmem", "value": "1"}],
                "seccompProfile": {"type": "Unconfined"}, "windowsOptions": {"hostProcess": true}},
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
            "containers": [
                {"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 443}],
                 "securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_RAW", "CHOWN"]}, "procMount": "Unmasked",
                    "appArmorProfile": {"type": "Unconfined"}}},
                {"name": "b", "ports": [{"containerPort": 1, "hostPort": 9}]}
            ]
        });
        let want = [
            "forbidden AppArmor profiles (container \"a\" and annotation must not set AppArmor profile type to \"Unconfined\", \"container.apparmor.security.beta.kubernetes.io/a=\\\"unconfined\\\"\")",
            "non-default capabilities (container \"a\" must not include \"NET_RAW\", \"SYS_ADMIN\" in securityContext.capabilities.add)",
            "hostPath volumes (volume \"h\")",
            "hostPort (containers \"a\", \"b\" use hostPorts 443, 8080, 9)",
            "procMount (container \"a\" must not set securityContext.procMount to \"Unmasked\")",
            "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set)",
            "seccompProfile (pod must not set securityContext.seccompProfile.type to \"Unconfined\")",
            "forbidden sysctls (kernel.msgmax)",
            "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
        ];
        assert_eq!(detail(Level::Baseline, None, meta.clone(), spec.clone()), want.join(", "));
        // Pinned to v1.31, net.ipv4.tcp_rmem is not yet a safe sysctl.
        assert!(
            detail(Level::Baseline, Some(31), meta, spec)
                .contains("forbidden sysctls (kernel.msgmax, net.ipv4.tcp_rmem)")
        );
    }

    #[test]
    fn versions_change_which_checks_apply() {
        let root = json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
        assert_eq!(
            detail(Level::Restricted, None, json!({}), root.clone()),
            "runAsUser=0 (pod must not set runAsUser=0)"
        );
        assert!(evaluate(lv(Level::Restricted, Some(22)), &json!({}), &root).is_empty());
        // Before v1.22 restricted used the baseline capabilities check; before v1.19 the
        // seccomp annotations.
        let add = json!({"containers": [{"name": "c", "securityContext": {"runAsNonRoot": true, "capabilities": {"add": ["SYS_ADMIN"]}}}]});
        assert_eq!(
            detail(
                Level::Restricted,
                Some(18),
                json!({"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}),
                add
            ),
            "non-default capabilities (container \"c\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add), seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\"), allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)"
        );
        // Windows pods skip the Linux-only restricted checks from v1.25.
        let win = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c"}]});
        assert!(evaluate(lv(Level::Restricted, None), &json!({}), &win).is_empty());
        assert_eq!(evaluate(lv(Level::Restricted, Some(24)), &json!({}), &win).len(), 3);
    }

    #[test]
    fn restricted_volumes_and_run_as_non_root_false() {
        let spec = json!({"securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Localhost"}},
            "volumes": [{"name": "n", "nfs": {}}, {"name": "g", "gitRepo": {}}, {"name": "e", "emptyDir": {}}],
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": false, "capabilities": {"drop": ["ALL"]}}}]});
        assert_eq!(
            detail(Level::Restricted, None, json!({}), spec),
            "restricted volume types (volumes \"n\", \"g\" use restricted volume types \"gitRepo\", \"nfs\"), runAsNonRoot != true (pod and container \"c\" must not set securityContext.runAsNonRoot=false)"
        );
    }
}
