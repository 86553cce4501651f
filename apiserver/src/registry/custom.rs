//! Serving custom resources: the resources of established CustomResourceDefinitions, built
//! from the CRD objects and published next to the built-in [`GROUPS`](super::GROUPS).
//!
//! The registry's tables are `&'static`; a custom resource is therefore a leaked
//! [`Resource`] (with a leaked [`CustomSpec`]) made once per CRD *content*: a CRD that
//! changes (its spec, accepted names or deletion) is built again and the old entry is left
//! behind for requests still holding it. The leak is bounded by the number of CRD changes
//! over the process's life, a few kilobytes each.
//!
//! [`install`] replaces the whole set; `crate::crdcontroller` calls it from a watch of the
//! CRDs, so every apiserver of an HA set learns about every CRD.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use serde_json::{Value, json};

use super::{AGE_COLUMN, BASE, Column, Group, GroupVersion, NAME_COLUMN, Resource, Subresource};
use crate::schema::Structural;
use crate::status::FieldError;

/// Upstream's verbs of a custom resource, in its order.
pub const VERBS: &[&str] = &["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"];

/// The scale subresource's paths (`.spec.replicas`, ...).
#[derive(Clone, Debug)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// What a CRD declares about one served version of its custom resource.
pub struct CustomSpec {
    /// The CRD's name (`crontabs.stable.example.com`).
    pub crd: String,
    /// Objects are stored in this version's `apiVersion` (`stable.example.com/v1`).
    pub storage_api_version: String,
    pub list_kind: String,
    /// The version's structural schema (None: `x-kubernetes-preserve-unknown-fields`
    /// everywhere, nothing pruned).
    pub schema: Option<Structural>,
    /// `schema.openAPIV3Schema` as given, for the OpenAPI documents.
    pub openapi_schema: Value,
    pub scale: Option<ScalePaths>,
    /// The printer columns' JSONPaths and types, in column order after Name.
    pub column_paths: Vec<(String, String)>,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
    /// Server-side apply's list and map types, from the schema's `x-kubernetes-*`.
    pub assoc: crate::merging::AssocTable,
}

impl CustomSpec {
    /// Decodes a request body: metadata through `ObjectMeta`, then the schema's pruning
    /// and defaulting. Returns the object and the paths of the fields dropped.
    pub fn decode(&self, obj: &Value) -> Result<(Value, Vec<String>), String> {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        let mut out = obj.clone();
        let mut unknown = Vec::new();
        if let Some(meta) = obj.get("metadata") {
            let typed: ObjectMeta = serde_json::from_value(meta.clone()).map_err(|e| e.to_string())?;
            let decoded = serde_json::to_value(typed).map_err(|e| e.to_string())?;
            crate::rest::unknown_fields(meta, &decoded, "metadata", &mut unknown);
            out["metadata"] = decoded;
        }
        if let Some(schema) = &self.schema {
            unknown.extend(schema.prune(&mut out));
            schema.apply_defaults(&mut out);
        }
        unknown.sort();
        Ok((out, unknown))
    }

    /// An object read from storage: pruned and defaulted by the current schema (as
    /// upstream does on every read), in the requested version.
    pub fn from_storage(&self, mut obj: Value, api_version: &str) -> Value {
        if let Some(schema) = &self.schema {
            schema.prune(&mut obj);
            schema.apply_defaults(&mut obj);
        }
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), json!(api_version));
        }
        obj
    }

    /// The schema's verdict on an object (metadata is validated generically); for an
    /// update, with upstream's ratcheting against the stored object.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        match (&self.schema, old) {
            (Some(s), Some(old)) => s.validate_update(obj, old),
            (Some(s), None) => s.validate(obj),
            (None, _) => Vec::new(),
        }
    }

    /// The Table cells: the name, then each printer column (upstream's tableconvertor:
    /// strings printed, numbers and booleans typed, dates as ages, missing as null).
    pub fn cells(&self, o: &Value) -> Vec<Value> {
        let mut cells = vec![o["metadata"]["name"].clone()];
        for (path, ty) in &self.column_paths {
            let v = column_value(o, path);
            let v = v.as_ref();
            cells.push(match (v, ty.as_str()) {
                (None | Some(Value::Null), _) => Value::Null,
                (Some(Value::String(s)), "string") => json!(s),
                (Some(v), "string") => json!(v.to_string()),
                (Some(v), "integer") => {
                    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).map_or(Value::Null, |i| json!(i))
                }
                (Some(v), "number") => v.as_f64().map_or(Value::Null, |f| json!(f)),
                (Some(Value::Bool(b)), "boolean") => json!(b),
                (Some(Value::String(s)), "date") => match s.parse::<k8s_openapi::jiff::Timestamp>() {
                    Ok(t) => json!(super::human_duration((super::unix_now() - t.as_second()).max(0))),
                    Err(_) => json!("<invalid>"),
                },
                _ => Value::Null,
            });
        }
        cells
    }
}

