//! Decoding of request bodies in Kubernetes' protobuf encoding
//! (`application/vnd.kubernetes.protobuf`): client-go's typed clients, kubectl's
//! `create` generators among them, send built-in objects this way and do not fall back
//! to JSON. Bodies are turned into the JSON the rest of the server works on, driven by a
//! small schema per message (field numbers from upstream's `generated.proto`); fields
//! the schema does not list are skipped. Responses stay JSON (clients accept it).

use base64::Engine;
use serde_json::{Map, Value, json};

/// The 4-byte prefix of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8] = b"k8s\x00";

/// How one field is encoded.
#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    /// A `*bool`: present means set, false included.
    OptBool,
    Int,
    /// An int that is written whenever set (a `*int32`, or a non-pointer field JSON
    /// always shows): zero is kept.
    OptInt,
    /// `intstr.IntOrString`: `{type, intVal, strVal}`, a number or a string in JSON.
    IntOrStr,
    /// `resource.Quantity`: `{string}`, a string in JSON.
    Quantity,
    /// `map<string, Quantity>` (a `ResourceList`).
    MapQuantity,
    /// Bytes, base64 in JSON.
    Bytes,
    /// `metav1.Time`: `{seconds, nanos}`, RFC 3339 in JSON.
    Time,
    Msg(&'static [Field]),
    /// An embedded message whose fields JSON shows in the parent (`json:",inline"`).
    Inline(&'static [Field]),
    RepStr,
    RepMsg(&'static [Field]),
    MapStr,
    MapBytes,
}

/// (field number, JSON name, encoding).
pub type Field = (u32, &'static str, Kind);

const OWNER_REFERENCE: &[Field] = &[
    (1, "kind", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "controller", Kind::Bool),
    (7, "blockOwnerDeletion", Kind::Bool),
];

pub const OBJECT_META: &[Field] = &[
    (1, "name", Kind::Str),
    (2, "generateName", Kind::Str),
    (3, "namespace", Kind::Str),
    (4, "selfLink", Kind::Str),
    (5, "uid", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "generation", Kind::Int),
    (8, "creationTimestamp", Kind::Time),
    (9, "deletionTimestamp", Kind::Time),
    (10, "deletionGracePeriodSeconds", Kind::Int),
    (11, "labels", Kind::MapStr),
    (12, "annotations", Kind::MapStr),
    (13, "ownerReferences", Kind::RepMsg(OWNER_REFERENCE)),
    (14, "finalizers", Kind::RepStr),
];

pub const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapStr),
    (3, "binaryData", Kind::MapBytes),
    (4, "immutable", Kind::OptBool),
];

pub const SECRET: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "data", Kind::MapBytes),
    (3, "type", Kind::Str),
    (4, "stringData", Kind::MapStr),
    (5, "immutable", Kind::OptBool),
];

pub const OBJECT_REFERENCE: &[Field] = &[
    (1, "kind", Kind::Str),
    (2, "namespace", Kind::Str),
    (3, "name", Kind::Str),
    (4, "uid", Kind::Str),
    (5, "apiVersion", Kind::Str),
    (6, "resourceVersion", Kind::Str),
    (7, "fieldPath", Kind::Str),
];

pub const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "secrets", Kind::RepMsg(OBJECT_REFERENCE)),
    (3, "imagePullSecrets", Kind::RepMsg(&[(1, "name", Kind::Str)])),
    (4, "automountServiceAccountToken", Kind::OptBool),
];

pub const NAMESPACE: &[Field] = &[
    (1, "metadata", Kind::Msg(OBJECT_META)),
    (2, "spec", Kind::Msg(&[(1, "finalizers", Kind::RepStr)])),
    (3, "status", Kind::Msg(&[(1, "phase", Kind::Str)])),
];

pub const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Kind::OptInt),
    (2, "preconditions", Kind::Msg(&[(1, "uid", Kind::Str), (2, "resourceVersion", Kind::Str)])),
    (3, "orphanDependents", Kind::Bool),
    (4, "propagationPolicy", Kind::Str),
    (5, "dryRun", Kind::RepStr),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("protobuf decoding: {0}")]
pub struct DecodeError(&'static str);

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(DecodeError("truncated varint"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError("length overflow"))?;
        if n > self.buf.len() {
            return Err(DecodeError("truncated field"));
        }
        let (b, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(b)
    }

    /// The next (field number, value) pair; value is the varint or the bytes.
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = u32::try_from(tag >> 3).map_err(|_| DecodeError("bad tag"))?;
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Wire::Skip
            }
            2 => Wire::Len(self.bytes()?),
            5 => {
                self.skip(4)?;
                Wire::Skip
            }
            _ => return Err(DecodeError("unsupported wire type")),
        };
        Ok(Some((field, wire)))
    }

    fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError("truncated field"));
        }
        self.buf = &self.buf[n..];
        Ok(())
    }
}

enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Skip,
}

fn utf8(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError("invalid UTF-8 in a string"))
}

fn map_entry(b: &[u8]) -> Result<(String, &[u8]), DecodeError> {
    let mut r = Reader { buf: b };
    let (mut k, mut v) = (String::new(), &b[..0]);
    while let Some((f, w)) = r.next()? {
        match (f, w) {
            (1, Wire::Len(x)) => k = utf8(x)?,
            (2, Wire::Len(x)) => v = x,
            _ => {}
        }
    }
    Ok((k, v))
}

/// A `metav1.Time`; None for the zero time (Go's encoder writes it for unset fields).
fn time(b: &[u8]) -> Result<Option<Value>, DecodeError> {
    let mut r = Reader { buf: b };
    let mut secs = 0i64;
    while let Some((f, w)) = r.next()? {
        if let (1, Wire::Varint(v)) = (f, w) {
            secs = v as i64;
        }
    }
    if secs == 0 {
        return Ok(None);
    }
    let t = k8s_openapi::jiff::Timestamp::from_second(secs).map_err(|_| DecodeError("timestamp out of range"))?;
    Ok(Some(json!(t.to_string())))
}

