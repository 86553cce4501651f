//! Admission: the built-in plugins that change (mutating) or refuse (validating) an object
//! after it is decoded and defaulted and before it is stored, in upstream's order
//! (`AllOrderedPlugins`): every enabled mutating plugin first, then every enabled
//! validating one. Plugins read other objects through [`Rest`]; only ResourceQuota writes
//! (the quota's `status.used`, compare-and-swapped before the object is written).
//! Which plugins run is fixed at startup by `--enable-admission-plugins` and
//! `--disable-admission-plugins` ([`configure`]).

pub mod configuration;
mod default_storage_class;
mod default_toleration_seconds;
mod limit_ranger;
mod namespace_lifecycle;
mod node_restriction;
pub mod pod_security;
mod priority;
pub mod resource_quota;
mod service_account;
mod storage_protection;
mod taint_nodes;
pub mod webhook;

use std::sync::OnceLock;

use serde_json::Value;

use crate::registry::Resource;
use crate::rest::{Rest, WriteContext};
use crate::status::ApiError;

/// Upstream's plugin names in their order (`AllOrderedPlugins`, v1.33).
pub const ALL_ORDERED_PLUGINS: &[&str] = &[
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "AlwaysDeny",
];

/// The plugins upstream turns off unless enabled (`DefaultOffAdmissionPlugins`).
const DEFAULT_OFF: &[&str] = &[
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "NodeRestriction",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodNodeSelector",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "OwnerReferencesPermissionEnforcement",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    "AlwaysDeny",
];

static ENABLED: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Upstream's `AdmissionOptions.Validate` checks, in its wording.
pub fn check_flags(enable: &[String], disable: &[String]) -> Result<(), String> {
    let mut errs = Vec::new();
    for (flag, list) in [("enable-admission-plugins", enable), ("disable-admission-plugins", disable)] {
        for name in list.iter().filter(|n| !ALL_ORDERED_PLUGINS.contains(&n.as_str())) {
            errs.push(format!("{flag} plugin {name:?} is unknown"));
        }
    }
    let mut both: Vec<&String> = enable.iter().filter(|n| disable.contains(n)).collect();
    both.sort();
    both.dedup();
    if !both.is_empty() {
        let list = both.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
        errs.push(format!("[{list}] in enable-admission-plugins and disable-admission-plugins overlapped"));
    }
    match errs.len() {
        0 => Ok(()),
        1 => Err(errs.remove(0)),
        _ => Err(format!("[{}]", errs.join(", "))),
    }
}

/// The enabled plugins: upstream's default-on set, plus `enable`, minus `disable`.
pub fn enabled_set(enable: &[String], disable: &[String]) -> Vec<&'static str> {
    ALL_ORDERED_PLUGINS
        .iter()
        .copied()
        .filter(|p| (!DEFAULT_OFF.contains(p) || enable.iter().any(|e| e == p)) && !disable.iter().any(|d| d == p))
        .collect()
}

/// Fixes the enabled plugins for this process (the first call wins).
pub fn configure(enable: &[String], disable: &[String]) {
    let _ = ENABLED.set(enabled_set(enable, disable));
}

/// Reads `--admission-control-config-file` and checks the configurations of the plugins
/// this apiserver configures (PodSecurity); with `apply`, puts them in force.
pub fn configure_from_file(path: Option<&std::path::Path>, apply: bool) -> Result<(), String> {
    let Some(path) = path else { return Ok(()) };
    for (name, cfg) in configuration::load(path)? {
        if name == "PodSecurity" {
            let parsed = pod_security::parse_configuration(&cfg).map_err(|e| format!("PodSecurity: {e}"))?;
            if apply {
                pod_security::configure(parsed);
            }
        }
    }
    Ok(())
}

fn enabled(plugin: &str) -> bool {
    ENABLED.get_or_init(|| enabled_set(&[], &[])).contains(&plugin)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// What a plugin is told about the request (upstream's `admission.Attributes`).
pub struct Attributes<'a> {
    pub resource: &'a Resource,
    pub operation: Operation,
    pub namespace: Option<&'a str>,
    pub name: String,
    pub old: Option<&'a Value>,
    pub dry_run: bool,
    /// The subresource written (`status`, `scale`, ...), for the webhooks' rules.
    pub subresource: Option<&'a str>,
}

