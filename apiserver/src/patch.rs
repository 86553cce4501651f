//! The three patch formats on JSON objects: JSON merge patch (RFC 7386), JSON Patch
//! (RFC 6902) and strategic merge patch, whose list semantics come from a per-resource
//! table of list paths and merge keys (upstream's `patchStrategy`/`patchMergeKey` tags).

use serde_json::{Map, Value};

/// How a list field merges under a strategic merge patch. Lists not in the table are
/// replaced, as upstream does for lists without a patch strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMerge {
    /// `patchStrategy:"merge"` on a list of scalars: union.
    Primitive,
    /// `patchStrategy:"merge"` with `patchMergeKey`: elements matched by that key.
    ByKey(&'static str),
}

/// (dotted path, strategy), e.g. `("metadata.finalizers", Primitive)`.
pub type PatchTable = &'static [(&'static str, ListMerge)];

/// ObjectMeta's merging lists, shared by every resource.
pub const OBJECT_META_LISTS: PatchTable =
    &[("metadata.finalizers", ListMerge::Primitive), ("metadata.ownerReferences", ListMerge::ByKey("uid"))];

/// RFC 7386.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.shift_remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get_mut(p).ok_or_else(|| format!("path component {p:?} not found"))?,
            Value::Array(a) => {
                let i: usize = p.parse().map_err(|_| format!("invalid array index {p:?}"))?;
                a.get_mut(i).ok_or_else(|| format!("array index {i} out of range"))?
            }
            _ => return Err(format!("cannot descend into a scalar at {p:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    let Some((last, parents)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse().map_err(|_| format!("invalid array index {last:?}"))?
            };
            if i > a.len() {
                return Err(format!("array index {i} out of range"));
            }
            a.insert(i, value);
        }
        _ => return Err(format!("cannot add to a scalar at {path:?}")),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let (last, parents) = parts.split_last().ok_or("cannot remove the whole document")?;
    match parent_mut(doc, parents)? {
        Value::Object(m) => m.shift_remove(last).ok_or_else(|| format!("unable to remove nonexistent key: {last}")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("invalid array index {last:?}"))?;
            if i >= a.len() {
                return Err(format!("array index {i} out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove from a scalar at {path:?}")),
    }
}

/// RFC 6902.
pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value, String> {
    let ops = ops.as_array().ok_or("a JSON patch must be an array of operations")?;
    let mut doc = doc.clone();
    for op in ops {
        let path = op["path"].as_str().ok_or("an operation has no \"path\"")?;
        let value = || op.get("value").cloned().ok_or_else(|| format!("operation on {path:?} has no \"value\""));
        match op["op"].as_str().unwrap_or("") {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)?;
            }
            "move" => {
                let from = op["from"].as_str().ok_or("move without \"from\"")?;
                let v = remove(&mut doc, from)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let from = op["from"].as_str().ok_or("copy without \"from\"")?;
                let v = doc.pointer(from).cloned().ok_or_else(|| format!("copy from nonexistent {from:?}"))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("testing value {path} failed"));
                }
            }
            other => return Err(format!("unexpected kind: {other}")),
        }
    }
    Ok(doc)
}

/// The strategy of the list at a dotted path (ObjectMeta's lists included).
pub fn list_strategy(table: PatchTable, path: &str) -> Option<ListMerge> {
    table.iter().chain(OBJECT_META_LISTS).find(|(p, _)| *p == path).map(|(_, m)| *m)
}

/// Removes `$`-directives from a value taken over whole.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// Strategic merge patch of `patch` into `target` (both objects).
pub fn strategic_merge_patch(target: &Value, patch: &Value, table: PatchTable) -> Result<Value, String> {
    let mut out = target.clone();
    let p = patch.as_object().ok_or("a strategic merge patch must be a JSON object")?;
    smp_map(&mut out, p, "", table)?;
    Ok(out)
}

