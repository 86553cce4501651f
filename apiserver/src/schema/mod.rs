//! Structural schemas of CustomResourceDefinitions: upstream's apiextensions-apiserver
//! `pkg/apiserver/schema` (the structural model, its invariants), `pruning`, `defaulting`,
//! `objectmeta` (embedded resources), `listtype` and the OpenAPI validation of custom objects
//! (kube-openapi's validator as apiextensions wraps it).
//!
//! Data path for a custom object: decode → [`Structural::prune`] (unknown fields dropped and
//! reported) → [`Structural::apply_defaults`] → [`Structural::validate`]. Reading from storage
//! prunes and defaults again, as upstream does.
//!
//! CEL rules (`x-kubernetes-validations`) are accepted in schemas and kept, but not evaluated.
//! This module knows nothing of storage or HTTP; its errors are [`FieldError`]s with upstream's
//! paths and wording.

mod check;
mod defaulting;
mod formats;
mod gofmt;
mod listtype;
mod objectmeta;
mod pruning;
mod validation;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::FieldError;

/// A structural schema parsed from a CRD version's `schema.openAPIV3Schema` (JSON as stored).
/// The same node type also holds the value validations under `allOf`/`anyOf`/`oneOf`/`not`.
#[derive(Clone, Debug, Default)]
pub struct Structural {
    /// `type`: "object", "array", "string", "integer", "number", "boolean" or "" (none).
    pub type_: String,
    pub description: String,
    pub title: String,
    pub default: Option<Value>,
    pub nullable: bool,
    /// `externalDocs`, as given.
    pub external_docs: Option<Value>,
    /// `properties`, sorted by name.
    pub properties: BTreeMap<String, Structural>,
    pub items: Option<Box<Structural>>,
    pub additional_properties: Option<AdditionalProperties>,
    /// `x-kubernetes-preserve-unknown-fields: true`.
    pub preserve_unknown_fields: bool,
    /// `x-kubernetes-embedded-resource: true`.
    pub embedded_resource: bool,
    /// `x-kubernetes-int-or-string: true`.
    pub int_or_string: bool,
    /// `x-kubernetes-list-type`: atomic, set or map.
    pub list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: atomic or granular.
    pub map_type: Option<String>,
    /// `x-kubernetes-validations` (CEL rules), kept as given; not evaluated.
    pub validations: Vec<Value>,
    pub value_validation: ValueValidation,
}

/// `additionalProperties`: a boolean or a schema.
#[derive(Clone, Debug)]
pub enum AdditionalProperties {
    Bool(bool),
    Schema(Box<Structural>),
}

impl AdditionalProperties {
    /// The schema, if this is one.
    pub fn schema(&self) -> Option<&Structural> {
        match self {
            AdditionalProperties::Schema(s) => Some(s),
            AdditionalProperties::Bool(_) => None,
        }
    }
}

/// The value validations of a schema node (upstream's `ValueValidation`).
#[derive(Clone, Debug, Default)]
pub struct ValueValidation {
    pub format: String,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub pattern: Option<Pattern>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub multiple_of: Option<f64>,
    pub enum_: Vec<Value>,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub required: Vec<String>,
    pub all_of: Vec<Structural>,
    pub one_of: Vec<Structural>,
    pub any_of: Vec<Structural>,
    pub not: Option<Box<Structural>>,
}

/// A `pattern` with its compiled regular expression (RE2 syntax, like Go's `regexp`).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    /// `None` when the pattern does not compile (reported by [`Structural::new`]).
    pub regex: Option<regex::Regex>,
}

