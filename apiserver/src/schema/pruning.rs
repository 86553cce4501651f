//! Pruning (upstream's `pkg/apiserver/schema/pruning`): drops the fields a structural schema
//! does not specify, except under `x-kubernetes-preserve-unknown-fields`, and records their paths.
//! `apiVersion`, `kind` and `metadata` of the resource root and of embedded resources are kept;
//! unknown fields of an embedded resource's `metadata` are dropped as object-meta decoding does.

use serde_json::Value;

use super::Structural;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The fields of `ObjectMeta` (v1), which an embedded resource's `metadata` keeps.
pub(super) const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Prunes `obj` in place; returns the dropped paths, sorted (`spec.foo`, `spec.list[0].bar`).
pub(super) fn prune(obj: &mut Value, s: &Structural, is_resource_root: bool) -> Vec<String> {
    let mut out = Vec::new();
    if is_resource_root && !s.embedded_resource {
        // The root is treated as an embedded resource: its type and object meta are not pruned.
        let mut root = s.clone();
        root.embedded_resource = true;
        prune_value(obj, Some(&root), "", true, &mut out);
    } else {
        prune_value(obj, Some(s), "", is_resource_root, &mut out);
    }
    out.sort();
    out
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

fn prune_value(x: &mut Value, s: Option<&Structural>, path: &str, is_root: bool, out: &mut Vec<String>) {
    if let Some(s) = s
        && s.preserve_unknown_fields
    {
        skip_prune(x, s, path, is_root, out);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    out.push(join(path, k));
                }
                map.clear();
                return;
            };
            for k in prune_fields(map, s, path, is_root, out) {
                map.shift_remove(&k);
                out.push(join(path, &k));
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                prune_value(v, item_schema, &format!("{path}[{i}]"), false, out);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`: keeps unknown fields, prunes inside the specified ones.
fn skip_prune(x: &mut Value, s: &Structural, path: &str, is_root: bool, out: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            // Unknown fields stay.
            prune_fields(map, s, path, is_root, out);
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    skip_prune(v, item_schema, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Prunes inside the fields of object `map` that `s` specifies (by `properties` or
/// `additionalProperties`; `additionalProperties: true` has no schema, so what is inside
/// is pruned entirely); returns the fields it does not specify.
fn prune_fields(
    map: &mut serde_json::Map<String, Value>,
    s: &Structural,
    path: &str,
    is_root: bool,
    out: &mut Vec<String>,
) -> Vec<String> {
    let mut unknown = Vec::new();
    for (k, v) in map.iter_mut() {
        if s.embedded_resource && META_FIELDS.contains(&k.as_str()) {
            if k == "metadata" && !is_root {
                prune_embedded_metadata(v, &join(path, k), out);
            }
            continue;
        }
        if let Some(prop) = s.properties.get(k) {
            prune_value(v, Some(prop), &join(path, k), false, out);
        } else if let Some(ap) = &s.additional_properties {
            prune_value(v, ap.schema(), &join(path, k), false, out);
        } else {
            unknown.push(k.clone());
        }
    }
    unknown
}

/// Drops the keys of an embedded `metadata` object that `ObjectMeta` does not have.
fn prune_embedded_metadata(v: &mut Value, path: &str, out: &mut Vec<String>) {
    if let Value::Object(meta) = v {
        let unknown: Vec<String> = meta.keys().filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str())).cloned().collect();
        for k in unknown {
            meta.shift_remove(&k);
            out.push(join(path, &k));
        }
    }
}

/// Used by default validation: whether pruning would change `v`.
pub(super) fn prunes_anything(v: &Value, s: &Structural) -> bool {
    let mut copy = v.clone();
    let mut out = Vec::new();
    prune_value(&mut copy, Some(s), "", true, &mut out);
    copy != *v
}