fn smp_map(target: &mut Value, patch: &Map<String, Value>, path: &str, table: PatchTable) -> Result<(), String> {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = strip(&Value::Object(patch.clone()));
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    if let Some(keep) = patch.get("$retainKeys").and_then(Value::as_array) {
        t.retain(|k, _| keep.iter().any(|r| r.as_str() == Some(k)));
    }
    for (k, v) in patch {
        let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(a)) = t.get_mut(field) {
                a.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue; // $patch, $retainKeys, $setElementOrder/...: handled or ordering only
        }
        match v {
            Value::Null => {
                t.shift_remove(k);
            }
            Value::Object(pm) if pm.get("$patch").and_then(Value::as_str) == Some("delete") => {
                t.shift_remove(k);
            }
            Value::Object(pm) => smp_map(t.entry(k.clone()).or_insert(Value::Null), pm, &child, table)?,
            Value::Array(pa) => match list_strategy(table, &child) {
                Some(ListMerge::Primitive) => {
                    let cur = t.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = cur {
                        for x in pa {
                            if !a.contains(x) {
                                a.push(x.clone());
                            }
                        }
                    } else {
                        *cur = v.clone();
                    }
                }
                Some(ListMerge::ByKey(key)) => {
                    let cur = t.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                    if !cur.is_array() {
                        *cur = Value::Array(Vec::new());
                    }
                    let a = cur.as_array_mut().expect("an array");
                    for item in pa {
                        let Some(m) = item.as_object() else {
                            return Err(format!("{child}: elements must be objects"));
                        };
                        let id = m.get(key).ok_or_else(|| format!("{child}: an element has no merge key {key:?}"))?;
                        let pos = a.iter().position(|x| x.get(key) == Some(id));
                        match (m.get("$patch").and_then(Value::as_str), pos) {
                            (Some("delete"), Some(i)) => {
                                a.remove(i);
                            }
                            (Some("delete"), None) => {}
                            (_, Some(i)) => smp_map(&mut a[i], m, &child, table)?,
                            (_, None) => a.push(strip(item)),
                        }
                    }
                }
                None => {
                    t.insert(k.clone(), strip(v));
                }
            },
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1, 2]});
        merge_patch(&mut t, &json!({"a": [3]}));
        assert_eq!(t, json!({"a": [3]}));
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"data": {"a": "1"}, "list": [1, 2]});
        let ops = json!([
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "replace", "path": "/data/a", "value": "x"},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "remove", "path": "/list/0"},
            {"op": "copy", "from": "/data/b", "path": "/data/c"},
            {"op": "move", "from": "/data/c", "path": "/data/d~1e"},
            {"op": "test", "path": "/data/b", "value": "2"},
        ]);
        assert_eq!(json_patch(&doc, &ops).unwrap(), json!({"data": {"a": "x", "b": "2", "d/e": "2"}, "list": [2, 3]}));
        assert!(json_patch(&doc, &json!([{"op": "test", "path": "/data/a", "value": "no"}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    #[test]
    fn strategic_merge_lists_and_directives() {
        let doc = json!({
            "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"],
                         "ownerReferences": [{"uid": "u1", "name": "one"}, {"uid": "u2", "name": "two"}]},
            "data": {"k": "v"},
            "spec": {"finalizers": ["kubernetes"]},
        });
        let patch = json!({
            "metadata": {"labels": {"a": null, "c": "3"}, "finalizers": ["y"],
                         "ownerReferences": [{"uid": "u1", "name": "uno"}, {"uid": "u2", "$patch": "delete"}, {"uid": "u3", "name": "three"}],
                         "$deleteFromPrimitiveList/finalizers": ["x"]},
            "data": {"$patch": "replace", "n": "m"},
            "spec": {"finalizers": []},
        });
        let out = strategic_merge_patch(&doc, &patch, &[]).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
        assert_eq!(
            out["metadata"]["ownerReferences"],
            json!([{"uid": "u1", "name": "uno"}, {"uid": "u3", "name": "three"}])
        );
        assert_eq!(out["data"], json!({"n": "m"}));
        assert_eq!(out["spec"]["finalizers"], json!([]), "lists without a strategy are replaced");
    }
}
