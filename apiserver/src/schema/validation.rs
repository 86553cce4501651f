//! OpenAPI validation of custom objects: kube-openapi's schema validator (as apiextensions runs it
//! on a CRD's schema) and apiextensions' translation of its results into field errors
//! (`kubeOpenAPIResultToFieldErrors`). Messages name the value's path and say `in body`, e.g.
//! `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.

use serde_json::Value;

use super::{AdditionalProperties, Structural, formats, gofmt};
use crate::status::FieldError;

/// kube-openapi's error codes, as far as the translation distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    InvalidType,
    Required,
    TooLong,
    Enum,
    MaxItems,
    TooManyProperties,
    /// Everything else: rendered as `Invalid value`.
    Other,
}

/// One kube-openapi validation error.
#[derive(Clone, Debug)]
struct OpenApiError {
    code: Code,
    /// The value's path (`spec.replicas`); empty for composite (`anyOf`, ...) errors.
    name: String,
    value: Option<Value>,
    /// The limit (`maxLength`, `maxItems`, `maxProperties`).
    valid: Option<i64>,
    /// The allowed values of an `enum`.
    values: Vec<Value>,
    message: String,
}

impl OpenApiError {
    fn new(code: Code, name: &str, value: Option<Value>, message: String) -> OpenApiError {
        OpenApiError { code, name: name.to_string(), value, valid: None, values: Vec::new(), message }
    }
}

#[derive(Default)]
struct Outcome {
    errors: Vec<OpenApiError>,
    /// kube-openapi's `MatchCount`: how many checks applied; picks the closest `anyOf`/`oneOf` branch.
    matches: usize,
}

impl Outcome {
    fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn merge(&mut self, other: Outcome) {
        self.errors.extend(other.errors);
        self.matches += other.matches;
    }

    fn add(&mut self, e: OpenApiError) {
        self.errors.push(e);
    }
}

/// `ValidateCustomResource`: validates `obj` against `s`; errors are placed under `base` (`None`
/// at the object root, where a path-less error is reported at `<nil>`, as Go prints a nil path).
pub(super) fn validate_custom_resource(base: Option<&str>, obj: &Value, s: &Structural) -> Vec<FieldError> {
    let outcome = validate_schema(s, obj, "");
    outcome.errors.into_iter().map(|e| to_field_error(base, e)).collect()
}

fn to_field_error(base: Option<&str>, e: OpenApiError) -> FieldError {
    let name = e.name.strip_prefix('.').unwrap_or(&e.name);
    let path = match (base, name.is_empty()) {
        (None, true) => "<nil>".to_string(),
        (None, false) => name.to_string(),
        (Some(b), true) => b.to_string(),
        (Some(b), false) => format!("{b}.{name}"),
    };
    let value = e.value.clone().unwrap_or(Value::String(String::new()));
    match e.code {
        Code::Required => FieldError::required(&path, ""),
        Code::Enum => {
            let supported: Vec<String> = e
                .values
                .iter()
                .map(|v| match v {
                    Value::String(s) => gofmt::quote(s),
                    other => gofmt::quote(&other.to_string()),
                })
                .collect();
            let detail = if supported.is_empty() {
                String::new()
            } else {
                format!(": supported values: {}", supported.join(", "))
            };
            FieldError {
                reason: "FieldValueNotSupported",
                message: format!("{path}: Unsupported value: {}{detail}", gofmt::bad_value(&value)),
                field: path,
            }
        }
        Code::TooLong => {
            let detail = match e.valid {
                Some(max) if max >= 0 => format!("may not be more than {max} bytes"),
                _ => "value is too long".to_string(),
            };
            FieldError { reason: "FieldValueTooLong", message: format!("{path}: Too long: {detail}"), field: path }
        }
        Code::MaxItems | Code::TooManyProperties => {
            let detail = match e.valid {
                Some(max) if max >= 0 => format!("must have at most {max} items"),
                _ => "has too many items".to_string(),
            };
            let actual = match e.value.as_ref().and_then(Value::as_i64) {
                Some(n) if n >= 0 => format!(": {n}"),
                _ => String::new(),
            };
            FieldError {
                reason: "FieldValueTooMany",
                message: format!("{path}: Too many{actual}: {detail}"),
                field: path,
            }
        }
        Code::InvalidType => FieldError {
            reason: "FieldValueTypeInvalid",
            message: format!("{path}: Invalid value: {}: {}", gofmt::bad_value(&value), e.message),
            field: path,
        },
        Code::Other => FieldError {
            reason: "FieldValueInvalid",
            message: format!("{path}: Invalid value: {}: {}", gofmt::bad_value(&value), e.message),
            field: path,
        },
    }
}

