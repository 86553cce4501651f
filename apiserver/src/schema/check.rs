//! The checks a CRD's schema must pass (what `Structural::new` reports), in upstream's order:
//! `nullable` at the root; the structural invariants and completeness (`ValidateStructural`,
//! sorted by message); the defaults (`ValidateDefaults`, only when the schema is structural); the
//! OpenAPI restrictions of CRD validation (`ValidateCustomResourceDefinitionOpenAPISchema`).

use serde_json::Value;

use super::{Structural, child_path, gofmt, key_path, objectmeta, parse, pruning, validation};
use crate::status::FieldError;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

pub(super) fn validate_schema(s: &Structural, raw: &Value, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if s.nullable {
        errs.push(FieldError::forbidden(&child_path(base, "nullable"), "nullable cannot be true at the root"));
    }
    let structural = validate_structural(s, base);
    if structural.is_empty() {
        let mut root = s.clone();
        root.embedded_resource = true;
        defaults(&root, base, false, None, &mut errs);
    } else {
        errs.extend(structural);
    }
    let ssv = Ssv { allow_defaults: true, disallow_reason: String::new(), inside_meta: false };
    openapi_schema(raw, base, &ssv, true, &mut errs);
    errs
}

fn invalid(field: &str, v: &Value, detail: &str) -> FieldError {
    FieldError {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!("{field}: Invalid value: {}: {detail}", gofmt::bad_value(v)),
    }
}

fn not_supported(field: &str, v: &Value, supported: &[&str]) -> FieldError {
    let list = supported.iter().map(|s| gofmt::quote(s)).collect::<Vec<_>>().join(", ");
    FieldError {
        reason: "FieldValueNotSupported",
        field: field.to_string(),
        message: format!("{field}: Unsupported value: {}: supported values: {list}", gofmt::bad_value(v)),
    }
}

// ---------------------------------------------------------------------------------------------
// Structural invariants (upstream's `ValidateStructural`).

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

fn validate_structural(s: &Structural, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    invariants(s, Level::Root, base, &mut errs);
    completeness(s, base, &mut errs);
    errs.sort_by(|a, b| a.message.cmp(&b.message));
    errs
}

/// A schema node that sets nothing but `type` (the int-or-string `anyOf` branches).
fn only_type(s: &Structural, t: &str) -> bool {
    let bare = Structural { type_: t.to_string(), ..Structural::default() };
    s.type_ == t && format!("{s:?}") == format!("{bare:?}")
}

fn is_int_or_string_any_of(any_of: &[Structural]) -> bool {
    any_of.len() == 2 && only_type(&any_of[0], "integer") && only_type(&any_of[1], "string")
}

