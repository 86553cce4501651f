//! The resource table and per-resource strategies (upstream's `rest.Strategy`): what
//! the generic REST handlers need to know about each resource. Adding a resource is one
//! entry in [`RESOURCES`] plus its strategy functions.

use std::fmt::Write;

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use serde_json::{Value, json};

use crate::status::FieldError;

/// How a resource's names are validated (upstream's `ValidateNameFunc`s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSLabel` (namespaces).
    DnsLabel,
    /// `NameIsDNSSubdomain` (most resources).
    DnsSubdomain,
}

/// One REST resource of a group/version.
pub struct Resource {
    /// Plural, as in URLs: `configmaps`.
    pub name: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// The etcd path segment (upstream's quirks live here, e.g. `minions` for nodes).
    pub etcd_prefix: &'static str,
    pub name_rule: NameRule,
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
    /// Carries over what an update must not change (e.g. status on the main resource).
    pub prepare_for_update: fn(&mut Value, &Value),
    /// Lists with a strategic-merge strategy beyond ObjectMeta's.
    pub patch_lists: crate::patch::PatchTable,
    /// Table columns (after NAME) and their cells.
    pub columns: &'static [(&'static str, &'static str, &'static str)],
    pub cells: fn(&Value) -> Vec<Value>,
}

impl Resource {
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

const VERBS_NAMESPACES: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const VERBS_CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// core/v1 resources served today.
pub static RESOURCES: &[Resource] = &[
    Resource {
        name: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        verbs: VERBS_CRUD,
        etcd_prefix: "configmaps",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::CONFIG_MAP,
        decode: |v| {
            serde_json::from_value::<ConfigMap>(v.clone()).and_then(serde_json::to_value).map_err(|e| e.to_string())
        },
        validate: validate_configmap,
        validate_update: validate_immutable_data,
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        patch_lists: &[],
        columns: &[("Data", "integer", "Data contains the configuration data."), AGE_COLUMN],
        cells: |o| {
            let n = ["data", "binaryData"].iter().map(|f| o[f].as_object().map_or(0, |m| m.len())).sum::<usize>();
            vec![json!(n), json!(age(o))]
        },
    },
    Resource {
        name: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: VERBS_NAMESPACES,
        etcd_prefix: "namespaces",
        name_rule: NameRule::DnsLabel,
        proto: crate::protobuf::NAMESPACE,
        decode: |v| {
            serde_json::from_value::<Namespace>(v.clone()).and_then(serde_json::to_value).map_err(|e| e.to_string())
        },
        validate: |_| Vec::new(),
        validate_update: |_, _| Vec::new(),
        prepare_for_create: |o| {
            // Upstream's namespace strategy: the "kubernetes" finalizer, phase Active,
            // and the immutable kubernetes.io/metadata.name label.
            let name = o["metadata"]["name"].clone();
            o["status"] = json!({"phase": "Active"});
            if !o["spec"]["finalizers"].is_array() {
                o["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            if !o["metadata"]["labels"].is_object() {
                o["metadata"]["labels"] = json!({});
            }
            o["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        },
        prepare_for_update: |new, old| {
            // Status changes go through namespaces/status (not served yet).
            new["status"] = old["status"].clone();
            let name = new["metadata"]["name"].clone();
            if !new["metadata"]["labels"].is_object() {
                new["metadata"]["labels"] = json!({});
            }
            new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        },
        patch_lists: &[],
        columns: &[("Status", "string", "The status of the namespace"), AGE_COLUMN],
        cells: |o| vec![o["status"]["phase"].clone(), json!(age(o))],
    },
    Resource {
        name: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        verbs: VERBS_CRUD,
        etcd_prefix: "secrets",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::SECRET,
        decode: |v| {
            serde_json::from_value::<Secret>(v.clone()).and_then(serde_json::to_value).map_err(|e| e.to_string())
        },
        validate: validate_secret,
        validate_update: |new, old| {
            let mut errs = validate_immutable_data(new, old);
            if new["type"] != old["type"] {
                errs.push(FieldError::invalid("type", new["type"].as_str().unwrap_or(""), "field is immutable"));
            }
            errs
        },
        prepare_for_create: secret_string_data,
        prepare_for_update: |new, _| secret_string_data(new),
        patch_lists: &[],
        columns: &[
            (
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            (
                "Data",
                "integer",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            AGE_COLUMN,
        ],
        cells: |o| vec![o["type"].clone(), json!(o["data"].as_object().map_or(0, |m| m.len())), json!(age(o))],
    },
    Resource {
        name: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        verbs: VERBS_CRUD,
        etcd_prefix: "serviceaccounts",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::SERVICE_ACCOUNT,
        decode: |v| {
            serde_json::from_value::<ServiceAccount>(v.clone())
                .and_then(serde_json::to_value)
                .map_err(|e| e.to_string())
        },
        validate: |_| Vec::new(),
        validate_update: |_, _| Vec::new(),
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        patch_lists: &[("secrets", crate::patch::ListMerge::ByKey("name"))],
        columns: &[
            (
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE_COLUMN,
        ],
        cells: |o| vec![json!(o["secrets"].as_array().map_or(0, Vec::len)), json!(age(o))],
    },
];

const AGE_COLUMN: (&str, &str, &str) = (
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
);

pub fn find(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
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
    let details = match rule {
        NameRule::DnsLabel => dns1123_label(name),
        NameRule::DnsSubdomain => dns1123_subdomain(name),
    };
    details.iter().map(|d| FieldError::invalid("metadata.name", name, d)).collect()
}

fn validate_configmap(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = o["data"].as_object();
    let binary = o["binaryData"].as_object();
    for (field, map) in [("data", data), ("binaryData", binary)] {
        for key in map.into_iter().flat_map(|m| m.keys()) {
            let path = format!("{field}[{key}]");
            if key.len() > 253 {
                errs.push(FieldError::invalid(&path, key, "must be no more than 253 characters"));
            }
            let ok = !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c));
            if !ok {
                let msg = regex_error(CONFIG_KEY_ERR, "[-._a-zA-Z0-9]+", &["key.name", "KEY_NAME", "key-name"]);
                errs.push(FieldError::invalid(&path, key, &msg));
            }
            if key == "." || key == ".." || key.starts_with("..") {
                let detail = if key.starts_with("..") && key.len() > 2 {
                    "must not start with '..'"
                } else {
                    "must not be '.' or '..'"
                };
                errs.push(FieldError::invalid(&path, key, detail));
            }
            if field == "binaryData" && data.is_some_and(|d| d.contains_key(key)) {
                errs.push(FieldError::invalid(&path, key, "duplicate of key present in data"));
            }
        }
    }
    errs
}

/// `immutable: true` on a ConfigMap or Secret freezes its data (and itself).
fn validate_immutable_data(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old["immutable"] != json!(true) {
        return errs;
    }
    let forbidden = |field: &str| FieldError {
        reason: "FieldValueForbidden",
        field: field.into(),
        message: format!("{field}: Forbidden: field is immutable when `immutable` is set"),
    };
    if new["immutable"] != json!(true) {
        errs.push(forbidden("immutable"));
    }
    for f in ["data", "binaryData"] {
        let empty = |v: &Value| v.is_null() || v.as_object().is_some_and(|m| m.is_empty());
        if new[f] != old[f] && !(empty(&new[f]) && empty(&old[f])) {
            errs.push(forbidden(f));
        }
    }
    errs
}

/// The secret strategy: `stringData` is merged into `data` (base64) and never stored;
/// the type defaults to Opaque.
fn secret_string_data(o: &mut Value) {
    if let Some(Value::Object(sd)) = o.as_object_mut().and_then(|m| m.shift_remove("stringData")) {
        if !o["data"].is_object() {
            o["data"] = json!({});
        }
        for (k, v) in sd {
            let b64 = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
            o["data"][k] = json!(b64);
        }
    }
    if o["type"].as_str().is_none_or(str::is_empty) {
        o["type"] = json!("Opaque");
    }
}

fn validate_secret(o: &Value) -> Vec<FieldError> {
    let mut errs = validate_configmap(&json!({"data": o["data"].clone()}));
    let total: usize = o["data"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .map(|v| {
            base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).map_or(0, |b| b.len())
        })
        .sum();
    if total > 1024 * 1024 {
        errs.push(FieldError {
            reason: "FieldValueTooLong",
            field: "data".into(),
            message: "data: Too long: may not be more than 1048576 bytes".into(),
        });
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
    fn configmap_keys() {
        let ok = json!({"data": {"a.b_C-1": "x"}});
        assert!(validate_configmap(&ok).is_empty());
        let bad = json!({"data": {"a b": "x"}, "binaryData": {"a b": ""}});
        let errs = validate_configmap(&bad);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].message.starts_with(r#"data[a b]: Invalid value: "a b": a valid config key"#));
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
