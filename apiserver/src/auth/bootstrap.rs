//! Upstream's bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
//! the default ClusterRoles and ClusterRoleBindings and the kube-system/kube-public
//! Roles and RoleBindings, written at start when missing and reconciled when present
//! (upstream's `rbac/bootstrap-roles` post-start hook), with the per-controller
//! `system:controller:*` roles.

use serde_json::{Map, Value, json};

use crate::storage::{Storage, StorageError};

fn s(v: &[&str]) -> Value {
    json!(v)
}

/// A resource rule (PolicyRule's field order: verbs, apiGroups, resources, resourceNames).
fn r(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"verbs": s(verbs), "apiGroups": s(groups), "resources": s(resources)})
}

fn named(groups: &[&str], resources: &[&str], names: &[&str], verbs: &[&str]) -> Value {
    json!({"verbs": s(verbs), "apiGroups": s(groups), "resources": s(resources), "resourceNames": s(names)})
}

fn urls(urls: &[&str], verbs: &[&str]) -> Value {
    json!({"verbs": s(verbs), "nonResourceURLs": s(urls)})
}

const RW: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ: &[&str] = &["get", "list", "watch"];
const ALL: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const EVENTS: &[&str] = &["create", "patch", "update"];

/// One bootstrap ClusterRole.
pub struct RoleDef {
    pub name: &'static str,
    /// Labels beyond `kubernetes.io/bootstrapping: rbac-defaults`.
    pub labels: &'static [(&'static str, &'static str)],
    /// `aggregationRule` selecting `rbac.authorization.k8s.io/aggregate-to-<x>: "true"`.
    pub aggregate_from: Option<&'static str>,
    pub rules: fn() -> Vec<Value>,
}

const TO_ADMIN: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");
const TO_EDIT: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
const TO_VIEW: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-view", "true");

