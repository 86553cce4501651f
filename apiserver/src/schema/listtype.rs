//! `x-kubernetes-list-type` (upstream's `pkg/apiserver/schema/listtype`): items of a `set` are
//! unique, items of a `map` are unique by their `x-kubernetes-list-map-keys`. Each repeated value is
//! reported once, at its second occurrence, as `Duplicate value`.

use serde_json::{Map, Value};

use super::{Structural, child_path, gofmt};
use crate::status::FieldError;

pub(super) fn validate_list_sets_and_maps(path: &str, s: &Structural, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(map) = obj {
        object(path, s, map, &mut errs);
    }
    errs
}

fn walk(path: &str, s: &Structural, v: &Value, errs: &mut Vec<FieldError>) {
    match (s.type_.as_str(), v) {
        ("object", Value::Object(map)) => object(path, s, map, errs),
        ("array", Value::Array(items)) => array(path, s, items, errs),
        _ => {}
    }
}

fn object(path: &str, s: &Structural, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    for (k, v) in map {
        let sub = match s.properties.get(k) {
            Some(p) => Some(p),
            None => s.additional_properties.as_ref().and_then(|a| a.schema()),
        };
        if let Some(sub) = sub {
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

/// Indices of the second occurrence of each repeated key.
fn repeated(keys: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let before = keys[..i].iter().filter(|o| super::validation::json_equal(o, k)).count();
        if before == 1 {
            out.push(i);
        }
    }
    out
}

fn array(path: &str, s: &Structural, items: &[Value], errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") if items.len() > 1 => {
            for i in repeated(items) {
                errs.push(duplicate(format!("{path}[{i}]"), &items[i]));
            }
        }
        Some("map") if items.len() > 1 && !s.list_map_keys.is_empty() => {
            let item_schema = s.items.as_deref();
            let key_of = |item: &Value| -> Value {
                let mut key = Map::new();
                for k in &s.list_map_keys {
                    let v = item
                        .get(k)
                        .cloned()
                        .or_else(|| item_schema.and_then(|is| is.properties.get(k)).and_then(|p| p.default.clone()));
                    key.insert(k.clone(), v.unwrap_or(Value::Null));
                }
                Value::Object(key)
            };
            let keys: Vec<Value> = items.iter().map(key_of).collect();
            for i in repeated(&keys) {
                errs.push(duplicate(format!("{path}[{i}]"), &keys[i]));
            }
        }
        _ => {}
    }
    if let Some(item_schema) = &s.items {
        for (i, v) in items.iter().enumerate() {
            walk(&format!("{path}[{i}]"), item_schema, v, errs);
        }
    }
}