impl Structural {
    /// Parses the schema; refuses a non-structural one with upstream's field errors, paths under `base`
    /// (e.g. "spec.versions[0].schema.openAPIV3Schema" or "spec.validation.openAPIV3Schema"), messages as
    /// upstream's structural-schema and CRD validation word them.
    ///
    /// The checks, in upstream's order: `nullable` at the root; the structural invariants and
    /// completeness (sorted by message, as `ValidateStructural` does); when those pass, the defaults
    /// (pruned, valid metadata, valid against their schema); then the OpenAPI restrictions of CRD
    /// validation (forbidden keywords, list and map types, `x-kubernetes-validations` shape).
    pub fn new(schema: &Value, base: &str) -> Result<Structural, Vec<FieldError>> {
        let mut errs = Vec::new();
        let s = parse(schema, base, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let errs = check::validate_schema(&s, schema, base);
        if errs.is_empty() { Ok(s) } else { Err(errs) }
    }

    /// Removes fields the schema does not know (unless x-kubernetes-preserve-unknown-fields), recursing into
    /// x-kubernetes-embedded-resource objects (keeping apiVersion/kind/metadata); never touches the root
    /// apiVersion/kind/metadata. Returns the paths of what was dropped, sorted, in the form upstream's
    /// fieldValidation Strict/Warn messages use (`spec.foo`, shown as `unknown field "spec.foo"`).
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        pruning::prune(obj, self, true)
    }

    /// Applies `default`s (after pruning, as upstream does: on read from storage, on create/update
    /// requests). First drops the `null`s whose schema is neither nullable nor defaulted; `null`s
    /// of non-nullable fields with a default get the default.
    pub fn apply_defaults(&self, obj: &mut Value) {
        defaulting::prune_non_nullable_nulls_without_defaults(obj, Some(self));
        defaulting::default(obj, Some(self));
    }

    /// Validates a (pruned, defaulted) custom object against the schema: the OpenAPI keywords (as
    /// kube-openapi reports them, through apiextensions' translation into field errors), then the
    /// metadata of embedded resources, then `x-kubernetes-list-type` set/map uniqueness.
    /// The root `metadata` is not validated here (the generic object-meta validation does that).
    pub fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = validation::validate_custom_resource(None, obj, self);
        errs.extend(objectmeta::validate_embedded(obj, self, ""));
        errs.extend(listtype::validate_list_sets_and_maps("", self, obj));
        errs
    }

    /// Validation of an update with upstream's ratcheting (`CRDValidationRatcheting`, on by default):
    /// errors about values the update leaves as they were are dropped, so objects stored under an
    /// older, looser schema can still be updated elsewhere. Values are correlated through object
    /// fields only (not through list items, which upstream correlates only for `map` lists).
    /// Composite (`anyOf`, `oneOf`, ...) errors are kept.
    pub fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        self.validate(new).into_iter().filter(|e| !ratcheted(e, new, old)).collect()
    }

    /// The schema at a dotted path (`.spec.replicas` or `spec.replicas`; `[*]`/`[n]` steps into
    /// `items`), following `properties`, then `additionalProperties`. `""` and `"."` are the root.
    pub fn at(&self, path: &str) -> Option<&Structural> {
        let mut s = self;
        for step in path_steps(path)? {
            s = match step {
                Step::Key(k) => match s.properties.get(k) {
                    Some(p) => p,
                    None => s.additional_properties.as_ref()?.schema()?,
                },
                Step::Index(_) | Step::All => s.items.as_deref()?,
            };
        }
        Some(s)
    }

    /// The `x-kubernetes-validations` rules anywhere in the schema (not evaluated; callers may warn).
    pub fn has_validation_rules(&self) -> bool {
        !self.validations.is_empty()
            || self.properties.values().any(Structural::has_validation_rules)
            || self.items.as_deref().is_some_and(Structural::has_validation_rules)
            || self
                .additional_properties
                .as_ref()
                .and_then(AdditionalProperties::schema)
                .is_some_and(Structural::has_validation_rules)
    }
}

/// The value at a simple JSONPath (`.spec.replicas`, `.status.conditions[0].type`,
/// `.metadata.labels.app`), the subset upstream allows for scale subresource paths; printer columns
/// with such paths evaluate the same way. `None` when anything on the way is missing.
pub fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = obj;
    for step in path_steps(path)? {
        v = match step {
            Step::Key(k) => v.as_object()?.get(k)?,
            Step::Index(i) => v.as_array()?.get(i)?,
            Step::All => return None,
        };
    }
    Some(v)
}