pub static CLUSTER_ROLES: &[RoleDef] = &[
    RoleDef {
        name: "cluster-admin",
        labels: &[],
        aggregate_from: None,
        rules: || vec![r(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
    },
    RoleDef { name: "admin", labels: &[], aggregate_from: Some("admin"), rules: Vec::new },
    RoleDef { name: "edit", labels: &[TO_ADMIN], aggregate_from: Some("edit"), rules: Vec::new },
    RoleDef { name: "view", labels: &[TO_EDIT], aggregate_from: Some("view"), rules: Vec::new },
    RoleDef {
        name: "system:aggregate-to-admin",
        labels: &[TO_ADMIN],
        aggregate_from: None,
        rules: || {
            vec![
                r(&["authorization.k8s.io"], &["localsubjectaccessreviews"], &["create"]),
                r(&["rbac.authorization.k8s.io"], &["rolebindings", "roles"], ALL),
            ]
        },
    },
    RoleDef {
        name: "system:aggregate-to-edit",
        labels: &[TO_EDIT],
        aggregate_from: None,
        rules: || {
            vec![
                r(
                    &[""],
                    &["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
                    READ,
                ),
                r(&[""], &["serviceaccounts"], &["impersonate"]),
                r(&[""], &["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], RW),
                r(&[""], &["pods/eviction"], &["create"]),
                r(
                    &[""],
                    &[
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                    RW,
                ),
                r(&[""], &["serviceaccounts/token"], &["create"]),
                r(
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                    RW,
                ),
                r(&["autoscaling"], &["horizontalpodautoscalers"], RW),
                r(&["batch"], &["cronjobs", "jobs"], RW),
                r(
                    &["extensions"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                    RW,
                ),
                r(&["policy"], &["poddisruptionbudgets"], RW),
                r(&["networking.k8s.io"], &["ingresses", "networkpolicies"], RW),
                r(&["coordination.k8s.io"], &["leases"], ALL),
            ]
        },
    },
    RoleDef {
        name: "system:aggregate-to-view",
        labels: &[TO_VIEW],
        aggregate_from: None,
        rules: || {
            vec![
                r(
                    &[""],
                    &[
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                    READ,
                ),
                r(
                    &[""],
                    &[
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                    READ,
                ),
                r(&[""], &["namespaces"], READ),
                r(&["discovery.k8s.io"], &["endpointslices"], READ),
                r(
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                    READ,
                ),
                r(&["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
                r(&["batch"], &["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
                r(
                    &["extensions"],
                    &[
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                    READ,
                ),
                r(&["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
                r(&["networking.k8s.io"], &["ingresses", "ingresses/status", "networkpolicies"], READ),
            ]
        },
    },
    RoleDef {
        name: "system:auth-delegator",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                r(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
            ]
        },
    },
    RoleDef {
        name: "system:basic-user",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"], &["create"]),
                r(&["authentication.k8s.io"], &["selfsubjectreviews"], &["create"]),
            ]
        },
    },
    RoleDef {
        name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        labels: &[],
        aggregate_from: None,
        rules: || vec![r(&["certificates.k8s.io"], &["certificatesigningrequests/nodeclient"], &["create"])],
    },
    RoleDef {
        name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        labels: &[],
        aggregate_from: None,
        rules: || vec![r(&["certificates.k8s.io"], &["certificatesigningrequests/selfnodeclient"], &["create"])],
    },
    RoleDef {
        name: "system:certificates.k8s.io:kube-apiserver-client-approver",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![named(&["certificates.k8s.io"], &["signers"], &["kubernetes.io/kube-apiserver-client"], &["approve"])]
        },
    },
    RoleDef {
        name: "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![named(
                &["certificates.k8s.io"],
                &["signers"],
                &["kubernetes.io/kube-apiserver-client-kubelet"],
                &["approve"],
            )]
        },
    },
    RoleDef {
        name: "system:certificates.k8s.io:kubelet-serving-approver",
        labels: &[],
        aggregate_from: None,
        rules: || vec![named(&["certificates.k8s.io"], &["signers"], &["kubernetes.io/kubelet-serving"], &["approve"])],
    },
    RoleDef {
        name: "system:certificates.k8s.io:legacy-unknown-approver",
        labels: &[],
        aggregate_from: None,
        rules: || vec![named(&["certificates.k8s.io"], &["signers"], &["kubernetes.io/legacy-unknown"], &["approve"])],
    },
    RoleDef {
        name: "system:discovery",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![urls(
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
                &["get"],
            )]
        },
    },
    RoleDef {
        name: "system:heapster",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![r(&[""], &["events", "namespaces", "nodes", "pods"], READ), r(&["extensions"], &["deployments"], READ)]
        },
    },
    RoleDef {
        name: "system:kube-aggregator",
        labels: &[],
        aggregate_from: None,
        rules: || vec![r(&[""], &["endpoints", "services"], READ)],
    },
    RoleDef {
        name: "system:kube-controller-manager",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&["", "events.k8s.io"], &["events"], EVENTS),
                r(&["coordination.k8s.io"], &["leases"], &["create"]),
                named(&["coordination.k8s.io"], &["leases"], &["kube-controller-manager"], &["get", "update"]),
                r(&[""], &["secrets", "serviceaccounts"], &["create"]),
                r(&[""], &["secrets"], &["delete"]),
                r(&[""], &["configmaps", "namespaces", "secrets", "serviceaccounts"], &["get"]),
                r(&[""], &["secrets", "serviceaccounts"], &["update"]),
                r(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                r(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
                r(&["*"], &["*"], &["list", "watch"]),
                r(&[""], &["serviceaccounts/token"], &["create"]),
            ]
        },
    },
    RoleDef {
        name: "system:kube-dns",
        labels: &[],
        aggregate_from: None,
        rules: || vec![r(&[""], &["endpoints", "services"], &["list", "watch"])],
    },
    RoleDef {
        name: "system:kube-scheduler",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&["", "events.k8s.io"], &["events"], EVENTS),
                r(&["coordination.k8s.io"], &["leases"], &["create"]),
                named(&["coordination.k8s.io"], &["leases"], &["kube-scheduler"], &["get", "update"]),
                r(&[""], &["nodes"], READ),
                r(&[""], &["pods"], &["delete", "get", "list", "watch"]),
                r(&[""], &["bindings", "pods/binding"], &["create"]),
                r(&[""], &["pods/status"], &["patch", "update"]),
                r(&[""], &["replicationcontrollers", "services"], READ),
                r(&["apps", "extensions"], &["replicasets"], READ),
                r(&["apps"], &["statefulsets"], READ),
                r(&["policy"], &["poddisruptionbudgets"], READ),
                r(&[""], &["persistentvolumeclaims", "persistentvolumes"], READ),
                r(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                r(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
                r(&["storage.k8s.io"], &["csinodes"], READ),
                r(&[""], &["namespaces"], READ),
                r(&["storage.k8s.io"], &["csidrivers"], READ),
                r(&["storage.k8s.io"], &["csistoragecapacities"], READ),
            ]
        },
    },
    RoleDef {
        name: "system:kubelet-api-admin",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&[""], &["nodes"], READ),
                r(&[""], &["nodes"], &["proxy"]),
                r(&[""], &["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], &["*"]),
            ]
        },
    },
    RoleDef {
        name: "system:monitoring",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![urls(
                &["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"],
                &["get"],
            )]
        },
    },
    RoleDef { name: "system:node", labels: &[], aggregate_from: None, rules: node_rules },
    RoleDef {
        name: "system:node-bootstrapper",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![r(&["certificates.k8s.io"], &["certificatesigningrequests"], &["create", "get", "list", "watch"])]
        },
    },
    RoleDef {
        name: "system:node-problem-detector",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&[""], &["nodes"], &["get"]),
                r(&[""], &["nodes/status"], &["patch"]),
                r(&["", "events.k8s.io"], &["events"], EVENTS),
            ]
        },
    },
    RoleDef {
        name: "system:node-proxier",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&[""], &["endpoints", "services"], &["list", "watch"]),
                r(&[""], &["nodes"], READ),
                r(&["", "events.k8s.io"], &["events"], EVENTS),
                r(&["discovery.k8s.io"], &["endpointslices"], &["list", "watch"]),
            ]
        },
    },
    RoleDef {
        name: "system:persistent-volume-provisioner",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&[""], &["persistentvolumes"], &["create", "delete", "get", "list", "watch"]),
                r(&[""], &["persistentvolumeclaims"], &["get", "list", "update", "watch"]),
                r(&["storage.k8s.io"], &["storageclasses"], READ),
                r(&[""], &["events"], &["watch"]),
                r(&["", "events.k8s.io"], &["events"], EVENTS),
            ]
        },
    },
    RoleDef {
        name: "system:public-info-viewer",
        labels: &[],
        aggregate_from: None,
        rules: || vec![urls(&["/healthz", "/livez", "/readyz", "/version", "/version/"], &["get"])],
    },
    RoleDef {
        name: "system:service-account-issuer-discovery",
        labels: &[],
        aggregate_from: None,
        rules: || vec![urls(&["/.well-known/openid-configuration", "/openid/v1/jwks"], &["get"])],
    },
    RoleDef {
        name: "system:volume-scheduler",
        labels: &[],
        aggregate_from: None,
        rules: || {
            vec![
                r(&[""], &["persistentvolumes"], &["get", "list", "patch", "update", "watch"]),
                r(&["storage.k8s.io"], &["storageclasses"], READ),
                r(&[""], &["persistentvolumeclaims"], &["get", "list", "patch", "update", "watch"]),
            ]
        },
    },
];