/// The first value a printer column's JSONPath finds: the dot notation with `[n]`, `[*]`
/// and filters such as `[?(@.type=="Ready")]` (client-go's jsonpath, as far as CRDs use it).
pub fn column_value(obj: &Value, path: &str) -> Option<Value> {
    let mut current = vec![obj.clone()];
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = if r.starts_with("?(") { r.find(")]")? + 1 } else { r.find(']')? };
            let inner = &r[..end];
            rest = &r[end + 1..];
            current = if inner == "*" {
                current.iter().flat_map(children).collect()
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                let (lhs, rhs, equal) = match filter.split_once("!=") {
                    Some((l, r)) => (l, r, false),
                    None => {
                        let (l, r) = filter.split_once("==")?;
                        (l, r, true)
                    }
                };
                let field = lhs.trim().strip_prefix("@.")?;
                let want = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                current
                    .iter()
                    .flat_map(children)
                    .filter(|item| {
                        let got = column_value(item, &format!(".{field}"));
                        let text = match &got {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => return !equal,
                        };
                        (text == want) == equal
                    })
                    .collect()
            } else {
                let i: usize = inner.trim().parse().ok()?;
                current.iter().filter_map(|v| v.as_array()?.get(i).cloned()).collect()
            };
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            if key.is_empty() {
                continue;
            }
            current = current.iter().filter_map(|v| v.get(key).cloned()).collect();
        } else {
            return None;
        }
    }
    current.into_iter().next()
}

fn children(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m.values().cloned().collect(),
        _ => Vec::new(),
    }
}

struct Registry {
    /// Per CRD name: the content it was built from, and its resources (one per served version).
    built: HashMap<String, (String, Vec<Resource>)>,
}

static REGISTRY: RwLock<Vec<&'static Group>> = RwLock::new(Vec::new());
static BUILT: Mutex<Option<Registry>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static SYNCED: AtomicBool = AtomicBool::new(false);

/// The served custom groups, sorted by name (after every built-in group, as upstream's
/// CRD APIServices have the lowest group priority).
pub fn groups() -> Vec<&'static Group> {
    REGISTRY.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Grows with every change of the served custom resources (documents derived from them
/// are cached by it).
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// Whether the CRDs have been read once (`/readyz`'s `crd-informer-synced`).
pub fn synced() -> bool {
    SYNCED.load(Ordering::Acquire)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn leak_strs(v: &Value) -> &'static [&'static str] {
    let items: Vec<&'static str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).map(leak).collect();
    if items.is_empty() { &[] } else { Box::leak(items.into_boxed_slice()) }
}

/// Whether a CRD condition is True.
pub fn condition_true(crd: &Value, ty: &str) -> bool {
    crd["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == ty && c["status"] == "True")
}

/// What a CRD's resources are built from: a change of any of it builds them again.
fn fingerprint(crd: &Value) -> String {
    json!([crd["spec"], crd["status"]["acceptedNames"], crd["metadata"]["deletionTimestamp"].is_string()]).to_string()
}

/// Upstream's kube-like version order (`v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1` >
/// anything else, alphabetically): a sort key, smaller first.
pub fn version_key(v: &str) -> (u8, i64, i64, String) {
    let parse = |s: &str| -> Option<(i64, u8, i64)> {
        let rest = s.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || digits.starts_with('0') {
            return None;
        }
        let major: i64 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((major, 0, 0));
        }
        let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (2, n)
        } else {
            return None;
        };
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) || num.starts_with('0') {
            return None;
        }
        Some((major, level, num.parse().ok()?))
    };
    match parse(v) {
        Some((major, level, minor)) => (level, -major, -minor, String::new()),
        None => (3, 0, 0, v.to_string()),
    }
}

