//! rbac.authorization.k8s.io/v1 (roles, rolebindings, clusterroles,
//! clusterrolebindings) with upstream's validation and table columns, and the
//! create-only review groups authentication.k8s.io and authorization.k8s.io (listed
//! here for discovery; `crate::auth::review` serves them).
//!
//! Not done: upstream's escalation checks (creating a role or binding that grants more
//! than the requester holds needs the `escalate` / `bind` verbs).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::{Value, json};

use super::*;
use crate::protobuf::Kind::*;
use crate::protobuf::{Field, OBJECT_META};
use crate::status::FieldError;

pub const GROUP_NAME: &str = "rbac.authorization.k8s.io";

const POLICY_RULE: &[Field] = &[
    (1, "verbs", RepStr),
    (2, "apiGroups", RepStr),
    (3, "resources", RepStr),
    (4, "resourceNames", RepStr),
    (5, "nonResourceURLs", RepStr),
];
const LABEL_SELECTOR: &[Field] = &[
    (1, "matchLabels", MapStr),
    (2, "matchExpressions", RepMsg(&[(1, "key", Str), (2, "operator", Str), (3, "values", RepStr)])),
];
const ROLE_PROTO: &[Field] = &[(1, "metadata", Msg(OBJECT_META)), (2, "rules", RepMsg(POLICY_RULE))];
const CLUSTER_ROLE_PROTO: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (2, "rules", RepMsg(POLICY_RULE)),
    (3, "aggregationRule", Msg(&[(1, "clusterRoleSelectors", RepMsg(LABEL_SELECTOR))])),
];
const BINDING_PROTO: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (2, "subjects", RepMsg(&[(1, "kind", Str), (2, "apiGroup", Str), (3, "name", Str), (4, "namespace", Str)])),
    (3, "roleRef", Msg(&[(1, "apiGroup", Str), (2, "kind", Str), (3, "name", Str)])),
];

const CREATED_AT: Column = Column::new(
    "Created At",
    "date",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
);

const fn binding_columns(
    role_doc: &'static str,
    users: &'static str,
    groups: &'static str,
    sas: &'static str,
) -> [Column; 6] {
    [
        NAME_COLUMN,
        Column::new("Role", "string", role_doc),
        AGE_COLUMN,
        Column::new("Users", "string", users).wide(),
        Column::new("Groups", "string", groups).wide(),
        Column::new("ServiceAccounts", "string", sas).wide(),
    ]
}

static ROLE_BINDING_COLUMNS: [Column; 6] = binding_columns(
    "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    "Users in the roleBinding",
    "Groups in the roleBinding",
    "ServiceAccounts in the roleBinding",
);
static CLUSTER_ROLE_BINDING_COLUMNS: [Column; 6] = binding_columns(
    "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
    "Users in the clusterRoleBinding",
    "Groups in the clusterRoleBinding",
    "ServiceAccounts in the clusterRoleBinding",
);

fn role_cells(o: &Value) -> Vec<Value> {
    vec![o["metadata"]["name"].clone(), o["metadata"]["creationTimestamp"].clone()]
}

fn binding_cells(o: &Value) -> Vec<Value> {
    let subjects = o["subjects"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str| -> Value {
        let names: Vec<String> = subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                let name = s["name"].as_str().unwrap_or("");
                if kind == "ServiceAccount" {
                    format!("{}/{name}", s["namespace"].as_str().unwrap_or(""))
                } else {
                    name.to_string()
                }
            })
            .collect();
        json!(names.join(", "))
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(format!(
            "{}/{}",
            o["roleRef"]["kind"].as_str().unwrap_or(""),
            o["roleRef"]["name"].as_str().unwrap_or("")
        )),
        json!(age(o)),
        of("User"),
        of("Group"),
        of("ServiceAccount"),
    ]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// Go's `%#v` of a `[]string`, as upstream's messages print rule fields.