/// Upstream's `NodeRules()`: what the system:node role grants (and what the Node
/// authorizer checks node requests against).
pub fn node_rules() -> Vec<Value> {
    vec![
        r(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
        r(&["authorization.k8s.io"], &["localsubjectaccessreviews", "subjectaccessreviews"], &["create"]),
        r(&[""], &["services"], READ),
        r(&[""], &["nodes"], &["create", "get", "list", "watch"]),
        r(&[""], &["nodes/status"], &["patch", "update"]),
        r(&[""], &["nodes"], &["patch", "update"]),
        r(&[""], &["events"], EVENTS),
        r(&[""], &["pods"], READ),
        r(&[""], &["pods"], &["create", "delete"]),
        r(&[""], &["pods/status"], &["patch", "update"]),
        r(&[""], &["pods/eviction"], &["create"]),
        r(&[""], &["configmaps", "secrets"], READ),
        r(&[""], &["persistentvolumeclaims", "persistentvolumes"], &["get"]),
        r(&[""], &["endpoints"], &["get"]),
        r(&["certificates.k8s.io"], &["certificatesigningrequests"], &["create", "get", "list", "watch"]),
        r(&["coordination.k8s.io"], &["leases"], &["create", "delete", "get", "patch", "update"]),
        r(&["storage.k8s.io"], &["volumeattachments"], &["get"]),
        r(&[""], &["serviceaccounts/token"], &["create"]),
        r(&[""], &["persistentvolumeclaims/status"], &["get", "patch", "update"]),
        r(&["storage.k8s.io"], &["csidrivers"], READ),
        r(&["storage.k8s.io"], &["csinodes"], &["create", "delete", "get", "patch", "update"]),
        r(&["node.k8s.io"], &["runtimeclasses"], READ),
    ]
}

/// A binding subject: (kind, name, namespace).
type Subject = (&'static str, &'static str, &'static str);

/// One bootstrap ClusterRoleBinding: (name, role, subjects).
pub static CLUSTER_ROLE_BINDINGS: &[(&str, &str, &[Subject])] = &[
    ("cluster-admin", "cluster-admin", &[("Group", "system:masters", "")]),
    ("system:basic-user", "system:basic-user", &[("Group", "system:authenticated", "")]),
    ("system:discovery", "system:discovery", &[("Group", "system:authenticated", "")]),
    (
        "system:kube-controller-manager",
        "system:kube-controller-manager",
        &[("User", "system:kube-controller-manager", "")],
    ),
    ("system:kube-dns", "system:kube-dns", &[("ServiceAccount", "kube-dns", "kube-system")]),
    ("system:kube-scheduler", "system:kube-scheduler", &[("User", "system:kube-scheduler", "")]),
    ("system:monitoring", "system:monitoring", &[("Group", "system:monitoring", "")]),
    ("system:node", "system:node", &[]),
    ("system:node-proxier", "system:node-proxier", &[("User", "system:kube-proxy", "")]),
    (
        "system:public-info-viewer",
        "system:public-info-viewer",
        &[("Group", "system:authenticated", ""), ("Group", "system:unauthenticated", "")],
    ),
    (
        "system:service-account-issuer-discovery",
        "system:service-account-issuer-discovery",
        &[("Group", "system:serviceaccounts", "")],
    ),
    ("system:volume-scheduler", "system:volume-scheduler", &[("User", "system:kube-scheduler", "")]),
];

/// Upstream's per-controller ClusterRoles (`system:controller:<name>`, each bound to the
/// service account `kube-system/<name>`), for kube-controller-manager with
/// `--use-service-account-credentials`. Controllers behind feature gates that are off by
/// default in v1.33 (DRA, SELinux warnings, VolumeAttributesClass) are left out.
pub fn controller_roles() -> Vec<(&'static str, Vec<Value>)> {
    let events = || r(&["", "events.k8s.io"], &["events"], EVENTS);
    let full = &["create", "delete", "get", "list", "patch", "update", "watch"][..];
    vec![
        (
            "attachdetach-controller",
            vec![
                r(&[""], &["persistentvolumeclaims", "persistentvolumes"], &["list", "watch"]),
                r(&[""], &["nodes"], READ),
                r(&[""], &["nodes/status"], &["patch", "update"]),
                r(&[""], &["pods"], &["list", "watch"]),
                events(),
                r(&["storage.k8s.io"], &["volumeattachments"], &["create", "delete", "get", "list", "watch"]),
                r(&["storage.k8s.io"], &["csidrivers"], READ),
                r(&["storage.k8s.io"], &["csinodes"], READ),
            ],
        ),
        (
            "certificate-controller",
            vec![
                r(&["certificates.k8s.io"], &["certificatesigningrequests"], &["delete", "get", "list", "watch"]),
                r(
                    &["certificates.k8s.io"],
                    &["certificatesigningrequests/approval", "certificatesigningrequests/status"],
                    &["update"],
                ),
                named(
                    &["certificates.k8s.io"],
                    &["signers"],
                    &["kubernetes.io/kube-apiserver-client-kubelet"],
                    &["approve"],
                ),
                named(
                    &["certificates.k8s.io"],
                    &["signers"],
                    &[
                        "kubernetes.io/kube-apiserver-client",
                        "kubernetes.io/kube-apiserver-client-kubelet",
                        "kubernetes.io/kubelet-serving",
                        "kubernetes.io/legacy-unknown",
                    ],
                    &["sign"],
                ),
                r(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
                events(),
            ],
        ),
        (
            "clusterrole-aggregation-controller",
            vec![r(
                &["rbac.authorization.k8s.io"],
                &["clusterroles"],
                &["escalate", "get", "list", "patch", "update", "watch"],
            )],
        ),
        (
            "cronjob-controller",
            vec![
                r(&["batch"], &["cronjobs"], &["get", "list", "update", "watch"]),
                r(&["batch"], &["jobs"], full),
                r(&["batch"], &["cronjobs/status"], &["update"]),
                r(&["batch"], &["cronjobs/finalizers"], &["update"]),
                r(&[""], &["pods"], &["delete", "list", "watch"]),
                events(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                r(&["apps", "extensions"], &["daemonsets"], READ),
                r(&["apps", "extensions"], &["daemonsets/status"], &["update"]),
                r(&["apps", "extensions"], &["daemonsets/finalizers"], &["update"]),
                r(&[""], &["nodes"], &["list", "watch"]),
                r(&[""], &["pods"], &["create", "delete", "list", "patch", "watch"]),
                r(&[""], &["pods/binding"], &["create"]),
                r(&["apps"], &["controllerrevisions"], full),
                events(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                r(&["apps", "extensions"], &["deployments"], &["get", "list", "update", "watch"]),
                r(&["apps", "extensions"], &["deployments/status"], &["update"]),
                r(&["apps", "extensions"], &["deployments/finalizers"], &["update"]),
                r(&["apps", "extensions"], &["replicasets"], full),
                r(&[""], &["pods"], &["get", "list", "update", "watch"]),
                events(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                r(&["apps", "extensions"], &["deployments"], READ),
                r(&["apps", "extensions"], &["replicasets"], READ),
                r(&[""], &["replicationcontrollers"], READ),
                r(&["policy"], &["poddisruptionbudgets"], READ),
                r(&["apps"], &["statefulsets"], READ),
                r(&["policy"], &["poddisruptionbudgets/status"], &["update"]),
                r(&[""], &["pods/status"], &["patch", "update"]),
                r(&["*"], &["*/scale"], &["get"]),
                events(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                r(&[""], &["pods", "services"], READ),
                r(&[""], &["endpoints"], &["create", "delete", "get", "list", "update", "watch"]),
                r(&[""], &["endpoints/restricted"], &["create"]),
                events(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                r(&[""], &["nodes", "pods", "services"], READ),
                r(&[""], &["services/finalizers"], &["update"]),
                r(&["discovery.k8s.io"], &["endpointslices"], &["create", "delete", "get", "list", "update", "watch"]),
                events(),
            ],
        ),
        (
            "endpointslicemirroring-controller",
            vec![
                r(&[""], &["endpoints", "services"], READ),
                r(&[""], &["services/finalizers"], &["update"]),
                r(&[""], &["endpoints/finalizers"], &["update"]),
                r(&["discovery.k8s.io"], &["endpointslices"], &["create", "delete", "get", "list", "update", "watch"]),
                events(),
            ],
        ),
        (
            "ephemeral-volume-controller",
            vec![
                r(&[""], &["pods"], READ),
                r(&[""], &["pods/finalizers"], &["update"]),
                r(&[""], &["persistentvolumeclaims"], &["create", "get", "list", "watch"]),
                events(),
            ],
        ),
        (
            "expand-controller",
            vec![
                r(&[""], &["persistentvolumes"], &["get", "list", "patch", "update", "watch"]),
                r(&[""], &["persistentvolumeclaims/status"], &["patch", "update"]),
                r(&[""], &["persistentvolumeclaims"], READ),
                events(),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![r(&["*"], &["*"], &["delete", "get", "list", "patch", "update", "watch"]), events()],
        ),
        (
            "horizontal-pod-autoscaler",
            vec![
                r(&["autoscaling"], &["horizontalpodautoscalers"], READ),
                r(&["autoscaling"], &["horizontalpodautoscalers/status"], &["update"]),
                r(&["*"], &["*/scale"], &["get", "update"]),
                r(&[""], &["pods"], &["list", "watch"]),
                r(&["metrics.k8s.io"], &["pods"], &["list", "watch"]),
                r(&["custom.metrics.k8s.io"], &["*"], READ),
                r(&["external.metrics.k8s.io"], &["*"], READ),
                events(),
            ],
        ),
        (
            "job-controller",
            vec![
                r(&["batch"], &["jobs"], &["get", "list", "patch", "update", "watch"]),
                r(&["batch"], &["jobs/status"], &["update"]),
                r(&["batch"], &["jobs/finalizers"], &["update"]),
                r(&[""], &["pods"], &["create", "delete", "list", "patch", "watch"]),
                events(),
            ],
        ),
        (
            "legacy-service-account-token-cleaner",
            vec![
                named(&[""], &["configmaps"], &["kube-apiserver-legacy-service-account-token-tracking"], &["get"]),
                r(&[""], &["secrets"], &["delete", "patch"]),
            ],
        ),
        (
            "namespace-controller",
            vec![
                r(&[""], &["namespaces"], &["delete", "get", "list", "watch"]),
                r(&[""], &["namespaces/finalize", "namespaces/status"], &["update"]),
                r(&["*"], &["*"], &["delete", "deletecollection", "get", "list", "watch"]),
            ],
        ),
        (
            "node-controller",
            vec![
                r(&[""], &["nodes"], &["delete", "get", "list", "patch", "update", "watch"]),
                r(&[""], &["nodes/status"], &["patch", "update"]),
                r(&[""], &["pods/status"], &["patch", "update"]),
                r(&[""], &["pods"], &["delete", "get", "list", "watch"]),
                events(),
            ],
        ),
        (
            "persistent-volume-binder",
            vec![
                r(&[""], &["persistentvolumes"], &["create", "delete", "get", "list", "update", "watch"]),
                r(&[""], &["persistentvolumes/status"], &["update"]),
                r(&[""], &["persistentvolumeclaims"], &["get", "list", "update", "watch"]),
                r(&[""], &["persistentvolumeclaims/status"], &["update"]),
                r(&[""], &["pods"], &["create", "delete", "get", "list", "watch"]),
                r(&["storage.k8s.io"], &["storageclasses"], READ),
                r(&[""], &["nodes"], &["list", "watch"]),
                events(),
                r(&[""], &["events"], &["watch"]),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                r(&[""], &["pods"], &["delete", "list", "watch"]),
                r(&[""], &["nodes"], READ),
                r(&[""], &["pods/status"], &["patch"]),
            ],
        ),
        (
            "pv-protection-controller",
            vec![r(&[""], &["persistentvolumes"], &["get", "list", "update", "watch"]), events()],
        ),
        (
            "pvc-protection-controller",
            vec![
                r(&[""], &["persistentvolumeclaims"], &["get", "list", "update", "watch"]),
                r(&[""], &["persistentvolumeclaims/status"], &["update"]),
                r(&[""], &["pods"], READ),
                events(),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                r(&["apps", "extensions"], &["replicasets"], &["get", "list", "update", "watch"]),
                r(&["apps", "extensions"], &["replicasets/status"], &["update"]),
                r(&["apps", "extensions"], &["replicasets/finalizers"], &["update"]),
                r(&[""], &["pods"], &["create", "delete", "list", "patch", "watch"]),
                events(),
            ],
        ),
        (
            "replication-controller",
            vec![
                r(&[""], &["replicationcontrollers"], &["get", "list", "update", "watch"]),
                r(&[""], &["replicationcontrollers/status"], &["update"]),
                r(&[""], &["replicationcontrollers/finalizers"], &["update"]),
                r(&[""], &["pods"], &["create", "delete", "list", "patch", "watch"]),
                events(),
            ],
        ),
        (
            "resourcequota-controller",
            vec![r(&["*"], &["*"], &["list", "watch"]), r(&[""], &["resourcequotas/status"], &["update"]), events()],
        ),
        ("root-ca-cert-publisher", vec![r(&[""], &["configmaps"], &["create", "update"]), events()]),
        (
            "route-controller",
            vec![r(&[""], &["nodes"], &["list", "watch"]), r(&[""], &["nodes/status"], &["patch"]), events()],
        ),
        ("service-account-controller", vec![r(&[""], &["serviceaccounts"], &["create"]), events()]),
        (
            "service-cidrs-controller",
            vec![
                r(&["networking.k8s.io"], &["servicecidrs"], &["get", "list", "patch", "update", "watch"]),
                r(&["networking.k8s.io"], &["servicecidrs/finalizers"], &["patch", "update"]),
                r(&["networking.k8s.io"], &["servicecidrs/status"], &["patch", "update"]),
                r(&["networking.k8s.io"], &["ipaddresses"], READ),
                events(),
            ],
        ),
        (
            "service-controller",
            vec![
                r(&[""], &["services"], READ),
                r(&[""], &["services/status"], &["patch", "update"]),
                r(&[""], &["nodes"], &["list", "watch"]),
                events(),
            ],
        ),
        (
            "statefulset-controller",
            vec![
                r(&[""], &["pods"], &["list", "watch"]),
                r(&["apps"], &["statefulsets"], READ),
                r(&["apps"], &["statefulsets/status"], &["update"]),
                r(&["apps"], &["statefulsets/finalizers"], &["update"]),
                r(&[""], &["pods"], &["create", "delete", "get", "patch", "update"]),
                r(&["apps"], &["controllerrevisions"], full),
                r(&[""], &["persistentvolumeclaims"], &["create", "get", "list", "watch"]),
                r(&[""], &["persistentvolumeclaims"], &["delete", "update"]),
                r(&[""], &["pods/finalizers"], &["update"]),
                events(),
            ],
        ),
        (
            "ttl-after-finished-controller",
            vec![r(&["batch"], &["jobs"], &["delete", "get", "list", "watch"]), events()],
        ),
        ("ttl-controller", vec![r(&[""], &["nodes"], &["list", "patch", "update", "watch"]), events()]),
        (
            "validatingadmissionpolicy-status-controller",
            vec![
                r(&["admissionregistration.k8s.io"], &["validatingadmissionpolicies"], READ),
                r(
                    &["admissionregistration.k8s.io"],
                    &["validatingadmissionpolicies/status"],
                    &["get", "patch", "update"],
                ),
                events(),
            ],
        ),
    ]
}

/// Upstream's namespaced bootstrap Roles: (namespace, name, rules).
pub fn namespace_roles() -> Vec<(&'static str, &'static str, Vec<Value>)> {
    let leader_locking = || {
        vec![
            r(&["coordination.k8s.io"], &["leases"], &["create", "get", "list", "update", "watch"]),
            r(&["coordination.k8s.io"], &["leasecandidates"], &["create", "get", "list", "update", "watch"]),
        ]
    };
    vec![
        (
            "kube-public",
            "system:controller:bootstrap-signer",
            vec![
                r(&[""], &["configmaps"], READ),
                named(&[""], &["configmaps"], &["cluster-info"], &["update"]),
                r(&["", "events.k8s.io"], &["events"], EVENTS),
            ],
        ),
        (
            "kube-system",
            "extension-apiserver-authentication-reader",
            vec![named(&[""], &["configmaps"], &["extension-apiserver-authentication"], READ)],
        ),
        ("kube-system", "system::leader-locking-kube-controller-manager", leader_locking()),
        ("kube-system", "system::leader-locking-kube-scheduler", leader_locking()),
        ("kube-system", "system:controller:bootstrap-signer", vec![r(&[""], &["secrets"], READ)]),
        (
            "kube-system",
            "system:controller:cloud-provider",
            vec![r(&[""], &["configmaps"], &["create", "get", "list", "watch"])],
        ),
        (
            "kube-system",
            "system:controller:token-cleaner",
            vec![
                r(&[""], &["secrets"], &["delete", "get", "list", "watch"]),
                r(&["", "events.k8s.io"], &["events"], EVENTS),
            ],
        ),
    ]
}

/// Upstream's namespaced bootstrap RoleBindings: (namespace, name, role, subjects).
pub static NAMESPACE_ROLE_BINDINGS: &[(&str, &str, &str, &[Subject])] = &[
    (
        "kube-public",
        "system:controller:bootstrap-signer",
        "system:controller:bootstrap-signer",
        &[("ServiceAccount", "bootstrap-signer", "kube-system")],
    ),
    (
        "kube-system",
        "system::extension-apiserver-authentication-reader",
        "extension-apiserver-authentication-reader",
        &[("User", "system:kube-controller-manager", ""), ("User", "system:kube-scheduler", "")],
    ),
    (
        "kube-system",
        "system::leader-locking-kube-controller-manager",
        "system::leader-locking-kube-controller-manager",
        &[
            ("User", "system:kube-controller-manager", ""),
            ("ServiceAccount", "kube-controller-manager", "kube-system"),
            ("ServiceAccount", "leader-election-controller", "kube-system"),
        ],
    ),
    (
        "kube-system",
        "system::leader-locking-kube-scheduler",
        "system::leader-locking-kube-scheduler",
        &[("User", "system:kube-scheduler", ""), ("ServiceAccount", "kube-scheduler", "kube-system")],
    ),
    (
        "kube-system",
        "system:controller:bootstrap-signer",
        "system:controller:bootstrap-signer",
        &[("ServiceAccount", "bootstrap-signer", "kube-system")],
    ),
    (
        "kube-system",
        "system:controller:cloud-provider",
        "system:controller:cloud-provider",
        &[("ServiceAccount", "cloud-provider", "kube-system")],
    ),
    (
        "kube-system",
        "system:controller:token-cleaner",
        "system:controller:token-cleaner",
        &[("ServiceAccount", "token-cleaner", "kube-system")],
    ),
];

fn subjects_json(subjects: &[Subject]) -> Vec<Value> {
    subjects
        .iter()
        .map(|(kind, n, ns)| match *kind {
            "ServiceAccount" => json!({"kind": kind, "name": n, "namespace": ns}),
            _ => json!({"kind": kind, "apiGroup": "rbac.authorization.k8s.io", "name": n}),
        })
        .collect()
}

/// The namespaced bootstrap objects: (key, object).
fn namespaced_objects() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (ns, name, rules) in namespace_roles() {
        let mut meta = metadata(name, &[]);
        meta["namespace"] = json!(ns);
        let o = json!({"kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta, "rules": rules});
        out.push((format!("/registry/roles/{ns}/{name}"), o));
    }
    for (ns, name, role, subjects) in NAMESPACE_ROLE_BINDINGS {
        let mut meta = metadata(name, &[]);
        meta["namespace"] = json!(ns);
        let o = json!({
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": subjects_json(subjects),
        });
        out.push((format!("/registry/rolebindings/{ns}/{name}"), o));
    }
    out
}

fn metadata(name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = Map::new();
    labels.insert("kubernetes.io/bootstrapping".into(), json!("rbac-defaults"));
    for (k, v) in extra_labels {
        labels.insert((*k).into(), json!(v));
    }
    json!({
        "name": name,
        "uid": crate::rest::new_uid(),
        "creationTimestamp": crate::rest::now_rfc3339(),
        "labels": labels,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

fn has_label(def: &RoleDef, key: &str) -> bool {
    def.labels.iter().any(|(k, v)| *k == key && *v == "true")
}

/// The rules of a bootstrap role, aggregated ones filled in as upstream's
/// clusterrole-aggregation controller would (transitively, without duplicates).
fn resolved_rules(def: &RoleDef) -> Vec<Value> {
    let Some(target) = def.aggregate_from else { return (def.rules)() };
    let key = format!("rbac.authorization.k8s.io/aggregate-to-{target}");
    let mut rules: Vec<Value> = Vec::new();
    for d in CLUSTER_ROLES.iter().filter(|d| has_label(d, &key)) {
        for rule in resolved_rules(d) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
    }
    rules
}

/// The ClusterRole objects of the bootstrap policy (the controller roles included).
pub fn cluster_roles() -> Vec<Value> {
    let controllers = controller_roles().into_iter().map(|(name, rules)| {
        json!({
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": metadata(&format!("system:controller:{name}"), &[]),
            "rules": rules,
        })
    });
    CLUSTER_ROLES
        .iter()
        .map(|d| {
            let mut o = json!({
                "kind": "ClusterRole",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": metadata(d.name, d.labels),
                "rules": resolved_rules(d),
            });
            if let Some(target) = d.aggregate_from {
                o["aggregationRule"] = json!({"clusterRoleSelectors": [
                    {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{target}"): "true"}}
                ]});
            }
            o
        })
        .chain(controllers)
        .collect()
}

/// The ClusterRoleBinding objects of the bootstrap policy (the controllers' included).
pub fn cluster_role_bindings() -> Vec<Value> {
    let controllers = controller_roles().into_iter().map(|(name, _)| {
        let full = format!("system:controller:{name}");
        json!({
            "kind": "ClusterRoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": metadata(&full, &[]),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": full},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}],
        })
    });
    CLUSTER_ROLE_BINDINGS
        .iter()
        .map(|(name, role, subjects)| {
            let subjects = subjects_json(subjects);
            let mut o = json!({
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": metadata(name, &[]),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            });
            if !subjects.is_empty() {
                o["subjects"] = json!(subjects);
            }
            o
        })
        .chain(controllers)
        .collect()
}

/// What reconciling a stored bootstrap object against the policy changes (upstream's
/// `reconciliation` for objects not annotated `autoupdate: "false"`): missing rules,
/// subjects, labels and annotations are added, the aggregation rule is set; nothing
/// the stored object has is removed. `None` when nothing is missing.
pub fn reconcile(stored: &Value, wanted: &Value) -> Option<Value> {
    if stored["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "false" {
        return None;
    }
    let mut out = stored.clone();
    for field in ["labels", "annotations"] {
        for (k, v) in wanted["metadata"][field].as_object().into_iter().flatten() {
            if out["metadata"][field].get(k).is_none() {
                if !out["metadata"][field].is_object() {
                    out["metadata"][field] = json!({});
                }
                out["metadata"][field][k] = v.clone();
            }
        }
    }
    for list in ["rules", "subjects"] {
        for item in wanted[list].as_array().into_iter().flatten() {
            let present = out[list].as_array().is_some_and(|a| a.contains(item));
            if !present {
                if !out[list].is_array() {
                    out[list] = json!([]);
                }
                if let Some(a) = out[list].as_array_mut() {
                    a.push(item.clone());
                }
            }
        }
    }
    if wanted.get("aggregationRule").is_some() && out["aggregationRule"] != wanted["aggregationRule"] {
        out["aggregationRule"] = wanted["aggregationRule"].clone();
    }
    (out != *stored).then_some(out)
}

/// Writes every missing bootstrap object and reconciles the existing ones; returns how
/// many were written. An error means the store did not answer.
pub async fn ensure(storage: &Storage) -> Result<usize, StorageError> {
    let mut written = 0;
    let key_of =
        |prefix: &str, o: &Value| format!("/registry/{prefix}/{}", o["metadata"]["name"].as_str().unwrap_or_default());
    let objects = cluster_roles()
        .into_iter()
        .map(|o| (key_of("clusterroles", &o), o))
        .chain(cluster_role_bindings().into_iter().map(|o| (key_of("clusterrolebindings", &o), o)))
        .chain(namespaced_objects());
    for (key, obj) in objects {
        for _ in 0..5 {
            let result = match storage.get(key.as_bytes()).await? {
                Some(kv) => {
                    let Ok(stored) = serde_json::from_slice::<Value>(&kv.value) else { break };
                    let Some(updated) = reconcile(&stored, &obj) else { break };
                    tracing::info!(key, "reconciling bootstrap RBAC object");
                    storage
                        .update(key.as_bytes(), serde_json::to_vec(&updated).unwrap_or_default(), kv.mod_revision)
                        .await
                }
                None => storage.create(key.as_bytes(), serde_json::to_vec(&obj).unwrap_or_default()).await,
            };
            match result {
                Ok(_) => {
                    written += 1;
                    break;
                }
                Err(StorageError::AlreadyExists | StorageError::Conflict | StorageError::NotFound) => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_roles_nest() {
        let roles = cluster_roles();
        let find = |n: &str| roles.iter().find(|r| r["metadata"]["name"] == n).unwrap().clone();
        let view = find("view");
        let edit = find("edit");
        let admin = find("admin");
        let count = |r: &Value| r["rules"].as_array().unwrap().len();
        assert_eq!(count(&view), count(&find("system:aggregate-to-view")));
        assert!(count(&edit) > count(&view) && count(&admin) > count(&edit));
        for rule in view["rules"].as_array().unwrap() {
            assert!(
                edit["rules"].as_array().unwrap().contains(rule) && admin["rules"].as_array().unwrap().contains(rule)
            );
        }
        assert_eq!(
            admin["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
            "true"
        );
        assert_eq!(edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"], "true");
        let b = cluster_role_bindings();
        let masters = b.iter().find(|b| b["metadata"]["name"] == "cluster-admin").unwrap();
        assert_eq!(
            masters["subjects"][0],
            json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"})
        );
        assert!(b.iter().find(|b| b["metadata"]["name"] == "system:node").unwrap().get("subjects").is_none());
        let gc = b.iter().find(|b| b["metadata"]["name"] == "system:controller:generic-garbage-collector").unwrap();
        assert_eq!(
            gc["subjects"][0],
            json!({"kind": "ServiceAccount", "name": "generic-garbage-collector", "namespace": "kube-system"})
        );
        assert!(roles.iter().any(|r| r["metadata"]["name"] == "system:controller:namespace-controller"));
        let ns = namespaced_objects();
        assert_eq!(ns.len(), 14);
        assert!(
            ns.iter().any(|(k, _)| k == "/registry/rolebindings/kube-system/system::leader-locking-kube-scheduler")
        );
    }

    #[test]
    fn reconciliation_adds_what_is_missing() {
        let wanted = cluster_roles().into_iter().find(|r| r["metadata"]["name"] == "system:basic-user").unwrap();
        assert_eq!(reconcile(&wanted, &wanted), None);
        let mut trimmed = wanted.clone();
        trimmed["rules"].as_array_mut().unwrap().pop();
        trimmed["rules"].as_array_mut().unwrap().push(json!({"verbs": ["get"], "nonResourceURLs": ["/mine"]}));
        let fixed = reconcile(&trimmed, &wanted).expect("a missing rule is added");
        assert_eq!(fixed["rules"].as_array().unwrap().len(), 3, "added, and the extra rule kept");
        let mut frozen = trimmed.clone();
        frozen["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = json!("false");
        assert_eq!(reconcile(&frozen, &wanted), None);
    }
}
