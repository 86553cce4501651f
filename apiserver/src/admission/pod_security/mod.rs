//! PodSecurity: the Pod Security Standards (`checks`), chosen per namespace by the labels
//! `pod-security.kubernetes.io/{enforce,audit,warn}` = `privileged|baseline|restricted`
//! and their `-version` labels (`latest` or `v1.N`), falling back to the defaults of
//! `--admission-control-config-file`'s PodSecurityConfiguration (privileged:latest
//! without one), which also lists the exempt usernames, runtime classes and namespaces.
//!
//! As upstream: `enforce` refuses a violating pod; `warn` answers with a `Warning`;
//! `audit` records `pod-security.kubernetes.io/audit-violations` as an audit annotation
//! (on [`WriteContext::audit_annotations`]: this apiserver writes no audit log yet, so
//! the annotations are only logged at debug level). Workload resources (pod templates,
//! replication controllers, deployments, replica sets, stateful sets, daemon sets, jobs,
//! cron jobs) are evaluated for `warn` and `audit` only, never refused. A namespace
//! update that tightens `enforce` warns about the existing pods that violate it.

pub mod checks;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::{Attributes, Operation};
use crate::registry;
use crate::rest::{Rest, WriteContext};
use crate::status::{ApiError, FieldError};
use checks::{Violation, evaluate, forbidden_detail, forbidden_reason, go_quote};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// `ParseLevel`: an unknown level reads as restricted, with an error.
fn parse_level(s: &str) -> Result<Level, (Level, &'static str)> {
    match s {
        "privileged" => Ok(Level::Privileged),
        "baseline" => Ok(Level::Baseline),
        "restricted" => Ok(Level::Restricted),
        _ => Err((Level::Restricted, "must be one of privileged, baseline, restricted")),
    }
}

/// `ParseVersion`: `latest` (None) or `v1.N`; anything else reads as latest, with an error.
fn parse_version(s: &str) -> Result<Option<u32>, &'static str> {
    if s == "latest" {
        return Ok(None);
    }
    let bad = "must be \"latest\" or \"v1.x\"";
    let minor = s.strip_prefix("v1.").ok_or(bad)?;
    let well_formed =
        !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()) && (minor.len() == 1 || !minor.starts_with('0'));
    if !well_formed {
        return Err(bad);
    }
    minor.parse().map(Some).map_err(|_| bad)
}

/// A level at a policy version (`None` = latest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Option<u32>,
}

impl std::fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            None => write!(f, "{}:latest", self.level.name()),
            Some(m) => write!(f, "{}:v1.{m}", self.level.name()),
        }
    }
}

impl LevelVersion {
    const PRIVILEGED: LevelVersion = LevelVersion { level: Level::Privileged, version: None };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { enforce: LevelVersion::PRIVILEGED, audit: LevelVersion::PRIVILEGED, warn: LevelVersion::PRIVILEGED }
    }
}

const PREFIX: &str = "pod-security.kubernetes.io/";

/// `PolicyToEvaluate`: the namespace's labels over the defaults, with the label errors.
/// Bad enforce labels fail closed (restricted, latest); bad audit and warn levels fail
/// open (privileged). A warn level left unset follows a stricter enforce label.
pub fn policy_to_evaluate(labels: &Value, defaults: Policy) -> (Policy, Vec<FieldError>) {
    let mut p = defaults;
    let mut errs = Vec::new();
    let Some(labels) = labels.as_object().filter(|l| !l.is_empty()) else { return (p, errs) };
    let label = |mode: &str| labels.get(&format!("{PREFIX}{mode}")).map(|v| v.as_str().unwrap_or_default());
    let mut err = |mode: &str, value: &str, detail: &str| {
        errs.push(FieldError::invalid(&format!("metadata.labels[{PREFIX}{mode}]"), value, detail));
    };
    let mut has_enforce_level = false;
    let mut has_enforce_version = false;
    for (mode, fail_open) in [("enforce", false), ("audit", true), ("warn", true)] {
        let target = match mode {
            "enforce" => &mut p.enforce,
            "audit" => &mut p.audit,
            _ => &mut p.warn,
        };
        if let Some(v) = label(mode) {
            match parse_level(v) {
                Ok(l) => {
                    target.level = l;
                    has_enforce_level |= mode == "enforce";
                }
                Err((l, detail)) => {
                    target.level = if fail_open { Level::Privileged } else { l };
                    err(mode, v, detail);
                }
            }
        }
        let vmode = format!("{mode}-version");
        if let Some(v) = label(&vmode) {
            match parse_version(v) {
                Ok(ver) => {
                    target.version = ver;
                    has_enforce_version |= mode == "enforce";
                }
                Err(detail) => {
                    target.version = None;
                    err(&vmode, v, detail);
                }
            }
        }
    }
    if label("warn").is_none() && has_enforce_level && p.enforce.level > p.warn.level {
        p.warn.level = p.enforce.level;
        if label("warn-version").is_none() && has_enforce_version {
            p.warn.version = p.enforce.version;
        }
    }
    (p, errs)
}

