//! The legacy core group (`/api/v1`): its resource table and the strategies of its
//! smaller resources; the larger ones have their own files.

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use serde_json::{Value, json};

use super::*;
use crate::status::FieldError;

pub static GROUP: Group = Group { name: "", versions: &[GroupVersion { version: "v1", resources: RESOURCES }] };

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
        decode: typed::<ConfigMap>,
        validate: validate_configmap,
        validate_update: validate_immutable_data,
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        patch_lists: &[],
        columns: &[NAME_COLUMN, Column::new("Data", "integer", "Data contains the configuration data."), AGE_COLUMN],
        cells: |o| {
            let n = ["data", "binaryData"].iter().map(|f| o[f].as_object().map_or(0, |m| m.len())).sum::<usize>();
            vec![o["metadata"]["name"].clone(), json!(n), json!(age(o))]
        },
        ..BASE
    },
    Resource {
        name: "namespaces",
        subresources: &[Subresource::Status],
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: VERBS_NAMESPACES,
        etcd_prefix: "namespaces",
        name_rule: NameRule::DnsLabel,
        proto: crate::protobuf::NAMESPACE,
        decode: typed::<Namespace>,
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
            new["status"] = old["status"].clone();
            let name = new["metadata"]["name"].clone();
            if !new["metadata"]["labels"].is_object() {
                new["metadata"]["labels"] = json!({});
            }
            new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        },
        patch_lists: &[],
        columns: &[NAME_COLUMN, Column::new("Status", "string", "The status of the namespace"), AGE_COLUMN],
        cells: |o| vec![o["metadata"]["name"].clone(), o["status"]["phase"].clone(), json!(age(o))],
        ..BASE
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
        decode: typed::<Secret>,
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
            NAME_COLUMN,
            Column::new(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            Column::new(
                "Data",
                "integer",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            AGE_COLUMN,
        ],
        cells: |o| {
            let n = o["data"].as_object().map_or(0, |m| m.len());
            vec![o["metadata"]["name"].clone(), o["type"].clone(), json!(n), json!(age(o))]
        },
        ..BASE
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
        decode: typed::<ServiceAccount>,
        validate: |_| Vec::new(),
        validate_update: |_, _| Vec::new(),
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        patch_lists: &[("secrets", crate::patch::ListMerge::ByKey("name"))],
        columns: &[
            NAME_COLUMN,
            Column::new(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE_COLUMN,
        ],
        cells: |o| {
            vec![o["metadata"]["name"].clone(), json!(o["secrets"].as_array().map_or(0, Vec::len)), json!(age(o))]
        },
        ..BASE
    },
];

pub fn validate_configmap(o: &Value) -> Vec<FieldError> {
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