/// The JSON type kube-openapi infers for a decoded value.
fn schema_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The format kube-openapi infers for a decoded value (int64 and float64 in Go).
fn data_format(v: &Value) -> &'static str {
    match schema_type(v) {
        "integer" => "int64",
        "number" => "float64",
        _ => "",
    }
}

fn is_integral(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `%s in body ...`: the message prefix for the value at `path`.
fn in_body(path: &str) -> String {
    format!("{path} in body")
}

/// kube-openapi's `SchemaValidator.Validate` for one schema node.
fn validate_schema(s: &Structural, data: &Value, path: &str) -> Outcome {
    let mut out = Outcome::default();
    if data.is_null() {
        out.merge(type_check(s, data, path));
        out.matches += 1;
        out.merge(enum_check(s, data, path));
        out.matches += 1;
        return out;
    }
    out.merge(type_check(s, data, path));
    out.matches += 1;
    out.merge(junctors(s, data, path));
    out.matches += 1;
    if let Value::String(text) = data {
        out.merge(string_checks(s, text, data, path));
        out.matches += 1;
        let format = &s.value_validation.format;
        if !format.is_empty() && formats::supported(format) {
            if !formats::validates(format, text) {
                out.add(OpenApiError::new(
                    Code::InvalidType,
                    path,
                    Some(data.clone()),
                    format!("{} must be of type {format}: {}", in_body(path), gofmt::quote(text)),
                ));
            }
            out.matches += 1;
        }
    }
    if data.is_number() {
        out.merge(number_checks(s, data, path));
        out.matches += 1;
    }
    if let Value::Array(items) = data {
        out.merge(slice_checks(s, items, path));
        out.matches += 1;
    }
    out.merge(enum_check(s, data, path));
    out.matches += 1;
    if let Value::Object(map) = data {
        out.merge(object_checks(s, map, path));
        out.matches += 1;
    }
    out
}

fn types_of(s: &Structural) -> Vec<&str> {
    if s.int_or_string {
        vec!["integer", "string"]
    } else if s.type_.is_empty() {
        Vec::new()
    } else {
        vec![s.type_.as_str()]
    }
}

fn type_check(s: &Structural, data: &Value, path: &str) -> Outcome {
    let mut out = Outcome::default();
    let types = types_of(s);
    let invalid = |type_name: &str, actual: &str| {
        OpenApiError::new(
            Code::InvalidType,
            path,
            Some(Value::String(actual.to_string())),
            format!("{} must be of type {type_name}: {}", in_body(path), gofmt::quote(actual)),
        )
    };
    if data.is_null() {
        if !types.is_empty() && !s.nullable {
            out.add(invalid(&types.join(","), "null"));
        }
        return out;
    }
    if types.is_empty() {
        return out;
    }
    let sch_type = schema_type(data);
    let format = &s.value_validation.format;
    let format = if formats::supported(format) { format.as_str() } else { "" };
    let is_float_int = sch_type == "number" && is_integral(data) && types.contains(&"integer");
    let is_int_float = sch_type == "integer" && types.contains(&"number");
    let contains = types.contains(&sch_type);
    let string_or_array = data.is_string() || data.is_array();
    let format_matches = contains || data_format(data) == format || is_float_int || is_int_float;
    if !(string_or_array || format.is_empty() || format_matches) {
        out.add(invalid(format, data_format(data)));
        return out;
    }
    let numeric = types.contains(&"number") || types.contains(&"integer");
    if !numeric && !format.is_empty() && string_or_array {
        return out;
    }
    if !(contains || is_float_int || is_int_float) {
        out.add(invalid(&types.join(","), sch_type));
    }
    out
}

/// `anyOf`, `oneOf`, `allOf` and `not`, with kube-openapi's composite messages.
fn junctors(s: &Structural, data: &Value, path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    let composite = |msg: String| OpenApiError::new(Code::Other, "", None, msg);
    let quoted = gofmt::quote(path);
    if !vv.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut succeeded = None;
        for sub in &vv.any_of {
            let r = validate_schema(sub, data, path);
            if r.is_valid() {
                succeeded = Some(r);
                best = None;
                break;
            }
            if best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if succeeded.is_none() {
            out.add(composite(format!("{quoted} must validate at least one schema (anyOf)")));
        }
        if let Some(b) = best {
            out.merge(b);
        } else if let Some(ok) = succeeded {
            out.merge(ok);
        }
    }
    if !vv.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success = None;
        let mut validated = 0;
        for sub in &vv.one_of {
            let r = validate_schema(sub, data, path);
            if r.is_valid() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let detail = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            out.add(composite(format!("{quoted} must validate one and only one schema (oneOf). {detail}")));
            if let Some(b) = best {
                out.merge(b);
            }
        } else if let Some(ok) = first_success {
            out.merge(ok);
        }
    }
    if !vv.all_of.is_empty() {
        let mut validated = 0;
        for sub in &vv.all_of {
            let r = validate_schema(sub, data, path);
            if r.is_valid() {
                validated += 1;
            }
            out.merge(r);
        }
        if validated != vv.all_of.len() {
            let none = if validated == 0 { ". None validated" } else { "" };
            out.add(composite(format!("{quoted} must validate all the schemas (allOf){none}")));
        }
    }
    if let Some(not) = &vv.not
        && validate_schema(not, data, path).is_valid()
    {
        out.add(composite(format!("{quoted} must not validate the schema (not)")));
    }
    out
}

