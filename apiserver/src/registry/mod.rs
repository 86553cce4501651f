//! The resource registry (upstream's `registry` tree): every served group, version and
//! resource, and the per-resource strategies (`rest.RESTCreateStrategy` and friends) the
//! generic REST handlers are driven by. Layout follows the API: `registry/<group>.rs`
//! (or `registry/<group>/<resource>.rs`) holds a group's resources and strategies, and
//! [`GROUPS`] lists the groups in upstream's discovery order. Adding a group is one file
//! plus its line in [`GROUPS`]; adding a resource is one entry in its group's table.

pub mod admissionregistration;
pub mod apiextensions;
pub mod apps;
pub mod batch;
pub mod cluster;
pub mod core;
pub mod custom;
pub mod podspec;
pub mod proto;
pub mod rbac;

use std::fmt::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use futures::future::BoxFuture;

use crate::status::{ApiError, FieldError};
use crate::storage::Storage;

/// How a resource's names are validated (upstream's `ValidateNameFunc`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSLabel` (namespaces, services).
    DnsLabel,
    /// `NameIsDNSSubdomain` (most resources).
    DnsSubdomain,
    /// `ValidatePathSegmentName` (names only need to be usable in a URL path).
    PathSegment,
    /// `NameIsDNS1035Label` (services).
    Dns1035,
}

/// A subresource served by the generic handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `<resource>/status`: updates change only `.status`; the main resource ignores
    /// status changes.
    Status,
    /// `<resource>/scale` as an `autoscaling/v1` `Scale`.
    Scale,
    /// `pods/binding`: assigns a node.
    Binding,
    /// `pods/eviction`: a delete that respects PodDisruptionBudgets.
    Eviction,
    /// `certificatesigningrequests/approval`: only `.status.conditions` change.
    Approval,
    /// `pods/ephemeralcontainers`: only `.spec.ephemeralContainers` change (added to).
    EphemeralContainers,
    /// `namespaces/finalize`: only `.spec.finalizers` change.
    Finalize,
}

impl Subresource {
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Approval => "approval",
            Subresource::EphemeralContainers => "ephemeralcontainers",
            Subresource::Finalize => "finalize",
        }
    }

    pub fn parse(s: &str) -> Option<Subresource> {
        match s {
            "status" => Some(Subresource::Status),
            "scale" => Some(Subresource::Scale),
            "binding" => Some(Subresource::Binding),
            "eviction" => Some(Subresource::Eviction),
            "approval" => Some(Subresource::Approval),
            "ephemeralcontainers" => Some(Subresource::EphemeralContainers),
            "finalize" => Some(Subresource::Finalize),
            _ => None,
        }
    }

    /// (group, version, kind) of what the subresource takes and returns.
    pub fn response_kind(self, r: &Resource) -> (&'static str, &'static str, &'static str) {
        match self {
            Subresource::Status | Subresource::Approval | Subresource::EphemeralContainers | Subresource::Finalize => {
                (r.group, r.version, r.kind)
            }
            Subresource::Scale => ("autoscaling", "v1", "Scale"),
            Subresource::Binding => ("", "v1", "Binding"),
            Subresource::Eviction => ("policy", "v1", "Eviction"),
        }
    }

    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Subresource::Status | Subresource::Scale | Subresource::Approval | Subresource::EphemeralContainers => {
                &["get", "patch", "update"]
            }
            Subresource::Binding | Subresource::Eviction => &["create"],
            Subresource::Finalize => &["update"],
        }
    }
}

/// One column of a resource's Table (`kubectl get`); priority 1 shows with `-o wide`.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

impl Column {
    pub const fn new(name: &'static str, ty: &'static str, description: &'static str) -> Column {
        Column { name, ty, format: "", description, priority: 0 }
    }

    /// A column `kubectl get -o wide` adds.
    pub const fn wide(self) -> Column {
        Column { priority: 1, ..self }
    }

