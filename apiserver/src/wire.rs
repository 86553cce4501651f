//! Objects kept as the JSON they are served as, and the bodies built from them: watch
//! events and LIST responses encoded item by item. Neither a cached object nor a whole
//! LIST is ever held as a tree of `serde_json::Value`s; a tree is decoded per item only
//! where one is needed (a conversion, a Table row, PartialObjectMetadata, a selector on
//! a field the cache did not extract).
//!
//! Invariant: [`RawObject::json`] is the object as served (members `kind` and
//! `apiVersion` first, `metadata.resourceVersion` set); a LIST item is the same bytes
//! without those two members, so it is written without being decoded.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::registry::{self, Resource};

/// The field paths a cache extracts from each object, for field selectors.
pub type FieldPaths = Arc<[Box<str>]>;

/// One object as the watch cache keeps it.
pub struct RawObject {
    json: Bytes,
    /// `{` + `json[body..]` is the object without `kind` and `apiVersion`.
    body: u32,
    /// String-valued `metadata.labels`.
    labels: Box<[(Box<str>, Box<str>)]>,
    paths: FieldPaths,
    /// `registry::field_value` of each of `paths`, in order.
    fields: Box<[Box<str>]>,
}

impl std::fmt::Debug for RawObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawObject").field("json", &String::from_utf8_lossy(&self.json)).finish()
    }
}

impl RawObject {
    /// Encodes `obj` at `rv`; `None` when it is not an object with a metadata object.
    pub fn new(mut obj: Value, rv: i64, paths: &FieldPaths) -> Option<RawObject> {
        obj.get_mut("metadata")?.as_object_mut()?.insert("resourceVersion".into(), Value::String(rv.to_string()));
        let labels = obj["metadata"]["labels"]
            .as_object()
            .map(|l| l.iter().filter_map(|(k, v)| Some((k.as_str().into(), v.as_str()?.into()))).collect())
            .unwrap_or_default();
        let fields = paths.iter().map(|p| registry::field_value(&obj, p).into_boxed_str()).collect();
        let m = obj.as_object_mut()?;
        let head = [("kind", m.shift_remove("kind")), ("apiVersion", m.shift_remove("apiVersion"))];
        let rest = serde_json::to_vec(&obj).ok()?;
        let mut json = Vec::with_capacity(rest.len() + 64);
        json.push(b'{');
        for (k, v) in head.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))) {
            if json.len() > 1 {
                json.push(b',');
            }
            json.extend_from_slice(format!("\"{k}\":").as_bytes());
            serde_json::to_writer(&mut json, v).ok()?;
        }
        let body = if rest.len() <= 2 {
            // No other member: the item is `{}`.
            json.push(b'}');
            json.len() - 1
        } else {
            if json.len() > 1 {
                json.push(b',');
            }
            let at = json.len();
            json.extend_from_slice(&rest[1..]);
            at
        };
        Some(RawObject {
            json: Bytes::from(json.into_boxed_slice()),
            body: body as u32,
            labels,
            paths: paths.clone(),
            fields,
        })
    }

    /// The object's JSON, as a watch event carries it.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// Appends the object as a LIST item (without `kind` and `apiVersion`).
    pub fn write_item(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        out.extend_from_slice(&self.json[self.body as usize..]);
    }

    /// The decoded object.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| &**k == key).map(|(_, v)| &**v)
    }

    /// `registry::field_value` of the object: extracted, or decoded for a path the
    /// cache does not extract.
    pub fn field(&self, path: &str) -> Cow<'_, str> {
        match self.paths.iter().position(|p| &**p == path) {
            Some(i) => Cow::Borrowed(&self.fields[i]),
            None => Cow::Owned(registry::field_value(&self.value(), path)),
        }
    }

    /// Bytes this object holds on the heap (for `apiserver_watch_cache_objects_bytes`).
    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<RawObject>()
            + self.json.len()
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.len() + std::mem::size_of::<(Box<str>, Box<str>)>())
                .sum::<usize>()
            + self.fields.iter().map(|f| f.len() + std::mem::size_of::<Box<str>>()).sum::<usize>()
    }
}

/// The same object at another resourceVersion (a deletion's, or a DELETED event for an
/// object leaving a watch's selection).
pub fn at_version(obj: &RawObject, rv: i64) -> Option<RawObject> {
    RawObject::new(obj.value(), rv, &obj.paths)
}

/// One watch event: its type and its object's JSON.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: &'static str,
    pub object: Bytes,
}

impl Event {
    pub fn new(kind: &'static str, object: &Value) -> Event {
        Event { kind, object: Bytes::from(serde_json::to_vec(object).unwrap_or_default()) }
    }

