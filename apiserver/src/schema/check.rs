//! The checks of a CRD schema (structural invariants, defaults, CRD OpenAPI restrictions).
use serde_json::Value;

use super::Structural;
use crate::status::FieldError;

pub(super) fn validate_schema(_s: &Structural, _raw: &Value, _base: &str) -> Vec<FieldError> {
    Vec::new()
}