    pub const fn format(self, format: &'static str) -> Column {
        Column { format, ..self }
    }
}

pub const NAME_COLUMN: Column = Column::new(
    "Name",
    "string",
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
)
.format("name");

pub const AGE_COLUMN: Column = Column::new(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
);

/// One REST resource of a group/version.
#[derive(Clone, Copy)]
pub struct Resource {
    /// The API group; empty for the legacy core group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, as in URLs: `configmaps`.
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The etcd path segment (upstream's quirks live here, e.g. `minions` for nodes).
    pub etcd_prefix: &'static str,
    pub name_rule: NameRule,
    /// `metadata.generation` is 1 on create and grows with every spec change.
    pub generation: bool,
    /// With a status subresource: a create still takes the status given (nodes).
    pub keep_status_on_create: bool,
    /// A `Warning` header on every response about this resource (deprecations).
    pub warning: Option<&'static str>,
    /// Field selectors beyond `metadata.name`/`metadata.namespace`: (selector field,
    /// dotted JSON path of its value).
    pub field_selectors: &'static [(&'static str, &'static str)],
    /// Objects stored in another version's shape (events.k8s.io events are core
    /// Events in storage): (API form → stored form, stored form → API form).
    pub storage_form: Option<(Convert, Convert)>,
    /// Decodes the body into the typed object and re-encodes it (dropping unknown
    /// fields); the error is serde's.
    pub decode: fn(&Value) -> Result<Value, String>,
    /// The protobuf schema of the kind (request bodies only).
    pub proto: &'static [crate::protobuf::Field],
    /// Resource-specific validation after metadata checks.
    pub validate: fn(&Value) -> Vec<FieldError>,
    /// Extra checks of an update against the stored object (immutable fields).
    pub validate_update: fn(&Value, &Value) -> Vec<FieldError>,
    /// Defaults and resets on create (status, finalizers, ...).
    pub prepare_for_create: fn(&mut Value),
    /// Defaults and carry-overs on update (given the stored object).
    pub prepare_for_update: fn(&mut Value, &Value),
    /// Table columns (Name included where upstream has it) and their cells.
    pub columns: &'static [Column],
    pub cells: fn(&Value) -> Vec<Value>,
    /// Claims what a new object needs from shared ranges (service IPs, node ports),
    /// after validation and before the write.
    pub allocate: Option<AllocateHook>,
    /// The same for an update (given the stored object).
    pub reallocate: Option<ReallocateHook>,
    /// Gives back what the old object held and the new one (None: deleted) does not.
    pub release: Option<ReleaseHook>,
    /// Graceful deletion: the grace period of a delete given the stored object and the
    /// requested period (0: delete at once).
    pub graceful_delete: Option<fn(&Value, Option<i64>) -> i64>,
    /// On the first DELETE, before finalizers are looked at (CRDs add their cleanup
    /// finalizer and the Terminating condition here).
    pub prepare_for_delete: Option<fn(&mut Value)>,
    /// A custom resource: what its CustomResourceDefinition declares (schema, subresource
    /// paths, printer columns); None for built-in resources.
    pub custom: Option<&'static custom::CustomSpec>,
}

/// A conversion between two shapes of one object.
pub type Convert = fn(Value) -> Value;

pub type AllocateHook = for<'a> fn(&'a Storage, &'a mut Value) -> BoxFuture<'a, Result<(), ApiError>>;
pub type ReallocateHook = for<'a> fn(&'a Storage, &'a mut Value, &'a Value) -> BoxFuture<'a, Result<(), ApiError>>;
pub type ReleaseHook = for<'a> fn(&'a Storage, &'a Value, Option<&'a Value>) -> BoxFuture<'a, ()>;

