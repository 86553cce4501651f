//! MutatingAdmissionWebhook and ValidatingAdmissionWebhook: the admission webhooks of
//! admissionregistration.k8s.io/v1 configurations, called over HTTPS with an
//! `AdmissionReview` (upstream's `plugin/webhook/{generic,mutating,validating}`).
//!
//! - Configurations are read from the watch cache at every request, so a new or changed
//!   configuration takes effect without a restart (as soon as the cache has seen it).
//!   They are ordered by configuration name, webhooks in their order within one.
//! - Matching (`ShouldCallHook`): namespaceSelector (a namespace's own labels for
//!   namespaces; cluster-scoped objects always match), objectSelector (new or old
//!   labels), then rules (operations, groups, versions, resources with subresources,
//!   scope). matchPolicy Equivalent also matches rules naming another version of the
//!   same stored resource (autoscaling/v1 and v2 HPAs, core and events.k8s.io events):
//!   the webhook is then sent the object converted to that version.
//! - Mutating webhooks run one after the other; a JSONPatch response is applied, and
//!   webhooks with reinvocationPolicy IfNeeded run once more when a later one changed the
//!   object. Validating webhooks run concurrently on the final object.
//! - `clientConfig.service` is resolved as kube-apiserver does: to the service's cluster
//!   IP and port (an ExternalName service: its name), or with
//!   `--enable-aggregator-routing` to an address of its Endpoints; the certificate is
//!   verified as `<service>.<namespace>.svc`.
//! - Configurations themselves are never sent to webhooks (upstream exempts them).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

use super::{Attributes, Operation};
use crate::registry::{self, Resource};
use crate::rest::{ListOptions, Rest, WriteContext};
use crate::status::ApiError;

const GROUP: &str = "admissionregistration.k8s.io";

type Labels = Vec<(&'static str, String)>;

/// The webhooks' metrics, under upstream's names (`k8s.io/apiserver/pkg/admission/metrics`).
#[derive(Clone)]
pub struct WebhookMetrics {
    durations: Family<Labels, Histogram, fn() -> Histogram>,
    requests: Family<Labels, Counter>,
}

fn webhook_histogram() -> Histogram {
    Histogram::new([0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10.0, 25.0])
}

/// The process's webhook metrics (one set, registered with every server's registry).
pub fn metrics() -> &'static WebhookMetrics {
    static METRICS: OnceLock<WebhookMetrics> = OnceLock::new();
    METRICS.get_or_init(|| WebhookMetrics {
        durations: Family::new_with_constructor(webhook_histogram as fn() -> Histogram),
        requests: Family::default(),
    })
}

impl WebhookMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "apiserver_admission_webhook_admission_duration_seconds",
            "Admission webhook latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit)",
            self.durations.clone(),
        );
        registry.register(
            "apiserver_admission_webhook_request",
            "Admission webhook request total, identified by name and broken out for each admission type (validating or mutating) and operation. Additional labels specify whether the request was rejected or not and an HTTP status code. Codes greater than 600 are truncated to 600, to keep the metrics cardinality bounded",
            self.requests.clone(),
        );
    }

    fn observe(&self, hook: &str, mutating: bool, operation: Operation, code: u16, rejected: bool, secs: f64) {
        let ty = if mutating { "admit" } else { "validating" };
        let base: Labels = vec![
            ("name", hook.to_string()),
            ("operation", operation.as_str().to_string()),
            ("rejected", rejected.to_string()),
            ("type", ty.to_string()),
        ];
        self.durations.get_or_create(&base).observe(secs);
        let mut with_code = base;
        with_code.insert(0, ("code", code.min(600).to_string()));
        self.requests.get_or_create(&with_code).inc();
    }
}

/// The warnings webhooks answered during one API request.
#[derive(Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

tokio::task_local! {
    /// Set by the server around each API request: webhooks' warnings are sent back as
    /// `Warning` headers even when the request fails, as upstream's warning recorder does.
    pub static WARNINGS: Warnings;
}

/// Records a webhook's warnings for the response (the request's context when the server
/// did not set [`WARNINGS`]).
fn warn(ctx: &mut WriteContext, warnings: Vec<String>) {
    if warnings.is_empty() {
        return;
    }
    let mut pending = Some(warnings);
    let _ = WARNINGS.try_with(|w| {
        w.0.lock().unwrap_or_else(|e| e.into_inner()).extend(pending.take().unwrap_or_default());
    });
    if let Some(w) = pending {
        ctx.warnings.extend(w);
    }
}

/// One webhook of a configuration, as the dispatchers use it.
#[derive(Clone, Debug)]
struct Hook {
    name: String,
    /// Unique per configuration and position (reinvocation bookkeeping).
    uid: String,
    client: Client,
    ca_bundle: Vec<u8>,
    rules: Vec<Value>,
    ignore_failures: bool,
    /// matchPolicy Equivalent: a rule naming another version of the resource matches too.
    equivalent: bool,
    namespace_selector: Value,
    object_selector: Value,
    side_effects: String,
    timeout: Duration,
    reinvoke_if_needed: bool,
    /// The AdmissionReview version to send (`v1` or `v1beta1`).
    review_version: &'static str,
}

