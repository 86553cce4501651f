//! Small cluster-wide groups: coordination.k8s.io, scheduling.k8s.io, and the others
//! whose resources need little more than decoding and table columns.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

use super::*;
use crate::status::FieldError;

pub static COORDINATION: Group = Group {
    name: "coordination.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "coordination.k8s.io",
            name: "leases",
            singular: "lease",
            kind: "Lease",
            etcd_prefix: "leases",
            decode: typed::<Lease>,
            proto: proto::LEASE,
            columns: &[NAME_COLUMN, Column::new("Holder", "string", "The holder of the lease"), AGE_COLUMN],
            cells: |o| {
                vec![o["metadata"]["name"].clone(), or_none(field_value(o, "spec.holderIdentity")), json!(age(o))]
            },
            ..BASE
        }],
    }],
};

pub static SCHEDULING: Group = Group {
    name: "scheduling.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "scheduling.k8s.io",
            name: "priorityclasses",
            singular: "priorityclass",
            kind: "PriorityClass",
            namespaced: false,
            short_names: &["pc"],
            etcd_prefix: "priorityclasses",
            decode: typed::<PriorityClass>,
            proto: proto::PRIORITY_CLASS,
            validate: validate_priority_class,
            validate_update: |new, old| {
                let mut errs = Vec::new();
                if new["value"] != old["value"] {
                    errs.push(FieldError::forbidden("value", "may not be changed in an update."));
                }
                if new["preemptionPolicy"] != old["preemptionPolicy"] {
                    errs.push(immutable("preemptionPolicy", &new["preemptionPolicy"]));
                }
                errs
            },
            prepare_for_create: default_preemption_policy,
            prepare_for_update: |new, _| default_preemption_policy(new),
            columns: &[
                NAME_COLUMN,
                Column::new(
                    "Value",
                    "integer",
                    "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
                ),
                Column::new(
                    "Global-Default",
                    "boolean",
                    "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
                ),
                AGE_COLUMN,
                Column::new(
                    "PreemptionPolicy",
                    "string",
                    "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
                ),
            ],
            cells: |o| {
                vec![
                    o["metadata"]["name"].clone(),
                    o["value"].clone(),
                    json!(o["globalDefault"].as_bool().unwrap_or(false)),
                    json!(age(o)),
                    o["preemptionPolicy"].clone(),
                ]
            },
            ..BASE
        }],
    }],
};

/// The priority classes the apiserver keeps (upstream's `SystemPriorityClasses`).
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Highest user-definable priority (`HighestUserDefinablePriority`).
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

fn default_preemption_policy(o: &mut Value) {
    if o["preemptionPolicy"].as_str().is_none_or(str::is_empty) {
        o["preemptionPolicy"] = json!("PreemptLowerPriority");
    }
}

fn validate_priority_class(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let value = o["value"].as_i64().unwrap_or(0);
    if let Some((_, v, _)) = SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name) {
        if *v != value {
            errs.push(FieldError::forbidden(
                "metadata.name",
                &format!("priority class {name} is a system priority class and its value may not be changed"),
            ));
        }
    } else if name.starts_with("system-") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "priority class names with 'system-' prefix are reserved",
        ));
    } else if value > HIGHEST_USER_PRIORITY {
        errs.push(FieldError::forbidden(
            "value",
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = o["preemptionPolicy"].as_str()
        && p != "Never"
        && p != "PreemptLowerPriority"
    {
        errs.push(FieldError::not_supported("preemptionPolicy", p, &["Never", "PreemptLowerPriority"]));
    }
    errs
}