impl Attributes<'_> {
    fn is(&self, group: &str, resource: &str) -> bool {
        self.resource.group == group && self.resource.name == resource
    }

    fn ns(&self) -> &str {
        self.namespace.unwrap_or_default()
    }

    /// `admission.NewForbidden`: `<resource> "<name>" is forbidden: <err>`.
    pub fn forbidden(&self, err: &str) -> ApiError {
        ApiError::forbidden_resource(self.resource.group, self.resource.name, &self.name, err)
    }
}

/// The mutating phase: every enabled mutating plugin, in order.
pub async fn mutate(rest: &Rest, a: &Attributes<'_>, obj: &mut Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    // Upstream's NamespaceLifecycle is a mutating plugin, first in the chain: content
    // for a missing namespace is refused before any plugin looks it up.
    if enabled("NamespaceLifecycle") {
        namespace_lifecycle::admit(rest, a).await?;
    }
    if enabled("LimitRanger") {
        limit_ranger::mutate(rest, a, obj).await?;
    }
    if enabled("ServiceAccount") {
        service_account::mutate(rest, a, obj).await?;
    }
    if enabled("NodeRestriction") {
        node_restriction::admit(a, ctx.user.as_ref(), obj)?;
    }
    if enabled("TaintNodesByCondition") {
        taint_nodes::mutate(a, obj);
    }
    if enabled("Priority") {
        priority::mutate(rest, a, obj).await?;
    }
    if enabled("DefaultTolerationSeconds") {
        default_toleration_seconds::mutate(a, obj);
    }
    if enabled("DefaultStorageClass") {
        default_storage_class::mutate(rest, a, obj).await?;
    }
    if enabled("StorageObjectInUseProtection") {
        storage_protection::mutate(a, obj);
    }
    mutate_webhooks(rest, a, obj, ctx).await
}

/// The validating phase: every enabled validating plugin, in order.
pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    if enabled("LimitRanger") {
        limit_ranger::validate(rest, a, obj).await?;
    }
    if enabled("ServiceAccount") {
        service_account::validate(rest, a, obj).await?;
    }
    if enabled("PodSecurity") {
        pod_security::validate(rest, a, obj, ctx).await?;
    }
    if enabled("Priority") {
        priority::validate(rest, a, obj).await?;
    }
    validate_webhooks(rest, a, Some(obj), ctx).await?;
    if enabled("ResourceQuota") {
        resource_quota::validate(rest, a, obj).await?;
    }
    Ok(())
}

/// PodSecurity on `pods/ephemeralcontainers`, which upstream evaluates like a pod update
/// (the subresource is written with the server's own update checks, not admission's).
pub async fn validate_ephemeral_containers(
    rest: &Rest,
    a: &Attributes<'_>,
    obj: &Value,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    if enabled("PodSecurity") { pod_security::validate(rest, a, obj, ctx).await } else { Ok(()) }
}

/// MutatingAdmissionWebhook alone (subresource writes, which the built-in plugins do not
/// look at). Only API requests are sent to webhooks, not the apiserver's own writes.
pub async fn mutate_webhooks(
    rest: &Rest,
    a: &Attributes<'_>,
    obj: &mut Value,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    if !enabled("MutatingAdmissionWebhook") || ctx.user.is_none() {
        return Ok(());
    }
    let options = webhook::write_options(a.operation, ctx);
    let user = ctx.user.clone();
    let req = webhook::Request { attrs: a, options, user: user.as_ref(), subresource_decode: None };
    webhook::mutate(rest, &req, obj, ctx).await
}

/// ValidatingAdmissionWebhook alone (`obj` is None for a delete).
pub async fn validate_webhooks(
    rest: &Rest,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    if !enabled("ValidatingAdmissionWebhook") || ctx.user.is_none() {
        return Ok(());
    }
    let options = webhook::write_options(a.operation, ctx);
    let user = ctx.user.clone();
    let req = webhook::Request { attrs: a, options, user: user.as_ref(), subresource_decode: None };
    webhook::validate(rest, &req, obj, ctx).await
}

