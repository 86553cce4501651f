//! OpenAPI validation of custom objects.
use serde_json::Value;

use super::Structural;
use crate::status::FieldError;

pub(super) fn validate_custom_resource(_base: Option<&str>, _obj: &Value, _s: &Structural) -> Vec<FieldError> {
    Vec::new()
}