fn string_checks(s: &Structural, text: &str, data: &Value, path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    let len = text.chars().count() as i64;
    if let Some(max) = vv.max_length
        && len > max
    {
        let mut e = OpenApiError::new(
            Code::TooLong,
            path,
            Some(data.clone()),
            format!("{} should be at most {max} chars long", in_body(path)),
        );
        e.valid = Some(max);
        out.add(e);
        return out;
    }
    if let Some(min) = vv.min_length
        && len < min
    {
        out.add(OpenApiError::new(
            Code::Other,
            path,
            Some(data.clone()),
            format!("{} should be at least {min} chars long", in_body(path)),
        ));
        return out;
    }
    if let Some(p) = &vv.pattern
        && let Some(re) = &p.regex
        && !re.is_match(text)
    {
        out.add(OpenApiError::new(
            Code::Other,
            path,
            Some(data.clone()),
            format!("{} should match '{}'", in_body(path), p.source),
        ));
    }
    out
}

/// A limit as the message prints it: as an integer when the value checked is one (kube-openapi's
/// native-type comparison), else as Go prints a float64.
fn limit(limit: f64, data: &Value) -> String {
    if data.is_i64() && limit.fract() == 0.0 && limit.abs() < 9.2e18 {
        format!("{}", limit as i64)
    } else {
        gofmt::float(limit)
    }
}

fn number_checks(s: &Structural, data: &Value, path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    let Some(x) = data.as_f64() else { return out };
    let mut multiple = None;
    if let Some(factor) = vv.multiple_of
        && factor != 0.0
    {
        let ok = if let (Some(i), true) = (data.as_i64(), factor.fract() == 0.0) {
            i.checked_rem(factor as i64).is_none_or(|r| r == 0)
        } else {
            let mult = if factor < 1.0 { (1.0 / factor) * x } else { x / factor };
            mult.is_finite() && (mult - mult.round()).abs() < 1e-9
        };
        if !ok {
            multiple = Some(OpenApiError::new(
                Code::Other,
                path,
                Some(data.clone()),
                format!("{} should be a multiple of {}", in_body(path), gofmt::float(factor)),
            ));
        }
    }
    let mut minimum = None;
    if let Some(min) = vv.minimum {
        let bad = if vv.exclusive_minimum { x <= min } else { x < min };
        if bad {
            let rel = if vv.exclusive_minimum { "greater than" } else { "greater than or equal to" };
            minimum = Some(OpenApiError::new(
                Code::Other,
                path,
                Some(data.clone()),
                format!("{} should be {rel} {}", in_body(path), limit(min, data)),
            ));
        }
    }
    let mut maximum = None;
    if let Some(max) = vv.maximum {
        let bad = if vv.exclusive_maximum { x >= max } else { x > max };
        if bad {
            let rel = if vv.exclusive_maximum { "less than" } else { "less than or equal to" };
            maximum = Some(OpenApiError::new(
                Code::Other,
                path,
                Some(data.clone()),
                format!("{} should be {rel} {}", in_body(path), limit(max, data)),
            ));
        }
    }
    out.errors.extend(multiple.into_iter().chain(minimum).chain(maximum));
    out
}