/// The plugin's configuration (`PodSecurityConfiguration`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    pub defaults: Policy,
    pub exempt_usernames: Vec<String>,
    pub exempt_runtime_classes: Vec<String>,
    pub exempt_namespaces: Vec<String>,
}

static CONFIG: OnceLock<Configuration> = OnceLock::new();

/// Fixes the configuration for this process (the first call wins).
pub fn configure(cfg: Configuration) {
    let _ = CONFIG.set(cfg);
}

fn config() -> &'static Configuration {
    CONFIG.get_or_init(Configuration::default)
}

/// Reads a `pod-security.admission.config.k8s.io` PodSecurityConfiguration (v1, v1beta1
/// or v1alpha1), with upstream's defaults and validation.
pub fn parse_configuration(v: &Value) -> Result<Configuration, String> {
    let api_version = v["apiVersion"].as_str().unwrap_or_default();
    let kind = v["kind"].as_str().unwrap_or_default();
    let known = ["v1", "v1beta1", "v1alpha1"].map(|ver| format!("pod-security.admission.config.k8s.io/{ver}"));
    if kind != "PodSecurityConfiguration" || !known.iter().any(|k| k == api_version) {
        return Err(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\" (want PodSecurityConfiguration in pod-security.admission.config.k8s.io/v1)"
        ));
    }
    let mut errs = Vec::new();
    let d = &v["defaults"];
    let mut policy = Policy::default();
    for (mode, target) in [("enforce", &mut policy.enforce), ("audit", &mut policy.audit), ("warn", &mut policy.warn)] {
        if let Some(l) = d[mode].as_str().filter(|s| !s.is_empty()) {
            match parse_level(l) {
                Ok(l) => target.level = l,
                Err((_, e)) => errs.push(format!("defaults.{mode}: Invalid value: {}: {e}", go_quote(l))),
            }
        }
        let vmode = format!("{mode}-version");
        if let Some(ver) = d[&vmode].as_str().filter(|s| !s.is_empty()) {
            match parse_version(ver) {
                Ok(ver) => target.version = ver,
                Err(e) => errs.push(format!("defaults.{vmode}: Invalid value: {}: {e}", go_quote(ver))),
            }
        }
    }
    let list = |field: &str, errs: &mut Vec<String>| -> Vec<String> {
        let items: Vec<String> = v["exemptions"][field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap_or_default().to_string())
            .collect();
        for (i, s) in items.iter().enumerate() {
            if s.is_empty() {
                errs.push(format!("exemptions.{field}[{i}]: Invalid value: \"\": must be non-empty"));
            } else if items[..i].contains(s) {
                errs.push(format!("exemptions.{field}[{i}]: Duplicate value: {}", go_quote(s)));
            }
        }
        items
    };
    let cfg = Configuration {
        defaults: policy,
        exempt_usernames: list("usernames", &mut errs),
        exempt_runtime_classes: list("runtimeClasses", &mut errs),
        exempt_namespaces: list("namespaces", &mut errs),
    };
    match errs.len() {
        0 => Ok(cfg),
        1 => Err(errs.remove(0)),
        _ => Err(format!("[{}]", errs.join(", "))),
    }
}

/// The pod template of a workload resource (upstream's `DefaultPodSpecExtractor`), as
/// (metadata, spec); `None` for other resources or a workload without a template.
fn template<'v>(a: &Attributes<'_>, obj: &'v Value) -> Option<Option<(&'v Value, &'v Value)>> {
    let t = match (a.resource.group, a.resource.name) {
        ("", "podtemplates") => &obj["template"],
        ("", "replicationcontrollers")
        | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
        | ("batch", "jobs") => &obj["spec"]["template"],
        ("batch", "cronjobs") => &obj["spec"]["jobTemplate"]["spec"]["template"],
        _ => return None,
    };
    Some(t.is_object().then(|| (&t["metadata"], &t["spec"])))
}

fn audit(ctx: &mut WriteContext, key: &str, value: String) {
    tracing::debug!(key = %format!("{PREFIX}{key}"), %value, "PodSecurity audit annotation");
    ctx.audit_annotations.push((format!("{PREFIX}{key}"), value));
}