/// The webhooks of a subresource write whose object is of its own kind (upstream admits
/// that object: a Scale, a Binding, an Eviction): mutating ones, then validating ones on
/// the result. `decode` reads a patched object back.
pub async fn subresource_webhooks(
    rest: &Rest,
    a: &Attributes<'_>,
    obj: &mut Value,
    decode: webhook::Decode,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    if ctx.user.is_none() {
        return Ok(());
    }
    let user = ctx.user.clone();
    let req = |options| webhook::Request { attrs: a, options, user: user.as_ref(), subresource_decode: Some(decode) };
    if enabled("MutatingAdmissionWebhook") {
        webhook::mutate(rest, &req(webhook::write_options(a.operation, ctx)), obj, ctx).await?;
    }
    if enabled("ValidatingAdmissionWebhook") {
        webhook::validate(rest, &req(webhook::write_options(a.operation, ctx)), Some(obj), ctx).await?;
    }
    Ok(())
}

/// The admission of a DELETE: mutating webhooks (told neither object, as upstream's
/// handler calls them), then validating webhooks with the stored object as `oldObject`.
/// `options` is the request's DeleteOptions.
pub async fn delete(
    rest: &Rest,
    a: &Attributes<'_>,
    options: Value,
    phase_mutating: bool,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    if ctx.user.is_none() {
        return Ok(());
    }
    let user = ctx.user.clone();
    let req = webhook::Request { attrs: a, options, user: user.as_ref(), subresource_decode: None };
    if phase_mutating {
        if enabled("MutatingAdmissionWebhook") {
            webhook::mutate(rest, &req, &mut Value::Null, ctx).await?;
        }
    } else if enabled("ValidatingAdmissionWebhook") {
        webhook::validate(rest, &req, None, ctx).await?;
    }
    Ok(())
}

/// Gives back the quota usage of an object that was counted but not stored, or that
/// is gone.
pub async fn release(rest: &Rest, resource: &Resource, ns: Option<&str>, obj: &Value) {
    if enabled("ResourceQuota")
        && resource.namespaced
        && !(resource.group.is_empty() && resource.name == "resourcequotas")
    {
        resource_quota::release(rest, resource, ns.unwrap_or_default(), obj).await;
    }
}

/// After an update was written (`stored`) or failed: quota usage it gave up, or the
/// growth admission counted, is given back.
pub async fn updated(rest: &Rest, resource: &Resource, ns: Option<&str>, old: &Value, new: &Value, stored: bool) {
    if enabled("ResourceQuota") && resource.namespaced {
        resource_quota::updated(rest, resource, ns.unwrap_or_default(), old, new, stored).await;
    }
}

/// The items of a namespace's (or the cluster's) list of `resource`.
async fn list(rest: &Rest, resource: &str, ns: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let (group, name) = match resource.split_once('.') {
        Some((name, group)) => (group, name),
        None => ("", resource),
    };
    let res = crate::registry::all().find(|r| r.group == group && r.name == name).expect("resource is registered");
    list_of(rest, res, ns).await
}

async fn list_of(rest: &Rest, res: &Resource, ns: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let list = rest.list(res, ns, &crate::rest::ListOptions::default()).await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

/// The containers and init containers of a pod spec.
fn containers_mut(spec: &mut Value) -> impl Iterator<Item = &mut Value> {
    let Some(m) = spec.as_object_mut() else { return Vec::new().into_iter() };
    let mut out = Vec::new();
    for (k, v) in m.iter_mut() {
        if k == "initContainers" || k == "containers" {
            out.extend(v.as_array_mut().into_iter().flatten());
        }
    }
    out.into_iter()
}

/// All containers of a pod spec (init, regular, ephemeral), with their names.
fn all_containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |k| spec[k].as_array().into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn flags_follow_upstream() {
        assert_eq!(
            check_flags(&s(&["Bogus"]), &[]),
            Err(r#"enable-admission-plugins plugin "Bogus" is unknown"#.into())
        );
        assert_eq!(
            check_flags(&s(&["Priority"]), &s(&["Priority"])),
            Err("[Priority] in enable-admission-plugins and disable-admission-plugins overlapped".into())
        );
        assert!(check_flags(&s(&["NodeRestriction"]), &s(&["ServiceAccount"])).is_ok());
        let on = enabled_set(&[], &[]);
        assert!(on.contains(&"ServiceAccount") && on.contains(&"ResourceQuota") && !on.contains(&"NodeRestriction"));
        let on = enabled_set(&s(&["NodeRestriction"]), &s(&["ServiceAccount"]));
        assert!(on.contains(&"NodeRestriction") && !on.contains(&"ServiceAccount"));
    }
}
