//! API errors as upstream `Status` objects: the reasons, codes, details and message
//! wording of k8s.io/apimachinery/pkg/api/errors, which clients match on.

use serde_json::{Value, json};

/// One field error, as `field.Error` renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: &'static str,
    pub field: String,
    /// The full text, e.g. `metadata.name: Invalid value: "X": ...`.
    pub message: String,
}

impl FieldError {
    pub fn invalid(field: &str, value: &str, detail: &str) -> FieldError {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("{field}: Invalid value: {}: {detail}", Value::String(value.into())),
        }
    }

    /// `Invalid value` of a non-string value (numbers print bare, as Go's `%v` does).
    pub fn invalid_value(field: &str, value: &Value, detail: &str) -> FieldError {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            message: format!("{field}: Invalid value: {value}: {detail}"),
        }
    }

    pub fn forbidden(field: &str, detail: &str) -> FieldError {
        FieldError {
            reason: "FieldValueForbidden",
            field: field.into(),
            message: format!("{field}: Forbidden: {detail}"),
        }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &str, supported: &[&str]) -> FieldError {
        let list = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        FieldError {
            reason: "FieldValueNotSupported",
            field: field.into(),
            message: format!("{field}: Unsupported value: {value:?}: supported values: {list}"),
        }
    }

    pub fn duplicate(field: &str, value: &Value) -> FieldError {
        FieldError {
            reason: "FieldValueDuplicate",
            field: field.into(),
            message: format!("{field}: Duplicate value: {value}"),
        }
    }

    pub fn required(field: &str, detail: &str) -> FieldError {
        let message = if detail.is_empty() {
            format!("{field}: Required value")
        } else {
            format!("{field}: Required value: {detail}")
        };
        FieldError { reason: "FieldValueRequired", field: field.into(), message }
    }

    /// The text after `<field>: `, which upstream puts in a cause's `message`.
    fn cause_message(&self) -> &str {
        self.message.strip_prefix(&format!("{}: ", self.field)).unwrap_or(&self.message)
    }
}