pub const VERBS_NAMESPACES: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
pub const VERBS_CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// A resource with every optional behaviour off: tables start from it
/// (`Resource { name: .., ..BASE }`).
pub const BASE: Resource = Resource {
    group: "",
    version: "v1",
    name: "",
    singular: "",
    kind: "",
    namespaced: true,
    short_names: &[],
    categories: &[],
    verbs: VERBS_CRUD,
    subresources: &[],
    etcd_prefix: "",
    name_rule: NameRule::DnsSubdomain,
    generation: false,
    keep_status_on_create: false,
    warning: None,
    field_selectors: &[],
    storage_form: None,
    decode: |v| Ok(v.clone()),
    proto: &[],
    validate: |_| Vec::new(),
    validate_update: |_, _| Vec::new(),
    prepare_for_create: |_| {},
    prepare_for_update: |_, _| {},
    columns: &[NAME_COLUMN, AGE_COLUMN],
    cells: |o| vec![o["metadata"]["name"].clone(), json!(age(o))],
    allocate: None,
    reallocate: None,
    release: None,
    graceful_delete: None,
    prepare_for_delete: None,
    custom: None,
};

/// Decoding through the k8s-openapi type `T`: unknown fields are dropped, wrong types refused.
pub fn typed<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    serde_json::from_value::<T>(v.clone()).and_then(serde_json::to_value).map_err(|e| e.to_string())
}

impl Resource {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The resource as errors name it: `pods`, `deployments.apps`.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() { self.name.to_string() } else { format!("{}.{}", self.name, self.group) }
    }

    /// The kind as `Invalid` errors name it: `Pod`, `Deployment.apps`.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() { self.kind.to_string() } else { format!("{}.{}", self.kind, self.group) }
    }

    /// The kind of this resource's lists (`PodList`; a CRD's `listKind`).
    pub fn list_kind(&self) -> String {
        match self.custom {
            Some(c) => c.list_kind.clone(),
            None => format!("{}List", self.kind),
        }
    }

    /// The Table cells of an object (a custom resource's come from its printer columns).
    pub fn row_cells(&self, o: &Value) -> Vec<Value> {
        match self.custom {
            Some(c) => c.cells(o),
            None => (self.cells)(o),
        }
    }

    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// The key prefix holding every object of this resource (trailing slash).
    pub fn prefix(&self) -> String {
        format!("/registry/{}/", self.etcd_prefix)
    }

    /// The key prefix for one namespace (namespaced resources only).
    pub fn namespace_prefix(&self, ns: &str) -> String {
        format!("/registry/{}/{}/", self.etcd_prefix, ns)
    }

    pub fn key(&self, ns: Option<&str>, name: &str) -> String {
        match ns {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/{}", self.etcd_prefix, ns, name),
            _ => format!("/registry/{}/{}", self.etcd_prefix, name),
        }
    }
}

/// One served group version.
pub struct GroupVersion {
    pub version: &'static str,
    pub resources: &'static [Resource],
}

/// One API group; `versions` in preference order (the first is the preferred one).
pub struct Group {
    /// Empty for the legacy core group (served under `/api`).
    pub name: &'static str,
    pub versions: &'static [GroupVersion],
}

/// Every served group, in upstream's discovery order; the core group first.
pub static GROUPS: &[&Group] = &[
    &core::GROUP,
    &apps::GROUP,
    &cluster::EVENTS,
    &rbac::AUTHENTICATION,
    &rbac::AUTHORIZATION,
    &batch::AUTOSCALING,
    &batch::GROUP,
    &cluster::CERTIFICATES,
    &cluster::NETWORKING,
    &cluster::POLICY,
    &rbac::RBAC,
    &cluster::STORAGE,
    &admissionregistration::GROUP,
    &apiextensions::GROUP,
    &cluster::SCHEDULING,
    &cluster::COORDINATION,
    &cluster::NODE,
    &cluster::DISCOVERY,
];

/// Every served group: the built-in [`GROUPS`], then the groups of established
/// CustomResourceDefinitions ([`custom::groups`]), as upstream orders them.
pub fn groups() -> Vec<&'static Group> {
    let mut out: Vec<&'static Group> = GROUPS.to_vec();
    out.extend(custom::groups());
    out
}