#[derive(Clone, Debug)]
enum Client {
    Url(String),
    Service { namespace: String, name: String, path: String, port: u16 },
}

/// The webhooks of every configuration of one kind, by configuration name.
fn parse_configurations(items: &[Value], mutating: bool) -> Vec<Hook> {
    let mut configs: Vec<&Value> = items.iter().collect();
    configs.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
    let mut out = Vec::new();
    for c in configs {
        let config_name = c["metadata"]["name"].as_str().unwrap_or_default();
        for (i, h) in c["webhooks"].as_array().into_iter().flatten().enumerate() {
            let cc = &h["clientConfig"];
            let client = match cc["url"].as_str() {
                Some(u) => Client::Url(u.to_string()),
                None => Client::Service {
                    namespace: cc["service"]["namespace"].as_str().unwrap_or_default().into(),
                    name: cc["service"]["name"].as_str().unwrap_or_default().into(),
                    path: cc["service"]["path"].as_str().unwrap_or("/").into(),
                    port: cc["service"]["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or(443),
                },
            };
            let ca_bundle = cc["caBundle"]
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .unwrap_or_default();
            let versions: Vec<&str> =
                h["admissionReviewVersions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let review_version = versions.iter().find_map(|v| ["v1", "v1beta1"].into_iter().find(|k| k == v));
            out.push(Hook {
                name: h["name"].as_str().unwrap_or_default().into(),
                uid: format!("{config_name}/{i}"),
                client,
                ca_bundle,
                rules: h["rules"].as_array().cloned().unwrap_or_default(),
                ignore_failures: h["failurePolicy"] == "Ignore",
                equivalent: h["matchPolicy"] != "Exact",
                namespace_selector: h["namespaceSelector"].clone(),
                object_selector: h["objectSelector"].clone(),
                side_effects: h["sideEffects"].as_str().unwrap_or_default().into(),
                timeout: Duration::from_secs(h["timeoutSeconds"].as_u64().unwrap_or(10).clamp(1, 30)),
                reinvoke_if_needed: mutating && h["reinvocationPolicy"] == "IfNeeded",
                review_version: review_version.unwrap_or("v1"),
            });
        }
    }
    out
}

async fn hooks(rest: &Rest, mutating: bool) -> Result<Vec<Hook>, ApiError> {
    let name = if mutating { "mutatingwebhookconfigurations" } else { "validatingwebhookconfigurations" };
    let res = registry::lookup(GROUP, "v1", name).expect("webhook configurations are registered");
    // "0": whatever the watch cache holds, without a round trip to the store.
    let opts = ListOptions { resource_version: Some("0".into()), ..Default::default() };
    let list = rest.list(res, None, &opts).await?;
    Ok(parse_configurations(list["items"].as_array().map_or(&[][..], Vec::as_slice), mutating))
}

/// Reads a (patched) object into its kind, dropping unknown fields.
pub type Decode = fn(&Value) -> Result<Value, String>;

/// What one request looks like to the webhooks.
pub struct Request<'a> {
    pub attrs: &'a Attributes<'a>,
    /// CreateOptions, UpdateOptions or DeleteOptions (meta.k8s.io/v1).
    pub options: Value,
    pub user: Option<&'a crate::auth::UserInfo>,
    /// Set when the object is the subresource's own kind (a Scale, a Binding, an
    /// Eviction): how a patched one is decoded.
    pub subresource_decode: Option<Decode>,
}

/// `CreateOptions` / `UpdateOptions` of a write, as webhooks are sent them.
pub fn write_options(op: Operation, ctx: &WriteContext) -> Value {
    let kind = if op == Operation::Create { "CreateOptions" } else { "UpdateOptions" };
    let mut o = json!({"kind": kind, "apiVersion": "meta.k8s.io/v1"});
    if ctx.dry_run {
        o["dryRun"] = json!(["All"]);
    }
    if let Some(m) = &ctx.field_manager {
        o["fieldManager"] = json!(m);
    }
    o["fieldValidation"] = json!(match ctx.field_validation {
        crate::rest::FieldValidation::Ignore => "Ignore",
        crate::rest::FieldValidation::Warn => "Warn",
        crate::rest::FieldValidation::Strict => "Strict",
    });
    o
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Upstream exempts its own admission configuration from webhooks (no deadlocks).
/// Subresources whose object is of another kind are sent only with that object (see
/// `admission::subresource_webhooks`), not with the parent the write then changes.
fn exempt(req: &Request<'_>) -> bool {
    let a = req.attrs;
    a.resource.group == GROUP
        || (matches!(a.subresource, Some("scale" | "binding" | "eviction")) && req.subresource_decode.is_none())
}

/// (group, version, kind) of what a request about `resource` carries.
fn request_kind(resource: &Resource, a: &Attributes<'_>) -> (&'static str, &'static str, &'static str) {
    match a.subresource.and_then(registry::Subresource::parse) {
        Some(sub) => sub.response_kind(resource),
        None => (resource.group, resource.version, resource.kind),
    }
}

/// The other versions of a resource (same storage): autoscaling/v1 and v2 HPAs, core and
/// events.k8s.io events.
fn equivalents<'r>(resource: &'r Resource, sub: Option<&'r str>) -> impl Iterator<Item = &'static Resource> + 'r {
    registry::all().filter(move |r| {
        r.etcd_prefix == resource.etcd_prefix
            && (r.group, r.version) != (resource.group, resource.version)
            && sub.is_none_or(|s| registry::Subresource::parse(s).is_some_and(|s| r.has(s)))
    })
}

/// An object in `from`'s shape converted to `to`'s, through the stored form.
fn convert(obj: &Value, from: &Resource, to: &Resource) -> Value {
    if std::ptr::eq(from, to) || !obj.is_object() {
        return obj.clone();
    }
    let stored = match from.storage_form {
        Some((to_stored, _)) => to_stored(obj.clone()),
        None => obj.clone(),
    };
    let mut out = match to.storage_form {
        Some((_, from_stored)) => from_stored(stored),
        None => stored,
    };
    out["apiVersion"] = json!(to.api_version());
    out["kind"] = json!(to.kind);
    out
}

/// `rules.Matcher`: operation, group, version, resource/subresource and scope.
fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let has = |field: &str, want: &str| {
        rule[field].as_array().into_iter().flatten().filter_map(Value::as_str).any(|v| v == "*" || v == want)
    };
    if !has("operations", a.operation.as_str())
        || !has("apiGroups", a.resource.group)
        || !has("apiVersions", a.resource.version)
    {
        return false;
    }
    let sub = a.subresource.unwrap_or_default();
    let resource_ok = rule["resources"].as_array().into_iter().flatten().filter_map(Value::as_str).any(|r| {
        let (res, s) = r.split_once('/').unwrap_or((r, ""));
        (res == "*" || res == a.resource.name) && (s == "*" || s == sub)
    });
    if !resource_ok {
        return false;
    }
    let is_namespace = a.resource.group.is_empty() && a.resource.name == "namespaces";
    match rule["scope"].as_str().unwrap_or("*") {
        "Namespaced" => !is_namespace && a.namespace.is_some_and(|n| !n.is_empty()),
        "Cluster" => is_namespace || a.namespace.is_none_or(str::is_empty),
        _ => true,
    }
}