/// A failed API request; renders as a `Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> ApiError {
        ApiError { code, reason, message, details }
    }

    /// `configmaps "x" not found` (`resource` is the plural, optionally `res.group`).
    pub fn not_found(resource: &str, name: &str) -> ApiError {
        Self::new(
            404,
            "NotFound",
            format!("{resource} \"{name}\" not found"),
            Some(json!({"name": name, "kind": resource})),
        )
    }

    pub fn already_exists(resource: &str, name: &str) -> ApiError {
        Self::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
            Some(json!({"name": name, "kind": resource})),
        )
    }

    pub fn conflict(resource: &str, name: &str) -> ApiError {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            Some(json!({"name": name, "kind": resource})),
        )
    }

    /// `ConfigMap "x" is invalid: <errors>` (`kind` is the Kind, not the resource).
    pub fn invalid(kind: &str, name: &str, errors: &[FieldError]) -> ApiError {
        let joined = match errors {
            [one] => one.message.clone(),
            many => format!("[{}]", many.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason, "message": e.cause_message(), "field": e.field}))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {joined}"),
            Some(json!({"name": name, "kind": kind, "causes": causes})),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// A 422 without field causes (e.g. a JSON patch that does not apply).
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        Self::new(422, "Invalid", message.into(), None)
    }

    pub fn method_not_allowed() -> ApiError {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            None,
        )
    }

    /// An unknown path.
    pub fn no_route() -> ApiError {
        Self::new(404, "NotFound", "the server could not find the requested resource".into(), Some(json!({})))
    }

    /// A watch or list from a compacted resourceVersion.
    pub fn gone(message: impl Into<String>) -> ApiError {
        Self::new(410, "Expired", message.into(), None)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        Self::new(500, "InternalError", format!("Internal error occurred: {}", message.into()), None)
    }

    /// `the body of the request was in an unknown format - accepted media types include: ...`.
    pub fn unsupported_media_type(accepted: &[&str]) -> ApiError {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            None,
        )
    }

    /// An error upstream's storage passes on as is (`ErrorToAPIStatus`'s fallback): 500
    /// with no reason and the error's own text, e.g. etcd's `etcdserver: request is too
    /// large`.
    pub fn unknown(message: impl Into<String>) -> ApiError {
        Self::new(500, "", message.into(), None)
    }

    pub fn too_large() -> ApiError {
        Self::new(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728".into(), None)
    }

    /// Upstream's 401 for missing or refused credentials.
    pub fn unauthorized() -> ApiError {
        Self::new(401, "Unauthorized", "Unauthorized".into(), None)
    }

    /// Upstream's 403 from an authorizer (`responsewriters.Forbidden`): the
    /// `forbiddenMessage` of the attributes, then `: <reason>` when there is one.
    pub fn forbidden(a: &crate::auth::Attributes, reason: &str) -> ApiError {
        let user = &a.user.name;
        let mut msg = if !a.resource_request {
            format!("User {user:?} cannot {} path {:?}", a.verb, a.path)
        } else if !a.namespace.is_empty() {
            format!(
                "User {user:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
                a.verb,
                a.combined_resource(),
                a.api_group,
                a.namespace
            )
        } else {
            format!(
                "User {user:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
                a.verb,
                a.combined_resource(),
                a.api_group
            )
        };
        if !reason.is_empty() {
            msg = format!("{msg}: {reason}");
        }
        Self::forbidden_resource(&a.api_group, &a.resource, &a.name, &msg)
    }

    /// `NewForbidden(groupResource, name, err)`.
    pub fn forbidden_resource(group: &str, resource: &str, name: &str, err: &str) -> ApiError {
        let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
        let message = if resource.is_empty() && group.is_empty() {
            format!("forbidden: {err}")
        } else if name.is_empty() {
            format!("{qualified} is forbidden: {err}")
        } else {
            format!("{qualified} {name:?} is forbidden: {err}")
        };
        let mut details = serde_json::Map::new();
        if !name.is_empty() {
            details.insert("name".into(), json!(name));
        }
        if !group.is_empty() {
            details.insert("group".into(), json!(group));
        }
        if !resource.is_empty() {
            details.insert("kind".into(), json!(resource));
        }
        Self::new(403, "Forbidden", message, Some(Value::Object(details)))
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        Self::new(503, "ServiceUnavailable", message.into(), None)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty() {
            // metav1.Status omits an empty reason (a webhook's refusal may have none).
            s.as_object_mut().map(|m| m.shift_remove("reason"));
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        if self.reason.is_empty() {
            // `reason` is omitted when empty (StatusReasonUnknown).
            s.as_object_mut().map(|m| m.remove("reason"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_wording() {
        let cases = [
            (ApiError::not_found("configmaps", "x"), 404, "NotFound", r#"configmaps "x" not found"#),
            (ApiError::already_exists("namespaces", "a"), 409, "AlreadyExists", r#"namespaces "a" already exists"#),
            (
                ApiError::conflict("configmaps", "x"),
                409,
                "Conflict",
                r#"Operation cannot be fulfilled on configmaps "x": the object has been modified; please apply your changes to the latest version and try again"#,
            ),
        ];
        for (err, code, reason, message) in cases {
            let s = err.to_status();
            assert_eq!(s["code"], code);
            assert_eq!(s["reason"], reason);
            assert_eq!(s["message"], message);
            assert_eq!(s["status"], "Failure");
            assert_eq!(s["kind"], "Status");
        }
    }

    #[test]
    fn forbidden_wording() {
        let user = crate::auth::UserInfo { name: "x".into(), ..Default::default() };
        let a = crate::auth::Attributes {
            user: user.clone(),
            verb: "list".into(),
            resource_request: true,
            namespace: "default".into(),
            resource: "pods".into(),
            ..Default::default()
        };
        let s = ApiError::forbidden(&a, "").to_status();
        assert_eq!(
            s["message"],
            r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default""#
        );
        assert_eq!(s["details"], json!({"kind": "pods"}));
        assert_eq!(s["code"], 403);
        let path = crate::auth::Attributes { user, verb: "get".into(), path: "/api".into(), ..Default::default() };
        let s = ApiError::forbidden(&path, "").to_status();
        assert_eq!(s["message"], r#"forbidden: User "x" cannot get path "/api""#);
        assert_eq!(s["details"], json!({}));
        let s = ApiError::unauthorized().to_status();
        assert_eq!(
            s,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
        );
    }

    #[test]
    fn invalid_joins_several_errors_in_brackets() {
        let e1 = FieldError::invalid("metadata.name", "A", "bad");
        let e2 = FieldError::required("data", "");
        let one = ApiError::invalid("ConfigMap", "A", std::slice::from_ref(&e1));
        assert_eq!(one.message, r#"ConfigMap "A" is invalid: metadata.name: Invalid value: "A": bad"#);
        let two = ApiError::invalid("ConfigMap", "A", &[e1, e2]);
        assert_eq!(
            two.message,
            r#"ConfigMap "A" is invalid: [metadata.name: Invalid value: "A": bad, data: Required value]"#
        );
        let s = two.to_status();
        assert_eq!(s["details"]["causes"][0]["message"], r#"Invalid value: "A": bad"#);
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
        assert_eq!(s["details"]["kind"], "ConfigMap");
    }
}
