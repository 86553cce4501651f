//! Embedded resources' type and object meta.
use serde_json::Value;

use super::Structural;
use crate::status::FieldError;

pub(super) fn validate_embedded(_obj: &Value, _s: &Structural, _path: &str) -> Vec<FieldError> {
    Vec::new()
}