fn go_strings(v: &Value) -> String {
    let items: Vec<String> = strings(v).iter().map(|s| format!("{s:?}")).collect();
    format!("[]string{{{}}}", items.join(", "))
}

/// `ValidatePolicyRule` for every rule.
fn validate_rules(o: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in o["rules"].as_array().into_iter().flatten().enumerate() {
        let path = format!("rules[{i}]");
        if strings(&rule["verbs"]).is_empty() {
            errs.push(FieldError::required(&format!("{path}.verbs"), "verbs must contain at least one value"));
        }
        let urls = strings(&rule["nonResourceURLs"]);
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError {
                    reason: "FieldValueInvalid",
                    field: format!("{path}.nonResourceURLs"),
                    message: format!(
                        "{path}.nonResourceURLs: Invalid value: {}: namespaced rules cannot apply to non-resource URLs",
                        go_strings(&rule["nonResourceURLs"])
                    ),
                });
            }
            if !strings(&rule["apiGroups"]).is_empty() || !strings(&rule["resources"]).is_empty() {
                errs.push(FieldError {
                    reason: "FieldValueInvalid",
                    field: format!("{path}.nonResourceURLs"),
                    message: format!(
                        "{path}.nonResourceURLs: Invalid value: {}: rules cannot apply to both regular resources and non-resource URLs",
                        go_strings(&rule["nonResourceURLs"])
                    ),
                });
            }
            continue;
        }
        if strings(&rule["apiGroups"]).is_empty() {
            errs.push(FieldError::required(
                &format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if strings(&rule["resources"]).is_empty() {
            errs.push(FieldError::required(
                &format!("{path}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errs
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding`: roleRef and subjects.
fn validate_binding(o: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rr = &o["roleRef"];
    let api_group = rr["apiGroup"].as_str().unwrap_or("");
    if api_group != GROUP_NAME {
        errs.push(FieldError::not_supported("roleRef.apiGroup", api_group, &[GROUP_NAME]));
    }
    let kind = rr["kind"].as_str().unwrap_or("");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = rr["name"].as_str().unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for d in path_segment(name) {
            errs.push(FieldError::invalid("roleRef.name", name, &d));
        }
    }
    for (i, s) in o["subjects"].as_array().into_iter().flatten().enumerate() {
        let path = format!("subjects[{i}]");
        let name = s["name"].as_str().unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{path}.name"), ""));
        }
        let group = s["apiGroup"].as_str().unwrap_or("");
        match s["kind"].as_str().unwrap_or("") {
            "ServiceAccount" => {
                if !group.is_empty() {
                    errs.push(FieldError::not_supported(&format!("{path}.apiGroup"), group, &[""]));
                }
                if !name.is_empty() {
                    for d in dns1123_subdomain(name) {
                        errs.push(FieldError::invalid(&format!("{path}.name"), name, &d));
                    }
                }
                if !namespaced && s["namespace"].as_str().is_none_or(str::is_empty) {
                    errs.push(FieldError::required(&format!("{path}.namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != GROUP_NAME {
                    errs.push(FieldError::not_supported(&format!("{path}.apiGroup"), group, &[GROUP_NAME]));
                }
            }
            other => {
                errs.push(FieldError::not_supported(
                    &format!("{path}.kind"),
                    other,
                    &["ServiceAccount", "User", "Group"],
                ));
            }
        }
    }
    errs
}

fn validate_role_ref_update(new: &Value, old: &Value) -> Vec<FieldError> {
    if new["roleRef"] == old["roleRef"] {
        return Vec::new();
    }
    vec![FieldError::invalid_value("roleRef", &new["roleRef"], "cannot change roleRef")]
}

pub static RBAC: Group = Group {
    name: GROUP_NAME,
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: GROUP_NAME,
                name: "clusterrolebindings",
                singular: "clusterrolebinding",
                kind: "ClusterRoleBinding",
                namespaced: false,
                etcd_prefix: "clusterrolebindings",
                name_rule: NameRule::PathSegment,
                decode: typed::<ClusterRoleBinding>,
                proto: BINDING_PROTO,
                validate: |o| validate_binding(o, false),
                validate_update: validate_role_ref_update,
                columns: &CLUSTER_ROLE_BINDING_COLUMNS,
                cells: binding_cells,
                ..BASE
            },
            Resource {
                group: GROUP_NAME,
                name: "clusterroles",
                singular: "clusterrole",
                kind: "ClusterRole",
                namespaced: false,
                etcd_prefix: "clusterroles",
                name_rule: NameRule::PathSegment,
                decode: typed::<ClusterRole>,
                proto: CLUSTER_ROLE_PROTO,
                validate: |o| validate_rules(o, false),
                columns: &[NAME_COLUMN, CREATED_AT],
                cells: role_cells,
                ..BASE
            },
            Resource {
                group: GROUP_NAME,
                name: "rolebindings",
                singular: "rolebinding",
                kind: "RoleBinding",
                etcd_prefix: "rolebindings",
                name_rule: NameRule::PathSegment,
                decode: typed::<RoleBinding>,
                proto: BINDING_PROTO,
                validate: |o| validate_binding(o, true),
                validate_update: validate_role_ref_update,
                columns: &ROLE_BINDING_COLUMNS,
                cells: binding_cells,
                ..BASE
            },
            Resource {
                group: GROUP_NAME,
                name: "roles",
                singular: "role",
                kind: "Role",
                etcd_prefix: "roles",
                name_rule: NameRule::PathSegment,
                decode: typed::<Role>,
                proto: ROLE_PROTO,
                validate: |o| validate_rules(o, true),
                columns: &[NAME_COLUMN, CREATED_AT],
                cells: role_cells,
                ..BASE
            },
        ],
    }],
};

/// A create-only review resource (served by `crate::auth::review`, nothing stored).
const fn review(
    group: &'static str,
    name: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Resource {
    Resource { group, name, singular, kind, namespaced, verbs: &["create"], etcd_prefix: name, ..BASE }
}

pub static AUTHENTICATION: Group = Group {
    name: "authentication.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            review("authentication.k8s.io", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false),
            review("authentication.k8s.io", "tokenreviews", "tokenreview", "TokenReview", false),
        ],
    }],
};

pub static AUTHORIZATION: Group = Group {
    name: "authorization.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            review(
                "authorization.k8s.io",
                "localsubjectaccessreviews",
                "localsubjectaccessreview",
                "LocalSubjectAccessReview",
                true,
            ),
            review(
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "selfsubjectaccessreview",
                "SelfSubjectAccessReview",
                false,
            ),
            review(
                "authorization.k8s.io",
                "selfsubjectrulesreviews",
                "selfsubjectrulesreview",
                "SelfSubjectRulesReview",
                false,
            ),
            review("authorization.k8s.io", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_validation_messages() {
        let errs = validate_rules(&json!({"rules": [{"verbs": [], "apiGroups": [""], "resources": []}]}), true);
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[0].resources: Required value: resource rules must supply at least one resource",
            ]
        );
        let errs = validate_rules(&json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}), true);
        assert_eq!(
            errs[0].message,
            r#"rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to non-resource URLs"#
        );
        assert!(validate_rules(&json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}), false).is_empty());
    }

    #[test]
    fn binding_validation_messages() {
        let b = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "User", "name": "u"}]});
        let errs: Vec<String> = validate_binding(&b, false).into_iter().map(|e| e.message).collect();
        assert_eq!(
            errs,
            [
                r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#,
                "subjects[0].namespace: Required value",
                r#"subjects[1].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io""#,
            ]
        );
        assert_eq!(validate_binding(&b, true).len(), 1);
        let cells =
            binding_cells(&json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}, {"kind": "User", "name": "u"}]}));
        assert_eq!(cells[1], "ClusterRole/view");
        assert_eq!(cells[3], "u");
        assert_eq!(cells[5], "ns/sa");
    }
}
