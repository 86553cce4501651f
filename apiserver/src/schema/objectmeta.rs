//! Embedded resources (upstream's `pkg/apiserver/schema/objectmeta`): objects under
//! `x-kubernetes-embedded-resource` need `apiVersion` and `kind`, and their `metadata` is
//! validated like any object's (name, namespace, labels, annotations).

use serde_json::Value;

use super::{Structural, child_path, gofmt, key_path};
use crate::registry;
use crate::status::FieldError;

/// Validates every embedded resource in `x` (the root itself is not one).
pub(super) fn validate_embedded(x: &Value, s: &Structural, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(x, Some(s), path, &mut errs);
    errs
}

fn walk(x: &Value, s: Option<&Structural>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(map) => {
            if s.embedded_resource {
                errs.extend(validate_embedded_resource(path, map));
            }
            for (k, v) in map {
                if let Some(prop) = s.properties.get(k) {
                    walk(v, Some(prop), &child_path(path, k), errs);
                } else if let Some(ap) = &s.additional_properties {
                    walk(v, ap.schema(), &key_path(path, k), errs);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, s.items.as_deref(), &format!("{path}[{i}]"), errs);
            }
        }
        _ => {}
    }
}

fn invalid(field: &str, v: &Value, detail: &str) -> FieldError {
    FieldError {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!("{field}: Invalid value: {}: {detail}", gofmt::bad_value(v)),
    }
}

/// Upstream's `validateEmbeddedResource`.
pub(super) fn validate_embedded_resource(path: &str, x: &serde_json::Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let api_version_path = child_path(path, "apiVersion");
    let kind_path = child_path(path, "kind");
    if !x.contains_key("apiVersion") {
        errs.push(FieldError::required(&api_version_path, ""));
    }
    if !x.contains_key("kind") {
        errs.push(FieldError::required(&kind_path, ""));
    }
    if let Some(v) = x.get("apiVersion") {
        match v.as_str() {
            None => errs.push(invalid(&api_version_path, v, "must be a string")),
            Some("") => errs.push(FieldError::required(&api_version_path, "")),
            Some(av) if av.matches('/').count() > 1 => {
                errs.push(invalid(&api_version_path, v, &format!("unexpected GroupVersion string: {av}")))
            }
            Some(_) => {}
        }
    }
    if let Some(v) = x.get("kind") {
        match v.as_str() {
            None => errs.push(invalid(&kind_path, v, "must be a string")),
            Some("") => errs.push(FieldError::required(&kind_path, "")),
            Some(kind) => {
                let details = registry::dns1035_label(&kind.to_lowercase());
                if !details.is_empty() {
                    errs.push(invalid(
                        &kind_path,
                        v,
                        &format!("may have mixed case, but should otherwise match: {}", details.join(",")),
                    ));
                }
            }
        }
    }
    if let Some(meta) = x.get("metadata") {
        errs.extend(validate_metadata(&child_path(path, "metadata"), meta));
    }
    errs
}

/// `ValidateObjectMeta` of an embedded `metadata` (names need only be path segments; an empty name
/// is allowed).
fn validate_metadata(path: &str, meta: &Value) -> Vec<FieldError> {
    let Some(m) = meta.as_object() else {
        return vec![invalid(path, meta, "must be an object")];
    };
    let mut errs = Vec::new();
    let string_field = |k: &str, errs: &mut Vec<FieldError>| -> Option<String> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errs.push(invalid(&child_path(path, k), other, "must be a string"));
                None
            }
        }
    };
    if let Some(generate_name) = string_field("generateName", &mut errs).filter(|g| !g.is_empty()) {
        for d in registry::path_segment(&generate_name) {
            errs.push(FieldError::invalid(&child_path(path, "generateName"), &generate_name, &d));
        }
    }
    if let Some(name) = string_field("name", &mut errs).filter(|n| !n.is_empty()) {
        for d in registry::path_segment(&name) {
            errs.push(FieldError::invalid(&child_path(path, "name"), &name, &d));
        }
    }
    if let Some(ns) = string_field("namespace", &mut errs).filter(|n| !n.is_empty()) {
        for d in registry::dns1123_label(&ns) {
            errs.push(FieldError::invalid(&child_path(path, "namespace"), &ns, &d));
        }
    }
    for k in ["labels", "annotations"] {
        if let Some(v) = m.get(k).filter(|v| !v.is_null()) {
            match v.as_object() {
                Some(map) if map.values().all(Value::is_string) => {}
                _ => errs.push(invalid(&child_path(path, k), v, "must be a map of strings")),
            }
        }
    }
    // The generic label and annotation checks speak of `metadata.*`; re-root them here.
    let wrapped = serde_json::json!({ "metadata": meta });
    for mut e in registry::validate_labels_and_annotations(&wrapped) {
        let rest = e.field.strip_prefix("metadata").unwrap_or(&e.field).to_string();
        let field = format!("{path}{rest}");
        e.message = e.message.replacen(&e.field, &field, 1);
        e.field = field;
        errs.push(e);
    }
    errs
}