fn slice_checks(s: &Structural, items: &[Value], path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    if let Some(item_schema) = &s.items {
        for (i, item) in items.iter().enumerate() {
            out.merge(validate_schema(item_schema, item, &format!("{path}[{i}]")));
        }
    }
    let size = items.len() as i64;
    if let Some(min) = vv.min_items
        && size < min
    {
        out.add(OpenApiError::new(
            Code::Other,
            path,
            Some(Value::from(size)),
            format!("{} should have at least {min} items", in_body(path)),
        ));
    }
    if let Some(max) = vv.max_items
        && size > max
    {
        let mut e = OpenApiError::new(
            Code::MaxItems,
            path,
            Some(Value::from(size)),
            format!("{} should have at most {max} items", in_body(path)),
        );
        e.valid = Some(max);
        out.add(e);
    }
    if vv.unique_items && items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| json_equal(a, b))) {
        out.add(OpenApiError::new(Code::Other, path, None, format!("{} shouldn't contain duplicates", in_body(path))));
    }
    out
}

/// Equality of decoded values, numbers compared by value (Go compares int64 and float64 after conversion).
pub(super) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn enum_check(s: &Structural, data: &Value, path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    // As kube-openapi: `null` never matches an enum, not even of a nullable field.
    if vv.enum_.is_empty() {
        return out;
    }
    if !data.is_null() && vv.enum_.iter().any(|allowed| json_equal(allowed, data)) {
        return out;
    }
    let listed: Vec<String> = vv.enum_.iter().map(go_v).collect();
    let mut e = OpenApiError::new(
        Code::Enum,
        path,
        Some(data.clone()),
        format!("{} should be one of [{}]", in_body(path), listed.join(" ")),
    );
    e.values = vv.enum_.clone();
    out.add(e);
    out
}

/// Go's `%v` of a decoded value (only used inside kube-openapi's own enum message).
fn go_v(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => gofmt::number(n),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

fn object_checks(s: &Structural, map: &serde_json::Map<String, Value>, path: &str) -> Outcome {
    let vv = &s.value_validation;
    let mut out = Outcome::default();
    let n = map.len() as i64;
    if let Some(min) = vv.min_properties
        && n < min
    {
        out.add(OpenApiError::new(
            Code::Other,
            path,
            Some(Value::from(n)),
            format!("{} should have at least {min} properties", in_body(path)),
        ));
        return out;
    }
    if let Some(max) = vv.max_properties
        && n > max
    {
        let mut e = OpenApiError::new(
            Code::TooManyProperties,
            path,
            Some(Value::from(n)),
            format!("{} should have at most {max} properties", in_body(path)),
        );
        e.valid = Some(max);
        out.add(e);
        return out;
    }
    match &s.additional_properties {
        Some(AdditionalProperties::Bool(false)) => {
            for k in map.keys() {
                if !s.properties.contains_key(k) {
                    out.add(OpenApiError::new(
                        Code::Other,
                        path,
                        Some(Value::String(k.clone())),
                        format!("{path}.{k} in body is a forbidden property"),
                    ));
                }
            }
        }
        Some(AdditionalProperties::Schema(ap)) => {
            for (k, v) in map {
                if !s.properties.contains_key(k) {
                    // kube-openapi joins with a dot even at the root (`.key`); the field path drops it.
                    out.merge(validate_schema(ap, v, &format!("{path}.{k}")));
                }
            }
        }
        _ => {}
    }
    for (name, prop) in &s.properties {
        if let Some(v) = map.get(name) {
            out.merge(validate_schema(prop, v, &child(path, name)));
        }
    }
    for k in &vv.required {
        if !map.contains_key(k) {
            out.add(OpenApiError::new(
                Code::Required,
                &child(path, k),
                None,
                format!("{} is required", in_body(&child(path, k))),
            ));
        }
    }
    out
}
