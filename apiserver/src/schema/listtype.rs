//! `x-kubernetes-list-type` (upstream's `pkg/apiserver/schema/listtype`): items of a `set` are
//! unique, items of a `map` are unique by their `x-kubernetes-list-map-keys`. Each repeated value is
//! reported once, at its second occurrence, as `Duplicate value`.

use serde_json::{Map, Value};

use super::{Structural, child_path, gofmt, key_path, validation::json_equal};
use crate::status::FieldError;

pub(super) fn validate_list_sets_and_maps(path: &str, s: &Structural, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(map) = obj {
        object(path, s, map, &mut errs);
    }
    errs
}

fn walk(path: &str, s: &Structural, v: &Value, errs: &mut Vec<FieldError>) {
    match v {
        Value::Object(map) => object(path, s, map, errs),
        Value::Array(items) => array(path, s, items, errs),
        _ => {}
    }
}

fn object(path: &str, s: &Structural, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if let Some(ap) = s.additional_properties.as_ref().and_then(|a| a.schema()) {
        for (k, v) in map {
            walk(&key_path(path, k), ap, v, errs);
        }
    }
    for (k, v) in map {
        if let Some(sub) = s.properties.get(k) {
            walk(&child_path(path, k), sub, v, errs);
        }
    }
}

fn duplicate(field: String, v: &Value) -> FieldError {
    FieldError {
        reason: "FieldValueDuplicate",
        message: format!("{field}: Duplicate value: {}", gofmt::bad_value(v)),
        field,
    }
}

/// Indices of the second occurrence of each repeated value: objects and lists compare by content
/// (as their JSON encodings do), scalars strictly (an integer never equals a float, as in Go).
fn repeated(values: &[Value]) -> Vec<usize> {
    let same = |a: &Value, b: &Value| match (a, b) {
        (Value::Object(_), _) | (Value::Array(_), _) => json_equal(a, b),
        _ => a == b,
    };
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if values[..i].iter().filter(|o| same(o, v)).count() == 1 {
            out.push(i);
        }
    }
    out
}

fn array(path: &str, s: &Structural, items: &[Value], errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for i in repeated(items) {
                errs.push(duplicate(format!("{path}[{i}]"), &items[i]));
            }
        }
        Some("map") => map_list(path, s, items, errs),
        _ => {}
    }
    if let Some(item_schema) = &s.items {
        for (i, v) in items.iter().enumerate() {
            walk(&format!("{path}[{i}]"), item_schema, v, errs);
        }
    }
}

fn map_list(path: &str, s: &Structural, items: &[Value], errs: &mut Vec<FieldError>) {
    if let Some((i, x)) = items.iter().enumerate().find(|(_, x)| !x.is_null() && !x.is_object()) {
        let field = format!("{path}[{i}]");
        errs.push(FieldError {
            reason: "FieldValueInvalid",
            message: format!(
                "{field}: Invalid value: {}: must be an object for an array of list-type map",
                gofmt::bad_value(x)
            ),
            field,
        });
        return;
    }
    // A key is the object of the key fields present (missing ones are left out, so an item
    // without its keys has the empty key).
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            for k in &s.list_map_keys {
                if let Some(v) = x.get(k) {
                    key.insert(k.clone(), v.clone());
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in repeated(&keys) {
        errs.push(duplicate(format!("{path}[{i}]"), &keys[i]));
    }
}