/// Whether an error concerns a value the update did not change (for `Required`, its parent object).
fn ratcheted(e: &FieldError, new: &Value, old: &Value) -> bool {
    if e.field == "<nil>" || e.field.contains('[') {
        return false;
    }
    let path = if e.reason == "FieldValueRequired" {
        match e.field.rsplit_once('.') {
            Some((parent, _)) => parent,
            None => "",
        }
    } else {
        e.field.as_str()
    };
    match (json_path(new, path), json_path(old, path)) {
        (Some(n), Some(o)) => n == o,
        _ => false,
    }
}

/// All values at a JSONPath that may step into every item of a list with `[*]`
/// (`.spec.containers[*].image`), in document order; printer columns show them joined.
pub fn json_path_all<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = path_steps(path) else { return Vec::new() };
    let mut current = vec![obj];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match step {
                    Step::Key(k) => v.as_object().and_then(|m| m.get(k)).into_iter().collect(),
                    Step::Index(i) => v.as_array().and_then(|a| a.get(i)).into_iter().collect(),
                    Step::All => v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
                }
            })
            .collect();
    }
    current
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
    All,
}

/// Splits `.a.b[0].c` (leading dot optional) into steps; `None` on a malformed index.
fn path_steps(path: &str) -> Option<Vec<Step<'_>>> {
    let path = path.strip_prefix('.').unwrap_or(path);
    let mut steps = Vec::new();
    if path.is_empty() {
        return Some(steps);
    }
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key));
        } else if rest.is_empty() {
            return None;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx = &r[..end];
            steps.push(if idx == "*" { Step::All } else { Step::Index(idx.parse().ok()?) });
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(steps)
}

/// Compiles a pattern with Go's (RE2) meaning of the Perl classes and word boundaries, which are
/// ASCII-only there (`\d` is `[0-9]`), while the `regex` crate's are Unicode-aware.
pub(crate) fn go_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let replacement = match (in_class, next) {
                    (false, 'd') => "[0-9]",
                    (false, 'D') => "[^0-9]",
                    (false, 'w') => "[0-9A-Za-z_]",
                    (false, 'W') => "[^0-9A-Za-z_]",
                    (false, 's') => "[\\t\\n\\f\\r ]",
                    (false, 'S') => "[^\\t\\n\\f\\r ]",
                    (false, 'b') => "(?-u:\\b)",
                    (false, 'B') => "(?-u:\\B)",
                    (true, 'd') => "0-9",
                    (true, 'w') => "0-9A-Za-z_",
                    (true, 's') => "\\t\\n\\f\\r ",
                    _ => "",
                };
                if replacement.is_empty() {
                    out.push('\\');
                    out.push(next);
                } else {
                    out.push_str(replacement);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap_or(']'));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    regex::Regex::new(&out)
}

/// Go's `field.Path.Key`: `base[key]`.
fn key_path(base: &str, key: &str) -> String {
    format!("{base}[{key}]")
}

/// Go's `field.Path.Child`: `base.name` (or `name` at the root).
fn child_path(base: &str, name: &str) -> String {
    if base.is_empty() { name.to_string() } else { format!("{base}.{name}") }
}