/// The resources of one CRD (one per served version), if it is established.
fn build(crd: &Value) -> Vec<Resource> {
    if !condition_true(crd, "Established") {
        return Vec::new();
    }
    let spec = &crd["spec"];
    let names = &crd["status"]["acceptedNames"];
    let (group, plural, kind) = (
        spec["group"].as_str().unwrap_or_default(),
        names["plural"].as_str().unwrap_or_default(),
        names["kind"].as_str().unwrap_or_default(),
    );
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage = versions.iter().find(|v| v["storage"] == true).and_then(|v| v["name"].as_str()).unwrap_or("v1");
    let list_kind = names["listKind"].as_str().map_or_else(|| format!("{kind}List"), str::to_string);
    let singular = names["singular"].as_str().map_or_else(|| kind.to_ascii_lowercase(), str::to_string);
    let (group, plural, kind) = (leak(group), leak(plural), leak(kind));
    let singular = leak(&singular);
    let etcd_prefix = leak(&format!("{group}/{plural}"));
    let short_names = leak_strs(&names["shortNames"]);
    let categories = leak_strs(&names["categories"]);
    let terminating = crd["metadata"]["deletionTimestamp"].is_string();
    let mut out = Vec::new();
    for v in versions.iter().filter(|v| v["served"] == true) {
        let Some(version) = v["name"].as_str() else { continue };
        let raw = v["schema"]["openAPIV3Schema"].clone();
        let schema = if raw.is_object() {
            match Structural::new(&raw, "") {
                Ok(s) => Some(s),
                Err(errs) => {
                    tracing::warn!(crd = crd["metadata"]["name"].as_str(), version, ?errs, "schema is not structural");
                    None
                }
            }
        } else {
            None
        };
        let subs = &v["subresources"];
        let scale = subs["scale"].as_object().map(|s| ScalePaths {
            spec_replicas: s.get("specReplicasPath").and_then(Value::as_str).unwrap_or(".spec.replicas").into(),
            status_replicas: s.get("statusReplicasPath").and_then(Value::as_str).unwrap_or(".status.replicas").into(),
            label_selector: s
                .get("labelSelectorPath")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(Into::into),
        });
        let subresources: &'static [Subresource] = match (subs["status"].is_object(), scale.is_some()) {
            (true, true) => &[Subresource::Status, Subresource::Scale],
            (true, false) => &[Subresource::Status],
            (false, true) => &[Subresource::Scale],
            (false, false) => &[],
        };
        let mut columns = vec![NAME_COLUMN];
        let mut column_paths = Vec::new();
        let printer = v["additionalPrinterColumns"].as_array().cloned().unwrap_or_default();
        if printer.is_empty() {
            columns.push(Column { ty: "date", ..AGE_COLUMN });
            column_paths.push((".metadata.creationTimestamp".to_string(), "date".to_string()));
        }
        for c in &printer {
            let path = c["jsonPath"].as_str().unwrap_or_default();
            let description = match c["description"].as_str() {
                Some(d) if !d.is_empty() => d.to_string(),
                _ => format!("Custom resource definition column (in JSONPath format): {path}"),
            };
            let ty = c["type"].as_str().unwrap_or("string");
            columns.push(Column {
                name: leak(c["name"].as_str().unwrap_or_default()),
                ty: leak(ty),
                format: leak(c["format"].as_str().unwrap_or_default()),
                description: leak(&description),
                priority: c["priority"].as_i64().unwrap_or(0) as i32,
            });
            column_paths.push((path.to_string(), ty.to_string()));
        }
        let selectors: Vec<(&'static str, &'static str)> = v["selectableFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["jsonPath"].as_str())
            .map(|p| {
                let p = leak(p.trim_start_matches('.'));
                (p, p)
            })
            .collect();
        let warning = (v["deprecated"] == true).then(|| match v["deprecationWarning"].as_str() {
            Some(w) => leak(w),
            None => leak(&deprecation_warning(group, version, kind, &versions)),
        });
        let mut assoc = crate::merging::object_meta_assoc();
        if let Some(s) = &schema {
            assoc_table(s, "", &mut assoc);
        }
        let assoc: crate::merging::AssocTable =
            Box::leak(assoc.into_iter().map(|(p, a)| (leak(&p), a)).collect::<Vec<_>>().into_boxed_slice());
        let spec = Box::leak(Box::new(CustomSpec {
            crd: crd["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            storage_api_version: format!("{group}/{storage}"),
            list_kind: list_kind.clone(),
            schema,
            openapi_schema: raw,
            scale,
            column_paths,
            terminating,
            assoc,
        }));
        out.push(Resource {
            group,
            version: leak(version),
            name: plural,
            singular,
            kind,
            namespaced: spec_scope_namespaced(crd),
            short_names,
            categories,
            verbs: VERBS,
            subresources,
            etcd_prefix,
            generation: true,
            field_selectors: if selectors.is_empty() { &[] } else { Box::leak(selectors.into_boxed_slice()) },
            columns: Box::leak(columns.into_boxed_slice()),
            warning,
            custom: Some(spec),
            ..BASE
        });
    }
    out
}

/// Upstream's default warning for a deprecated version: the newest served version that
/// is not deprecated and newer than it, if any.
fn deprecation_warning(group: &str, deprecated: &str, kind: &str, versions: &[Value]) -> String {
    let msg = format!("{group}/{deprecated} {kind} is deprecated");
    let newer = versions
        .iter()
        .filter(|v| v["served"] == true && v["deprecated"] != true)
        .filter_map(|v| v["name"].as_str())
        .filter(|v| version_key(v) < version_key(deprecated))
        .min_by_key(|v| version_key(v));
    match newer {
        Some(n) => format!("{msg}; use {group}/{n} {kind}"),
        None => msg,
    }
}

/// Server-side apply's treatments from the schema's list and map types: map lists keyed
/// by all their keys, sets, and atomic lists, objects and maps.
fn assoc_table(s: &Structural, dotted: &str, out: &mut Vec<(String, crate::merging::Assoc)>) {
    use crate::merging::Assoc;
    let keys = || -> &'static [&'static str] {
        Box::leak(s.list_map_keys.iter().map(|k| leak(k)).collect::<Vec<_>>().into_boxed_slice())
    };
    let treatment = match (s.type_.as_str(), s.list_type.as_deref(), s.map_type.as_deref()) {
        ("array", Some("map"), _) if !s.list_map_keys.is_empty() => Some(Assoc::Keys(keys())),
        ("array", Some("set"), _) => Some(Assoc::Set),
        ("object", _, Some("atomic")) => Some(Assoc::Atomic),
        _ => None,
    };
    if let Some(t) = treatment
        && !dotted.is_empty()
    {
        out.push((dotted.to_string(), t));
    }
    if let Some(items) = &s.items {
        assoc_table(items, dotted, out);
    }
    for (k, p) in &s.properties {
        if dotted.is_empty() && k == "metadata" {
            continue;
        }
        let child = if dotted.is_empty() { k.clone() } else { format!("{dotted}.{k}") };
        assoc_table(p, &child, out);
    }
}