fn selector_is_empty(sel: &Value) -> bool {
    sel["matchLabels"].as_object().is_none_or(|m| m.is_empty())
        && sel["matchExpressions"].as_array().is_none_or(|m| m.is_empty())
}

/// `ShouldCallHook`: the namespace and object selectors, then the rules. A namespace
/// that does not exist only matters to a webhook whose rules match (404, as upstream).
/// The answer is the resource the webhook is called about: the request's, or under
/// matchPolicy Equivalent another version of it.
async fn should_call<'a>(
    rest: &Rest,
    hook: &Hook,
    a: &Attributes<'a>,
    object: Option<&Value>,
) -> Result<Option<&'a Resource>, ApiError> {
    let is_namespace = a.resource.group.is_empty() && a.resource.name == "namespaces";
    let mut namespace_error = None;
    if !selector_is_empty(&hook.namespace_selector) {
        let labels = if is_namespace {
            // A namespace's own labels (the old ones for a delete).
            Some(object.or(a.old).map(|o| o["metadata"]["labels"].clone()).unwrap_or(Value::Null))
        } else if let Some(ns) = a.namespace.filter(|n| !n.is_empty()) {
            let nsres = registry::find("namespaces").expect("namespaces are registered");
            match rest.get(nsres, None, ns).await {
                Ok(n) => Some(n["metadata"]["labels"].clone()),
                Err(e) if e.code == 404 => {
                    namespace_error = Some(e);
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            // Cluster-scoped objects are never exempted by a namespace selector.
            None
        };
        if let Some(labels) = labels
            && !crate::auth::rbac::selector_matches(&hook.namespace_selector, &labels)
        {
            return Ok(None);
        }
    }
    if !selector_is_empty(&hook.object_selector) {
        let matches = |o: Option<&Value>| {
            o.is_some_and(|o| crate::auth::rbac::selector_matches(&hook.object_selector, &o["metadata"]["labels"]))
        };
        if !matches(object) && !matches(a.old) {
            return Ok(None);
        }
    }
    let rules_match = |a: &Attributes<'_>| hook.rules.iter().any(|r| rule_matches(r, a));
    let matched = if rules_match(a) {
        Some(a.resource)
    } else if hook.equivalent {
        equivalents(a.resource, a.subresource)
            .find(|r| rules_match(&Attributes { resource: r, name: a.name.clone(), ..*a }))
    } else {
        None
    };
    match (matched, namespace_error) {
        (None, _) => Ok(None),
        (Some(_), Some(e)) => Err(e),
        (Some(r), None) => Ok(Some(r)),
    }
}

/// A webhook could not be called or answered nonsense (upstream's `ErrCallingWebhook`):
/// failurePolicy decides.
struct CallError(String);

/// What a webhook answered.
enum Verdict {
    Allowed { patch: Option<Value>, warnings: Vec<String> },
    Denied(ApiError, Vec<String>),
}

/// The dry-run guard, then one call.
async fn call(
    rest: &Rest,
    hook: &Hook,
    req: &Request<'_>,
    target: &Resource,
    object: Option<&Value>,
    mutating: bool,
) -> Result<Result<Verdict, CallError>, ApiError> {
    let a = req.attrs;
    if a.dry_run && !(hook.side_effects == "None" || hook.side_effects == "NoneOnDryRun") {
        return Err(ApiError::bad_request(format!("admission webhook {:?} does not support dry run", hook.name)));
    }
    let uid = crate::rest::new_uid();
    let gvk_of = |r: &Resource| {
        let (group, version, kind) = request_kind(r, a);
        json!({"group": group, "version": version, "kind": kind})
    };
    let gvr_of = |r: &Resource| json!({"group": r.group, "version": r.version, "resource": r.name});
    let mut request = json!({
        "uid": uid,
        "kind": gvk_of(target),
        "resource": gvr_of(target),
    });
    if let Some(sub) = a.subresource {
        request["subResource"] = json!(sub);
    }
    request["requestKind"] = gvk_of(a.resource);
    request["requestResource"] = gvr_of(a.resource);
    if let Some(sub) = a.subresource {
        request["requestSubResource"] = json!(sub);
    }
    if !a.name.is_empty() {
        request["name"] = json!(a.name);
    }
    if let Some(ns) = a.namespace.filter(|n| !n.is_empty()) {
        request["namespace"] = json!(ns);
    }
    request["operation"] = json!(a.operation.as_str());
    request["userInfo"] = req.user.map_or_else(|| json!({}), crate::auth::UserInfo::to_json);
    request["object"] = object.cloned().unwrap_or(Value::Null);
    request["oldObject"] = a.old.map_or(Value::Null, |o| convert(o, a.resource, target));
    request["dryRun"] = json!(a.dry_run);
    request["options"] = req.options.clone();
    let api_version = format!("admission.k8s.io/{}", hook.review_version);
    let review = json!({"kind": "AdmissionReview", "apiVersion": api_version, "request": request});
    let body = serde_json::to_vec(&review).unwrap_or_default();
    let started = std::time::Instant::now();
    let answer = post(rest, hook, body).await;
    let code = match &answer {
        Ok(_) => 200,
        Err((code, _)) => *code,
    };
    let result = match answer {
        Err((_, e)) => Err(CallError(format!("failed to call webhook: {e}"))),
        Ok(answer) => match serde_json::from_slice::<Value>(&answer) {
            Err(e) => Err(CallError(format!("failed to call webhook: {e}"))),
            Ok(response) => verify(&hook.name, &uid, &api_version, mutating, &response)
                .map_err(|e| CallError(format!("received invalid webhook response: {e}"))),
        },
    };
    let rejected = !matches!(result, Ok(Verdict::Allowed { .. }));
    metrics().observe(&hook.name, mutating, a.operation, code, rejected, started.elapsed().as_secs_f64());
    Ok(result)
}

/// `VerifyAdmissionResponse`.
fn verify(name: &str, uid: &str, api_version: &str, mutating: bool, review: &Value) -> Result<Verdict, String> {
    let r = &review["response"];
    if !r.is_object() {
        return Err("webhook response was absent".into());
    }
    let got_uid = r["uid"].as_str().unwrap_or_default();
    if got_uid != uid {
        return Err(format!("expected response.uid={uid:?}, got {got_uid:?}"));
    }
    let (av, kind) = (review["apiVersion"].as_str().unwrap_or_default(), review["kind"].as_str().unwrap_or_default());
    if av != api_version || kind != "AdmissionReview" {
        let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
        let got = if g.is_empty() { format!("/{v}, Kind={kind}") } else { format!("{g}/{v}, Kind={kind}") };
        return Err(format!("expected webhook response of {api_version}, Kind=AdmissionReview, got {got}"));
    }
    let patch = r["patch"].as_str().unwrap_or_default();
    let patch_type = r["patchType"].as_str().unwrap_or_default();
    if !patch.is_empty() && patch_type.is_empty() {
        return Err("webhook returned response.patch but not response.patchType".into());
    }
    if !patch_type.is_empty() && patch.is_empty() {
        return Err("webhook returned response.patchType but not response.patch".into());
    }
    if !patch_type.is_empty() && !mutating {
        return Err("validating webhook may not return response.patch or response.patchType".into());
    }
    let warnings: Vec<String> =
        r["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
    if !r["allowed"].as_bool().unwrap_or(false) {
        return Ok(Verdict::Denied(denied(name, &r["status"]), warnings));
    }
    if patch.is_empty() {
        return Ok(Verdict::Allowed { patch: None, warnings });
    }
    if patch_type != "JSONPatch" {
        return Err(format!("unsupported patch type {patch_type:?}"));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(patch).map_err(|e| e.to_string())?;
    let ops: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    Ok(Verdict::Allowed { patch: Some(ops), warnings })
}

/// `webhookerrors.ToStatusErr`: a refusal, in the webhook's code (at least 400) and
/// reason, with upstream's message.
pub fn denied(name: &str, status: &Value) -> ApiError {
    let denied_by = format!("admission webhook {name:?} denied the request");
    let code = status["code"].as_u64().and_then(|c| u16::try_from(c).ok()).filter(|c| *c >= 400).unwrap_or(400);
    let message = status["message"].as_str().unwrap_or_default();
    let reason = status["reason"].as_str().unwrap_or_default();
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason.is_empty() {
        format!("{denied_by}: {reason}")
    } else {
        format!("{denied_by} without explanation")
    };
    let details = status.get("details").filter(|d| d.is_object()).cloned();
    ApiError { code, reason: intern_reason(reason), message, details }
}

/// `ApiError` reasons are static: upstream's are matched, others interned (a bounded set).
fn intern_reason(reason: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "ServerTimeout",
        "StoreReadError",
        "Timeout",
        "TooManyRequests",
        "BadRequest",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestEntityTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "Expired",
        "ServiceUnavailable",
    ];
    if let Some(k) = KNOWN.iter().find(|k| **k == reason) {
        return k;
    }
    static OTHERS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut others = OTHERS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = others.get(reason) {
        return k;
    }
    if others.len() >= 256 {
        return "";
    }
    let leaked: &'static str = Box::leak(reason.to_string().into_boxed_str());
    others.insert(leaked);
    leaked
}

/// A call that failed under failurePolicy Fail: `NewInternalError(ErrCallingWebhook)`.
fn failed(hook: &Hook, e: &CallError) -> ApiError {
    let message = format!("failed calling webhook {:?}: {}", hook.name, e.0);
    let mut err = ApiError::internal(&message);
    err.details = Some(json!({"causes": [{"message": message}]}));
    err
}

/// The mutating webhooks, in order; the object is patched in place. Reinvocation: when
/// a webhook changed the object, the IfNeeded webhooks called before it run once more.
pub async fn mutate(rest: &Rest, req: &Request<'_>, obj: &mut Value, ctx: &mut WriteContext) -> Result<(), ApiError> {
    let a = req.attrs;
    if exempt(req) {
        return Ok(());
    }
    let hooks = hooks(rest, true).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let mut invoked_reinvocable: Vec<String> = Vec::new();
    let mut reinvoke: HashSet<String> = HashSet::new();
    let mut should_reinvoke = false;
    for round in 0..2 {
        if round == 1 && !should_reinvoke {
            break;
        }
        for hook in &hooks {
            let has_object = a.operation != Operation::Delete && obj.is_object();
            let object = if has_object { Some(&*obj) } else { None };
            let Some(target) = should_call(rest, hook, a, object).await? else { continue };
            if round == 1 && !reinvoke.contains(&hook.uid) {
                continue;
            }
            let sent = object.map(|o| convert(o, a.resource, target));
            let verdict = match call(rest, hook, req, target, sent.as_ref(), true).await? {
                Ok(v) => v,
                Err(e) if hook.ignore_failures => {
                    tracing::warn!(webhook = %hook.name, error = %e.0, "failed calling webhook, failing open");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(webhook = %hook.name, error = %e.0, "failed calling webhook, failing closed");
                    return Err(failed(hook, &e));
                }
            };
            let mut changed = false;
            match verdict {
                Verdict::Denied(e, warnings) => {
                    warn(ctx, warnings);
                    return Err(e);
                }
                Verdict::Allowed { patch, warnings } => {
                    warn(ctx, warnings);
                    if let Some(ops) = patch {
                        if !has_object {
                            return Err(ApiError::internal(format!(
                                "admission webhook {:?} attempted to modify the object, which is not supported for this operation",
                                hook.name
                            )));
                        }
                        let base = sent.unwrap_or_default();
                        let patched = crate::patch::json_patch(&base, &ops).map_err(ApiError::internal)?;
                        // The typed decode drops what the kind does not have.
                        let decoded = match req.subresource_decode {
                            Some(decode) => decode(&patched),
                            None => (target.decode)(&patched),
                        };
                        let mut patched = decoded.map_err(ApiError::internal)?;
                        for f in ["kind", "apiVersion"] {
                            if let Some(v) = base.get(f) {
                                patched[f] = v.clone();
                            }
                        }
                        let patched = convert(&patched, target, a.resource);
                        changed = patched != *obj;
                        *obj = patched;
                    }
                }
            }
            if changed {
                reinvoke.extend(invoked_reinvocable.iter().cloned());
                should_reinvoke = true;
            }
            if hook.reinvoke_if_needed && round == 0 {
                invoked_reinvocable.push(hook.uid.clone());
            }
        }
    }
    Ok(())
}

/// The validating webhooks, concurrently, on the final object (`None` for a delete: the
/// stored object is `attrs.old`). The first refusal in configuration order wins.
pub async fn validate(
    rest: &Rest,
    req: &Request<'_>,
    obj: Option<&Value>,
    ctx: &mut WriteContext,
) -> Result<(), ApiError> {
    let a = req.attrs;
    if exempt(req) {
        return Ok(());
    }
    let hooks = hooks(rest, false).await?;
    let mut relevant = Vec::new();
    for hook in &hooks {
        if let Some(target) = should_call(rest, hook, a, obj).await? {
            relevant.push((hook, target, obj.map(|o| convert(o, a.resource, target))));
        }
    }
    let calls = relevant.iter().map(|(hook, target, sent)| call(rest, hook, req, target, sent.as_ref(), false));
    let results = futures::future::join_all(calls).await;
    let mut first: Option<ApiError> = None;
    for ((hook, _, _), result) in relevant.iter().zip(results) {
        let err = match result {
            Err(e) => Some(e),
            Ok(Ok(Verdict::Allowed { warnings, .. })) => {
                warn(ctx, warnings);
                None
            }
            Ok(Ok(Verdict::Denied(e, warnings))) => {
                warn(ctx, warnings);
                Some(e)
            }
            Ok(Err(e)) if hook.ignore_failures => {
                tracing::warn!(webhook = %hook.name, error = %e.0, "failed calling webhook, failing open");
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(webhook = %hook.name, error = %e.0, "failed calling webhook, failing closed");
                Some(failed(hook, &e))
            }
        };
        if first.is_none() {
            first = err;
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where a call goes: the address to dial, the name the certificate must carry, and
/// the URL as errors show it (with upstream's `?timeout=` query).
struct Endpoint {
    dial: (String, u16),
    server_name: String,
    host_header: String,
    path: String,
    shown: String,
}

fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("invalid IPv6 host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("invalid port {p:?}"))?,
            None => 443,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse().map_err(|_| format!("invalid port {p:?}"))?)),
        None => Ok((authority.to_string(), 443)),
    }
}

async fn endpoint(rest: &Rest, hook: &Hook) -> Result<Endpoint, String> {
    let timeout = format!("?timeout={}s", hook.timeout.as_secs());
    match &hook.client {
        Client::Url(u) => {
            let rest_of = u.strip_prefix("https://").ok_or_else(|| format!("unsupported URL {u:?}"))?;
            let (authority, path) = match rest_of.find('/') {
                Some(i) => (&rest_of[..i], &rest_of[i..]),
                None => (rest_of, "/"),
            };
            let (host, port) = split_host_port(authority)?;
            Ok(Endpoint {
                dial: (host.clone(), port),
                server_name: host,
                host_header: authority.to_string(),
                path: format!("{path}{timeout}"),
                shown: format!("https://{authority}{path}{timeout}"),
            })
        }
        Client::Service { namespace, name, path, port } => {
            let server_name = format!("{name}.{namespace}.svc");
            let authority = format!("{server_name}:{port}");
            let path = if path.is_empty() { "/".to_string() } else { path.clone() };
            let shown = format!("https://{authority}{path}{timeout}");
            let dial =
                resolve_service(rest, namespace, name, *port).await.map_err(|e| format!("Post {shown:?}: {e}"))?;
            Ok(Endpoint { dial, server_name, host_header: authority, path: format!("{path}{timeout}"), shown })
        }
    }
}

static ENDPOINT_ROUTING: OnceLock<bool> = OnceLock::new();

/// `--enable-aggregator-routing`: services resolve to an endpoint's address rather than the
/// cluster IP (fixed at startup; the first call wins).
pub fn route_to_endpoints(on: bool) {
    let _ = ENDPOINT_ROUTING.set(on);
}

/// `ResolveCluster` (a service's cluster IP and the service port, or an ExternalName), or
/// with `--enable-aggregator-routing` `ResolveEndpoint` (an endpoint address and port).
async fn resolve_service(rest: &Rest, namespace: &str, name: &str, port: u16) -> Result<(String, u16), String> {
    // The listers' words for a missing object.
    let get = |resource: &'static str, singular: &'static str| async move {
        let r = registry::find(resource).expect("registered");
        match rest.get(r, Some(namespace), name).await {
            Ok(o) => Ok(o),
            Err(e) if e.code == 404 => Err(format!("{singular} {name:?} not found")),
            Err(e) => Err(e.message),
        }
    };
    let svc = get("services", "service").await?;
    if *ENDPOINT_ROUTING.get().unwrap_or(&false) {
        let endpoints = get("endpoints", "endpoints").await?;
        return resolve_endpoint(&svc, &endpoints, name, port);
    }
    resolve_cluster(&svc, name, port)
}

/// `findServicePort`.
fn service_port<'v>(svc: &'v Value, name: &str, port: u16) -> Result<&'v Value, String> {
    svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"].as_u64() == Some(port.into()))
        .ok_or_else(|| format!("no service port {port} found for service {name:?}"))
}

