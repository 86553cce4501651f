//! How fields merge: for every field of the built-in types whose merging differs from
//! the default, its list type and map keys (server-side apply), map type, and patch
//! strategy and merge key (strategic merge patch). These are facts about upstream's
//! v1.33 API types (their `+listType`, `+listMapKey`, `+mapType`, `patchStrategy` and
//! `patchMergeKey` markers, which upstream's OpenAPI documents carry as `x-kubernetes-*`
//! extensions). The OpenAPI documents publish them the same way, and the patch tables
//! of every resource are derived from them by walking the resource's schema.
//! `tests/openapi.rs` checks the published extensions against upstream's definitions.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use crate::patch::ListMerge;

/// A list's or map's merge type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Atomic,
    Set,
    Map,
    Granular,
}

impl Merge {
    fn name(self) -> &'static str {
        match self {
            Merge::Atomic => "atomic",
            Merge::Set => "set",
            Merge::Map => "map",
            Merge::Granular => "granular",
        }
    }
}

/// The merge facts of one field (`property` empty: of the type itself).
#[derive(Debug)]
pub struct Fact {
    pub definition: &'static str,
    pub property: &'static str,
    pub list_type: Option<Merge>,
    pub list_map_keys: &'static [&'static str],
    pub map_type: Option<Merge>,
    pub patch_strategy: Option<&'static str>,
    pub patch_merge_key: Option<&'static str>,
}

const fn f(
    definition: &'static str,
    property: &'static str,
    list_type: Option<Merge>,
    list_map_keys: &'static [&'static str],
    map_type: Option<Merge>,
    patch_strategy: Option<&'static str>,
    patch_merge_key: Option<&'static str>,
) -> Fact {
    Fact { definition, property, list_type, list_map_keys, map_type, patch_strategy, patch_merge_key }
}

impl Fact {
    /// The `x-kubernetes-*` extensions upstream's OpenAPI documents give the field.
    pub fn extensions(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let Some(t) = self.list_type {
            m.insert("x-kubernetes-list-type".into(), json!(t.name()));
        }
        if !self.list_map_keys.is_empty() {
            m.insert("x-kubernetes-list-map-keys".into(), json!(self.list_map_keys));
        }
        if let Some(t) = self.map_type {
            m.insert("x-kubernetes-map-type".into(), json!(t.name()));
        }
        if let Some(s) = self.patch_strategy {
            m.insert("x-kubernetes-patch-strategy".into(), json!(s));
        }
        if let Some(k) = self.patch_merge_key {
            m.insert("x-kubernetes-patch-merge-key".into(), json!(k));
        }
        m
    }

    /// How server-side apply treats the field, if not the default way (lists atomic,
    /// structs and maps granular). Without a list type, a merging patch strategy
    /// stands for one, as upstream's conversion of these markers does.
    pub fn assoc(&'static self) -> Option<Assoc> {
        match (self.list_type, self.map_type) {
            (Some(Merge::Map), _) if !self.list_map_keys.is_empty() => Some(Assoc::Keys(self.list_map_keys)),
            (Some(Merge::Set), _) => Some(Assoc::Set),
            (Some(_), _) | (None, Some(Merge::Atomic)) => Some(Assoc::Atomic),
            _ => match self.list_merge()? {
                ListMerge::ByKey(_) => {
                    Some(Assoc::Keys(std::slice::from_ref(self.patch_merge_key.as_ref().expect("a merge key"))))
                }
                ListMerge::Primitive => Some(Assoc::Set),
            },
        }
    }

    /// How a strategic merge patch merges the field, if it is a merging list.
    pub fn list_merge(&self) -> Option<ListMerge> {
        let merges = self.patch_strategy?.split(',').any(|s| s == "merge");
        match (merges, self.patch_merge_key) {
            (true, Some(k)) => Some(ListMerge::ByKey(k)),
            (true, None) => Some(ListMerge::Primitive),
            _ => None,
        }
    }
}

/// The facts of one type's fields.
pub fn of(definition: &str) -> impl Iterator<Item = &'static Fact> + '_ {
    FACTS.iter().filter(move |f| f.definition == definition)
}

/// How server-side apply treats a list, struct or map (upstream's list and map types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assoc {
    /// An associative list: elements are identified by these key fields.
    Keys(&'static [&'static str]),
    /// A list of scalars merged as a set.
    Set,
    /// Owned as a whole: a list, or a struct or map of atomic map type.
    Atomic,
}

/// Server-side apply's table of a resource: (dotted path, treatment), for every field
/// not treated the default way.
pub type AssocTable = &'static [(&'static str, Assoc)];