/// Every served resource.
pub fn all() -> impl Iterator<Item = &'static Resource> {
    groups().into_iter().flat_map(|g| g.versions.iter()).flat_map(|v| v.resources.iter())
}

/// A named group (None for an unknown one; "" is the core group).
pub fn group(name: &str) -> Option<&'static Group> {
    groups().into_iter().find(|g| g.name == name)
}

/// A resource of a group version.
pub fn lookup(group: &str, version: &str, name: &str) -> Option<&'static Resource> {
    all().find(|r| r.group == group && r.version == version && r.name == name)
}

/// A core/v1 resource.
pub fn find(name: &str) -> Option<&'static Resource> {
    lookup("", "v1", name)
}

/// A resource by kind, any group version.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    all().find(|r| r.group == group && r.kind == kind)
}

/// One object the apiserver keeps.
pub struct Bootstrap {
    pub resource: &'static Resource,
    pub namespace: Option<&'static str>,
    pub body: Value,
    /// Rewritten when it differs (the `kubernetes` endpoints follow this apiserver);
    /// otherwise only created when missing.
    pub reconcile: bool,
}

/// Objects the apiserver creates at start: the system priority classes, and the
/// `kubernetes` service with its endpoints pointing at `address:port`.
pub fn bootstrap_objects(address: std::net::IpAddr, port: u16) -> Vec<Bootstrap> {
    let pc = lookup("scheduling.k8s.io", "v1", "priorityclasses").expect("priorityclasses are registered");
    let mut out: Vec<Bootstrap> = cluster::SYSTEM_PRIORITY_CLASSES
        .iter()
        .map(|(name, value, description)| {
            let body = json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
            });
            Bootstrap { resource: pc, namespace: None, body, reconcile: false }
        })
        .collect();
    for (group, name, body) in core::services::kubernetes_objects(address, port) {
        let resource = all().find(|r| r.group == group && r.name == name).expect("registered");
        let namespace = if resource.namespaced { Some("default") } else { None };
        out.push(Bootstrap { resource, namespace, body, reconcile: name != "services" && name != "servicecidrs" });
    }
    out
}

/// The value of a dotted JSON path as a field selector sees it ("" when absent;
/// booleans and numbers as text).
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut v = obj;
    for p in path.split('.') {
        v = &v[p];
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Booleans read as their zero value when unset (pods' spec.hostNetwork).
        Value::Null if path.ends_with("hostNetwork") || path.ends_with("unschedulable") => "false".into(),
        _ => String::new(),
    }
}

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_ERR: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// apimachinery's `RegexError`: the message, examples and the regex.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = msg.to_string();
    if examples.is_empty() {
        let _ = write!(out, " (regex used for validation is '{fmt}')");
        return out;
    }
    out.push_str(" (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        let _ = write!(out, "'{e}', ");
    }
    let _ = write!(out, "regex used for validation is '{fmt}')");
    out
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && alnum(&b[0]) && alnum(&b[b.len() - 1]) && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// `IsDNS1123Label`: the error details (empty when valid).
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_label(s) {
        errs.push(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
    }
    errs
}

/// `IsDNS1123Subdomain`: the error details (empty when valid).
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if s.is_empty() || !s.split('.').all(is_label) {
        let fmt = format!("{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*");
        errs.push(regex_error(DNS1123_SUBDOMAIN_ERR, &fmt, &["example.com"]));
    }
    errs
}

/// `ValidateObjectMeta`'s name checks for a resource's rule.
pub fn validate_name(rule: NameRule, name: &str) -> Vec<FieldError> {
    name_details(rule, name).iter().map(|d| FieldError::invalid("metadata.name", name, d)).collect()
}

fn name_details(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::DnsLabel => dns1123_label(name),
        NameRule::DnsSubdomain => dns1123_subdomain(name),
        NameRule::PathSegment => path_segment(name),
        NameRule::Dns1035 => dns1035_label(name),
    }
}