/// Decodes one message into a JSON object.
pub fn message(b: &[u8], schema: &[Field]) -> Result<Map<String, Value>, DecodeError> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, wire)) = r.next()? {
        let Some((_, name, kind)) = schema.iter().find(|(n, _, _)| *n == num) else { continue };
        let name = name.to_string();
        match (kind, wire) {
            // Go's encoder writes unset optional scalars as zero values; JSON omits them.
            (Kind::Str, Wire::Len([])) | (Kind::Bool | Kind::Int, Wire::Varint(0)) => {}
            (Kind::Str, Wire::Len(x)) => {
                out.insert(name, json!(utf8(x)?));
            }
            (Kind::Bytes, Wire::Len(x)) => {
                out.insert(name, json!(base64::engine::general_purpose::STANDARD.encode(x)));
            }
            (Kind::Bool | Kind::OptBool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Kind::OptInt, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::IntOrStr, Wire::Len(x)) => {
                let m = message(x, &[(1, "type", Kind::Int), (2, "intVal", Kind::OptInt), (3, "strVal", Kind::Str)])?;
                let v = if m.get("type").and_then(Value::as_i64) == Some(1) {
                    m.get("strVal").cloned().unwrap_or_else(|| json!(""))
                } else {
                    m.get("intVal").cloned().unwrap_or_else(|| json!(0))
                };
                out.insert(name, v);
            }
            (Kind::Quantity, Wire::Len(x)) => {
                let m = message(x, &[(1, "string", Kind::Str)])?;
                out.insert(name, m.get("string").cloned().unwrap_or_else(|| json!("0")));
            }
            (Kind::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::Time, Wire::Len(x)) => {
                if let Some(t) = time(x)? {
                    out.insert(name, t);
                }
            }
            (Kind::Inline(s), Wire::Len(x)) => {
                out.extend(message(x, s)?);
            }
            (Kind::Msg(s), Wire::Len(x)) => {
                out.insert(name, Value::Object(message(x, s)?));
            }
            (Kind::RepStr, Wire::Len(x)) => {
                let e = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = e.as_array_mut() {
                    a.push(json!(utf8(x)?));
                }
            }
            (Kind::RepMsg(s), Wire::Len(x)) => {
                let v = Value::Object(message(x, s)?);
                let e = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = e.as_array_mut() {
                    a.push(v);
                }
            }
            (Kind::MapStr | Kind::MapBytes | Kind::MapQuantity, Wire::Len(x)) => {
                let (k, v) = map_entry(x)?;
                let v = match kind {
                    Kind::MapStr => json!(utf8(v)?),
                    Kind::MapQuantity => {
                        message(v, &[(1, "string", Kind::Str)])?.remove("string").unwrap_or(json!("0"))
                    }
                    _ => json!(base64::engine::general_purpose::STANDARD.encode(v)),
                };
                let e = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = e.as_object_mut() {
                    m.insert(k, v);
                }
            }
            _ => return Err(DecodeError("field has an unexpected wire type")),
        }
    }
    Ok(out)
}

/// Decodes a `k8s\0`-prefixed `runtime.Unknown` envelope holding an object of `schema`
/// into JSON with its apiVersion and kind.
pub fn decode_object(body: &[u8], schema: &[Field]) -> Result<Value, DecodeError> {
    let rest = body.strip_prefix(MAGIC).ok_or(DecodeError("missing the k8s protobuf prefix"))?;
    let mut r = Reader { buf: rest };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &rest[..0]);
    while let Some((f, w)) = r.next()? {
        match (f, w) {
            (1, Wire::Len(tm)) => {
                let m = message(tm, &[(1, "apiVersion", Kind::Str), (2, "kind", Kind::Str)])?;
                api_version = m.get("apiVersion").and_then(Value::as_str).unwrap_or("").into();
                kind = m.get("kind").and_then(Value::as_str).unwrap_or("").into();
            }
            (2, Wire::Len(x)) => raw = x,
            _ => {}
        }
    }
    let mut obj = Map::new();
    if !api_version.is_empty() {
        obj.insert("apiVersion".into(), json!(api_version));
    }
    if !kind.is_empty() {
        obj.insert("kind".into(), json!(kind));
    }
    obj.extend(message(raw, schema)?);
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn len_field(num: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(num) << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    #[test]
    fn decodes_a_configmap_envelope() {
        let mut meta = Vec::new();
        len_field(1, b"x", &mut meta);
        len_field(2, b"", &mut meta);
        len_field(3, b"default", &mut meta);
        meta.extend_from_slice(&[7 << 3, 0]); // generation: 0
        let mut entry = Vec::new();
        len_field(1, b"a", &mut entry);
        len_field(2, b"b", &mut entry);
        let mut cm = Vec::new();
        len_field(1, &meta, &mut cm);
        len_field(2, &entry, &mut cm);
        cm.extend_from_slice(&[4 << 3, 1]); // immutable: true
        let mut tm = Vec::new();
        len_field(1, b"v1", &mut tm);
        len_field(2, b"ConfigMap", &mut tm);
        let mut body = MAGIC.to_vec();
        len_field(1, &tm, &mut body);
        len_field(2, &cm, &mut body);
        let v = decode_object(&body, CONFIG_MAP).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}, "data": {"a": "b"}, "immutable": true})
        );
        assert!(decode_object(&body[..body.len() - 3], CONFIG_MAP).is_err());
        assert!(decode_object(b"{}", CONFIG_MAP).is_err());
    }
}
