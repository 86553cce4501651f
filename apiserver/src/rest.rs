//! The generic REST handlers (upstream's generic registry `Store`): create, get, list,
//! watch, update and delete for any resource of the [`registry`](crate::registry)
//! table, on JSON objects, with storage errors translated into `Status` errors once.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

use crate::admission;
use crate::cache::{CacheError, Cacher, WatchParams, WatchStart};
use crate::registry::{self, Resource, Subresource};
use crate::selector::LabelSelector;
use crate::status::{ApiError, FieldError};
use crate::storage::{Storage, StorageError, WatchEvent};
use crate::wire::{Event, ListItem, ListPage, RawObject};

/// Query parameters the list and watch handlers understand.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: i64,
    pub continue_token: Option<String>,
    pub field_selector: Option<String>,
    pub label_selector: Option<String>,
    pub watch: bool,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    /// Watch-list: the current state as ADDED events, then a BOOKMARK marked
    /// `k8s.io/initial-events-end`.
    pub send_initial_events: Option<bool>,
}

impl ListOptions {
    pub fn parse(query: Option<&str>) -> Result<ListOptions, ApiError> {
        let mut o = ListOptions::default();
        for (k, v) in form_pairs(query) {
            match k.as_str() {
                "resourceVersion" if !v.is_empty() => o.resource_version = Some(v),
                "resourceVersionMatch" if !v.is_empty() => o.resource_version_match = Some(v),
                "limit" if !v.is_empty() => {
                    o.limit = v.parse().map_err(|_| ApiError::bad_request(format!("invalid limit: {v:?}")))?
                }
                "continue" if !v.is_empty() => o.continue_token = Some(v),
                "fieldSelector" if !v.is_empty() => o.field_selector = Some(v),
                "labelSelector" if !v.is_empty() => o.label_selector = Some(v),
                "watch" => o.watch = v.is_empty() || parse_bool(&v)?,
                "timeoutSeconds" if !v.is_empty() => o.timeout_seconds = v.parse().ok(),
                "allowWatchBookmarks" => o.allow_watch_bookmarks = parse_bool(&v)?,
                "sendInitialEvents" if !v.is_empty() => o.send_initial_events = Some(parse_bool(&v)?),
                _ => {}
            }
        }
        Ok(o)
    }
}

/// A boolean query parameter as Go's `strconv.ParseBool` reads it (the Python client
/// sends `True`); empty is false.
fn parse_bool(v: &str) -> Result<bool, ApiError> {
    match v {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        other => Err(ApiError::bad_request(format!("strconv.ParseBool: parsing {other:?}: invalid syntax"))),
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn form_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A field selector term; `field` is the JSON path of the value it tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTerm {
    field: String,
    value: String,
    equal: bool,
}

pub fn parse_field_selector(resource: &Resource, s: &str) -> Result<Vec<FieldTerm>, ApiError> {
    let mut terms = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = part.split_once("==") {
            (f, v, true)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, v, true)
        } else {
            return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{part}'")));
        };
        let field = field.trim();
        let path = match field {
            "metadata.name" => "metadata.name",
            "metadata.namespace" if resource.namespaced => "metadata.namespace",
            f => match resource.field_selectors.iter().find(|(name, _)| *name == f) {
                Some((_, path)) => path,
                None => return Err(ApiError::bad_request(unsupported_field(resource, field))),
            },
        };
        terms.push(FieldTerm { field: path.into(), value: value.trim().into(), equal });
    }
    Ok(terms)
}

/// Upstream's refusal of an unknown field selector: the kind's own conversion function's
/// wording where it registers one, else `DefaultMetaV1FieldSelectorConversion`'s.
fn unsupported_field(resource: &Resource, field: &str) -> String {
    if resource.field_selectors.is_empty() {
        format!("{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
    } else if resource.group == "batch" && resource.kind == "Job" {
        format!("field label {field:?} not supported for batchv1.Job")
    } else {
        format!("field label not supported: {field}")
    }
}

fn fields_match(terms: &[FieldTerm], obj: &Value) -> bool {
    terms.iter().all(|t| (registry::field_value(obj, &t.field) == t.value) == t.equal)
}

/// The selectors as a filter on cached objects: on what the cache extracted, or, for a
/// resource served through a conversion, on the converted object.
fn cache_filter(resource: &Resource, terms: &[FieldTerm], labels: &LabelSelector) -> crate::cache::Filter {
    let (terms, labels) = (terms.to_vec(), labels.clone());
    if terms.is_empty() && labels.is_empty() {
        return std::sync::Arc::new(|_: &RawObject| true);
    }
    match resource.storage_form {
        Some((_, from_storage)) => std::sync::Arc::new(move |o: &RawObject| {
            let v = from_storage(o.value());
            fields_match(&terms, &v) && labels.matches(&v)
        }),
        None => std::sync::Arc::new(move |o: &RawObject| {
            terms.iter().all(|t| (o.field(&t.field) == t.value.as_str()) == t.equal)
                && labels.matches_labels(|k| o.label(k))
        }),
    }
}

/// Upstream's details of an error about a resource of a named group: `kind` is the
/// plain resource (or Kind), `group` the group, the message uses the qualified name.
fn in_group(mut e: ApiError, resource: &Resource, kind: &str) -> ApiError {
    if !resource.group.is_empty()
        && let Some(d) = e.details.as_mut().and_then(Value::as_object_mut)
    {
        let causes = d.shift_remove("causes");
        d.insert("group".into(), json!(resource.group));
        d.insert("kind".into(), json!(kind));
        if let Some(c) = causes {
            d.insert("causes".into(), c);
        }
    }
    e
}

pub fn not_found(resource: &Resource, name: &str) -> ApiError {
    in_group(ApiError::not_found(&resource.qualified_name(), name), resource, resource.name)
}

pub fn already_exists(resource: &Resource, name: &str) -> ApiError {
    in_group(ApiError::already_exists(&resource.qualified_name(), name), resource, resource.name)
}

pub fn conflict(resource: &Resource, name: &str) -> ApiError {
    in_group(ApiError::conflict(&resource.qualified_name(), name), resource, resource.name)
}

pub fn invalid(resource: &Resource, name: &str, errs: &[FieldError]) -> ApiError {
    in_group(ApiError::invalid(&resource.group_kind(), name, errs), resource, resource.kind)
}

pub(crate) fn storage_error(resource: &Resource, name: &str, e: StorageError) -> ApiError {
    match e {
        StorageError::NotFound => not_found(resource, name),
        StorageError::AlreadyExists => already_exists(resource, name),
        StorageError::Conflict => conflict(resource, name),
        StorageError::Compacted { requested, current } => {
            ApiError::gone(format!("too old resource version: {requested} ({current})"))
        }
        StorageError::Etcd(s) if s.message() == "etcdserver: request is too large" => {
            tracing::warn!(resource = resource.name, name, "etcd refused an object as too large");
            ApiError::unknown(s.message())
        }
        e @ (StorageError::Etcd(_) | StorageError::Endpoint { .. } | StorageError::BadEndpoint(_)) => {
            tracing::warn!(error = %e, resource = resource.name, name, "storage request failed");
            ApiError::internal(e.to_string())
        }
    }
}

/// An RFC 3339 timestamp with second precision, as `metav1.Time` serialises.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::from_second(crate::registry::unix_now()).map(|t| t.to_string()).unwrap_or_default()
}

/// A random version-4 UUID.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `names.SimpleNameGenerator`: five random characters from upstream's alphabet.
pub(crate) fn generate_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let base = if base.len() > 58 { &base[..58] } else { base };
    let suffix: String = (0..5).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    format!("{base}{suffix}")
}

fn with_rv(mut obj: Value, rv: i64) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    obj
}

/// The JSON stored in etcd: the object without its resourceVersion (the key's
/// mod_revision is the truth).
pub(crate) fn encode_for_storage(resource: &Resource, obj: &Value) -> Vec<u8> {
    let mut o = match resource.storage_form {
        Some((to_storage, _)) => to_storage(obj.clone()),
        None => obj.clone(),
    };
    if let (Some(c), Some(m)) = (resource.custom, o.as_object_mut()) {
        // Custom objects are stored in the CRD's storage version (conversion None).
        m.insert("apiVersion".into(), json!(c.storage_api_version));
    }
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("resourceVersion");
    }
    serde_json::to_vec(&o).unwrap_or_default()
}

