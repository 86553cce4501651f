//! Field ownership (`metadata.managedFields`) and server-side apply, after upstream's
//! structured-merge-diff: every write records which manager owns which fields (as
//! `FieldsV1` sets); an apply merges the applied configuration into the live object,
//! refuses to change fields another manager owns unless forced, and removes the fields
//! the manager applied before and no longer applies (when nobody else owns them).
//!
//! Lists and maps follow the resource's list and map types ([`crate::merging`]):
//! associative lists are keyed by their key fields (`k:{"containerPort":80,"protocol":"TCP"}`),
//! sets of scalars by value (`v:"a"`), and atomic lists, structs and maps are owned whole;
//! other lists are atomic, other structs and maps granular.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::merging::{Assoc, AssocTable, KEY_DEFAULTS};
use crate::status::ApiError;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// `f:name`
    Field(String),
    /// `k:{"name":"x"}` (the key object as canonical JSON)
    Key(String),
    /// `v:"a"`
    Value(String),
}

impl Step {
    fn encode(&self) -> String {
        match self {
            Step::Field(f) => format!("f:{f}"),
            Step::Key(k) => format!("k:{k}"),
            Step::Value(v) => format!("v:{v}"),
        }
    }

    fn decode(s: &str) -> Option<Step> {
        let (kind, rest) = s.split_at_checked(2)?;
        match kind {
            "f:" => Some(Step::Field(rest.to_string())),
            "k:" => Some(Step::Key(rest.to_string())),
            "v:" => Some(Step::Value(rest.to_string())),
            _ => None,
        }
    }
}

/// A set of field paths as a tree; `member` marks a path that is itself in the set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<Step, FieldSet>,
}

type Path = Vec<Step>;

impl FieldSet {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn insert(&mut self, path: &[Step]) {
        match path.split_first() {
            None => self.member = true,
            Some((s, rest)) => self.children.entry(s.clone()).or_default().insert(rest),
        }
    }

    fn contains(&self, path: &[Step]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((s, rest)) => self.children.get(s).is_some_and(|c| c.contains(rest)),
        }
    }

    fn remove(&mut self, path: &[Step]) {
        match path.split_first() {
            None => self.member = false,
            Some((s, rest)) => {
                if let Some(c) = self.children.get_mut(s) {
                    c.remove(rest);
                    if c.is_empty() {
                        self.children.remove(s);
                    }
                }
            }
        }
    }

    /// Every member path.
    fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut out);
        out
    }

    fn walk(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (s, c) in &self.children {
            prefix.push(s.clone());
            c.walk(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (s, c) in &self.children {
            m.insert(s.encode(), c.to_json());
        }
        Value::Object(m)
    }

    pub fn from_json(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(m) = v {
            if m.is_empty() {
                set.member = true;
            }
            for (k, c) in m {
                if k == "." {
                    set.member = true;
                } else if let Some(s) = Step::decode(k) {
                    set.children.insert(s, FieldSet::from_json(c));
                }
            }
        }
        set
    }
}

/// Fields no manager owns: identity and server-kept metadata, and the type.
const UNTRACKED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

fn assoc(table: AssocTable, dotted: &str) -> Option<Assoc> {
    crate::merging::assoc_at(table, dotted)
}

/// A key field of a list element, its default when left out.
fn key_field(elem: &Value, key: &str) -> Option<Value> {
    elem.get(key)
        .filter(|v| !v.is_null())
        .cloned()
        .or_else(|| KEY_DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, d)| json!(d)))
}

/// Whether two elements of an associative list have the same key.
fn same_key(a: &Value, b: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| {
        let v = key_field(a, k);
        v.is_some() && v == key_field(b, k)
    })
}

/// Whether an element has the key a `k:` step names.
fn has_key(elem: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(k, v)| key_field(elem, k).as_ref() == Some(v))
}

fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The key step of an element of an associative list: its key fields in name order.
fn key_step(elem: &Value, keys: &[&str]) -> Option<Step> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let mut m = Map::new();
    for k in sorted {
        m.insert(k.to_string(), key_field(elem, k)?);
    }
    Some(Step::Key(canonical(&Value::Object(m))))
}

/// The set of fields an object (or an applied configuration) sets.
pub fn fields_of(obj: &Value, table: AssocTable, with_status: bool) -> FieldSet {
    let mut set = FieldSet::default();
    let Value::Object(m) = obj else { return set };
    for (k, v) in m {
        if k == "apiVersion" || k == "kind" || (k == "status" && !with_status) {
            continue;
        }
        let path = vec![Step::Field(k.clone())];
        if k == "metadata" {
            if let Value::Object(meta) = v {
                for (mk, mv) in meta {
                    if !UNTRACKED_META.contains(&mk.as_str()) {
                        let mut p = path.clone();
                        p.push(Step::Field(mk.clone()));
                        collect(mv, &format!("metadata.{mk}"), table, &mut p, &mut set);
                    }
                }
            }
            continue;
        }
        let mut p = path;
        collect(v, k, table, &mut p, &mut set);
    }
    set
}

fn collect(v: &Value, dotted: &str, table: AssocTable, path: &mut Path, set: &mut FieldSet) {
    let treatment = assoc(table, dotted);
    match v {
        Value::Object(m) if !m.is_empty() && treatment != Some(Assoc::Atomic) => {
            for (k, c) in m {
                path.push(Step::Field(k.clone()));
                collect(c, &format!("{dotted}.{k}"), table, path, set);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match treatment {
            Some(Assoc::Keys(keys)) => {
                for e in items {
                    let Some(step) = key_step(e, keys) else {
                        set.insert(path);
                        return;
                    };
                    path.push(step);
                    set.insert(path);
                    if let Value::Object(fields) = e {
                        for (k, c) in fields {
                            path.push(Step::Field(k.clone()));
                            collect(c, &format!("{dotted}.{k}"), table, path, set);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            Some(Assoc::Set) => {
                for e in items {
                    path.push(Step::Value(canonical(e)));
                    set.insert(path);
                    path.pop();
                }
            }
            Some(Assoc::Atomic) | None => set.insert(path),
        },
        _ => set.insert(path),
    }
}

/// The value at a path (None when absent).
fn value_at<'a>(obj: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut cur = obj;
    for s in path {
        cur = match s {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).ok()?;
                cur.as_array()?.iter().find(|e| has_key(e, &key))?
            }
            Step::Value(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|e| **e == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the field at a path (an element, for a key or value step).
fn remove_at(obj: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else { return };
    let mut cur = obj;
    for s in parent {
        let next = match s {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else { return };
                cur.as_array_mut().and_then(|a| a.iter_mut().find(|e| has_key(e, &key)))
            }
            Step::Value(_) => None,
        };
        let Some(n) = next else { return };
        cur = n;
    }
    match last {
        Step::Field(f) => {
            if let Value::Object(m) = cur {
                m.shift_remove(f);
            }
        }
        Step::Key(k) => {
            if let (Ok(key), Value::Array(a)) = (serde_json::from_str::<Map<String, Value>>(k), cur) {
                a.retain(|e| !has_key(e, &key));
            }
        }
        Step::Value(v) => {
            if let (Ok(want), Value::Array(a)) = (serde_json::from_str::<Value>(v), cur) {
                a.retain(|e| *e != want);
            }
        }
    }
}

/// Merges an applied configuration into the live object: maps recursively,
/// associative lists by key, sets by union, everything else replaced.
fn merge(live: &mut Value, applied: &Value, dotted: &str, table: AssocTable) {
    let treatment = assoc(table, dotted);
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if treatment != Some(Assoc::Atomic) => {
            for (k, av) in a {
                let child = if dotted.is_empty() { k.clone() } else { format!("{dotted}.{k}") };
                match l.get_mut(k) {
                    Some(lv) if !av.is_null() => merge(lv, av, &child, table),
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match treatment {
            Some(Assoc::Keys(keys)) => {
                for ae in a {
                    match l.iter_mut().find(|le| same_key(le, ae, keys)) {
                        Some(le) => merge(le, ae, dotted, table),
                        None => l.push(ae.clone()),
                    }
                }
            }
            Some(Assoc::Set) => {
                for ae in a {
                    if !l.contains(ae) {
                        l.push(ae.clone());
                    }
                }
            }
            Some(Assoc::Atomic) | None => *l = a.clone(),
        },
        (l, a) => *l = a.clone(),
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl Entry {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json(),
        });
        if !self.subresource.is_empty() {
            v["subresource"] = json!(self.subresource);
        }
        v
    }
}

fn entries(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj["metadata"]["managedFields"].as_array() else { return Vec::new() };
    list.iter()
        .filter_map(|e| {
            Some(Entry {
                manager: e["manager"].as_str()?.to_string(),
                operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
                time: e["time"].as_str().unwrap_or_default().to_string(),
                subresource: e["subresource"].as_str().unwrap_or_default().to_string(),
                fields: FieldSet::from_json(&e["fieldsV1"]),
            })
        })
        .collect()
}

fn store_entries(obj: &mut Value, list: Vec<Entry>) {
    let list: Vec<Value> = list.into_iter().filter(|e| !e.fields.is_empty()).map(|e| e.to_json()).collect();
    if list.is_empty() && obj.get("metadata").is_none() {
        return;
    }
    if obj.get("metadata").is_none_or(|m| !m.is_object()) && obj.is_object() {
        obj["metadata"] = json!({});
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.shift_remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// A write's manager: the `fieldManager` parameter, else the user agent's product
/// (as upstream).
pub fn manager_name(field_manager: Option<&str>, user_agent: &str) -> String {
    match field_manager {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => user_agent.split('/').next().unwrap_or_default().to_string(),
    }
}

/// What a write is, for ownership.
pub struct Write {
    pub manager: String,
    pub api_version: String,
    /// `status` for the status subresource, else empty.
    pub subresource: &'static str,
    pub table: AssocTable,
    pub now: String,
}

/// Records a create or update (not an apply): the manager owns every field it set or
/// changed; other managers lose those; fields gone from the object leave every set.
pub fn record_update(w: &Write, old: Option<&Value>, new: &mut Value) {
    let with_status = w.subresource == "status";
    let mut list = old.map(entries).unwrap_or_default();
    let new_fields = fields_of(new, w.table, with_status);
    // Everything the object still has (status included, whoever wrote it).
    let present = fields_of(new, w.table, true);
    let mut changed = FieldSet::default();
    for p in new_fields.paths() {
        if old.and_then(|o| value_at(o, &p)) != value_at(new, &p) {
            changed.insert(&p);
        }
    }
    for e in &mut list {
        for p in e.fields.paths() {
            if changed.contains(&p) || !present.contains(&p) {
                e.fields.remove(&p);
            }
        }
    }
    if !changed.is_empty() {
        match list.iter_mut().find(|e| {
            e.manager == w.manager
                && e.operation == "Update"
                && e.api_version == w.api_version
                && e.subresource == w.subresource
        }) {
            Some(e) => {
                for p in changed.paths() {
                    e.fields.insert(&p);
                }
                e.time = w.now.to_string();
            }
            None => list.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                time: w.now.to_string(),
                subresource: w.subresource.to_string(),
                fields: changed,
            }),
        }
    }
    store_entries(new, list);
}

/// `.spec.containers[name="x"].image`: a path as conflicts name it.
fn describe(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = key.iter().map(|(kk, kv)| format!("{kk}={}", canonical(kv))).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Step::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// The annotation client-side apply keeps its last applied configuration in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Server-side apply of `applied` onto `live` (None: the object is created). Returns
/// the object to store, with its managed fields; a conflict is upstream's 409.
pub fn apply(w: &Write, live: Option<&Value>, applied: &Value, force: bool) -> Result<Value, ApiError> {
    let with_status = w.subresource == "status";
    let applied_fields = fields_of(applied, w.table, with_status);
    let mut list = live.map(entries).unwrap_or_default();
    let mine = |e: &Entry| e.manager == w.manager && e.operation == "Apply" && e.subresource == w.subresource;
    let previous = list.iter().find(|e| mine(e)).map(|e| e.fields.clone()).unwrap_or_default();

    // Conflicts: fields another manager owns with a different value.
    let mut conflicts: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    // Upstream's lastAppliedManager: `kubectl apply --server-side` takes over, without
    // conflicts, the fields whose live value is still what client-side apply last applied.
    let last_applied = live
        .filter(|_| w.manager == "kubectl")
        .and_then(|l| l["metadata"]["annotations"][LAST_APPLIED].as_str())
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let mut taken_over = false;
    if let Some(live) = live {
        for e in list.iter().filter(|e| !mine(e)) {
            for p in applied_fields.paths() {
                // An element of an associative list is owned for its existence only.
                let element = matches!(p.last(), Some(Step::Key(_)));
                if !element && e.fields.contains(&p) && value_at(live, &p) != value_at(applied, &p) {
                    let allowed = last_applied
                        .as_ref()
                        .is_some_and(|l| value_at(l, &p).is_some() && value_at(l, &p) == value_at(live, &p));
                    if allowed {
                        taken_over = true;
                        continue;
                    }
                    conflicts.entry((e.manager.clone(), e.api_version.clone())).or_default().push(describe(&p));
                }
            }
        }
    }
    let force = force || (conflicts.is_empty() && taken_over);
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    let mut out = match live {
        Some(l) => {
            let mut o = l.clone();
            let mut a = applied.clone();
            if let Some(m) = a.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("managedFields");
                m.shift_remove("resourceVersion");
            }
            merge(&mut o, &a, "", w.table);
            o
        }
        None => applied.clone(),
    };
    // Forced: the others give the applied fields up.
    for e in list.iter_mut().filter(|e| !mine(e)) {
        for p in applied_fields.paths() {
            if force || value_at(&out, &p) != live.and_then(|l| value_at(l, &p)) {
                e.fields.remove(&p);
            }
        }
    }
    // Fields applied before and not now, that nobody else owns, go away.
    let mut gone: Vec<Path> = previous
        .paths()
        .into_iter()
        .filter(|p| !applied_fields.contains(p) && !list.iter().any(|e| !mine(e) && e.fields.contains(p)))
        .collect();
    // Deepest first, so an element goes before (or with) what contains it.
    gone.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in &gone {
        if !has_owned_descendant(&applied_fields, p) {
            remove_at(&mut out, p);
        }
    }
    list.retain(|e| !mine(e));
    list.push(Entry {
        manager: w.manager.to_string(),
        operation: "Apply".into(),
        api_version: w.api_version.to_string(),
        time: w.now.to_string(),
        subresource: w.subresource.to_string(),
        fields: applied_fields,
    });
    store_entries(&mut out, list);
    Ok(out)
}

/// Whether the set holds anything below `path` (then the node itself stays).
fn has_owned_descendant(set: &FieldSet, path: &[Step]) -> bool {
    let mut cur = set;
    for s in path {
        match cur.children.get(s) {
            Some(c) => cur = c,
            None => return false,
        }
    }
    !cur.children.is_empty()
}

fn conflict_error(conflicts: &BTreeMap<(String, String), Vec<String>>) -> ApiError {
    let total: usize = conflicts.values().map(Vec::len).sum();
    let mut causes = Vec::new();
    let mut parts = Vec::new();
    for ((manager, version), fields) in conflicts {
        let with = format!("conflict with \"{manager}\" using {version}");
        for f in fields {
            causes.push(json!({ "reason": "FieldManagerConflict", "message": with, "field": f }));
        }
        if fields.len() == 1 {
            parts.push(format!("{with}: {}", fields[0]));
        } else {
            let list: Vec<String> = fields.iter().map(|f| format!("- {f}")).collect();
            parts.push(format!("conflicts with \"{manager}\" using {version}:\n{}", list.join("\n")));
        }
    }
    let plural = if total == 1 { "conflict" } else { "conflicts" };
    ApiError {
        code: 409,
        reason: "Conflict",
        message: format!("Apply failed with {total} {plural}: {}", parts.join("\n")),
        details: Some(json!({ "causes": causes })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: AssocTable = &[("spec.containers", Assoc::Keys(&["name"]))];

    fn w(manager: &str) -> Write {
        Write {
            manager: manager.into(),
            api_version: "v1".into(),
            subresource: "",
            table: TABLE,
            now: "2026-11-23T00:00:00Z".into(),
        }
    }

    fn owners(obj: &Value) -> Vec<(String, String, Value)> {
        entries(obj).into_iter().map(|e| (e.manager, e.operation, e.fields.to_json())).collect()
    }

    #[test]
    fn fields_v1_round_trips_with_keys_and_self_markers() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let set = fields_of(&obj, TABLE, false);
        let j = set.to_json();
        assert_eq!(
            j,
            json!({"f:metadata": {"f:labels": {"f:a": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}})
        );
        assert_eq!(FieldSet::from_json(&j), set);
    }

    #[test]
    fn apply_creates_then_removes_what_it_no_longer_applies() {
        let a1 = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v", "old": "o"}});
        let o1 = apply(&w("mgr"), None, &a1, false).unwrap();
        assert_eq!(owners(&o1)[0].1, "Apply");
        let a2 = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v2"}});
        let o2 = apply(&w("mgr"), Some(&o1), &a2, false).unwrap();
        assert_eq!(o2["data"], json!({"k": "v2"}));
        assert_eq!(o2["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn another_managers_field_conflicts_unless_forced_or_equal() {
        let mut live = json!({"metadata": {"name": "x"}, "data": {"k": "v"}});
        record_update(&w("kubectl-create"), None, &mut live);
        let same = apply(&w("mgr"), Some(&live), &json!({"data": {"k": "v"}}), false).unwrap();
        assert_eq!(owners(&same).len(), 2, "shared ownership of an equal value");
        let err = apply(&w("mgr"), Some(&live), &json!({"data": {"k": "other"}}), false).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.k");
        let forced = apply(&w("mgr"), Some(&live), &json!({"data": {"k": "other"}}), true).unwrap();
        assert_eq!(forced["data"]["k"], "other");
        assert_eq!(owners(&forced).len(), 1, "{:?}", owners(&forced));
    }

    #[test]
    fn updates_take_changed_fields_from_appliers() {
        let o1 =
            apply(&w("mgr"), None, &json!({"metadata": {"name": "x"}, "data": {"k": "v", "j": "w"}}), false).unwrap();
        let mut o2 = o1.clone();
        o2["data"]["k"] = json!("edited");
        record_update(&w("kubectl-edit"), Some(&o1), &mut o2);
        let o = owners(&o2);
        assert_eq!(o[0], ("mgr".into(), "Apply".into(), json!({"f:data": {"f:j": {}}})));
        assert_eq!(o[1], ("kubectl-edit".into(), "Update".into(), json!({"f:data": {"f:k": {}}})));
    }

    #[test]
    fn associative_list_elements_merge_by_key() {
        let live =
            apply(&w("a"), None, &json!({"spec": {"containers": [{"name": "c", "image": "1"}]}}), false).unwrap();
        let out = apply(&w("b"), Some(&live), &json!({"spec": {"containers": [{"name": "d", "image": "2"}]}}), false)
            .unwrap();
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 2);
        let err = apply(&w("b"), Some(&out), &json!({"spec": {"containers": [{"name": "c", "image": "3"}]}}), false)
            .unwrap_err();
        assert!(err.message.ends_with(r#".spec.containers[name="c"].image"#), "{}", err.message);
    }
}