/// The treatment of the field at a dotted path (None: the default).
pub fn assoc_at(table: AssocTable, path: &str) -> Option<Assoc> {
    table.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
}

/// Key fields whose value, when an element leaves them out, is their default: they
/// still identify the element (upstream's `+default` on these fields).
pub const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// The merge tables of a type (`root`, a definition name in `defs`): strategic merge
/// patch's merging lists and server-side apply's treatments, as dotted paths of the
/// fields they reach, lists' items included (`spec.containers.ports`). Map values are
/// not walked: no built-in type merges inside them.
#[derive(Default)]
pub struct Tables {
    pub patch: Vec<(String, ListMerge)>,
    pub assoc: Vec<(String, Assoc)>,
}

pub fn tables(defs: &serde_json::Map<String, Value>, root: &str) -> Tables {
    let mut out = Tables::default();
    walk(defs, root, "", &mut Vec::new(), &mut out);
    out
}

fn walk<'a>(
    defs: &'a serde_json::Map<String, Value>,
    name: &'a str,
    prefix: &str,
    stack: &mut Vec<&'a str>,
    out: &mut Tables,
) {
    // Recursive types (JSONSchemaProps) are walked once per branch.
    if stack.contains(&name) {
        return;
    }
    let Some(Value::Object(props)) = defs.get(name).and_then(|d| d.get("properties")) else { return };
    stack.push(name);
    for (prop, schema) in props {
        let path = if prefix.is_empty() { prop.clone() } else { format!("{prefix}.{prop}") };
        let mut refs = Vec::new();
        references(schema, &mut refs);
        let fact = of(name).find(|f| f.property == prop);
        if let Some(m) = fact.and_then(Fact::list_merge) {
            out.patch.push((path.clone(), m));
        }
        // A type that is atomic wherever it is used (LabelSelector).
        let atomic_type = refs.iter().any(|r| of(r).any(|f| f.property.is_empty() && f.map_type == Some(Atomic)));
        match fact.and_then(Fact::assoc) {
            Some(a) => out.assoc.push((path.clone(), a)),
            None if atomic_type => out.assoc.push((path.clone(), Assoc::Atomic)),
            None => {}
        }
        for r in refs {
            walk(defs, r, &path, stack, out);
        }
    }
    stack.pop();
}

/// The definitions a property's schema refers to (directly, through `allOf`/`anyOf`,
/// or as a list's items), by name.
fn references<'a>(schema: &'a Value, out: &mut Vec<&'a str>) {
    match schema {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.extend(r.rsplit('/').next()),
                    ("additionalProperties" | "properties", _) => {}
                    _ => references(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// A kind's merge tables, made once and kept for the life of the process.
#[derive(Clone, Copy)]
pub struct KindTables {
    pub patch: crate::patch::PatchTable,
    pub assoc: AssocTable,
}

fn leak<T>(v: Vec<(String, T)>) -> &'static [(&'static str, T)] {
    let v: Vec<(&'static str, T)> = v.into_iter().map(|(p, m)| (&*Box::leak(p.into_boxed_str()), m)).collect();
    Box::leak(v.into_boxed_slice())
}

/// The merge tables of a kind by (group, version, kind), made by `make` the first time.
pub fn cached_tables(key: (&str, &str, &str), make: impl FnOnce() -> Option<Tables>) -> Option<KindTables> {
    type Cache = HashMap<(String, String, String), KindTables>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let k = (key.0.to_string(), key.1.to_string(), key.2.to_string());
    if let Some(t) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
        return Some(*t);
    }
    let made = make()?;
    let tables = KindTables { patch: leak(made.patch), assoc: leak(made.assoc) };
    Some(*cache.lock().unwrap_or_else(|e| e.into_inner()).entry(k).or_insert(tables))
}