    pub fn object_value(&self) -> Value {
        serde_json::from_slice(&self.object).unwrap_or(Value::Null)
    }

    /// `{"type": ..., "object": ...}`.
    pub fn to_value(&self) -> Value {
        serde_json::json!({"type": self.kind, "object": self.object_value()})
    }

    /// The event as upstream's watch stream sends it: one JSON object per line.
    pub fn line(&self) -> Bytes {
        let mut b = Vec::with_capacity(self.object.len() + 32);
        b.extend_from_slice(b"{\"type\":\"");
        b.extend_from_slice(self.kind.as_bytes());
        b.extend_from_slice(b"\",\"object\":");
        b.extend_from_slice(&self.object);
        b.extend_from_slice(b"}\n");
        Bytes::from(b)
    }
}

/// One item of a LIST.
pub enum ListItem {
    /// From the watch cache, in the stored form (see [`ListPage::convert`]).
    Cached(Arc<RawObject>),
    /// A list item's JSON, already in the served form.
    Json(Bytes),
}

/// A LIST's answer, its items encoded one by one as the body is sent.
pub struct ListPage {
    /// `<Kind>List`.
    pub kind: String,
    pub api_version: String,
    /// The list's metadata (resourceVersion, continue, remainingItemCount).
    pub metadata: Value,
    pub items: Vec<ListItem>,
    /// From the stored form to the served one, for cached items.
    pub convert: Option<Conversion>,
}

/// How cached items of a resource are served: converted from the stored form, and with
/// or without their `kind` and `apiVersion`.
#[derive(Clone)]
pub struct Conversion {
    convert: Arc<dyn Fn(Value) -> Value + Send + Sync>,
    /// Custom objects keep their kind in lists, as upstream's unstructured lists do.
    keep_type: bool,
}

impl Conversion {
    /// The conversion of a resource's cached items, if they need one (a stored form
    /// of another version, or a custom resource's schema and served version).
    pub fn of(resource: &Resource) -> Option<Conversion> {
        if let Some(c) = resource.custom {
            let api_version = resource.api_version();
            let convert = Arc::new(move |v| c.from_storage(v, &api_version));
            return Some(Conversion { convert, keep_type: true });
        }
        let (_, from_storage) = resource.storage_form?;
        Some(Conversion { convert: Arc::new(from_storage), keep_type: false })
    }

    pub fn apply(&self, v: Value) -> Value {
        (self.convert)(v)
    }
}

/// Decodes an item (converted; without `kind` and `apiVersion` unless the conversion
/// keeps them).
pub fn item_value(item: &ListItem, convert: Option<&Conversion>) -> Value {
    let mut v = match item {
        ListItem::Cached(o) => {
            let v = o.value();
            match convert {
                Some(c) if c.keep_type => return c.apply(v),
                Some(c) => c.apply(v),
                None => v,
            }
        }
        ListItem::Json(b) => return serde_json::from_slice(b).unwrap_or(Value::Null),
    };
    if let Some(m) = v.as_object_mut() {
        m.shift_remove("kind");
        m.shift_remove("apiVersion");
    }
    v
}

/// Appends an item in the served form.
pub fn write_item(item: &ListItem, convert: Option<&Conversion>, out: &mut Vec<u8>) {
    match (item, convert) {
        (ListItem::Cached(o), None) => o.write_item(out),
        (ListItem::Json(b), _) => out.extend_from_slice(b),
        (item, convert) => {
            let _ = serde_json::to_writer(&mut *out, &item_value(item, convert));
        }
    }
}

impl ListPage {
    /// The whole list as one tree (for callers inside the apiserver).
    pub fn into_value(self) -> Value {
        let convert = self.convert.as_ref();
        let items: Vec<Value> = self.items.iter().map(|i| item_value(i, convert)).collect();
        serde_json::json!({
            "kind": self.kind,
            "apiVersion": self.api_version,
            "metadata": self.metadata,
            "items": items,
        })
    }

    /// The list's own opening, up to the items' `[`.
    pub fn head(&self) -> Vec<u8> {
        let (kind, api_version) = (Value::from(self.kind.as_str()), Value::from(self.api_version.as_str()));
        envelope(&[("kind", &kind), ("apiVersion", &api_version), ("metadata", &self.metadata)], "items")
    }
}

/// `{"k":v,...,"<items>":[`: a list's members up to its items.
pub fn envelope(members: &[(&str, &Value)], items: &str) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    for (k, v) in members {
        m.insert((*k).to_string(), (*v).clone());
    }
    let mut out = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
    out.pop();
    out.extend_from_slice(format!(",\"{items}\":[").as_bytes());
    out
}