fn spec_scope_namespaced(crd: &Value) -> bool {
    crd["spec"]["scope"] != "Cluster"
}

/// Serves exactly the established CRDs among `crds` (every CRD, by name).
pub fn install(crds: &BTreeMap<String, Value>) {
    let mut guard = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let reg = guard.get_or_insert_with(|| Registry { built: HashMap::new() });
    let mut changed = reg.built.len() != crds.len() || reg.built.keys().any(|k| !crds.contains_key(k));
    reg.built.retain(|k, _| crds.contains_key(k));
    for (name, crd) in crds {
        let fp = fingerprint(crd) + &condition_true(crd, "Established").to_string();
        if reg.built.get(name).is_some_and(|(f, _)| *f == fp) {
            continue;
        }
        changed = true;
        reg.built.insert(name.clone(), (fp, build(crd)));
    }
    SYNCED.store(true, Ordering::Release);
    if !changed {
        return;
    }
    // group → version → resources
    let mut by_group: BTreeMap<&str, BTreeMap<&str, Vec<Resource>>> = BTreeMap::new();
    let builtin = |g: &str| super::GROUPS.iter().any(|b| b.name == g);
    let mut names: Vec<&String> = reg.built.keys().collect();
    names.sort();
    for name in names {
        for r in &reg.built[name].1 {
            if builtin(r.group) {
                tracing::warn!(crd = name, group = r.group, "a CRD may not add resources to a built-in group");
                continue;
            }
            let taken = by_group
                .get(r.group)
                .and_then(|g| g.get(r.version))
                .is_some_and(|rs| rs.iter().any(|o| o.name == r.name));
            if !taken {
                by_group.entry(r.group).or_default().entry(r.version).or_default().push(*r);
            }
        }
    }
    let mut groups = Vec::new();
    for (name, versions) in by_group {
        let mut vs: Vec<(&str, Vec<Resource>)> = versions.into_iter().collect();
        vs.sort_by_key(|(v, _)| version_key(v));
        let gvs: Vec<GroupVersion> = vs
            .into_iter()
            .map(|(v, mut rs)| {
                rs.sort_by(|a, b| a.name.cmp(b.name));
                GroupVersion { version: leak(v), resources: Box::leak(rs.into_boxed_slice()) }
            })
            .collect();
        let g: &'static Group =
            Box::leak(Box::new(Group { name: leak(name), versions: Box::leak(gvs.into_boxed_slice()) }));
        groups.push(g);
    }
    *REGISTRY.write().unwrap_or_else(|p| p.into_inner()) = groups;
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_the_crd() {
        let crd = json!({
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced",
                "names": {"plural": "crontabs", "kind": "CronTab"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                        {"name": "Image", "type": "string", "priority": 1, "jsonPath": ".spec.image"}],
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
                        "properties": {"cronSpec": {"type": "string"}, "image": {"type": "string"}}}}}}}]},
            "status": {"acceptedNames": {"plural": "crontabs", "kind": "CronTab", "singular": "crontab", "listKind": "CronTabList"},
                "conditions": [{"type": "Established", "status": "True"}]},
        });
        let crd = (crate::registry::apiextensions::GROUP.versions[0].resources[0].decode)(&crd).unwrap();
        let rs = build(&crd);
        assert_eq!(rs.len(), 1);
        let r = &rs[0];
        assert_eq!(
            (r.group, r.version, r.name, r.kind, r.namespaced),
            ("stable.example.com", "v1", "crontabs", "CronTab", true)
        );
        let cols: Vec<(&str, i32)> = r.columns.iter().map(|c| (c.name, c.priority)).collect();
        assert_eq!(cols, [("Name", 0), ("Spec", 0), ("Image", 1)]);
        let obj = json!({"metadata": {"name": "a"}, "spec": {"cronSpec": "* *", "image": "i", "junk": 1}});
        assert_eq!(r.row_cells(&obj), vec![json!("a"), json!("* *"), json!("i")]);
        let (pruned, unknown) = r.custom.unwrap().decode(&obj).unwrap();
        assert_eq!(unknown, ["spec.junk"]);
        assert!(pruned["spec"].get("junk").is_none());
    }

    #[test]
    fn printer_column_paths() {
        let o = json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True", "reason": "Up"}]},
            "spec": {"ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(column_value(&o, ".metadata.name"), Some(json!("a")));
        assert_eq!(column_value(&o, r#".status.conditions[?(@.type=="Ready")].status"#), Some(json!("True")));
        assert_eq!(column_value(&o, ".status.conditions[?(@.type=='Ready')].reason"), Some(json!("Up")));
        assert_eq!(column_value(&o, r#".status.conditions[?(@.type!="Synced")].type"#), Some(json!("Ready")));
        assert_eq!(column_value(&o, ".spec.ports[1].port"), Some(json!(443)));
        assert_eq!(column_value(&o, ".spec.ports[*].port"), Some(json!(80)));
        assert_eq!(column_value(&o, ".spec.missing"), None);
        assert_eq!(column_value(&o, r#".status.conditions[?(@.type=="Gone")].status"#), None);
    }

    #[test]
    fn versions_sort_like_kube() {
        let mut v = vec!["v1alpha1", "foo", "v1", "v2beta1", "v1beta1", "v2", "v1beta2", "bar", "v10"];
        v.sort_by_key(|x| version_key(x));
        assert_eq!(v, ["v10", "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"]);
    }
}