fn exempt(ctx: &mut WriteContext, ns: &str) -> bool {
    let cfg = config();
    let user = ctx.user.as_ref().map(|u| u.name.as_str()).unwrap_or_default();
    let what = if !ns.is_empty() && cfg.exempt_namespaces.iter().any(|n| n == ns) {
        "namespace"
    } else if !user.is_empty() && cfg.exempt_usernames.iter().any(|u| u == user) {
        "user"
    } else {
        return false;
    };
    audit(ctx, "exempt", what.to_string());
    true
}

async fn namespace_labels(rest: &Rest, ns: &str) -> Result<Value, ApiError> {
    let nsres = registry::find("namespaces").expect("namespaces are registered");
    match rest.get(nsres, None, ns).await {
        Ok(n) => Ok(n["metadata"]["labels"].clone()),
        Err(e) => {
            tracing::error!(error = %e.message, namespace = ns, "PodSecurity: failed to fetch pod namespace");
            Err(ApiError::internal(format!("failed to lookup namespace {ns:?}")))
        }
    }
}

/// `EvaluatePod`: enforce (when `enforce`), audit and warn, reusing equal evaluations.
fn evaluate_pod(
    a: &Attributes<'_>,
    ctx: &mut WriteContext,
    policy: Policy,
    label_errs: &[FieldError],
    meta: &Value,
    spec: &Value,
    enforce: bool,
) -> Result<(), ApiError> {
    let cfg = config();
    if let Some(rc) = spec["runtimeClassName"].as_str().filter(|r| !r.is_empty())
        && cfg.exempt_runtime_classes.iter().any(|c| c == rc)
    {
        audit(ctx, "exempt", "runtimeClass".into());
        return Ok(());
    }
    if !label_errs.is_empty() {
        let msgs: Vec<&str> = label_errs.iter().map(|e| e.message.as_str()).collect();
        let joined = if msgs.len() == 1 { msgs[0].to_string() } else { format!("[{}]", msgs.join(", ")) };
        audit(ctx, "error", format!("Failed to parse policy: {joined}"));
    }
    let mut cache: BTreeMap<String, Vec<Violation>> = BTreeMap::new();
    let mut eval = |lv: LevelVersion| cache.entry(lv.to_string()).or_insert_with(|| evaluate(lv, meta, spec)).clone();
    let mut refused = None;
    if enforce {
        audit(ctx, "enforce-policy", policy.enforce.to_string());
        let v = eval(policy.enforce);
        if !v.is_empty() {
            refused = Some(a.forbidden(&format!(
                "violates PodSecurity {}: {}",
                go_quote(&policy.enforce.to_string()),
                forbidden_detail(&v)
            )));
        }
    }
    let v = eval(policy.audit);
    if !v.is_empty() {
        let text =
            format!("would violate PodSecurity {}: {}", go_quote(&policy.audit.to_string()), forbidden_detail(&v));
        audit(ctx, "audit-violations", text);
    }
    if let Some(e) = refused {
        return Err(e);
    }
    let v = eval(policy.warn);
    if !v.is_empty() {
        ctx.warnings.push(format!(
            "would violate PodSecurity {}: {}",
            go_quote(&policy.warn.to_string()),
            forbidden_detail(&v)
        ));
    }
    Ok(())
}

/// Upstream's `isSignificantPodUpdate`: only image, seccomp annotation and container
/// changes are evaluated (the rest of a pod spec is immutable).
fn significant_pod_update(new: &Value, old: &Value) -> bool {
    let ann = |o: &Value, k: &str| o["metadata"]["annotations"][k].clone();
    if ann(new, "seccomp.security.alpha.kubernetes.io/pod") != ann(old, "seccomp.security.alpha.kubernetes.io/pod") {
        return true;
    }
    let list = |o: &Value, k: &str| o["spec"][k].as_array().cloned().unwrap_or_default();
    let container_changed = |c: &Value, oc: &Value| {
        let key = format!("container.seccomp.security.alpha.kubernetes.io/{}", c["name"].as_str().unwrap_or_default());
        c["image"] != oc["image"] || ann(new, &key) != ann(old, &key)
    };
    for k in ["containers", "initContainers"] {
        let (n, o) = (list(new, k), list(old, k));
        if n.len() != o.len() || n.iter().zip(&o).any(|(c, oc)| container_changed(c, oc)) {
            return true;
        }
    }
    let old_eph = list(old, "ephemeralContainers");
    list(new, "ephemeralContainers").iter().any(|c| match old_eph.iter().find(|o| o["name"] == c["name"]) {
        None => true,
        Some(oc) => container_changed(c, oc),
    })
}

