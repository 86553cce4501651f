//! Defaulting (upstream's `pkg/apiserver/schema/defaulting`): removes the `null`s that are neither
//! nullable nor defaulted, then sets `default`s of absent fields (and of `null`s where the schema is
//! not nullable), recursing into what was set.

use serde_json::Value;

use super::Structural;

fn is_non_nullable_null(x: &Value, s: Option<&Structural>) -> bool {
    x.is_null() && s.is_some_and(|s| !s.nullable)
}

pub(super) fn default(x: &mut Value, s: Option<&Structural>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(d) = &prop.default else { continue };
                match map.get(k) {
                    None => {
                        map.insert(k.clone(), d.clone());
                    }
                    Some(v) if is_non_nullable_null(v, Some(prop)) => {
                        map.insert(k.clone(), d.clone());
                    }
                    Some(_) => {}
                }
            }
            let ap = s.additional_properties.as_ref().and_then(|a| a.schema());
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    default(v, Some(prop));
                } else if let Some(ap) = ap {
                    if is_non_nullable_null(v, Some(ap))
                        && let Some(d) = &ap.default
                    {
                        *v = d.clone();
                    }
                    default(v, Some(ap));
                }
            }
        }
        Value::Array(items) => {
            let item = s.items.as_deref();
            for v in items.iter_mut() {
                if is_non_nullable_null(v, item)
                    && let Some(d) = item.and_then(|i| i.default.as_ref())
                {
                    *v = d.clone();
                }
                default(v, item);
            }
        }
        _ => {}
    }
}

/// Upstream's `PruneNonNullableNullsWithoutDefaults`: object fields that are `null` although their
/// schema is neither nullable nor defaulted are removed.
pub(super) fn prune_non_nullable_nulls_without_defaults(x: &mut Value, s: Option<&Structural>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(map) => {
            let ap = s.additional_properties.as_ref().and_then(|a| a.schema());
            let mut drop = Vec::new();
            for (k, v) in map.iter_mut() {
                let Some(prop) = s.properties.get(k).or(ap) else { continue };
                if v.is_null() && !prop.nullable && prop.default.is_none() {
                    drop.push(k.clone());
                } else {
                    prune_non_nullable_nulls_without_defaults(v, Some(prop));
                }
            }
            for k in drop {
                map.shift_remove(&k);
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                prune_non_nullable_nulls_without_defaults(v, s.items.as_deref());
            }
        }
        _ => {}
    }
}