fn resolve_cluster(svc: &Value, name: &str, port: u16) -> Result<(String, u16), String> {
    let ty = svc["spec"]["type"].as_str().unwrap_or("ClusterIP");
    let cluster_ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    match ty {
        "ClusterIP" if cluster_ip == "None" => Err(r#"cannot route to service with ClusterIP "None""#.into()),
        "ClusterIP" | "LoadBalancer" | "NodePort" => {
            service_port(svc, name, port)?;
            Ok((cluster_ip.to_string(), port))
        }
        "ExternalName" => Ok((svc["spec"]["externalName"].as_str().unwrap_or_default().to_string(), port)),
        other => Err(format!("unsupported service type {other:?}")),
    }
}

/// `ResolveEndpoint`: a random ready address of the subset carrying the service port's name.
fn resolve_endpoint(svc: &Value, endpoints: &Value, name: &str, port: u16) -> Result<(String, u16), String> {
    let ty = svc["spec"]["type"].as_str().unwrap_or("ClusterIP");
    if !["ClusterIP", "LoadBalancer", "NodePort"].contains(&ty) {
        return Err(format!("unsupported service type {ty:?}"));
    }
    let port_name = service_port(svc, name, port)?["name"].as_str().unwrap_or_default();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let addresses = subset["addresses"].as_array().map_or(&[][..], Vec::as_slice);
        for p in subset["ports"].as_array().into_iter().flatten() {
            if p["name"].as_str().unwrap_or_default() != port_name || addresses.is_empty() {
                continue;
            }
            let pick = &addresses[rand::random_range(0..addresses.len())];
            let target = p["port"].as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(port);
            return Ok((pick["ip"].as_str().unwrap_or_default().to_string(), target));
        }
    }
    Err(format!("no endpoints available for service {name:?}"))
}