fn invariants(s: &Structural, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    if s.type_ == "array" && s.items.is_none() {
        errs.push(FieldError::required(&child_path(path, "items"), "must be specified"));
    }
    if let Some(items) = &s.items {
        invariants(items, Level::Item, &child_path(path, "items"), errs);
    }
    for (k, v) in &s.properties {
        invariants(v, Level::Field, &key_path(&child_path(path, "properties"), k), errs);
    }
    // validateGeneric
    if let Some(ap) = &s.additional_properties {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(&child_path(path, "additionalProperties"), "must not be used at the root"));
        }
        if let Some(ap) = ap.schema() {
            invariants(ap, Level::Field, &child_path(path, "additionalProperties"), errs);
        }
    }
    // validateExtensions
    if s.int_or_string && s.preserve_unknown_fields {
        errs.push(invalid(
            &child_path(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if s.int_or_string && s.embedded_resource {
        errs.push(invalid(
            &child_path(path, "x-kubernetes-embedded-resource"),
            &Value::Bool(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    let vv = &s.value_validation;
    let skip_any_of = is_int_or_string_any_of(&vv.any_of);
    let skip_first_all_of_any_of =
        vv.all_of.first().is_some_and(|a| is_int_or_string_any_of(&a.value_validation.any_of));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path, errs);

    let check_metadata = lvl == Level::Root || s.embedded_resource;
    let type_path = child_path(path, "type");
    if s.embedded_resource && s.type_ != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        if s.type_.is_empty() {
            errs.push(FieldError::required(&type_path, detail));
        } else {
            errs.push(FieldError::invalid(&type_path, &s.type_, detail));
        }
    } else if s.type_.is_empty() && !s.int_or_string && !s.preserve_unknown_fields {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(&type_path, detail));
    }
    if s.embedded_resource && s.additional_properties.is_some() {
        errs.push(FieldError::forbidden(
            &child_path(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if lvl == Level::Root && !s.type_.is_empty() && s.type_ != "object" {
        errs.push(FieldError::invalid(&type_path, &s.type_, "must be object at the root"));
    }
    let props = child_path(path, "properties");
    if check_metadata {
        for k in ["kind", "apiVersion"] {
            if let Some(p) = s.properties.get(k)
                && p.type_ != "string"
            {
                errs.push(FieldError::invalid(&child_path(&key_path(&props, k), "type"), &p.type_, "must be string"));
            }
        }
        if let Some(m) = s.properties.get("metadata")
            && m.type_ != "object"
        {
            errs.push(FieldError::invalid(
                &child_path(&key_path(&props, "metadata"), "type"),
                &m.type_,
                "must be object",
            ));
        }
    }
    if lvl == Level::Root
        && let Some(m) = s.properties.get("metadata")
    {
        // Only name and generateName may be restricted; type and default are checked elsewhere.
        let mut rest = m.clone();
        let name = rest.properties.contains_key("name");
        let generate_name = rest.properties.contains_key("generateName");
        let n = rest.properties.len();
        if (name && generate_name && n == 2) || ((name || generate_name) && n == 1) {
            rest.properties.clear();
        }
        rest.type_.clear();
        rest.default = None;
        if format!("{rest:?}") != format!("{:?}", Structural::default()) {
            errs.push(FieldError::forbidden(
                &key_path(&props, "metadata"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if s.embedded_resource && !s.preserve_unknown_fields && s.properties.is_empty() {
        errs.push(FieldError::required(
            &props,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// `validateValueValidation`: the junctors' nested schemas must not say anything structural.
fn value_validation(
    s: &Structural,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    lvl: Level,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let vv = &s.value_validation;
    if !skip_any_of {
        for (i, n) in vv.any_of.iter().enumerate() {
            nested(n, false, lvl, &format!("{}[{i}]", child_path(path, "anyOf")), errs);
        }
    }
    for (i, n) in vv.all_of.iter().enumerate() {
        nested(n, skip_first_all_of_any_of && i == 0, lvl, &format!("{}[{i}]", child_path(path, "allOf")), errs);
    }
    for (i, n) in vv.one_of.iter().enumerate() {
        nested(n, false, lvl, &format!("{}[{i}]", child_path(path, "oneOf")), errs);
    }
    if let Some(n) = &vv.not {
        nested(n, false, lvl, &child_path(path, "not"), errs);
    }
    if let Some(p) = &vv.pattern
        && let Err(e) = super::go_regex(&p.source)
    {
        let rust = e.to_string();
        let rust = rust.lines().last().unwrap_or_default().trim();
        let rust = rust.strip_prefix("error: ").unwrap_or(rust);
        // Go's `regexp/syntax` error codes for the common mistakes.
        let reason = match rust {
            "unclosed group" => "missing closing )",
            "unclosed character class" => "missing closing ]",
            "unopened group" => "unexpected )",
            "repetition operator missing expression" => "missing argument to repetition operator",
            "incomplete escape sequence, reached end of pattern prematurely" => {
                "trailing backslash at end of expression"
            }
            other => other,
        };
        errs.push(FieldError::invalid(
            &child_path(path, "pattern"),
            &p.source,
            &format!("must be a valid regular expression, but isn't: error parsing regexp: {reason}: `{}`", p.source),
        ));
    }
}

fn nested(n: &Structural, skip_any_of: bool, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    value_validation(n, skip_any_of, false, lvl, path, errs);
    if let Some(items) = &n.items {
        nested(items, false, lvl, &child_path(path, "items"), errs);
    }
    for (k, p) in &n.properties {
        nested(p, false, Level::Field, &key_path(&child_path(path, "properties"), k), errs);
    }
    let forbid = |errs: &mut Vec<FieldError>, field: &str, detail: &str| {
        errs.push(FieldError::forbidden(&child_path(path, field), detail));
    };
    if !n.type_.is_empty() {
        forbid(errs, "type", "must be empty to be structural");
    }
    if n.additional_properties.is_some() {
        forbid(errs, "additionalProperties", "must be undefined to be structural");
    }
    if n.default.is_some() {
        forbid(errs, "default", "must be undefined to be structural");
    }
    if !n.title.is_empty() {
        forbid(errs, "title", "must be empty to be structural");
    }
    if !n.description.is_empty() {
        forbid(errs, "description", "must be empty to be structural");
    }
    if n.nullable {
        forbid(errs, "nullable", "must be false to be structural");
    }
    if n.external_docs.is_some() {
        forbid(errs, "externalDocs", "must be undefined to be structural");
    }
    if n.preserve_unknown_fields {
        forbid(errs, "x-kubernetes-preserve-unknown-fields", "must be false to be structural");
    }
    if n.embedded_resource {
        forbid(errs, "x-kubernetes-embedded-resource", "must be false to be structural");
    }
    if n.int_or_string {
        forbid(errs, "x-kubernetes-int-or-string", "must be false to be structural");
    }
    if !n.list_map_keys.is_empty() {
        forbid(errs, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    if n.list_type.is_some() {
        forbid(errs, "x-kubernetes-list-type", "must be undefined to be structural");
    }
    if n.map_type.is_some() {
        forbid(errs, "x-kubernetes-map-type", "must be undefined to be structural");
    }
    if !n.validations.is_empty() {
        forbid(errs, "x-kubernetes-validations", "must be empty to be structural");
    }
    if n.properties.contains_key("metadata") {
        errs.push(FieldError::forbidden(
            &key_path(&child_path(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Every property or items a value validation mentions must be specified structurally too (checked
/// for the junctors of the root, as upstream's `validateStructuralCompleteness` does).
fn completeness(s: &Structural, path: &str, errs: &mut Vec<FieldError>) {
    junctor_completeness(s, s, path, path, errs);
}

fn junctor_completeness(v: &Structural, s: &Structural, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    let vv = &v.value_validation;
    if let Some(n) = &vv.not {
        nested_completeness(n, Some(s), s_path, &child_path(v_path, "not"), errs);
    }
    for (name, list) in [("allOf", &vv.all_of), ("anyOf", &vv.any_of), ("oneOf", &vv.one_of)] {
        for (i, n) in list.iter().enumerate() {
            nested_completeness(n, Some(s), s_path, &format!("{}[{i}]", child_path(v_path, name)), errs);
        }
    }
}

fn nested_completeness(v: &Structural, s: Option<&Structural>, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    let Some(s) = s else {
        errs.push(FieldError::required(s_path, &format!("because it is defined in {v_path}")));
        return;
    };
    junctor_completeness(v, s, s_path, v_path, errs);
    if let Some(items) = &v.items {
        nested_completeness(
            items,
            s.items.as_deref(),
            &child_path(s_path, "items"),
            &child_path(v_path, "items"),
            errs,
        );
    }
    // For CRDs, properties under additionalProperties may not be validated (upstream's
    // `AllowValidationPropertiesWithAdditionalProperties` is off).
    for (k, vf) in &v.properties {
        let vp = key_path(&child_path(v_path, "properties"), k);
        let sp = key_path(&child_path(s_path, "properties"), k);
        match s.properties.get(k) {
            Some(sf) => nested_completeness(vf, Some(sf), &sp, &vp, errs),
            None => errs.push(FieldError::required(&sp, &format!("because it is defined in {vp}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults (upstream's `defaulting.ValidateDefaults`).

/// `meta_path` is where `s` sits below the innermost embedded resource, as keys (`None` once the
/// walk went through list items, where upstream's surrounding-object function indexes into lists).
fn defaults(s: &Structural, path: &str, inside_meta: bool, meta_path: Option<&[String]>, errs: &mut Vec<FieldError>) {
    let inside_meta = inside_meta && !s.embedded_resource;
    let meta_path: Option<&[String]> = if s.embedded_resource { Some(&[]) } else { meta_path };
    if let Some(d) = &s.default {
        let default_path = child_path(path, "default");
        if inside_meta {
            // Type and object meta defaults must give valid metadata once placed in an object.
            let meta_errs = match meta_path {
                Some(keys) => surrounding_meta_errors(keys, d),
                None => Vec::new(),
            };
            if !meta_errs.is_empty() {
                let joined = match meta_errs.as_slice() {
                    [one] => one.message.clone(),
                    many => format!("[{}]", many.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")),
                };
                errs.push(invalid(&default_path, d, &format!("must result in valid metadata: {joined}")));
            } else {
                errs.extend(validation::validate_custom_resource(Some(&default_path), d, s));
            }
        } else {
            if pruning::prunes_anything(d, s) {
                errs.push(invalid(&default_path, d, "must not have unknown fields"));
            }
            let meta_errs = objectmeta::validate_embedded(d, s, &default_path);
            if !meta_errs.is_empty() {
                errs.extend(meta_errs);
            } else {
                errs.extend(validation::validate_custom_resource(Some(&default_path), d, s));
            }
        }
    }
    // additionalProperties are not followed: defaults are forbidden there.
    if let Some(items) = &s.items {
        defaults(items, &child_path(path, "items"), inside_meta, None, errs);
    }
    for (k, sub) in &s.properties {
        let sub_inside = inside_meta || (s.embedded_resource && META_FIELDS.contains(&k.as_str()));
        let sub_path: Option<Vec<String>> = meta_path.map(|p| p.iter().cloned().chain([k.clone()]).collect());
        defaults(sub, &key_path(&child_path(path, "properties"), k), sub_inside, sub_path.as_deref(), errs);
    }
}

/// Upstream's root-object function: the default placed at `keys` in
/// `{"apiVersion": "validation/v1", "kind": "Validation"}`, whose type and object meta are then checked.
fn surrounding_meta_errors(keys: &[String], d: &Value) -> Vec<FieldError> {
    let mut obj = serde_json::json!({"apiVersion": "validation/v1", "kind": "Validation"});
    let mut at = &mut obj;
    for (i, k) in keys.iter().enumerate() {
        let Some(map) = at.as_object_mut() else { return Vec::new() };
        let next = if i + 1 == keys.len() { d.clone() } else { serde_json::json!({}) };
        at = map.entry(k.clone()).or_insert(next);
    }
    match obj.as_object() {
        Some(map) => objectmeta::validate_embedded_resource("", map),
        None => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// CRD OpenAPI restrictions (upstream's `ValidateCustomResourceDefinitionOpenAPISchema` with the
// v3 `specStandardValidator`), on the schema as given.

#[derive(Clone)]
struct Ssv {
    allow_defaults: bool,
    disallow_reason: String,
    inside_meta: bool,
}

impl Ssv {
    fn forbid_defaults(&self, reason: &str) -> Ssv {
        Ssv { allow_defaults: false, disallow_reason: reason.to_string(), ..self.clone() }
    }
}

const OPENAPI_V3_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const VALIDATION_REASONS: [&str; 4] =
    ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];

fn non_empty<'a>(m: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a Value> {
    m.get(k).filter(|v| match v {
        Value::Null => false,
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    })
}

fn sorted_entries(v: Option<&Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = v.and_then(Value::as_object).into_iter().flatten().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `specStandardValidatorV3.validate`.
fn standard(m: &serde_json::Map<String, Value>, path: &str, ssv: &Ssv, errs: &mut Vec<FieldError>) {
    let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
    if !ty.is_empty() && !OPENAPI_V3_TYPES.contains(&ty) {
        errs.push(not_supported(&child_path(path, "type"), &Value::String(ty.into()), &OPENAPI_V3_TYPES));
    }
    if m.get("default").is_some() && !ssv.allow_defaults {
        let mut detail = "must not be set".to_string();
        if !ssv.disallow_reason.is_empty() {
            detail = format!("{detail} {}", ssv.disallow_reason);
        }
        errs.push(FieldError::forbidden(&child_path(path, "default"), &detail));
    }
    let forbidden = [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ];
    for (k, detail) in forbidden {
        let present = match k {
            "patternProperties" | "definitions" => non_empty(m, k).is_some(),
            "id" => m.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty()),
            _ => m.get(k).is_some_and(|v| !v.is_null()),
        };
        if present {
            errs.push(FieldError::forbidden(&child_path(path, k), detail));
        }
    }
    if ty == "null" {
        errs.push(FieldError::forbidden(
            &child_path(path, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if m.get("items").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        errs.push(FieldError::forbidden(&child_path(path, "items"), "items must be a schema object and not an array"));
    }
    if ssv.inside_meta && m.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        errs.push(FieldError::forbidden(
            &child_path(path, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

fn openapi_schema(schema: &Value, path: &str, ssv: &Ssv, is_root: bool, errs: &mut Vec<FieldError>) {
    let Some(m) = schema.as_object() else { return };
    standard(m, path, ssv, errs);
    let ty = m.get("type").and_then(Value::as_str).unwrap_or_default();
    let embedded = m.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    if m.get("uniqueItems") == Some(&Value::Bool(true)) {
        errs.push(FieldError::forbidden(
            &child_path(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let has_properties = non_empty(m, "properties").is_some();
    if let Some(ap) = m.get("additionalProperties").filter(|v| !v.is_null()) {
        if has_properties && ap != &Value::Bool(true) {
            errs.push(FieldError::forbidden(
                &child_path(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let sub = if ssv.inside_meta {
            ssv.forbid_defaults("inside additionalProperties applying to object metadata")
        } else {
            ssv.clone()
        };
        openapi_schema(ap, &child_path(path, "additionalProperties"), &sub, false, errs);
    }
    for (k, p) in sorted_entries(m.get("properties")) {
        let mut sub = ssv.clone();
        if (is_root || embedded) && META_FIELDS.contains(&k.as_str()) {
            sub.inside_meta = true;
            if is_root {
                sub = sub.forbid_defaults(&format!("in top-level {k}"));
            }
        }
        openapi_schema(p, &key_path(&child_path(path, "properties"), k), &sub, false, errs);
    }
    if let Some(not) = m.get("not") {
        openapi_schema(not, &child_path(path, "not"), ssv, false, errs);
    }
    for name in ["allOf", "oneOf", "anyOf"] {
        for (i, sub) in m.get(name).and_then(Value::as_array).into_iter().flatten().enumerate() {
            openapi_schema(sub, &format!("{}[{i}]", child_path(path, name)), ssv, false, errs);
        }
    }
    for (k, d) in sorted_entries(m.get("definitions")) {
        openapi_schema(d, &key_path(&child_path(path, "definitions"), k), ssv, false, errs);
    }
    let list_type = m.get("x-kubernetes-list-type").and_then(Value::as_str);
    let map_type = m.get("x-kubernetes-map-type").and_then(Value::as_str);
    let items_path = child_path(path, "items");
    match m.get("items") {
        Some(Value::Array(list)) => {
            for (i, sub) in list.iter().enumerate() {
                openapi_schema(sub, &format!("{items_path}[{i}]"), ssv, false, errs);
            }
        }
        Some(items @ Value::Object(_)) => openapi_schema(items, &items_path, ssv, false, errs),
        _ => {}
    }
    for (k, d) in sorted_entries(m.get("dependencies")) {
        if d.is_object() {
            openapi_schema(d, &key_path(&child_path(path, "dependencies"), k), ssv, false, errs);
        }
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(invalid(
            &child_path(path, "x-kubernetes-preserve-unknown-fields"),
            &Value::Bool(false),
            "must be true or undefined",
        ));
    }
    let type_path = child_path(path, "type");
    if let Some(mt) = map_type {
        if ty != "object" {
            let detail = "must be object if x-kubernetes-map-type is specified";
            if ty.is_empty() {
                errs.push(FieldError::required(&type_path, detail));
            } else {
                errs.push(FieldError::invalid(&type_path, ty, detail));
            }
        }
        if mt != "atomic" && mt != "granular" {
            errs.push(not_supported(
                &child_path(path, "x-kubernetes-map-type"),
                &Value::String(mt.into()),
                &["atomic", "granular"],
            ));
        }
    }
    let items = m.get("items").and_then(Value::as_object);
    if let Some(lt) = list_type {
        if ty != "array" {
            let detail = "must be array if x-kubernetes-list-type is specified";
            if ty.is_empty() {
                errs.push(FieldError::required(&type_path, detail));
            } else {
                errs.push(FieldError::invalid(&type_path, ty, detail));
            }
        } else if lt == "set"
            && let Some(is) = items
        {
            let item_list_type = is.get("x-kubernetes-list-type").cloned().unwrap_or(Value::Null);
            match is.get("type").and_then(Value::as_str) {
                Some("array") if !item_list_type.is_null() && item_list_type != "atomic" => errs.push(invalid(
                    &child_path(&items_path, "x-kubernetes-list-type"),
                    &item_list_type,
                    "must be atomic as item of a list with x-kubernetes-list-type=set",
                )),
                Some("object") if is.get("x-kubernetes-map-type").and_then(Value::as_str) != Some("atomic") => errs
                    .push(invalid(
                        &child_path(&items_path, "x-kubernetes-map-type"),
                        &item_list_type,
                        "must be atomic as item of a list with x-kubernetes-list-type=set",
                    )),
                _ => {}
            }
        }
        if !["atomic", "set", "map"].contains(&lt) {
            errs.push(not_supported(
                &child_path(path, "x-kubernetes-list-type"),
                &Value::String(lt.into()),
                &["atomic", "set", "map"],
            ));
        }
    }
    let keys: Vec<&str> = m
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let keys_repr = || format!("[]string{{{}}}", keys.iter().map(|k| gofmt::quote(k)).collect::<Vec<_>>().join(", "));
    let keys_path = child_path(path, "x-kubernetes-list-map-keys");
    let list_type_path = child_path(path, "x-kubernetes-list-type");
    if !keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errs.push(FieldError::required(&list_type_path, detail)),
            Some("map") => {}
            Some(lt) => errs.push(FieldError::invalid(&list_type_path, lt, detail)),
        }
    }
    if list_type == Some("map") {
        if keys.is_empty() {
            errs.push(FieldError::required(&keys_path, "must not be empty if x-kubernetes-list-type is map"));
        }
        match m.get("items") {
            None | Some(Value::Null) => {
                errs.push(FieldError::required(&items_path, "must have a schema if x-kubernetes-list-type is map"))
            }
            Some(list @ Value::Array(_)) => {
                errs.push(invalid(&items_path, list, "must only have a single schema if x-kubernetes-list-type is map"))
            }
            _ => {}
        }
        if let Some(is) = items {
            let item_type = is.get("type").and_then(Value::as_str).unwrap_or_default();
            if item_type != "object" {
                errs.push(FieldError::invalid(
                    &child_path(&items_path, "type"),
                    item_type,
                    "must be object if parent array's x-kubernetes-list-type is map",
                ));
            } else {
                let mut seen = Vec::new();
                for k in &keys {
                    match is.get("properties").and_then(|p| p.get(*k)) {
                        Some(p) => {
                            let t = p.get("type").and_then(Value::as_str).unwrap_or_default();
                            if t == "array" || t == "object" {
                                errs.push(FieldError::invalid(
                                    &child_path(&key_path(&child_path(&items_path, "properties"), k), "type"),
                                    item_type,
                                    "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                ));
                            }
                        }
                        None => errs.push(FieldError {
                            reason: "FieldValueInvalid",
                            field: keys_path.clone(),
                            message: format!(
                                "{keys_path}: Invalid value: {}: entries must all be names of item properties",
                                keys_repr()
                            ),
                        }),
                    }
                    if seen.contains(k) {
                        errs.push(FieldError {
                            reason: "FieldValueInvalid",
                            field: keys_path.clone(),
                            message: format!(
                                "{keys_path}: Invalid value: {}: must not contain duplicate entries",
                                keys_repr()
                            ),
                        });
                    }
                    seen.push(*k);
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(lt @ ("set" | "map")), Some(is)) = (list_type, items) {
        if is.get("nullable") == Some(&Value::Bool(true)) {
            errs.push(FieldError::forbidden(
                &child_path(&items_path, "nullable"),
                &format!("cannot be nullable when x-kubernetes-list-type is {lt}"),
            ));
        }
        if lt == "map" {
            let required: Vec<&str> =
                is.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            for k in &keys {
                let Some(p) = is.get("properties").and_then(|p| p.get(*k)) else { continue };
                let prop_path = key_path(&child_path(&items_path, "properties"), k);
                if !required.contains(k) && p.get("default").is_none() {
                    errs.push(FieldError::required(
                        &child_path(&prop_path, "default"),
                        "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                    ));
                }
                if p.get("nullable") == Some(&Value::Bool(true)) {
                    errs.push(FieldError::forbidden(
                        &child_path(&prop_path, "nullable"),
                        "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                    ));
                }
            }
        }
    }
    for (i, rule) in m.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        validation_rule(schema, rule, &format!("{}[{i}]", child_path(path, "x-kubernetes-validations")), errs);
    }
}

fn has_newlines(s: &str) -> bool {
    s.contains('\n') || s.contains('\r')
}

/// The shape of one `x-kubernetes-validations` rule (its CEL is not compiled here).
fn validation_rule(schema: &Value, rule: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let text = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or_default();
    let (r, msg, msg_expr, field_path) = (text("rule"), text("message"), text("messageExpression"), text("fieldPath"));
    let (r_trim, msg_trim) = (r.trim(), msg.trim());
    if r_trim.is_empty() {
        errs.push(FieldError::required(&child_path(path, "rule"), "rule is not specified"));
    } else if !msg.is_empty() && msg_trim.is_empty() {
        errs.push(FieldError::invalid(&child_path(path, "message"), msg, "message must be non-empty if specified"));
    } else if has_newlines(msg_trim) {
        errs.push(FieldError::invalid(&child_path(path, "message"), msg, "message must not contain line breaks"));
    } else if has_newlines(r_trim) && msg_trim.is_empty() {
        errs.push(FieldError::required(
            &child_path(path, "message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    if !msg_expr.is_empty() && msg_expr.trim().is_empty() {
        errs.push(FieldError::required(
            &child_path(path, "messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(reason) = rule.get("reason").and_then(Value::as_str)
        && !VALIDATION_REASONS.contains(&reason)
    {
        errs.push(not_supported(&child_path(path, "reason"), &Value::String(reason.into()), &VALIDATION_REASONS));
    }
    if !field_path.is_empty() {
        let fp = child_path(path, "fieldPath");
        if field_path.trim().is_empty() {
            errs.push(FieldError::invalid(&fp, field_path, "fieldPath must be non-empty if specified"));
        }
        if has_newlines(field_path) {
            errs.push(FieldError::invalid(&fp, field_path, "fieldPath must not contain line breaks"));
        }
        let mut ignored = Vec::new();
        let node = parse(schema, "", &mut ignored);
        if ignored.is_empty() && (!field_path.starts_with('.') || node.at(field_path).is_none()) {
            errs.push(FieldError::invalid(&fp, field_path, "fieldPath must be a valid path"));
        }
    }
}