fn parse(v: &Value, path: &str, errs: &mut Vec<FieldError>) -> Structural {
    let mut s = Structural::default();
    let Some(m) = v.as_object() else {
        errs.push(FieldError::invalid_value(path, v, "must be an object"));
        return s;
    };
    let string = |k: &str, errs: &mut Vec<FieldError>| -> String {
        match m.get(k) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(x)) => x.clone(),
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be a string"));
                String::new()
            }
        }
    };
    let boolean = |k: &str, errs: &mut Vec<FieldError>| -> bool {
        match m.get(k) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be a boolean"));
                false
            }
        }
    };
    let number = |k: &str, errs: &mut Vec<FieldError>| -> Option<f64> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be a number"));
                None
            }
        }
    };
    let integer = |k: &str, errs: &mut Vec<FieldError>| -> Option<i64> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be an integer"));
                None
            }
        }
    };
    let strings = |k: &str, errs: &mut Vec<FieldError>| -> Vec<String> {
        match m.get(k) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
            }
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be a list of strings"));
                Vec::new()
            }
        }
    };
    let schemas = |k: &str, errs: &mut Vec<FieldError>| -> Vec<Structural> {
        match m.get(k) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                a.iter().enumerate().map(|(i, x)| parse(x, &format!("{}[{i}]", child_path(path, k)), errs)).collect()
            }
            Some(other) => {
                errs.push(FieldError::invalid_value(&child_path(path, k), other, "must be a list of schemas"));
                Vec::new()
            }
        }
    };

    s.type_ = string("type", errs);
    s.description = string("description", errs);
    s.title = string("title", errs);
    s.default = m.get("default").cloned();
    s.nullable = boolean("nullable", errs);
    s.external_docs = m.get("externalDocs").filter(|v| !v.is_null()).cloned();
    if let Some(props) = m.get("properties").filter(|p| !p.is_null()) {
        match props.as_object() {
            Some(props) => {
                for (k, p) in props {
                    let child = parse(p, &key_path(&child_path(path, "properties"), k), errs);
                    s.properties.insert(k.clone(), child);
                }
            }
            None => errs.push(FieldError::invalid_value(&child_path(path, "properties"), props, "must be an object")),
        }
    }
    match m.get("items") {
        None | Some(Value::Null) => {}
        // `items` as a list of schemas is refused by CRD validation (check.rs); keep none here.
        Some(Value::Array(_)) => {}
        Some(items) => s.items = Some(Box::new(parse(items, &child_path(path, "items"), errs))),
    }
    match m.get("additionalProperties") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => s.additional_properties = Some(AdditionalProperties::Bool(*b)),
        Some(ap) => {
            let child = parse(ap, &child_path(path, "additionalProperties"), errs);
            s.additional_properties = Some(AdditionalProperties::Schema(Box::new(child)));
        }
    }
    s.preserve_unknown_fields = boolean("x-kubernetes-preserve-unknown-fields", errs);
    s.embedded_resource = boolean("x-kubernetes-embedded-resource", errs);
    s.int_or_string = boolean("x-kubernetes-int-or-string", errs);
    s.list_type =
        m.get("x-kubernetes-list-type").filter(|v| !v.is_null()).map(|_| string("x-kubernetes-list-type", errs));
    s.list_map_keys = strings("x-kubernetes-list-map-keys", errs);
    s.map_type = m.get("x-kubernetes-map-type").filter(|v| !v.is_null()).map(|_| string("x-kubernetes-map-type", errs));
    match m.get("x-kubernetes-validations") {
        None | Some(Value::Null) => {}
        Some(Value::Array(rules)) => s.validations = rules.clone(),
        Some(other) => errs.push(FieldError::invalid_value(
            &child_path(path, "x-kubernetes-validations"),
            other,
            "must be a list of rules",
        )),
    }

    let vv = &mut s.value_validation;
    vv.format = string("format", errs);
    vv.maximum = number("maximum", errs);
    vv.exclusive_maximum = boolean("exclusiveMaximum", errs);
    vv.minimum = number("minimum", errs);
    vv.exclusive_minimum = boolean("exclusiveMinimum", errs);
    vv.max_length = integer("maxLength", errs);
    vv.min_length = integer("minLength", errs);
    let pattern = string("pattern", errs);
    if !pattern.is_empty() {
        vv.pattern = Some(Pattern { regex: go_regex(&pattern).ok(), source: pattern });
    }
    vv.max_items = integer("maxItems", errs);
    vv.min_items = integer("minItems", errs);
    vv.unique_items = boolean("uniqueItems", errs);
    vv.multiple_of = number("multipleOf", errs);
    match m.get("enum") {
        None | Some(Value::Null) => {}
        Some(Value::Array(values)) => vv.enum_ = values.clone(),
        Some(other) => errs.push(FieldError::invalid_value(&child_path(path, "enum"), other, "must be a list")),
    }
    vv.max_properties = integer("maxProperties", errs);
    vv.min_properties = integer("minProperties", errs);
    vv.required = strings("required", errs);
    vv.all_of = schemas("allOf", errs);
    vv.one_of = schemas("oneOf", errs);
    vv.any_of = schemas("anyOf", errs);
    if let Some(not) = m.get("not").filter(|v| !v.is_null()) {
        vv.not = Some(Box::new(parse(not, &child_path(path, "not"), errs)));
    }
    s
}

#[cfg(test)]
mod tests;