/// `EvaluatePodsInNamespace`: warnings naming the existing pods that violate a new
/// enforce level (one pod per controller first; at most 3,000 pods).
async fn evaluate_pods_in_namespace(rest: &Rest, ns: &str, enforce: LevelVersion) -> Vec<String> {
    const MAX_PODS: usize = 3000;
    let Ok(pods) = super::list(rest, "pods", Some(ns)).await else {
        return vec!["failed to list pods while checking new PodSecurity enforce level".into()];
    };
    let cfg = config();
    let mut first = Vec::new();
    let mut duplicates = Vec::new();
    let mut seen_controllers = Vec::new();
    for p in &pods {
        if let Some(rc) = p["spec"]["runtimeClassName"].as_str()
            && cfg.exempt_runtime_classes.iter().any(|c| c == rc)
        {
            continue;
        }
        let controller = p["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["controller"].as_bool() == Some(true))
            .map(|o| o["uid"].clone());
        match controller {
            Some(uid) if seen_controllers.contains(&uid) => duplicates.push(p),
            Some(uid) => {
                seen_controllers.push(uid);
                first.push(p);
            }
            None => first.push(p),
        }
    }
    first.extend(duplicates);
    let total = first.len();
    first.truncate(MAX_PODS);
    let mut order: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for p in &first {
        let v = evaluate(enforce, &p["metadata"], &p["spec"]);
        if v.is_empty() {
            continue;
        }
        let reason = forbidden_reason(&v);
        let name = p["metadata"]["name"].as_str().unwrap_or_default().to_string();
        match counts.get_mut(&reason) {
            Some((first_name, n)) => {
                *n += 1;
                if name < *first_name {
                    *first_name = name;
                }
            }
            None => {
                order.push(reason.clone());
                counts.insert(reason, (name, 1));
            }
        }
    }
    let mut warnings = Vec::new();
    if first.len() < total {
        warnings.push(format!(
            "new PodSecurity enforce level only checked against the first {} of {total} existing pods",
            first.len()
        ));
    }
    if !order.is_empty() {
        warnings.push(format!(
            "existing pods in namespace {} violate the new PodSecurity enforce level {}",
            go_quote(ns),
            go_quote(&enforce.to_string())
        ));
    }
    let mut pod_warnings: Vec<String> = order
        .into_iter()
        .map(|reason| {
            let (name, n) = &counts[&reason];
            match n {
                1 => format!("{name}: {reason}"),
                2 => format!("{name} (and 1 other pod): {reason}"),
                n => format!("{name} (and {} other pods): {reason}", n - 1),
            }
        })
        .collect();
    pod_warnings.sort();
    warnings.extend(pod_warnings);
    warnings
}

/// `ValidateNamespace`: labels must be valid (on create, and on an update that changes
/// them); tightening `enforce` warns about existing pods.
async fn validate_namespace(
    rest: &Rest,
    a: &Attributes<'_>,
    obj: &Value,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    let defaults = config().defaults;
    let (new, new_errs) = policy_to_evaluate(&obj["metadata"]["labels"], defaults);
    let invalid = |errs: &[FieldError]| crate::rest::invalid(a.resource, &a.name, errs);
    match (a.operation, a.old) {
        (Operation::Create | Operation::Delete | Operation::Connect, _) | (_, None) => {
            if !new_errs.is_empty() {
                return Err(invalid(&new_errs));
            }
            Ok(())
        }
        (Operation::Update, Some(old)) => {
            let (old_policy, old_errs) = policy_to_evaluate(&old["metadata"]["labels"], defaults);
            let messages = |e: &[FieldError]| e.iter().map(|f| f.message.clone()).collect::<Vec<_>>();
            if !new_errs.is_empty() && (old_errs.is_empty() || messages(&new_errs) != messages(&old_errs)) {
                return Err(invalid(&new_errs));
            }
            if new.enforce == old_policy.enforce
                || new.enforce.level == Level::Privileged
                || (new.enforce.version == old_policy.enforce.version && new.enforce.level <= old_policy.enforce.level)
            {
                return Ok(());
            }
            let ns = obj["metadata"]["name"].as_str().unwrap_or_default();
            if config().exempt_namespaces.iter().any(|n| n == ns) {
                return Ok(());
            }
            let warnings = evaluate_pods_in_namespace(rest, ns, new.enforce).await;
            ctx.warnings.extend(warnings);
            Ok(())
        }
    }
}

pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    if a.is("", "namespaces") {
        return validate_namespace(rest, a, obj, ctx).await;
    }
    let is_pod = a.is("", "pods");
    let extracted = if is_pod { Some(Some((&obj["metadata"], &obj["spec"]))) } else { template(a, obj) };
    let Some(extracted) = extracted else { return Ok(()) };
    let ns = a.ns();
    if exempt(ctx, ns) {
        return Ok(());
    }
    let labels = namespace_labels(rest, ns).await?;
    let (policy, errs) = policy_to_evaluate(&labels, config().defaults);
    let all_privileged = |levels: &[LevelVersion]| levels.iter().all(|l| l.level == Level::Privileged);
    if is_pod {
        if errs.is_empty() && all_privileged(&[policy.enforce, policy.audit, policy.warn]) {
            return Ok(());
        }
        if a.operation == Operation::Update && a.old.is_some_and(|old| !significant_pod_update(obj, old)) {
            return Ok(());
        }
    } else if errs.is_empty() && all_privileged(&[policy.audit, policy.warn]) {
        return Ok(());
    }
    // A workload without a pod template is not evaluated.
    let Some((meta, spec)) = extracted else { return Ok(()) };
    evaluate_pod(a, ctx, policy, &errs, meta, spec, is_pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lv(level: Level, version: Option<u32>) -> LevelVersion {
        LevelVersion { level, version }
    }

    #[test]
    fn labels_resolve_like_upstream() {
        let d = Policy::default();
        let (p, errs) = policy_to_evaluate(&json!({"pod-security.kubernetes.io/enforce": "baseline"}), d);
        assert!(errs.is_empty());
        assert_eq!(p.enforce, lv(Level::Baseline, None));
        // warn follows a stricter enforce label; audit does not.
        assert_eq!(p.warn, lv(Level::Baseline, None));
        assert_eq!(p.audit, lv(Level::Privileged, None));
        let (p, _) = policy_to_evaluate(
            &json!({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.24",
                "pod-security.kubernetes.io/warn-version": "latest"}),
            d,
        );
        assert_eq!((p.enforce, p.warn), (lv(Level::Restricted, Some(24)), lv(Level::Restricted, None)));
        assert_eq!(p.enforce.to_string(), "restricted:v1.24");
        let (p, errs) = policy_to_evaluate(
            &json!({"pod-security.kubernetes.io/enforce": "strict", "pod-security.kubernetes.io/warn": "x",
                "pod-security.kubernetes.io/audit-version": "v1.02"}),
            d,
        );
        assert_eq!((p.enforce.level, p.warn.level), (Level::Restricted, Level::Privileged));
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#,
                r#"metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v1.02": must be "latest" or "v1.x""#,
                r#"metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "x": must be one of privileged, baseline, restricted"#,
            ]
        );
        assert_eq!(parse_version("v1.0"), Ok(Some(0)));
        assert!(parse_version("v2.1").is_err() && parse_version("1.2").is_err() && parse_version("v1.").is_err());
    }

    #[test]
    fn configuration_defaults_and_validation() {
        let cfg = parse_configuration(&json!({
            "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "enforce-version": "v1.29", "warn": "restricted"},
            "exemptions": {"usernames": ["admin"], "namespaces": ["kube-system"], "runtimeClasses": ["kata"]}
        }))
        .unwrap();
        assert_eq!(cfg.defaults.enforce, lv(Level::Baseline, Some(29)));
        assert_eq!(cfg.defaults.audit, LevelVersion::PRIVILEGED);
        assert_eq!(cfg.defaults.warn, lv(Level::Restricted, None));
        assert_eq!(cfg.exempt_usernames, ["admin"]);
        let bad = parse_configuration(&json!({
            "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "strict"}, "exemptions": {"usernames": ["a", "a"]}
        }));
        assert_eq!(
            bad,
            Err(r#"[defaults.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted, exemptions.usernames[1]: Duplicate value: "a"]"#.into())
        );
        assert!(parse_configuration(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_err());
    }

    #[test]
    fn only_image_and_container_changes_are_significant() {
        let old =
            json!({"metadata": {}, "spec": {"containers": [{"name": "c", "image": "a"}], "activeDeadlineSeconds": 5}});
        let mut new = old.clone();
        new["spec"]["activeDeadlineSeconds"] = json!(6);
        assert!(!significant_pod_update(&new, &old));
        new["spec"]["containers"][0]["image"] = json!("b");
        assert!(significant_pod_update(&new, &old));
        let mut eph = old.clone();
        eph["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "x"}]);
        assert!(significant_pod_update(&eph, &old));
    }
}