fn tls_config(ca_bundle: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if ca_bundle.is_empty() {
        // No caBundle: the system's trust roots, as upstream.
        if let Ok(pem) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
            for c in CertificateDer::pem_slice_iter(&pem).flatten() {
                let _ = roots.add(c);
            }
        }
    } else {
        for c in CertificateDer::pem_slice_iter(ca_bundle) {
            let c = c.map_err(|e| format!("unable to load root certificates: {e}"))?;
            roots.add(c).map_err(|e| format!("unable to load root certificates: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// POSTs the review and returns the body of a 2xx answer; errors read like Go's
/// `net/http` and client-go's (`Post "<url>": ...`), with the HTTP status when there was
/// an answer (else 0).
async fn post(rest: &Rest, hook: &Hook, body: Vec<u8>) -> Result<Bytes, (u16, String)> {
    let ep = endpoint(rest, hook).await.map_err(|e| (0, e))?;
    let shown = ep.shown.clone();
    match tokio::time::timeout(hook.timeout, exchange(&ep, &hook.ca_bundle, body)).await {
        Ok(Ok((status, bytes))) if (200..300).contains(&status) => Ok(bytes),
        Ok(Ok((status, bytes))) => Err((status, status_error(status, &bytes))),
        Ok(Err(e)) => Err((0, format!("Post {shown:?}: {e}"))),
        Err(_) => Err((0, format!("Post {shown:?}: context deadline exceeded"))),
    }
}

/// client-go's words for an answer that is not 2xx.
fn status_error(status: u16, body: &[u8]) -> String {
    if let Ok(s) = serde_json::from_slice::<Value>(body)
        && s["kind"] == "Status"
        && let Some(m) = s["message"].as_str()
    {
        return m.to_string();
    }
    match status {
        404 => "the server could not find the requested resource".into(),
        _ => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let text = if text.is_empty() { "unknown".to_string() } else { text.chars().take(1024).collect() };
            format!("an error on the server ({text:?}) has prevented the request from succeeding")
        }
    }
}

async fn exchange(ep: &Endpoint, ca_bundle: &[u8], body: Vec<u8>) -> Result<(u16, Bytes), String> {
    let (host, port) = &ep.dial;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await.map_err(|e| {
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("dial tcp {addr}: connect: connection refused"),
            _ => format!("dial tcp {addr}: {e}"),
        }
    })?;
    let _ = tcp.set_nodelay(true);
    let server_name = ServerName::try_from(ep.server_name.clone()).map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(tls_config(ca_bundle)?);
    let tls = connector.connect(server_name, tcp).await.map_err(|e| format!("tls: {e}"))?;
    let io = hyper_util::rt::TokioIo::new(tls);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    // The connection goes with this call, also when the call is dropped at its timeout.
    struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _driver = AbortOnDrop(tokio::spawn(conn));
    let req = http::Request::post(&ep.path)
        .header("host", &ep.host_header)
        .header("content-type", "application/json")
        .header("accept", "application/json, */*")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_upstream() {
        let e = denied("deny.example.com", &json!({"code": 403, "message": "no", "reason": "Forbidden"}));
        assert_eq!((e.code, e.reason), (403, "Forbidden"));
        assert_eq!(e.message, r#"admission webhook "deny.example.com" denied the request: no"#);
        let e = denied("d.example.com", &json!({"code": 200}));
        assert_eq!((e.code, e.reason), (400, ""));
        assert_eq!(e.message, r#"admission webhook "d.example.com" denied the request without explanation"#);
        let e = denied("d.example.com", &json!({"reason": "Nope"}));
        assert_eq!(e.message, r#"admission webhook "d.example.com" denied the request: Nope"#);
        assert_eq!(e.reason, "Nope");
    }

    #[test]
    fn responses_are_verified() {
        let ok = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "u", "allowed": true}});
        assert!(matches!(
            verify("h", "u", "admission.k8s.io/v1", false, &ok),
            Ok(Verdict::Allowed { patch: None, .. })
        ));
        let err = |r: &Value, mutating| verify("h", "u", "admission.k8s.io/v1", mutating, r).err().unwrap();
        assert_eq!(err(&json!({}), false), "webhook response was absent");
        let mut r = ok.clone();
        r["response"]["uid"] = json!("x");
        assert_eq!(err(&r, false), r#"expected response.uid="u", got "x""#);
        let mut r = ok.clone();
        r["apiVersion"] = json!("admission.k8s.io/v1beta1");
        assert_eq!(
            err(&r, false),
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, Kind=AdmissionReview"
        );
        let mut r = ok.clone();
        r["response"]["patch"] = json!("W10=");
        assert_eq!(err(&r, true), "webhook returned response.patch but not response.patchType");
        r["response"]["patchType"] = json!("JSONPatch");
        assert_eq!(err(&r, false), "validating webhook may not return response.patch or response.patchType");
        assert!(matches!(
            verify("h", "u", "admission.k8s.io/v1", true, &r),
            Ok(Verdict::Allowed { patch: Some(_), .. })
        ));
    }

    #[test]
    fn equivalent_versions_convert_through_storage() {
        let v2 = registry::lookup("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let v1 = registry::lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let names: Vec<String> = equivalents(v2, None).map(|r| r.api_version()).collect();
        assert_eq!(names, ["autoscaling/v1"]);
        assert_eq!(equivalents(v2, Some("status")).count(), 1);
        assert_eq!(equivalents(registry::find("configmaps").unwrap(), None).count(), 0);
        let events: Vec<String> =
            equivalents(registry::find("events").unwrap(), None).map(|r| r.api_version()).collect();
        assert_eq!(events, ["events.k8s.io/v1"]);
        let hpa = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 3, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        });
        let old = convert(&hpa, v2, v1);
        assert_eq!(
            (&old["apiVersion"], &old["spec"]["targetCPUUtilizationPercentage"]),
            (&json!("autoscaling/v1"), &json!(70))
        );
        let back = convert(&old, v1, v2);
        assert_eq!(back["spec"]["metrics"], hpa["spec"]["metrics"]);
        assert_eq!(back["apiVersion"], "autoscaling/v2");
        assert_eq!(convert(&hpa, v2, v2), hpa);
    }

    #[test]
    fn services_resolve_as_upstream() {
        let svc = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.5", "ports": [{"name": "https", "port": 443, "targetPort": 8443}]}});
        assert_eq!(resolve_cluster(&svc, "s", 443), Ok(("10.0.0.5".into(), 443)));
        assert_eq!(resolve_cluster(&svc, "s", 444), Err(r#"no service port 444 found for service "s""#.into()));
        let headless = json!({"spec": {"clusterIP": "None", "ports": [{"port": 443}]}});
        assert_eq!(
            resolve_cluster(&headless, "s", 443),
            Err(r#"cannot route to service with ClusterIP "None""#.into())
        );
        let ext = json!({"spec": {"type": "ExternalName", "externalName": "hooks.example.com"}});
        assert_eq!(resolve_cluster(&ext, "s", 8443), Ok(("hooks.example.com".into(), 8443)));
        let eps = json!({"subsets": [
            {"addresses": [{"ip": "10.1.0.1"}], "ports": [{"name": "metrics", "port": 9090}]},
            {"addresses": [{"ip": "10.1.0.2"}], "ports": [{"name": "https", "port": 8443}]},
        ]});
        assert_eq!(resolve_endpoint(&svc, &eps, "s", 443), Ok(("10.1.0.2".into(), 8443)));
        let empty = json!({"subsets": [{"notReadyAddresses": [{"ip": "10.1.0.3"}], "ports": [{"name": "https", "port": 8443}]}]});
        assert_eq!(resolve_endpoint(&svc, &empty, "s", 443), Err(r#"no endpoints available for service "s""#.into()));
        assert_eq!(resolve_endpoint(&ext, &eps, "s", 443), Err(r#"unsupported service type "ExternalName""#.into()));
    }

    #[test]
    fn rules_match_as_upstream() {
        let pods = registry::find("pods").unwrap();
        let ns = registry::find("namespaces").unwrap();
        let a = |resource, sub, namespace, operation| Attributes {
            resource,
            operation,
            namespace,
            name: "x".into(),
            old: None,
            dry_run: false,
            subresource: sub,
        };
        let rule = |ops: Value, res: Value, scope: &str| json!({"operations": ops, "apiGroups": [""], "apiVersions": ["v1"], "resources": res, "scope": scope});
        let create = a(pods, None, Some("d"), Operation::Create);
        let status = a(pods, Some("status"), Some("d"), Operation::Update);
        assert!(rule_matches(&rule(json!(["CREATE"]), json!(["pods"]), "*"), &create));
        assert!(!rule_matches(&rule(json!(["UPDATE"]), json!(["pods"]), "*"), &create));
        assert!(!rule_matches(&rule(json!(["*"]), json!(["pods"]), "*"), &status));
        assert!(rule_matches(&rule(json!(["*"]), json!(["pods/status"]), "*"), &status));
        assert!(rule_matches(&rule(json!(["*"]), json!(["*/*"]), "*"), &status));
        assert!(rule_matches(&rule(json!(["*"]), json!(["*"]), "Namespaced"), &create));
        assert!(!rule_matches(&rule(json!(["*"]), json!(["*"]), "Cluster"), &create));
        let nsc = a(ns, None, Some("x"), Operation::Create);
        assert!(rule_matches(&rule(json!(["*"]), json!(["*"]), "Cluster"), &nsc));
        assert!(!rule_matches(&rule(json!(["*"]), json!(["*"]), "Namespaced"), &nsc));
    }
}
