//! x-kubernetes-list-type set/map uniqueness.
use serde_json::Value;

use super::Structural;
use crate::status::FieldError;

pub(super) fn validate_list_sets_and_maps(_path: &str, _s: &Structural, _obj: &Value) -> Vec<FieldError> {
    Vec::new()
}