/// `metadata.generateName` checked as a name prefix (upstream's `maskTrailingDash`: a
/// final dash, which the generated suffix follows, is read as a letter).
pub fn validate_generate_name(rule: NameRule, prefix: &str) -> Vec<FieldError> {
    let masked = if prefix.len() > 1 && prefix.ends_with('-') {
        format!("{}a", &prefix[..prefix.len() - 2])
    } else {
        prefix.to_string()
    };
    name_details(rule, &masked).iter().map(|d| FieldError::invalid("metadata.generateName", prefix, d)).collect()
}

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn is_qualified_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

/// `IsQualifiedName`: the error details (empty when valid).
pub fn qualified_name(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            let msg = regex_error(
                &format!("a qualified name {QUALIFIED_NAME_ERR}"),
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            return vec![format!("{msg} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")];
        }
    };
    let mut errs = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else {
            errs.extend(dns1123_subdomain(p).into_iter().map(|m| format!("prefix part {m}")));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_qualified_part(name) {
        errs.push(regex_error(
            &format!("name part {QUALIFIED_NAME_ERR}"),
            QUALIFIED_NAME_FMT,
            &["MyName", "my.name", "123-abc"],
        ));
    }
    errs
}

/// `IsValidLabelValue`: the error details (empty when valid).
pub fn label_value(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !v.is_empty() && !is_qualified_part(v) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?",
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `ValidateLabels` and `ValidateAnnotations` of an object's metadata.
pub fn validate_labels_and_annotations(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in o["metadata"]["labels"].as_object().into_iter().flatten() {
        for m in qualified_name(k) {
            errs.push(FieldError::invalid("metadata.labels", k, &m));
        }
        let v = v.as_str().unwrap_or_default();
        for m in label_value(v) {
            errs.push(FieldError::invalid("metadata.labels", v, &m));
        }
    }
    let mut total = 0;
    for (k, v) in o["metadata"]["annotations"].as_object().into_iter().flatten() {
        for m in qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid("metadata.annotations", k, &m));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > 256 * 1024 {
        errs.push(FieldError {
            reason: "FieldValueTooLong",
            field: "metadata.annotations".into(),
            message: "metadata.annotations: Too long: must have at most 262144 bytes".into(),
        });
    }
    errs
}

/// `IsDNS1035Label`: the error details (empty when valid).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !is_label(s) || !s.as_bytes()[0].is_ascii_lowercase() {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            "[a-z]([-a-z0-9]*[a-z0-9])?",
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `path.IsValidPathSegmentName`.
pub fn path_segment(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    let mut errs = Vec::new();
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// The object's age as `kubectl get` shows it (upstream's `HumanDuration`).
pub fn age(o: &Value) -> String {
    let Some(ts) = o["metadata"]["creationTimestamp"].as_str() else { return "<unknown>".into() };
    let Ok(created) = ts.parse::<k8s_openapi::jiff::Timestamp>() else { return "<unknown>".into() };
    human_duration((unix_now() - created.as_second()).max(0))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `duration.HumanDuration` from k8s.io/apimachinery.
pub fn human_duration(secs: i64) -> String {
    if secs < 0 {
        return "<invalid>".into();
    }
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let d = (hours / 24) % 365;
        return if d == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{d}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// `labels.SelectorFromSet(..).String()` of a map, or `LabelSelectorAsSelector(..)` of a
/// `metav1.LabelSelector` (requirements sorted by key).
pub fn selector_string(sel: &Value) -> String {
    let Some(m) = sel.as_object() else { return String::new() };
    let structured = m.contains_key("matchLabels") || m.contains_key("matchExpressions");
    let mut reqs: Vec<(String, String)> = Vec::new();
    let labels = if structured { sel["matchLabels"].as_object() } else { Some(m) };
    for (k, v) in labels.into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// A Table cell that is `<none>` when empty.
pub fn or_none(s: impl Into<String>) -> Value {
    let s = s.into();
    if s.is_empty() { json!("<none>") } else { json!(s) }
}

/// The names and images of a pod template's containers, comma-joined (the wide
/// CONTAINERS and IMAGES columns).
pub fn containers_and_images(pod_spec: &Value) -> (Value, Value) {
    let cs = pod_spec["containers"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = cs.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = cs.iter().filter_map(|c| c["image"].as_str()).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// `metav1.Time` seconds since the epoch.
pub fn timestamp(v: &Value) -> Option<i64> {
    v.as_str()?.parse::<k8s_openapi::jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Age of a timestamp as kubectl shows it, `<unknown>` when unset.
pub fn since(v: &Value) -> String {
    match timestamp(v) {
        Some(t) => human_duration((unix_now() - t).max(0)),
        None => "<unknown>".into(),
    }
}

/// A FieldError for a value that must not change (`field is immutable`).
pub fn immutable(field: &str, value: &Value) -> FieldError {
    FieldError::invalid_value(field, value, "field is immutable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_match_upstream_messages() {
        assert!(dns1123_label("kube-system").is_empty());
        assert!(dns1123_subdomain("a.b-c.d").is_empty());
        assert_eq!(
            dns1123_label("Foo"),
            vec![
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(
            dns1123_subdomain("a..b"),
            vec![
                r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ]
        );
        assert_eq!(dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 characters"]);
        assert!(dns1123_label("a.b").len() == 1);
        assert!(!dns1123_subdomain("").is_empty());
    }

    #[test]
    fn selectors_render_as_upstream() {
        assert_eq!(selector_string(&json!({"b": "2", "a": "1"})), "a=1,b=2");
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "x", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&sel), "app=web,tier in (a,b),!x");
    }

    #[test]
    fn groups_are_unique_and_core_first() {
        assert_eq!(GROUPS[0].name, "");
        let mut seen = std::collections::HashSet::new();
        for r in all() {
            assert!(seen.insert((r.group, r.version, r.name)), "{} twice", r.name);
            assert!(!r.kind.is_empty() && !r.etcd_prefix.is_empty(), "{}", r.name);
            assert_eq!(r.columns.len(), r.row_cells(&json!({"metadata": {}})).len(), "{} cells", r.name);
        }
        assert_eq!(lookup("coordination.k8s.io", "v1", "leases").unwrap().group_kind(), "Lease.coordination.k8s.io");
        assert_eq!(find("pods").unwrap().qualified_name(), "pods");
        assert_eq!(lookup("apps", "v1", "deployments").unwrap().group_kind(), "Deployment.apps");
    }

    #[test]
    fn configmap_keys() {
        let ok = json!({"data": {"a.b_C-1": "x"}});
        assert!(core::validate_configmap(&ok).is_empty());
        let bad = json!({"data": {"a b": "x"}, "binaryData": {"a b": ""}});
        let errs = core::validate_configmap(&bad);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].message.starts_with(r#"data[a b]: Invalid value: "a b": a valid config key"#));
    }

    #[test]
    fn labels_follow_upstream_messages() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert_eq!(
            qualified_name("bad key"),
            [
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            qualified_name("Example.com/x")[0].split(" (").next().unwrap(),
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        );
        assert!(label_value("").is_empty() && label_value("v1.2_x").is_empty());
        let errs = validate_labels_and_annotations(&json!({"metadata": {"labels": {"a": "b c"}}}));
        assert_eq!(
            errs[0].message,
            r#"metadata.labels: Invalid value: "b c": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"#
        );
    }

    #[test]
    fn human_durations() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (3 * 86400, "3d"),
        ] {
            assert_eq!(human_duration(s), want);
        }
    }

    #[test]
    fn keys_follow_upstream_layout() {
        let cm = find("configmaps").unwrap();
        assert_eq!(cm.key(Some("default"), "x"), "/registry/configmaps/default/x");
        let ns = find("namespaces").unwrap();
        assert_eq!(ns.key(None, "default"), "/registry/namespaces/default");
    }
}