pub(crate) fn decode_stored(resource: &Resource, value: &[u8]) -> Result<Value, ApiError> {
    let obj = serde_json::from_slice(value)
        .map_err(|e| ApiError::internal(format!("decoding stored {}: {e}", resource.name)))?;
    Ok(match (resource.storage_form, resource.custom) {
        (Some((_, from_storage)), _) => from_storage(obj),
        (None, Some(c)) => c.from_storage(obj, &resource.api_version()),
        (None, None) => obj,
    })
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

/// `fieldValidation`: what to do with fields the kind does not have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    /// Upstream's default when the parameter is absent.
    #[default]
    Warn,
    Strict,
}

/// Per-request options of writes, and the warnings they produce (sent back as
/// `Warning` headers).
#[derive(Clone, Debug, Default)]
pub struct WriteContext {
    pub field_validation: FieldValidation,
    /// `dryRun=All`: everything but the storage write.
    pub dry_run: bool,
    /// `gracePeriodSeconds` of a DELETE (a DeleteOptions body takes precedence).
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy` and the deprecated `orphanDependents` of a DELETE (a
    /// DeleteOptions body takes precedence).
    pub propagation_policy: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub warnings: Vec<String>,
    /// `fieldManager`, and the user agent (the manager when none is given).
    pub field_manager: Option<String>,
    pub user_agent: String,
    /// `force` (apply patches only).
    pub force: Option<bool>,
    /// The object carries the managed fields an apply computed.
    pub applying: bool,
    /// A last check of the final object before a create or update is stored (RBAC's
    /// escalation prevention).
    pub admit: Option<Admit>,
    /// Who writes (for admission plugins that look at the user, e.g. NodeRestriction).
    /// Only requests with a user are sent to admission webhooks.
    pub user: Option<crate::auth::UserInfo>,
    /// Audit annotations admission recorded for the request's audit event (upstream's
    /// `audit.AddAuditAnnotations`), e.g. PodSecurity's `audit-violations`.
    pub audit_annotations: Vec<(String, String)>,
    /// The subresource the request was for (`status`, `scale`, ...).
    pub subresource: Option<&'static str>,
}

/// See [`WriteContext::admit`].
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct Admit(
    pub std::sync::Arc<dyn Fn(Value) -> futures::future::BoxFuture<'static, Result<(), ApiError>> + Send + Sync>,
);

impl std::fmt::Debug for Admit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admit")
    }
}

impl WriteContext {
    pub fn from_query(query: Option<&str>) -> Result<WriteContext, ApiError> {
        let mut ctx = WriteContext::default();
        for (k, v) in form_pairs(query) {
            match k.as_str() {
                "dryRun" => match v.as_str() {
                    "All" => ctx.dry_run = true,
                    "" => {}
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "Invalid dry run value: {other:?}: supported values: \"All\""
                        )));
                    }
                },
                "gracePeriodSeconds" => {
                    ctx.grace_period_seconds = Some(
                        v.parse().map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds: {v:?}")))?,
                    )
                }
                "propagationPolicy" => ctx.propagation_policy = Some(v),
                "orphanDependents" => ctx.orphan_dependents = Some(parse_bool(&v)?),
                "fieldManager" => {
                    if v.chars().count() > 128 {
                        let err = FieldError::invalid("fieldManager", &v, "must be no more than 128 characters");
                        return Err(ApiError::invalid("PatchOptions.meta.k8s.io", "", &[err]));
                    }
                    ctx.field_manager = Some(v);
                }
                "force" => ctx.force = Some(parse_bool(&v)?),
                "fieldValidation" => {
                    ctx.field_validation = match v.as_str() {
                        "Ignore" => FieldValidation::Ignore,
                        "Warn" | "" => FieldValidation::Warn,
                        "Strict" => FieldValidation::Strict,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "fieldValidation parameter unsupported: {other}"
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(ctx)
    }

    pub fn with_user_agent(mut self, user_agent: &str) -> WriteContext {
        self.user_agent = user_agent.to_string();
        self
    }

    /// The manager of this write.
    pub fn manager(&self) -> String {
        crate::managedfields::manager_name(self.field_manager.as_deref(), &self.user_agent)
    }
}

/// Records who changed what (not for applies: they computed it already).
fn record_fields(resource: &Resource, target: Target, ctx: &WriteContext, old: Option<&Value>, new: &mut Value) {
    if ctx.applying || target == Target::System {
        return;
    }
    crate::managedfields::record_update(&ownership(resource, target, ctx.manager()), old, new);
}

/// Who writes what, for `managedfields`.
fn ownership(resource: &Resource, target: Target, manager: String) -> crate::managedfields::Write {
    crate::managedfields::Write {
        manager,
        api_version: resource.api_version(),
        subresource: if target == Target::Status { "status" } else { "" },
        table: crate::openapi::merge_tables(resource).assoc,
        now: now_rfc3339(),
    }
}

/// Paths present (and not null) in `input` but absent from `decoded`: the fields the
/// typed decoding dropped, in upstream's notation (`spec.foo`, `items[0].bar`).
pub fn unknown_fields(input: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (input, decoded) {
        (Value::Object(i), Value::Object(d)) => {
            for (k, v) in i {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match d.get(k) {
                    Some(dv) => unknown_fields(v, dv, &p, out),
                    None => out.push(p),
                }
            }
        }
        (Value::Array(i), Value::Array(d)) => {
            for (n, (iv, dv)) in i.iter().zip(d).enumerate() {
                unknown_fields(iv, dv, &format!("{path}[{n}]"), out);
            }
        }
        _ => {}
    }
}

/// Parses and checks a request body against the resource and the URL's namespace. The
/// result is the typed decoding re-encoded, so unknown fields are never stored.
fn decode_body(resource: &Resource, ns: Option<&str>, body: &[u8], ctx: &mut WriteContext) -> Result<Value, ApiError> {
    use crate::decode_error::{SCHEME, go_json_error, internal_package, unrecognized};
    // Upstream first reads the apiVersion and kind with Go's encoding/json, whose words
    // a syntax error carries.
    if let Some(e) = go_json_error(body) {
        let err = format!("couldn't get version/kind; json parse error: {e}");
        return Err(ApiError::bad_request(unrecognized(resource.kind, &err, body)));
    }
    let mut obj: Value = serde_json::from_slice(body).map_err(|e| {
        let err = format!("couldn't get version/kind; json parse error: {e}");
        ApiError::bad_request(unrecognized(resource.kind, &err, body))
    })?;
    if obj.is_null() {
        obj = json!({});
    }
    let Some(map) = obj.as_object_mut() else {
        let err = "couldn't get version/kind; json parse error: not an object";
        return Err(ApiError::bad_request(unrecognized(resource.kind, err, body)));
    };
    let expected = resource.api_version();
    let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or(&expected).to_string();
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or(resource.kind).to_string();
    if api_version != expected || kind != resource.kind {
        // The scheme decodes the kind the body names, then fails to convert it to the
        // resource's type, or knows no such kind in that version.
        let version = api_version.rsplit('/').next().unwrap_or_default();
        let known = registry::all().any(|r| r.api_version() == api_version && r.kind == kind);
        let detail = if !known {
            format!("no kind {kind:?} is registered for version {api_version:?} in scheme {SCHEME:?}")
        } else if kind == resource.kind {
            format!("the API version in the data ({api_version}) does not match the expected API version ({expected})")
        } else {
            format!(
                "converting ({version}.{kind}) to ({}.{}): unknown conversion",
                internal_package(resource.group),
                resource.kind
            )
        };
        return Err(ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {}: {detail}",
            resource.kind
        )));
    }
    map.insert("apiVersion".into(), json!(expected));
    map.insert("kind".into(), json!(resource.kind));
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.insert("metadata".into(), json!({}));
    }
    let cannot = |e: String| {
        ApiError::bad_request(format!(
            "{k} in version \"{v}\" cannot be handled as a {k}: {e}",
            k = resource.kind,
            v = resource.version
        ))
    };
    let (decoded, unknown) = match resource.custom {
        // Custom resources: pruned by their schema (the dropped fields are the unknown ones).
        Some(c) => c.decode(&obj).map_err(cannot)?,
        None => {
            let decoded = (resource.decode)(&obj).map_err(cannot)?;
            let mut unknown = Vec::new();
            unknown_fields(&obj, &decoded, "", &mut unknown);
            (decoded, unknown)
        }
    };
    let mut obj = decoded;
    if !unknown.is_empty() {
        let texts: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
        match ctx.field_validation {
            FieldValidation::Strict => {
                return Err(ApiError::bad_request(format!(
                    "{k} in version \"{v}\" cannot be handled as a {k}: strict decoding error: {}",
                    texts.join(", "),
                    k = resource.kind,
                    v = resource.version
                )));
            }
            FieldValidation::Warn => ctx.warnings.extend(texts),
            FieldValidation::Ignore => {}
        }
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let meta = obj["metadata"].as_object_mut().expect("metadata is an object");
    if resource.namespaced {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && Some(n) != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(ns.unwrap_or_default()));
            }
        }
    } else {
        meta.shift_remove("namespace");
    }
    Ok(obj)
}

/// The object's checks; `old` is the stored object of an update (custom resources'
/// schema errors about unchanged values are ratcheted away, as upstream does).
fn validate(resource: &Resource, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = name_of(obj);
    let mut errs: Vec<FieldError> = match obj["metadata"]["generateName"].as_str().filter(|g| !g.is_empty()) {
        Some(prefix) => registry::validate_generate_name(resource.name_rule, prefix),
        None => Vec::new(),
    };
    errs.extend(registry::validate_name(resource.name_rule, name));
    errs.extend(registry::validate_labels_and_annotations(obj));
    errs.extend((resource.validate)(obj));
    if let Some(c) = resource.custom {
        errs.extend(c.validate(obj, old));
    }
    if errs.is_empty() { Ok(()) } else { Err(invalid(resource, name, &errs)) }
}

/// What an update writes: the whole object (whose status, where a status subresource
/// exists, is kept as stored), or only the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Main,
    Status,
    /// The server's own write (e.g. a binding): spec and status as given, without the
    /// update checks clients are held to.
    System,
}

/// Everything but metadata and status: what a generation counts changes of.
fn spec_of(o: &Value) -> Value {
    let mut m = o.as_object().cloned().unwrap_or_default();
    for f in ["metadata", "status", "kind", "apiVersion"] {
        m.shift_remove(f);
    }
    Value::Object(m)
}

/// The generic store for every resource.
#[derive(Clone)]
pub struct Rest {
    pub storage: Storage,
    /// The watch caches serving LIST and WATCH (None: straight from storage).
    pub cacher: Option<std::sync::Arc<Cacher>>,
}

const UPDATE_RETRIES: usize = 5;

impl Rest {
    /// Finishes deleting a Terminating namespace: its contents go, then the
    /// `kubernetes` finalizer, then (without other finalizers) the namespace itself.
    /// Upstream's namespace controller does this through the API; until our
    /// controller-manager has one, the apiserver does it directly.
    pub async fn finalize_namespace(&self, ns: &str) {
        self.delete_namespace_contents(ns).await;
        let nsres = registry::find("namespaces").expect("namespaces are registered");
        let key = nsres.key(None, ns);
        for _ in 0..UPDATE_RETRIES {
            let current = match self.storage.get(key.as_bytes()).await {
                Ok(Some(kv)) => kv,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, namespace = ns, "finalizing namespace failed");
                    return;
                }
            };
            let Ok(mut obj) = decode_stored(nsres, &current.value) else { return };
            if let Some(f) = obj["spec"]["finalizers"].as_array_mut() {
                f.retain(|x| x != "kubernetes");
            }
            let spec_done = obj["spec"]["finalizers"].as_array().is_none_or(Vec::is_empty);
            let result = if spec_done && finalizers(&obj).is_empty() {
                self.storage.delete(key.as_bytes(), current.mod_revision).await
            } else {
                self.storage.update(key.as_bytes(), encode_for_storage(nsres, &obj), current.mod_revision).await
            };
            match result {
                Ok(_) | Err(StorageError::NotFound) => return,
                Err(StorageError::Conflict) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, namespace = ns, "finalizing namespace failed");
                    return;
                }
            }
        }
    }

    pub async fn create(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        if resource.custom.is_some_and(|c| c.terminating) {
            return Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message: "create not allowed while custom resource definition is terminating".into(),
                details: Some(json!({"group": resource.group, "kind": resource.name})),
            });
        }
        let mut obj = decode_body(resource, ns, body, ctx)?;
        let meta = obj["metadata"].as_object_mut().expect("metadata is an object");
        let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let generate = meta.get("generateName").and_then(Value::as_str).unwrap_or("").to_string();
        let name = match (name.is_empty(), generate.is_empty()) {
            (false, _) => name,
            (true, false) => generate_name(&generate),
            (true, true) => {
                let err = FieldError::required("metadata.name", "name or generateName is required");
                return Err(invalid(resource, "", &[err]));
            }
        };
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            meta.shift_remove(f);
        }
        if resource.generation {
            meta.insert("generation".into(), json!(1));
        }
        if resource.has(Subresource::Status)
            && !resource.keep_status_on_create
            && let Some(m) = obj.as_object_mut()
        {
            // The status is the controllers' to write, through the status subresource.
            m.shift_remove("status");
        }
        let attrs = admission::Attributes {
            resource,
            operation: admission::Operation::Create,
            namespace: ns,
            name: name.clone(),
            old: None,
            dry_run: ctx.dry_run,
            subresource: None,
        };
        admission::mutate(self, &attrs, &mut obj, ctx).await?;
        // Stored under the name the object has after admission (a webhook may change it).
        let name = name_of(&obj).to_string();
        (resource.prepare_for_create)(&mut obj);
        validate(resource, &obj, None)?;
        record_fields(resource, Target::Main, ctx, None, &mut obj);
        if let Some(admit) = &ctx.admit {
            (admit.0)(obj.clone()).await?;
        }
        admission::validate(self, &attrs, &obj, ctx).await?;
        if ctx.dry_run {
            // Upstream's dry-run storage still refuses a name that is taken.
            let key = resource.key(ns, &name);
            if self.storage.get(key.as_bytes()).await.map_err(|e| storage_error(resource, &name, e))?.is_some() {
                return Err(storage_error(resource, &name, StorageError::AlreadyExists));
            }
            return Ok(obj);
        }
        if let Some(allocate) = resource.allocate {
            allocate(&self.storage, &mut obj).await?;
        }
        let mut key = resource.key(ns, &name);
        let mut attempts = 0;
        let rev = loop {
            match self.storage.create(key.as_bytes(), encode_for_storage(resource, &obj)).await {
                Ok(rev) => break rev,
                // Like upstream, a generated name that is taken is generated again.
                Err(StorageError::AlreadyExists) if !generate.is_empty() && attempts < 8 => {
                    attempts += 1;
                    let fresh = generate_name(&generate);
                    obj["metadata"]["name"] = json!(fresh);
                    key = resource.key(ns, &fresh);
                }
                Err(e) => {
                    if let Some(release) = resource.release {
                        release(&self.storage, &obj, None).await;
                    }
                    admission::release(self, resource, ns, &obj).await;
                    return Err(storage_error(resource, name_of(&obj), e));
                }
            }
        };
        Ok(with_rv(obj, rev))
    }

    pub async fn get(&self, resource: &Resource, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let key = resource.key(ns, name);
        match self.storage.get(key.as_bytes()).await.map_err(|e| storage_error(resource, name, e))? {
            Some(kv) => Ok(with_rv(decode_stored(resource, &kv.value)?, kv.mod_revision)),
            None => Err(not_found(resource, name)),
        }
    }

    /// LIST as one tree (for callers inside the apiserver).
    pub async fn list(&self, resource: &Resource, ns: Option<&str>, opts: &ListOptions) -> Result<Value, ApiError> {
        Ok(self.list_page(resource, ns, opts).await?.into_value())
    }

    /// LIST, its items kept encoded (the HTTP handler streams them).
    pub async fn list_page(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListPage, ApiError> {
        validate_list_options(opts)?;
        let labels = parse_label_selector(opts)?;
        let terms = parse_field_selector(resource, opts.field_selector.as_deref().unwrap_or(""))?;
        let prefix = match ns {
            Some(ns) if resource.namespaced => resource.namespace_prefix(ns),
            _ => resource.prefix(),
        };
        if let Some(list) = self.list_from_cache(resource, &prefix, opts, &terms, &labels).await? {
            return Ok(list);
        }
        let (mut revision, mut start) = (0i64, None);
        let rv = opts.resource_version.as_deref().unwrap_or("");
        if let Some(token) = &opts.continue_token {
            let (rv, s) = decode_continue(token)?;
            revision = rv;
            start = Some(format!("{prefix}{s}"));
        } else if opts.resource_version_match.as_deref() == Some("Exact")
            || (opts.resource_version_match.is_none() && opts.limit > 0 && !rv.is_empty() && rv != "0")
        {
            // Exact, and upstream's legacy reading of a version with a limit.
            revision = parse_rv(rv)?;
        }
        let page =
            self.storage.list(prefix.as_bytes(), start.as_deref().map(str::as_bytes), revision, opts.limit).await;
        let page = match page {
            Ok(p) => p,
            Err(StorageError::Compacted { .. }) if opts.continue_token.is_some() => {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            Err(e) => return Err(storage_error(resource, "", e)),
        };
        let list_rv = if revision != 0 { revision } else { page.revision };
        let mut items = Vec::with_capacity(page.items.len());
        let last_key = page.items.last().map(|kv| kv.key.clone());
        for kv in page.items {
            // One object decoded at a time; the list keeps its JSON.
            let mut obj = with_rv(decode_stored(resource, &kv.value)?, kv.mod_revision);
            if !fields_match(&terms, &obj) || !labels.matches(&obj) {
                continue;
            }
            // Custom objects keep their kind in lists, as upstream's unstructured lists do.
            if let Some(m) = obj.as_object_mut().filter(|_| resource.custom.is_none()) {
                m.shift_remove("kind");
                m.shift_remove("apiVersion");
            }
            items.push(ListItem::Json(Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())));
        }
        let mut meta = Map::new();
        meta.insert("resourceVersion".into(), json!(list_rv.to_string()));
        if page.remaining > 0
            && let Some(last) = last_key
        {
            let rel = String::from_utf8_lossy(&last[prefix.len()..]).into_owned();
            meta.insert("continue".into(), json!(encode_continue(list_rv, &format!("{rel}\u{0}"))));
            if terms.is_empty() {
                meta.insert("remainingItemCount".into(), json!(page.remaining));
            }
        }
        Ok(ListPage {
            kind: resource.list_kind(),
            api_version: resource.api_version(),
            metadata: Value::Object(meta),
            items,
            convert: None,
        })
    }

    /// Serves a LIST from the watch cache where upstream's cacher does (no continue,
    /// no Exact match, no limit unless resourceVersion is "0", which ignores it);
    /// `None`: read storage (also when the cache is initialising, or a consistent
    /// read could not be proven current in time).
    async fn list_from_cache(
        &self,
        resource: &Resource,
        prefix: &str,
        opts: &ListOptions,
        terms: &[FieldTerm],
        labels: &LabelSelector,
    ) -> Result<Option<ListPage>, ApiError> {
        let Some(cacher) = &self.cacher else { return Ok(None) };
        let rv = opts.resource_version.as_deref().unwrap_or("");
        let exact = opts.resource_version_match.as_deref() == Some("Exact");
        if opts.continue_token.is_some() || exact || (opts.limit > 0 && rv != "0") {
            return Ok(None);
        }
        let (consistent, min_rv) = match rv {
            "" => (true, 0),
            "0" => (false, 0),
            v => (false, parse_rv(v)?),
        };
        let cache = cacher.get(&resource.prefix());
        let filter = cache_filter(resource, terms, labels);
        let list = match cache.list(cacher.storage(), consistent, min_rv, prefix, &*filter).await {
            Ok(l) => l,
            Err(e @ CacheError::TooLarge { .. }) if !consistent => return Err(e.to_api()),
            Err(_) => return Ok(None),
        };
        Ok(Some(ListPage {
            kind: resource.list_kind(),
            api_version: resource.api_version(),
            metadata: json!({"resourceVersion": list.rv.to_string()}),
            items: list.items.into_iter().map(ListItem::Cached).collect(),
            convert: crate::wire::Conversion::of(resource),
        }))
    }

    pub async fn update(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        self.update_as(resource, Target::Main, ns, name, body, ctx).await
    }

    /// An update of the main resource or of its status subresource.
    pub async fn update_as(
        &self,
        resource: &Resource,
        target: Target,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        let obj = decode_body(resource, ns, body, ctx)?;
        let body_name = name_of(&obj).to_string();
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let precondition = match obj["metadata"]["resourceVersion"].as_str() {
            Some(rv) if !rv.is_empty() => Some(parse_rv(rv).map_err(|_| {
                invalid(
                    resource,
                    name,
                    &[FieldError::invalid("metadata.resourceVersion", rv, "must be a valid resource version")],
                )
            })?),
            _ => None,
        };
        let key = resource.key(ns, name);
        for _ in 0..UPDATE_RETRIES {
            let current = self.storage.get(key.as_bytes()).await.map_err(|e| storage_error(resource, name, e))?;
            let Some(current) = current else { return Err(not_found(resource, name)) };
            if precondition.is_some_and(|rv| rv != current.mod_revision) {
                return Err(conflict(resource, name));
            }
            let old = decode_stored(resource, &current.value)?;
            let mut new = obj.clone();
            let meta = new["metadata"].as_object_mut().expect("metadata is an object");
            // Set by the server only: kept from the stored object whatever the body says.
            for f in ["uid", "creationTimestamp", "generateName", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                match old["metadata"].get(f) {
                    Some(v) => meta.insert(f.into(), v.clone()),
                    None => meta.shift_remove(f),
                };
            }
            meta.shift_remove("resourceVersion");
            match target {
                Target::Main if resource.has(Subresource::Status) => match old.get("status") {
                    Some(st) => new["status"] = st.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.shift_remove("status"));
                    }
                },
                Target::Main | Target::System => {}
                Target::Status => {
                    // Only the status changes through the status subresource; the metadata
                    // stays as stored (upstream's ResetObjectMetaForStatus), but for the
                    // field managers a server-side apply may have recorded.
                    let mut merged = old.clone();
                    if let Some(mf) = new["metadata"].get("managedFields") {
                        merged["metadata"]["managedFields"] = mf.clone();
                    }
                    match new.get("status") {
                        Some(st) => merged["status"] = st.clone(),
                        None => {
                            merged.as_object_mut().map(|m| m.shift_remove("status"));
                        }
                    }
                    new = merged;
                }
            }
            if resource.generation {
                let gen_of = |o: &Value| o["metadata"]["generation"].as_i64().unwrap_or(0);
                let spec_changed = if resource.custom.is_some() && !resource.has(Subresource::Status) {
                    // Without a status subresource every change but metadata counts (upstream).
                    let strip = |o: &Value| {
                        let mut o = o.clone();
                        o.as_object_mut().map(|m| m.shift_remove("metadata"));
                        o
                    };
                    strip(&new) != strip(&old)
                } else {
                    spec_of(&new) != spec_of(&old)
                };
                new["metadata"]["generation"] = json!(gen_of(&old) + i64::from(spec_changed));
            }
            (resource.prepare_for_update)(&mut new, &old);
            let attrs = admission::Attributes {
                resource,
                operation: admission::Operation::Update,
                namespace: ns,
                name: name.to_string(),
                old: Some(&old),
                dry_run: ctx.dry_run,
                subresource: ctx.subresource,
            };
            if target == Target::Main {
                admission::mutate(self, &attrs, &mut new, ctx).await?;
            } else {
                admission::mutate_webhooks(self, &attrs, &mut new, ctx).await?;
            }
            validate(resource, &new, Some(&old))?;
            let errs = if target == Target::System { Vec::new() } else { (resource.validate_update)(&new, &old) };
            if !errs.is_empty() {
                return Err(invalid(resource, name, &errs));
            }
            validate_finalizers_update(resource, &new, &old)?;
            record_fields(resource, target, ctx, Some(&old), &mut new);
            if target == Target::Main && new != old {
                admission::validate(self, &attrs, &new, ctx).await?;
            } else if new != old {
                admission::validate_webhooks(self, &attrs, Some(&new), ctx).await?;
            }
            if let Some(admit) = &ctx.admit
                && new != old
            {
                (admit.0)(new.clone()).await?;
            }
            if new == old || ctx.dry_run {
                // Upstream skips the write of a no-op update and keeps the version.
                return Ok(with_rv(new, current.mod_revision));
            }
            if let Some(reallocate) = resource.reallocate {
                reallocate(&self.storage, &mut new, &old).await?;
            }
            let written =
                self.storage.update(key.as_bytes(), encode_for_storage(resource, &new), current.mod_revision).await;
            if let Some(release) = resource.release {
                // What the update gave up, or (when it failed) what it newly took.
                match &written {
                    Ok(_) => release(&self.storage, &old, Some(&new)).await,
                    Err(_) => release(&self.storage, &new, Some(&old)).await,
                }
            }
            if target == Target::Main {
                admission::updated(self, resource, ns, &old, &new, written.is_ok()).await;
            }
            match written {
                Ok(rev)
                    if is_deleting(&new)
                        && finalizers(&new).is_empty()
                        && new["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
                        && new["spec"]["finalizers"].as_array().is_none_or(Vec::is_empty) =>
                {
                    // The last finalizer is gone from an object being deleted: it goes
                    // now (watchers see the update, then the deletion, as upstream).
                    match self.storage.delete(key.as_bytes(), rev).await {
                        Ok(_) | Err(StorageError::NotFound | StorageError::Conflict) => {}
                        Err(e) => return Err(storage_error(resource, name, e)),
                    }
                    return Ok(with_rv(new, rev));
                }
                Ok(rev) => return Ok(with_rv(new, rev)),
                Err(StorageError::Conflict) if precondition.is_none() => continue,
                Err(e) => return Err(storage_error(resource, name, e)),
            }
        }
        Err(conflict(resource, name))
    }

    /// PATCH in one of the three formats (`media` is the request's media type). The
    /// patched object is written like an update: guarded by the version it was made
    /// from, retried on conflict unless the patch itself names a resourceVersion.
    pub async fn patch(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        media: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        self.patch_as(resource, Target::Main, ns, name, media, body, ctx).await
    }

    /// PATCH of the main resource or of its status subresource.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch_as(
        &self,
        resource: &Resource,
        target: Target,
        ns: Option<&str>,
        name: &str,
        media: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        if resource.custom.is_some() && media == "application/strategic-merge-patch+json" {
            return Err(custom_patch_media_type());
        }
        if media == "application/apply-patch+yaml" {
            return self.apply(resource, target, ns, name, body, ctx).await;
        }
        if ctx.force.is_some() {
            let err = FieldError::forbidden("force", "may not be specified for non-apply patch");
            return Err(ApiError::invalid("PatchOptions.meta.k8s.io", "", &[err]));
        }
        let patch: Value =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let pinned = patch["metadata"]["resourceVersion"].as_str().is_some_and(|s| !s.is_empty());
        for _ in 0..UPDATE_RETRIES {
            let current = self.get(resource, ns, name).await?;
            let patched = patched(&current, media, &patch, crate::openapi::patch_table(resource))?;
            let body = serde_json::to_vec(&patched).unwrap_or_default();
            match self.update_as(resource, target, ns, name, &body, ctx).await {
                Err(e) if e.reason == "Conflict" && !pinned => continue,
                r => return r,
            }
        }
        Err(conflict(resource, name))
    }

    /// Server-side apply: merges the applied configuration (YAML or JSON) into the live
    /// object, or creates it, with field ownership and conflicts (`managedfields`).
    async fn apply(
        &self,
        resource: &Resource,
        target: Target,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        let text =
            std::str::from_utf8(body).map_err(|_| ApiError::bad_request("error decoding YAML: invalid UTF-8"))?;
        let applied: Value =
            serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        if !applied.is_object() {
            return Err(ApiError::bad_request("error decoding YAML: the applied configuration must be an object"));
        }
        let (kind, api_version) =
            (applied["kind"].as_str().unwrap_or(""), applied["apiVersion"].as_str().unwrap_or(""));
        if kind != resource.kind || api_version != resource.api_version() {
            return Err(ApiError::bad_request(format!(
                "invalid object type: {}",
                if kind.is_empty() { "/, Kind=".to_string() } else { format!("{api_version}, Kind={kind}") }
            )));
        }
        if applied["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                applied["metadata"]["name"].as_str().unwrap_or_default()
            )));
        }
        let Some(manager) = ctx.field_manager.clone().filter(|m| !m.is_empty()) else {
            let err = FieldError::required("fieldManager", "is required for apply patch");
            return Err(ApiError::invalid("PatchOptions.meta.k8s.io", "", &[err]));
        };
        let w = ownership(resource, target, manager);
        let force = ctx.force.unwrap_or(false);
        ctx.applying = true;
        for _ in 0..UPDATE_RETRIES {
            match self.get(resource, ns, name).await {
                Ok(live) => {
                    let mut out = crate::managedfields::apply(&w, Some(&live), &applied, force)?;
                    out["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
                    let bytes = serde_json::to_vec(&out).unwrap_or_default();
                    match self.update_as(resource, target, ns, name, &bytes, ctx).await {
                        Err(e)
                            if e.reason == "Conflict"
                                && e.details.as_ref().is_none_or(|d| d.get("causes").is_none()) =>
                        {
                            continue;
                        }
                        r => return r,
                    }
                }
                Err(e) if e.code == 404 && target == Target::Main => {
                    let mut out = crate::managedfields::apply(&w, None, &applied, force)?;
                    out["metadata"]["name"] = json!(name);
                    let bytes = serde_json::to_vec(&out).unwrap_or_default();
                    return self.create(resource, ns, &bytes, ctx).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(conflict(resource, name))
    }

    pub async fn delete(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        if resource.name == "namespaces" && ["default", "kube-system", "kube-public"].contains(&name) {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
                details: Some(json!({"name": name, "kind": "namespaces"})),
            });
        }
        let opts = delete_options(body, ctx)?;
        let webhook_options = opts.to_json(ctx.dry_run || opts.dry_run);
        let (pre_rv, pre_uid) = (opts.resource_version, opts.uid);
        let dry_run = ctx.dry_run || opts.dry_run;
        let requested_grace = opts.grace_period_seconds.or(ctx.grace_period_seconds);
        let attrs = admission::Attributes {
            resource,
            operation: admission::Operation::Delete,
            namespace: ns,
            name: name.to_string(),
            old: None,
            dry_run,
            subresource: ctx.subresource,
        };
        admission::delete(self, &attrs, webhook_options.clone(), true, ctx).await?;
        let key = resource.key(ns, name);
        for _ in 0..UPDATE_RETRIES {
            let current = self.storage.get(key.as_bytes()).await.map_err(|e| storage_error(resource, name, e))?;
            let Some(current) = current else { return Err(not_found(resource, name)) };
            let mut old = decode_stored(resource, &current.value)?;
            let stored = with_rv(old.clone(), current.mod_revision);
            let attrs = admission::Attributes { old: Some(&stored), name: name.to_string(), ..attrs };
            admission::delete(self, &attrs, webhook_options.clone(), false, ctx).await?;
            if let Some(prepare) = resource.prepare_for_delete
                && !is_deleting(&old)
            {
                prepare(&mut old);
            }
            let uid = old["metadata"]["uid"].as_str().unwrap_or("").to_string();
            if let Some(want) = &pre_uid
                && *want != uid
            {
                return Err(precondition_failed(resource, name, "UID", want, &uid));
            }
            if let Some(want) = &pre_rv
                && *want != current.mod_revision.to_string()
            {
                return Err(precondition_failed(
                    resource,
                    name,
                    "ResourceVersion",
                    want,
                    &current.mod_revision.to_string(),
                ));
            }
            // The garbage collector's finalizers ask it to orphan or delete the dependents first.
            let gc_changed = match gc_finalizers(resource, &old, opts.orphan_dependents, opts.propagation.as_deref()) {
                Some(list) if resource.name != "namespaces" => {
                    old["metadata"]["finalizers"] = json!(list);
                    true
                }
                _ => false,
            };
            if resource.name == "namespaces" {
                // Namespace lifecycle: Terminating first, its contents go, then itself.
                if is_deleting(&old) {
                    return Ok(with_rv(old, current.mod_revision));
                }
                let mut marked = old.clone();
                marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                marked["status"]["phase"] = json!("Terminating");
                if dry_run {
                    return Ok(with_rv(marked, current.mod_revision));
                }
                match self
                    .storage
                    .update(key.as_bytes(), encode_for_storage(resource, &marked), current.mod_revision)
                    .await
                {
                    Ok(rev) => {
                        let this = self.clone();
                        let ns = name.to_string();
                        tokio::spawn(async move { this.finalize_namespace(&ns).await });
                        return Ok(with_rv(marked, rev));
                    }
                    Err(StorageError::Conflict) => continue,
                    Err(e) => return Err(storage_error(resource, name, e)),
                }
            }
            if let Some(grace_of) = resource.graceful_delete {
                // Graceful deletion (pods): the object stays, marked with when it goes,
                // until its grace period is over or a shorter one is asked for.
                let grace = grace_of(&old, requested_grace).max(0);
                let current_grace = old["metadata"]["deletionGracePeriodSeconds"].as_i64();
                let shorter = current_grace.is_none_or(|g| grace < g);
                if (grace > 0 || (is_deleting(&old) && !finalizers(&old).is_empty())) && shorter {
                    let mut marked = old.clone();
                    let at = crate::registry::unix_now() + grace;
                    let ts = k8s_openapi::jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
                    marked["metadata"]["deletionTimestamp"] = json!(ts);
                    marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                    if dry_run {
                        return Ok(with_rv(marked, current.mod_revision));
                    }
                    let bytes = encode_for_storage(resource, &marked);
                    match self.storage.update(key.as_bytes(), bytes, current.mod_revision).await {
                        Ok(rev) => return Ok(with_rv(marked, rev)),
                        Err(StorageError::Conflict) => continue,
                        Err(e) => return Err(storage_error(resource, name, e)),
                    }
                }
                if is_deleting(&old) && (grace > 0 || !finalizers(&old).is_empty()) {
                    return Ok(with_rv(old, current.mod_revision));
                }
                // Grace 0 without finalizers: removed now, below.
            }
            let gracefully_deleting = resource.graceful_delete.is_some() && is_deleting(&old);
            if !finalizers(&old).is_empty() && !gracefully_deleting {
                // Finalizers hold the object: mark it as being deleted and return it.
                if is_deleting(&old) && !gc_changed {
                    return Ok(with_rv(old, current.mod_revision));
                }
                let mut marked = old.clone();
                if !is_deleting(&old) {
                    marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
                    marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                }
                if dry_run {
                    return Ok(with_rv(marked, current.mod_revision));
                }
                match self
                    .storage
                    .update(key.as_bytes(), encode_for_storage(resource, &marked), current.mod_revision)
                    .await
                {
                    Ok(rev) => return Ok(with_rv(marked, rev)),
                    Err(StorageError::Conflict) => continue,
                    Err(e) => return Err(storage_error(resource, name, e)),
                }
            }
            let deleted = if dry_run {
                Ok(current.mod_revision)
            } else {
                self.storage.delete(key.as_bytes(), current.mod_revision).await
            };
            match deleted {
                Ok(_) => {
                    if let Some(release) = resource.release
                        && !dry_run
                    {
                        release(&self.storage, &old, None).await;
                    }
                    if !dry_run {
                        // No quota controller recomputes usage: the object's goes back now.
                        admission::release(self, resource, ns, &old).await;
                    }
                    return Ok(json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": details(resource, name, &uid),
                    }));
                }
                Err(StorageError::Conflict) => continue,
                Err(e) => return Err(storage_error(resource, name, e)),
            }
        }
        Err(conflict(resource, name))
    }

    /// Until namespace finalization (Terminating, the namespace controller) exists, a
    /// deleted namespace takes its objects with it at once.
    async fn delete_namespace_contents(&self, ns: &str) {
        for r in registry::all().filter(|r| r.namespaced && r.verbs.contains(&"list")) {
            if let Some(release) = r.release {
                // What the objects hold in shared ranges (service IPs, node ports) goes back.
                let list = self.list(r, Some(ns), &ListOptions::default()).await;
                for item in list.iter().flat_map(|l| l["items"].as_array().cloned().unwrap_or_default()) {
                    release(&self.storage, &item, None).await;
                }
            }
            if let Err(e) = self.storage.delete_prefix(r.namespace_prefix(ns).as_bytes()).await {
                tracing::warn!(error = %e, namespace = ns, resource = r.name, "deleting namespace contents failed");
            }
        }
    }

    /// Watches from `opts.resourceVersion` ("" or "0": the current state first, as
    /// ADDED events). Yields upstream watch events as JSON objects.
    pub async fn watch(
        &self,
        resource: &'static Resource,
        ns: Option<String>,
        opts: &ListOptions,
    ) -> Result<crate::cache::WatchStream, ApiError> {
        let labels = parse_label_selector(opts)?;
        let terms = parse_field_selector(resource, opts.field_selector.as_deref().unwrap_or(""))?;
        let prefix = match &ns {
            Some(ns) if resource.namespaced => resource.namespace_prefix(ns),
            _ => resource.prefix(),
        };
        let rv = opts.resource_version.as_deref().unwrap_or("");
        validate_list_options(opts)?;
        let legacy_initial = opts.send_initial_events.is_none() && (rv.is_empty() || rv == "0");
        let timeout = Duration::from_secs(opts.timeout_seconds.unwrap_or(1800));
        if let Some(cacher) = &self.cacher {
            let start = if legacy_initial || opts.send_initial_events == Some(true) {
                let min_rv = if rv.is_empty() || rv == "0" { 0 } else { parse_rv(rv)? };
                WatchStart::InitialEvents {
                    consistent: rv.is_empty(),
                    min_rv,
                    end_bookmark: opts.send_initial_events == Some(true),
                }
            } else if rv.is_empty() || rv == "0" {
                WatchStart::Now
            } else {
                WatchStart::From(parse_rv(rv)?)
            };
            let params = WatchParams {
                start,
                key_prefix: prefix.clone(),
                filter: cache_filter(resource, &terms, &labels),
                bookmarks: opts.allow_watch_bookmarks,
                timeout,
                kind: resource.kind.to_string(),
                api_version: resource.api_version(),
            };
            match cacher.get(&resource.prefix()).watch(cacher.storage(), params).await {
                // Objects in the stored form (or a custom resource's) are converted one
                // event at a time.
                Ok(s) => match crate::wire::Conversion::of(resource) {
                    None => return Ok(s),
                    Some(c) => {
                        return Ok(Box::pin(s.map(move |ev| match ev.kind {
                            "ERROR" | "BOOKMARK" => ev,
                            kind => Event::new(kind, &c.apply(ev.object_value())),
                        })));
                    }
                },
                // Initialising, or not provably current in time: watch storage.
                Err(e) => tracing::debug!(error = ?e, resource = resource.name, "watch served from storage"),
            }
        }
        let (initial, from) = if legacy_initial || opts.send_initial_events == Some(true) {
            let list_opts = ListOptions {
                field_selector: opts.field_selector.clone(),
                label_selector: opts.label_selector.clone(),
                ..Default::default()
            };
            let list = self.list(resource, ns.as_deref(), &list_opts).await?;
            let list_rv = parse_rv(list["metadata"]["resourceVersion"].as_str().unwrap_or("0"))?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let mut initial: Vec<Event> = items
                .into_iter()
                .map(|o| {
                    let mut ordered = Map::new();
                    ordered.insert("kind".into(), json!(resource.kind));
                    ordered.insert("apiVersion".into(), json!(resource.api_version()));
                    if let Some(m) = o.as_object() {
                        ordered.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    Event::new("ADDED", &Value::Object(ordered))
                })
                .collect();
            if opts.send_initial_events == Some(true) {
                initial.push(Event::new(
                    "BOOKMARK",
                    &json!({
                        "kind": resource.kind,
                        "apiVersion": resource.api_version(),
                        "metadata": {
                            "resourceVersion": list_rv.to_string(),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    }),
                ));
            }
            (initial, list_rv)
        } else if rv.is_empty() || rv == "0" {
            // sendInitialEvents=false without a version: from now on.
            let now = self.list(resource, ns.as_deref(), &ListOptions { limit: 1, ..Default::default() }).await?;
            (Vec::new(), parse_rv(now["metadata"]["resourceVersion"].as_str().unwrap_or("0"))?)
        } else {
            (Vec::new(), parse_rv(rv)?)
        };
        let events = match self.storage.watch(prefix.as_bytes(), from + 1).await {
            Ok(s) => s,
            Err(e) => return Err(storage_error(resource, "", e)),
        };
        let translated = events.filter_map(move |ev| {
            let terms = terms.clone();
            let labels = labels.clone();
            async move {
                let (kind, obj) = match ev {
                    Ok(WatchEvent::Put { kv, created }) => {
                        let obj = decode_stored(resource, &kv.value).ok()?;
                        (if created { "ADDED" } else { "MODIFIED" }, with_rv(obj, kv.mod_revision))
                    }
                    Ok(WatchEvent::Delete { prev, mod_revision, .. }) => {
                        let obj = decode_stored(resource, &prev?).ok()?;
                        ("DELETED", with_rv(obj, mod_revision))
                    }
                    Err(StorageError::Compacted { requested, current }) => {
                        let status = ApiError::gone(format!("too old resource version: {} ({current})", requested - 1));
                        return Some(Event::new("ERROR", &status.to_status()));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "watch ended");
                        return None;
                    }
                };
                if !fields_match(&terms, &obj) || !labels.matches(&obj) {
                    return None;
                }
                Some(Event::new(kind, &obj))
            }
        });
        let stream = futures::stream::iter(initial).chain(translated);
        Ok(Box::pin(take_until_timeout(stream, timeout)))
    }

    /// DELETE on a collection: deletes what the selectors match, one object at a time;
    /// returns the deleted objects as a list, like upstream.
    pub async fn delete_collection(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        opts: &ListOptions,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        // The DeleteOptions body holds for every object; bad options fail before any goes.
        delete_options(body, ctx)?;
        let list = self.list(resource, ns, &ListOptions { limit: 0, continue_token: None, ..opts.clone() }).await?;
        let mut deleted = Vec::new();
        for obj in list["items"].as_array().into_iter().flatten() {
            let name = name_of(obj);
            let obj_ns = obj["metadata"]["namespace"].as_str();
            match self.delete(resource, obj_ns, name, body, ctx).await {
                Ok(_) => deleted.push(obj.clone()),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": resource.list_kind(),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": list["metadata"]["resourceVersion"].clone()},
            "items": deleted,
        }))
    }
}

/// Custom resources take no strategic merge patch (upstream's 415 for them).
pub fn custom_patch_media_type() -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
        details: None,
    }
}

/// `current` with a patch in one of the three formats (`media`) applied.
pub fn patched(
    current: &Value,
    media: &str,
    patch: &Value,
    table: crate::patch::PatchTable,
) -> Result<Value, ApiError> {
    match media {
        "application/merge-patch+json" => {
            let mut t = current.clone();
            crate::patch::merge_patch(&mut t, patch);
            Ok(t)
        }
        "application/json-patch+json" => crate::patch::json_patch(current, patch).map_err(|e| {
            ApiError::unprocessable(format!("the server rejected our request due to an error in our request: {e}"))
        }),
        "application/strategic-merge-patch+json" => {
            crate::patch::strategic_merge_patch(current, patch, table).map_err(ApiError::bad_request)
        }
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
            "application/strategic-merge-patch+json",
        ])),
    }
}

/// The details of a successful delete's `Status`.
fn details(resource: &Resource, name: &str, uid: &str) -> Value {
    if resource.group.is_empty() {
        json!({"name": name, "kind": resource.name, "uid": uid})
    } else {
        json!({"name": name, "group": resource.group, "kind": resource.name, "uid": uid})
    }
}

/// Upstream's `ValidateListOptions` (and `validateWatchOptions` for watches): how
/// resourceVersionMatch, continue and sendInitialEvents may combine.
fn validate_list_options(opts: &ListOptions) -> Result<(), ApiError> {
    const RVM: &str = "resourceVersionMatch";
    let mut errs = Vec::new();
    let rv = opts.resource_version.as_deref().unwrap_or("");
    let m = opts.resource_version_match.as_deref().unwrap_or("");
    let has_continue = opts.continue_token.is_some();
    if opts.watch {
        if let Some(send) = opts.send_initial_events {
            if m != "NotOlderThan" {
                errs.push(FieldError::forbidden(
                    RVM,
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if send && !opts.allow_watch_bookmarks {
                errs.push(FieldError::required(
                    "allowWatchBookmarks",
                    "sendInitialEvents requires setting allowWatchBookmarks to true",
                ));
            }
        }
        if !m.is_empty() {
            if opts.send_initial_events.is_none() {
                errs.push(FieldError::forbidden(
                    RVM,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if m != "NotOlderThan" {
                errs.push(FieldError::not_supported(RVM, m, &["NotOlderThan"]));
            }
            if has_continue {
                errs.push(FieldError::forbidden(RVM, "resourceVersionMatch is forbidden when continue is provided"));
            }
        }
    } else {
        if !m.is_empty() {
            if rv.is_empty() {
                errs.push(FieldError::forbidden(
                    RVM,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if has_continue {
                errs.push(FieldError::forbidden(RVM, "resourceVersionMatch is forbidden when continue is provided"));
            }
            if m != "Exact" && m != "NotOlderThan" {
                errs.push(FieldError::not_supported(RVM, m, &["Exact", "NotOlderThan", ""]));
            }
            if m == "Exact" && rv == "0" {
                errs.push(FieldError::forbidden(
                    RVM,
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if opts.send_initial_events.is_some() {
            errs.push(FieldError::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
        }
    }
    if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid("ListOptions.meta.k8s.io", "", &errs)) }
}

fn parse_label_selector(opts: &ListOptions) -> Result<LabelSelector, ApiError> {
    LabelSelector::parse(opts.label_selector.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))
}

fn take_until_timeout<S: Stream<Item = Event> + Send + 'static>(
    s: S,
    timeout: Duration,
) -> impl Stream<Item = Event> + Send + 'static {
    let deadline = tokio::time::sleep(timeout);
    s.take_until(deadline)
}

fn precondition_failed(resource: &Resource, name: &str, what: &str, want: &str, have: &str) -> ApiError {
    ApiError {
        code: 409,
        reason: "Conflict",
        message: format!(
            "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {what} in precondition: {want}, {what} in object meta: {have}",
            resource.name
        ),
        details: Some(json!({"name": name, "kind": resource.name})),
    }
}

fn finalizers(obj: &Value) -> Vec<&str> {
    obj["metadata"]["finalizers"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

pub(crate) fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// Upstream's `ValidateObjectMetaUpdate` rule: no new finalizers once deletion started.
fn validate_finalizers_update(resource: &Resource, new: &Value, old: &Value) -> Result<(), ApiError> {
    if !is_deleting(old) {
        return Ok(());
    }
    let before = finalizers(old);
    let added: Vec<&str> = finalizers(new).into_iter().filter(|f| !before.contains(f)).collect();
    if added.is_empty() {
        return Ok(());
    }
    let list = added.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ");
    let err = FieldError {
        reason: "FieldValueForbidden",
        field: "metadata.finalizers".into(),
        message: format!(
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{list}}}"
        ),
    };
    Err(invalid(resource, name_of(new), &[err]))
}

/// DeleteOptions of a DELETE: the body's, else the query's.
struct DeleteOptions {
    resource_version: Option<String>,
    uid: Option<String>,
    dry_run: bool,
    grace_period_seconds: Option<i64>,
    orphan_dependents: Option<bool>,
    propagation: Option<String>,
}

impl DeleteOptions {
    /// meta.k8s.io/v1 `DeleteOptions`, as admission webhooks are sent them.
    fn to_json(&self, dry_run: bool) -> Value {
        let mut o = json!({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"});
        if let Some(g) = self.grace_period_seconds {
            o["gracePeriodSeconds"] = json!(g);
        }
        let mut pre = Map::new();
        if let Some(uid) = &self.uid {
            pre.insert("uid".into(), json!(uid));
        }
        if let Some(rv) = &self.resource_version {
            pre.insert("resourceVersion".into(), json!(rv));
        }
        if !pre.is_empty() {
            o["preconditions"] = Value::Object(pre);
        }
        if let Some(orphan) = self.orphan_dependents {
            o["orphanDependents"] = json!(orphan);
        }
        if let Some(p) = &self.propagation {
            o["propagationPolicy"] = json!(p);
        }
        if dry_run {
            o["dryRun"] = json!(["All"]);
        }
        o
    }
}

fn delete_options(body: &[u8], ctx: &WriteContext) -> Result<DeleteOptions, ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?
    };
    let p = &v["preconditions"];
    let opts = DeleteOptions {
        resource_version: p["resourceVersion"].as_str().map(String::from),
        uid: p["uid"].as_str().map(String::from),
        dry_run: v["dryRun"].as_array().is_some_and(|a| a.iter().any(|d| d == "All")),
        grace_period_seconds: v["gracePeriodSeconds"].as_i64(),
        orphan_dependents: v["orphanDependents"].as_bool().or(ctx.orphan_dependents),
        propagation: v["propagationPolicy"].as_str().map(String::from).or_else(|| ctx.propagation_policy.clone()),
    };
    // Upstream's ValidateDeleteOptions.
    let mut errors = Vec::new();
    if let (Some(_), Some(policy)) = (opts.orphan_dependents, &opts.propagation) {
        errors.push(FieldError::invalid(
            "propagationPolicy",
            policy,
            "orphanDependents and deletionPropagation cannot be both set",
        ));
    }
    if let Some(policy) = &opts.propagation
        && !["Foreground", "Background", "Orphan"].contains(&policy.as_str())
    {
        errors.push(FieldError::not_supported(
            "propagationPolicy",
            policy,
            &["Foreground", "Background", "Orphan", "nil"],
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid("DeleteOptions.meta.k8s.io", "", &errors));
    }
    Ok(opts)
}

/// Upstream's `deletionFinalizersForGarbageCollection`: the object's finalizers with
/// `orphan` / `foregroundDeletion` as the delete asks (an explicit option, else the
/// finalizer already there, else the resource's default), or None when unchanged.
fn gc_finalizers(resource: &Resource, obj: &Value, orphan: Option<bool>, policy: Option<&str>) -> Option<Vec<String>> {
    const ORPHAN: &str = "orphan";
    const FOREGROUND: &str = "foregroundDeletion";
    let current = finalizers(obj);
    let should_orphan = match (orphan, policy) {
        (Some(o), _) => o,
        (None, Some(p)) => p == "Orphan",
        _ if current.contains(&ORPHAN) => true,
        _ if current.contains(&FOREGROUND) => false,
        // Kept for backwards compatibility: v1 ReplicationControllers and batch/v1 Jobs orphan.
        _ => {
            (resource.group, resource.name) == ("", "replicationcontrollers")
                || (resource.group, resource.name) == ("batch", "jobs")
        }
    };
    let should_foreground = match (orphan, policy) {
        (Some(_), _) => false,
        (None, Some(p)) => p == "Foreground",
        _ => current.contains(&FOREGROUND),
    };
    let mut list: Vec<String> =
        current.iter().filter(|f| **f != ORPHAN && **f != FOREGROUND).map(|f| f.to_string()).collect();
    if should_orphan {
        list.push(ORPHAN.into());
    }
    if should_foreground {
        list.push(FOREGROUND.into());
    }
    let before: std::collections::BTreeSet<&str> = current.iter().copied().collect();
    let after: std::collections::BTreeSet<&str> = list.iter().map(String::as_str).collect();
    (before != after).then_some(list)
}

fn parse_rv(rv: &str) -> Result<i64, ApiError> {
    rv.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
        ApiError::bad_request(format!("Invalid value: \"{rv}\": resourceVersion must be a valid integer"))
    })
}

/// Upstream's continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`.
fn encode_continue(rv: i64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad());
    }
    let rv = v["rv"].as_i64().filter(|r| *r > 0).ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "default/x\u{0}");
        assert_eq!(decode_continue(&t).unwrap(), (42, "default/x\u{0}".to_string()));
        assert!(decode_continue("garbage!").is_err());
    }

    #[test]
    fn query_decoding() {
        let o =
            ListOptions::parse(Some("watch=true&resourceVersion=12&fieldSelector=metadata.name%3Dx&limit=5")).unwrap();
        assert!(o.watch);
        assert_eq!(o.resource_version.as_deref(), Some("12"));
        assert_eq!(o.field_selector.as_deref(), Some("metadata.name=x"));
        assert_eq!(o.limit, 5);
        assert_eq!(percent_decode("a%2"), "a%2");
        let o = ListOptions::parse(Some("watch=True&allowWatchBookmarks=T&sendInitialEvents=False")).unwrap();
        assert!(o.watch && o.allow_watch_bookmarks);
        assert_eq!(o.send_initial_events, Some(false));
        let e = ListOptions::parse(Some("watch=yes")).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (400, "strconv.ParseBool: parsing \"yes\": invalid syntax"));
        assert_eq!(percent_decode("a%20b+c"), "a b c");
    }

    #[test]
    fn list_options_validation_follows_upstream() {
        let check =
            |q: &str| ListOptions::parse(Some(q)).and_then(|o| validate_list_options(&o)).err().map(|e| e.message);
        assert_eq!(check("resourceVersion=5&resourceVersionMatch=Exact"), None);
        assert_eq!(
            check("watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=1"),
            None
        );
        assert_eq!(
            check("resourceVersionMatch=Exact").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#
            )
        );
        assert_eq!(
            check("resourceVersion=0&resourceVersionMatch=Exact").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#
            )
        );
        assert_eq!(
            check("resourceVersion=1&resourceVersionMatch=Newest").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", """#
            )
        );
        assert_eq!(
            check("sendInitialEvents=true").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"#
            )
        );
        assert_eq!(
            check("watch=1&resourceVersion=3&resourceVersionMatch=NotOlderThan").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#
            )
        );
        assert_eq!(
            check("watch=1&sendInitialEvents=false").as_deref(),
            Some(
                r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#
            )
        );
    }

    #[test]
    fn field_selectors() {
        let cm = registry::find("configmaps").unwrap();
        let terms = parse_field_selector(cm, "metadata.name=x,metadata.namespace!=kube-system").unwrap();
        assert!(fields_match(&terms, &json!({"metadata": {"name": "x", "namespace": "default"}})));
        assert!(!fields_match(&terms, &json!({"metadata": {"name": "x", "namespace": "kube-system"}})));
        let e = parse_field_selector(cm, "spec.foo=x").unwrap_err();
        assert_eq!(
            e.message,
            r#""spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace""#
        );
        let pods = registry::find("pods").unwrap();
        assert_eq!(
            parse_field_selector(pods, "spec.foo=x").unwrap_err().message,
            "field label not supported: spec.foo"
        );
        assert_eq!(parse_field_selector(pods, "spec.nodeName=n1").unwrap().len(), 1);
    }

    #[test]
    fn uids_are_v4() {
        let u = new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, new_uid());
        assert_eq!(generate_name("web-").len(), 9);
    }

    #[test]
    fn bodies_are_checked_against_the_url() {
        let cm = registry::find("configmaps").unwrap();
        let ok = decode_body(
            cm,
            Some("default"),
            br#"{"metadata":{"name":"x"},"data":{"a":"b"}}"#,
            &mut WriteContext::default(),
        )
        .unwrap();
        assert_eq!(ok["kind"], "ConfigMap");
        assert_eq!(ok["metadata"]["namespace"], "default");
        let e = decode_body(
            cm,
            Some("default"),
            br#"{"metadata":{"name":"x","namespace":"other"}}"#,
            &mut WriteContext::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, 400);
        let e = decode_body(cm, Some("default"), br#"{"data":{"a":5}}"#, &mut WriteContext::default()).unwrap_err();
        assert!(e.message.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap"), "{}", e.message);
        let e = decode_body(cm, Some("default"), b"{", &mut WriteContext::default()).unwrap_err();
        assert_eq!(e.reason, "BadRequest");

        // Unknown fields: dropped with a warning by default, refused under Strict.
        let body = br#"{"metadata":{"name":"x","bogus":1},"data":{"a":"b"},"extra":{"y":null}}"#;
        let mut warn = WriteContext::default();
        let obj = decode_body(cm, Some("default"), body, &mut warn).unwrap();
        assert_eq!(warn.warnings, [r#"unknown field "metadata.bogus""#, r#"unknown field "extra""#]);
        assert!(obj.get("extra").is_none() && obj["metadata"].get("bogus").is_none(), "{obj}");
        let mut strict = WriteContext { field_validation: FieldValidation::Strict, ..Default::default() };
        let e = decode_body(cm, Some("default"), body, &mut strict).unwrap_err();
        assert_eq!(
            e.message,
            r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "metadata.bogus", unknown field "extra""#
        );
    }
}