/// Server-side apply's treatment of `metadata`'s fields (for kinds whose schema is not
/// walked: custom resources), from ObjectMeta's facts.
pub fn object_meta_assoc() -> Vec<(String, Assoc)> {
    of("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        .filter_map(|f| Some((format!("metadata.{}", f.property), f.assoc()?)))
        .collect()
}

use Merge::{Atomic, Granular, Map, Set};

/// Every field of the stable built-in types that does not merge the default way.
pub static FACTS: &[Fact] = &[
    f("io.k8s.api.admissionregistration.v1.MatchResources", "", None, &[], Some(Atomic), None, None),
    f(
        "io.k8s.api.admissionregistration.v1.MatchResources",
        "excludeResourceRules",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.admissionregistration.v1.MatchResources", "resourceRules", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "admissionReviewVersions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "matchConditions",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f("io.k8s.api.admissionregistration.v1.MutatingWebhook", "rules", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "webhooks",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "apiGroups", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.NamedRuleWithOperations",
        "apiVersions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "operations", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.NamedRuleWithOperations",
        "resourceNames",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.admissionregistration.v1.NamedRuleWithOperations", "resources", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.admissionregistration.v1.ParamKind", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.admissionregistration.v1.ParamRef", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.admissionregistration.v1.RuleWithOperations", "apiGroups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.admissionregistration.v1.RuleWithOperations", "apiVersions", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.admissionregistration.v1.RuleWithOperations", "operations", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.admissionregistration.v1.RuleWithOperations", "resources", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.admissionregistration.v1.TypeChecking", "expressionWarnings", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec",
        "validationActions",
        Some(Set),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "auditAnnotations",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "matchConditions",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "validations",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "variables",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "admissionReviewVersions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "matchConditions",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "rules", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "webhooks",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f("io.k8s.api.admissionregistration.v1.Variable", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.apps.v1.DeploymentSpec", "strategy", None, &[], None, Some("retainKeys"), None),
    f("io.k8s.api.apps.v1.DeploymentStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.authentication.v1.TokenRequestSpec", "audiences", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authentication.v1.TokenReviewSpec", "audiences", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authentication.v1.TokenReviewStatus", "audiences", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authentication.v1.UserInfo", "groups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.FieldSelectorAttributes", "requirements", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.LabelSelectorAttributes", "requirements", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.NonResourceRule", "nonResourceURLs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.NonResourceRule", "verbs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.ResourceRule", "apiGroups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.ResourceRule", "resourceNames", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.ResourceRule", "resources", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.ResourceRule", "verbs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.SubjectAccessReviewSpec", "groups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", "nonResourceRules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.authorization.v1.SubjectRulesReviewStatus", "resourceRules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.autoscaling.v1.CrossVersionObjectReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.autoscaling.v2.HPAScalingRules", "policies", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentMetrics", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.batch.v1.CronJobStatus", "active", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.batch.v1.JobStatus", "conditions", Some(Atomic), &[], None, Some("merge"), Some("type")),
    f("io.k8s.api.batch.v1.PodFailurePolicy", "rules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", "values", Some(Set), &[], None, None, None),
    f("io.k8s.api.batch.v1.PodFailurePolicyRule", "onPodConditions", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.batch.v1.SuccessPolicy", "rules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.batch.v1.UncountedTerminatedPods", "failed", Some(Set), &[], None, None, None),
    f("io.k8s.api.batch.v1.UncountedTerminatedPods", "succeeded", Some(Set), &[], None, None, None),
    f("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "groups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "request", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.certificates.v1.CertificateSigningRequestSpec", "usages", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.certificates.v1.CertificateSigningRequestStatus", "certificate", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.certificates.v1.CertificateSigningRequestStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        None,
        None,
    ),
    f("io.k8s.api.core.v1.Capabilities", "add", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.Capabilities", "drop", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.CephFSPersistentVolumeSource", "monitors", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.CephFSVolumeSource", "monitors", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ComponentStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.core.v1.ConfigMapKeySelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.ConfigMapProjection", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ConfigMapVolumeSource", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.Container", "args", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.Container", "command", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.Container", "env", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.Container", "envFrom", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.Container",
        "ports",
        Some(Map),
        &["containerPort", "protocol"],
        None,
        Some("merge"),
        Some("containerPort"),
    ),
    f("io.k8s.api.core.v1.Container", "resizePolicy", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        Some(Map),
        &["devicePath"],
        None,
        Some("merge"),
        Some("devicePath"),
    ),
    f(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        Some(Map),
        &["mountPath"],
        None,
        Some("merge"),
        Some("mountPath"),
    ),
    f("io.k8s.api.core.v1.ContainerImage", "names", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        Some(Map),
        &["name"],
        None,
        Some("merge"),
        Some("name"),
    ),
    f(
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        Some(Map),
        &["mountPath"],
        None,
        Some("merge"),
        Some("mountPath"),
    ),
    f("io.k8s.api.core.v1.DownwardAPIProjection", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.DownwardAPIVolumeSource", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EndpointAddress", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.EndpointPort", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.EndpointSubset", "addresses", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EndpointSubset", "notReadyAddresses", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EndpointSubset", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.Endpoints", "subsets", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EphemeralContainer", "args", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EphemeralContainer", "command", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.EphemeralContainer", "env", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.EphemeralContainer", "envFrom", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        Some(Map),
        &["containerPort", "protocol"],
        None,
        Some("merge"),
        Some("containerPort"),
    ),
    f("io.k8s.api.core.v1.EphemeralContainer", "resizePolicy", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        Some(Map),
        &["devicePath"],
        None,
        Some("merge"),
        Some("devicePath"),
    ),
    f(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        Some(Map),
        &["mountPath"],
        None,
        Some("merge"),
        Some("mountPath"),
    ),
    f("io.k8s.api.core.v1.ExecAction", "command", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.FCVolumeSource", "targetWWNs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.FCVolumeSource", "wwids", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.HTTPGetAction", "httpHeaders", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.HostAlias", "hostnames", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", "portals", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ISCSIVolumeSource", "portals", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.LimitRangeSpec", "limits", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.LinuxContainerUser", "supplementalGroups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.LoadBalancerIngress", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.LoadBalancerStatus", "ingress", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.LocalObjectReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.NamespaceSpec", "finalizers", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NamespaceStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f(
        "io.k8s.api.core.v1.NodeAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.core.v1.NodeSelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.NodeSelector", "nodeSelectorTerms", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeSelectorRequirement", "values", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeSelectorTerm", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.NodeSelectorTerm", "matchExpressions", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeSelectorTerm", "matchFields", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeSpec", "podCIDRs", Some(Set), &[], None, Some("merge"), None),
    f("io.k8s.api.core.v1.NodeSpec", "taints", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeStatus", "addresses", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.core.v1.NodeStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.core.v1.NodeStatus", "images", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeStatus", "runtimeHandlers", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeStatus", "volumesAttached", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.NodeStatus", "volumesInUse", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ObjectFieldSelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.ObjectReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "accessModes", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "accessModes", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "allocatedResourceStatuses",
        None,
        &[],
        Some(Granular),
        None,
        None,
    ),
    f(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.core.v1.PersistentVolumeSpec", "accessModes", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef", None, &[], Some(Granular), None, None),
    f("io.k8s.api.core.v1.PersistentVolumeSpec", "mountOptions", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.PodAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.core.v1.PodAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.core.v1.PodAffinityTerm", "matchLabelKeys", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodAffinityTerm", "mismatchLabelKeys", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodAffinityTerm", "namespaces", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.PodAntiAffinity",
        "preferredDuringSchedulingIgnoredDuringExecution",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.api.core.v1.PodAntiAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.api.core.v1.PodDNSConfig", "nameservers", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodDNSConfig", "options", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodDNSConfig", "searches", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodSecurityContext", "supplementalGroups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodSecurityContext", "sysctls", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodSpec", "containers", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.PodSpec", "hostAliases", Some(Map), &["ip"], None, Some("merge"), Some("ip")),
    f("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.PodSpec", "initContainers", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.PodSpec", "nodeSelector", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.PodSpec", "readinessGates", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        Some(Map),
        &["name"],
        None,
        Some("merge,retainKeys"),
        Some("name"),
    ),
    f("io.k8s.api.core.v1.PodSpec", "schedulingGates", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.PodSpec", "tolerations", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        Some(Map),
        &["topologyKey", "whenUnsatisfiable"],
        None,
        Some("merge"),
        Some("topologyKey"),
    ),
    f("io.k8s.api.core.v1.PodSpec", "volumes", Some(Map), &["name"], None, Some("merge,retainKeys"), Some("name")),
    f("io.k8s.api.core.v1.PodStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.core.v1.PodStatus", "containerStatuses", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodStatus", "hostIPs", Some(Atomic), &[], None, Some("merge"), Some("ip")),
    f("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.PodStatus", "podIPs", Some(Map), &["ip"], None, Some("merge"), Some("ip")),
    f(
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        Some(Map),
        &["name"],
        None,
        Some("merge,retainKeys"),
        Some("name"),
    ),
    f("io.k8s.api.core.v1.ProjectedVolumeSource", "sources", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.RBDPersistentVolumeSource", "monitors", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.RBDVolumeSource", "monitors", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ReplicationControllerSpec", "selector", None, &[], Some(Atomic), None, None),
    f(
        "io.k8s.api.core.v1.ReplicationControllerStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.core.v1.ResourceFieldSelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.ResourceQuotaSpec", "scopes", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ResourceRequirements", "claims", Some(Map), &["name"], None, None, None),
    f("io.k8s.api.core.v1.ResourceStatus", "resources", Some(Map), &["resourceID"], None, None, None),
    f("io.k8s.api.core.v1.ScopeSelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.ScopeSelector", "matchExpressions", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", "values", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.SecretKeySelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.SecretProjection", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.SecretReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.SecretVolumeSource", "items", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceAccount", "secrets", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.core.v1.ServiceSpec", "clusterIPs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceSpec", "externalIPs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceSpec", "ipFamilies", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.ServiceSpec", "ports", Some(Map), &["port", "protocol"], None, Some("merge"), Some("port")),
    f("io.k8s.api.core.v1.ServiceSpec", "selector", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.ServiceStatus", "conditions", Some(Map), &["type"], None, Some("merge"), Some("type")),
    f("io.k8s.api.core.v1.TopologySelectorLabelRequirement", "values", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.TopologySelectorTerm", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.core.v1.TopologySelectorTerm", "matchLabelExpressions", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.TopologySpreadConstraint", "matchLabelKeys", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.core.v1.TypedLocalObjectReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.discovery.v1.Endpoint", "addresses", Some(Set), &[], None, None, None),
    f("io.k8s.api.discovery.v1.EndpointHints", "forNodes", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.discovery.v1.EndpointHints", "forZones", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.discovery.v1.EndpointPort", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.discovery.v1.EndpointSlice", "endpoints", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.discovery.v1.EndpointSlice", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.FlowSchemaSpec", "rules", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.flowcontrol.v1.FlowSchemaStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", "nonResourceURLs", Some(Set), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", "verbs", Some(Set), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "nonResourceRules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "resourceRules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", "subjects", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "apiGroups", Some(Set), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "namespaces", Some(Set), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "resources", Some(Set), &[], None, None, None),
    f("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "verbs", Some(Set), &[], None, None, None),
    f("io.k8s.api.networking.v1.HTTPIngressRuleValue", "paths", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IPBlock", "except", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IngressLoadBalancerIngress", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IngressLoadBalancerStatus", "ingress", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IngressSpec", "rules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IngressSpec", "tls", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.IngressTLS", "hosts", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicyEgressRule", "to", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "from", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicyIngressRule", "ports", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicySpec", "egress", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicySpec", "ingress", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.NetworkPolicySpec", "policyTypes", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.networking.v1.ServiceBackendPort", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.networking.v1.ServiceCIDRSpec", "cidrs", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.api.networking.v1.ServiceCIDRStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.node.v1.Scheduling", "nodeSelector", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.node.v1.Scheduling", "tolerations", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", None, &[], None, Some("replace"), None),
    f(
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
    f("io.k8s.api.rbac.v1.AggregationRule", "clusterRoleSelectors", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.ClusterRole", "rules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.PolicyRule", "apiGroups", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.PolicyRule", "nonResourceURLs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.PolicyRule", "resourceNames", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.PolicyRule", "resources", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.PolicyRule", "verbs", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.Role", "rules", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.RoleBinding", "subjects", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.rbac.v1.RoleRef", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.rbac.v1.Subject", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.api.storage.v1.CSIDriverSpec", "tokenRequests", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes", Some(Set), &[], None, None, None),
    f("io.k8s.api.storage.v1.CSINodeDriver", "topologyKeys", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.storage.v1.CSINodeSpec", "drivers", Some(Map), &["name"], None, Some("merge"), Some("name")),
    f("io.k8s.api.storage.v1.StorageClass", "allowedTopologies", Some(Atomic), &[], None, None, None),
    f("io.k8s.api.storage.v1.StorageClass", "mountOptions", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "categories",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "shortNames",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "versions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "storedVersions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "additionalPrinterColumns",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "selectableFields",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "allOf",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "anyOf",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "enum",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "oneOf",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "required",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-list-map-keys",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "x-kubernetes-validations",
        Some(Map),
        &["rule"],
        None,
        Some("merge"),
        Some("rule"),
    ),
    f(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion",
        "conversionReviewVersions",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
        "serverAddressByClientCIDRs",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "versions", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", "groups", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "categories", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource", "shortNames", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", "resources", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
        "serverAddressByClientCIDRs",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", "versions", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "dryRun", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", "values", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchExpressions", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "values", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", Some(Set), &[], None, Some("merge"), None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        Some(Map),
        &["uid"],
        None,
        Some("merge"),
        Some("uid"),
    ),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", "", None, &[], Some(Atomic), None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "details", Some(Atomic), &[], None, None, None),
    f("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", "causes", Some(Atomic), &[], None, None, None),
    f(
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceSpec",
        "caBundle",
        Some(Atomic),
        &[],
        None,
        None,
        None,
    ),
    f(
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus",
        "conditions",
        Some(Map),
        &["type"],
        None,
        Some("merge"),
        Some("type"),
    ),
];