/// Roughly how much of a body is produced at a time.
const CHUNK: usize = 64 * 1024;

/// A body in chunks: `head`, the items as `render` writes them (comma-separated), then
/// `]}`. Items are rendered as the chunks are taken, and dropped once written.
pub struct Chunks<T, F> {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<T>,
    render: F,
    first: bool,
    done: bool,
}

impl<T, F: FnMut(&T, &mut Vec<u8>)> Chunks<T, F> {
    pub fn new(head: Vec<u8>, items: Vec<T>, render: F) -> Chunks<T, F> {
        Chunks { head: Some(head), items: items.into_iter(), render, first: true, done: false }
    }
}

impl<T, F: FnMut(&T, &mut Vec<u8>)> Iterator for Chunks<T, F> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut out = self.head.take().unwrap_or_default();
        out.reserve(CHUNK);
        while out.len() < CHUNK {
            let Some(item) = self.items.next() else {
                out.extend_from_slice(b"]}");
                self.done = true;
                break;
            };
            if !self.first {
                out.push(b',');
            }
            self.first = false;
            (self.render)(&item, &mut out);
        }
        Some(Bytes::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths() -> FieldPaths {
        Arc::from(vec!["metadata.name".into(), "spec.nodeName".into()].into_boxed_slice())
    }

    #[test]
    fn objects_keep_their_json_with_the_version_and_lists_drop_kind() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web", "n": 1}}, "spec": {"nodeName": "n1"}});
        let o = RawObject::new(obj, 7, &paths()).unwrap();
        let full: Value = serde_json::from_slice(o.json()).unwrap();
        assert_eq!(full["kind"], "Pod");
        assert_eq!(full["apiVersion"], "v1");
        assert_eq!(full["metadata"]["resourceVersion"], "7");
        assert!(o.json().starts_with(br#"{"kind":"Pod","apiVersion":"v1","metadata":"#));
        let mut item = Vec::new();
        o.write_item(&mut item);
        let item: Value = serde_json::from_slice(&item).unwrap();
        assert_eq!(
            item,
            json!({"metadata": {"name": "p", "labels": {"app": "web", "n": 1}, "resourceVersion": "7"}, "spec": {"nodeName": "n1"}})
        );
        assert_eq!((o.label("app"), o.label("n"), o.label("x")), (Some("web"), None, None));
        assert_eq!(o.field("spec.nodeName"), "n1");
        // Not extracted: decoded on demand.
        assert_eq!(o.field("metadata.labels.app"), "web");
        assert_eq!(o.value(), full);
        assert_eq!(at_version(&o, 9).unwrap().value()["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn objects_without_kind_or_other_members_encode() {
        let o = RawObject::new(json!({"metadata": {}}), 1, &paths()).unwrap();
        let mut item = Vec::new();
        o.write_item(&mut item);
        assert_eq!(std::str::from_utf8(&item).unwrap(), r#"{"metadata":{"resourceVersion":"1"}}"#);
        assert!(RawObject::new(json!({"kind": "X"}), 1, &paths()).is_none(), "no metadata");
        assert!(RawObject::new(json!([1]), 1, &paths()).is_none());
    }

    #[test]
    fn bodies_come_in_chunks_and_parse_whole() {
        let items: Vec<u32> = (0..20_000).collect();
        let chunks: Vec<Bytes> = Chunks::new(b"{\"items\":[".to_vec(), items, |i: &u32, out: &mut Vec<u8>| {
            out.extend_from_slice(format!("{{\"i\":{i}}}").as_bytes())
        })
        .collect();
        assert!(chunks.len() > 2, "{}", chunks.len());
        let body: Vec<u8> = chunks.concat();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 20_000);
        assert_eq!(v["items"][19_999]["i"], 19_999);
        let empty: Vec<u8> = Chunks::new(b"{\"items\":[".to_vec(), Vec::<u32>::new(), |_: &u32, _: &mut Vec<u8>| {})
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(empty, b"{\"items\":[]}");
    }

    #[test]
    fn envelopes_and_events_encode_like_the_trees() {
        let meta = json!({"resourceVersion": "3"});
        let head = envelope(&[("kind", &json!("PodList")), ("apiVersion", &json!("v1")), ("metadata", &meta)], "items");
        let mut body = head;
        body.extend_from_slice(b"]}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "3"}, "items": []})
        );
        let ev = Event::new("ADDED", &json!({"kind": "Pod"}));
        assert_eq!(&ev.line()[..], b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}\n");
        assert_eq!(ev.to_value(), json!({"type": "ADDED", "object": {"kind": "Pod"}}));
    }
}
