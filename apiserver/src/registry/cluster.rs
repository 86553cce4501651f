//! Small cluster-wide groups: coordination.k8s.io, scheduling.k8s.io, and the others
//! whose resources need little more than decoding and table columns.

use base64::Engine;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{IPAddress, Ingress, IngressClass, NetworkPolicy, ServiceCIDR};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::{CSIDriver, CSINode, StorageClass, VolumeAttachment};
use serde_json::{Value, json};

use super::podspec::default;
use super::*;
use crate::status::FieldError;

fn value_or(v: &Value, none: &str) -> Value {
    match v {
        Value::Null => json!(none),
        Value::String(s) => json!(s),
        other => json!(other.to_string()),
    }
}

pub static POLICY: Group = Group {
    name: "policy",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "policy",
            name: "poddisruptionbudgets",
            singular: "poddisruptionbudget",
            kind: "PodDisruptionBudget",
            short_names: &["pdb"],
            subresources: &[Subresource::Status],
            generation: true,
            etcd_prefix: "poddisruptionbudgets",
            decode: typed::<PodDisruptionBudget>,
            proto: proto::POD_DISRUPTION_BUDGET,
            validate: |o| {
                let mut errs = Vec::new();
                if !o["spec"]["minAvailable"].is_null() && !o["spec"]["maxUnavailable"].is_null() {
                    errs.push(FieldError::invalid_value(
                        "spec",
                        &json!(o["spec"].to_string()),
                        "minAvailable and maxUnavailable cannot be both set",
                    ));
                }
                errs
            },
            columns: &[
                NAME_COLUMN,
                Column::new("Min Available", "string", "The minimum number of pods that must be available."),
                Column::new("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
                Column::new(
                    "Allowed Disruptions",
                    "integer",
                    "Calculated number of pods that may be disrupted at this time.",
                ),
                AGE_COLUMN,
            ],
            cells: |o| {
                vec![
                    o["metadata"]["name"].clone(),
                    value_or(&o["spec"]["minAvailable"], "N/A"),
                    value_or(&o["spec"]["maxUnavailable"], "N/A"),
                    json!(o["status"]["disruptionsAllowed"].as_i64().unwrap_or(0)),
                    json!(age(o)),
                ]
            },
            ..BASE
        }],
    }],
};

pub static DISCOVERY: Group = Group {
    name: "discovery.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "discovery.k8s.io",
            name: "endpointslices",
            singular: "endpointslice",
            kind: "EndpointSlice",
            etcd_prefix: "endpointslices",
            decode: typed::<EndpointSlice>,
            prepare_for_create: default_slice,
            prepare_for_update: |new, _| default_slice(new),
            validate: |o| {
                let mut errs = Vec::new();
                let family = o["addressType"].as_str().unwrap_or_default();
                for (i, e) in o["endpoints"].as_array().into_iter().flatten().enumerate() {
                    let addrs = e["addresses"].as_array().cloned().unwrap_or_default();
                    if addrs.is_empty() {
                        errs.push(FieldError::required(
                            &format!("endpoints[{i}].addresses"),
                            "must contain at least 1 address",
                        ));
                    }
                    for (j, a) in addrs.iter().enumerate() {
                        let a = a.as_str().unwrap_or_default();
                        let (ok, what) = match family {
                            "IPv4" => (a.parse::<std::net::Ipv4Addr>().is_ok(), "must be a valid IPv4 address"),
                            "IPv6" => (a.parse::<std::net::Ipv6Addr>().is_ok(), "must be a valid IPv6 address"),
                            _ => (true, ""),
                        };
                        if !ok {
                            errs.push(FieldError::invalid(&format!("endpoints[{i}].addresses[{j}]"), a, what));
                        }
                    }
                }
                match o["addressType"].as_str() {
                    None | Some("") => errs.push(FieldError::required("addressType", "")),
                    Some(t) if !["IPv4", "IPv6", "FQDN"].contains(&t) => {
                        errs.push(FieldError::not_supported("addressType", t, &["FQDN", "IPv4", "IPv6"]))
                    }
                    _ => {}
                }
                errs
            },
            validate_update: |new, old| {
                if new["addressType"] != old["addressType"] {
                    vec![immutable("addressType", &new["addressType"])]
                } else {
                    Vec::new()
                }
            },
            columns: &[
                NAME_COLUMN,
                Column::new(
                    "AddressType",
                    "string",
                    "addressType specifies the type of address carried by this EndpointSlice.",
                ),
                Column::new(
                    "Ports",
                    "string",
                    "ports specifies the list of network ports exposed by each endpoint in this slice.",
                ),
                Column::new("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
                AGE_COLUMN,
            ],
            cells: |o| {
                let ports: Vec<String> = o["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["port"].as_i64().map_or("<unset>".to_string(), |n| n.to_string()))
                    .collect();
                let addrs: Vec<String> = o["endpoints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|e| e["addresses"].as_array().cloned().unwrap_or_default())
                    .filter_map(|a| a.as_str().map(String::from))
                    .collect();
                let more = addrs.len().saturating_sub(3);
                let mut eps = addrs.iter().take(3).cloned().collect::<Vec<_>>().join(",");
                if more > 0 {
                    eps.push_str(&format!(" + {more} more..."));
                }
                vec![
                    o["metadata"]["name"].clone(),
                    o["addressType"].clone(),
                    or_none(ports.join(",")),
                    or_none(eps),
                    json!(age(o)),
                ]
            },
            ..BASE
        }],
    }],
};

fn default_slice(o: &mut Value) {
    for p in o.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        default(p, "protocol", json!("TCP"));
    }
}

pub static NETWORKING: Group = Group {
    name: "networking.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: "networking.k8s.io",
                name: "ingressclasses",
                singular: "ingressclass",
                kind: "IngressClass",
                namespaced: false,
                etcd_prefix: "ingressclasses",
                decode: typed::<IngressClass>,
                columns: &[
                    NAME_COLUMN,
                    Column::new("Controller", "string", "Controller that is responsible for handling this class"),
                    Column::new("Parameters", "string", "A reference to a resource with additional parameters"),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    let p = &o["spec"]["parameters"];
                    let params = if p.is_object() {
                        let group = p["apiGroup"].as_str().map(|g| format!(".{g}")).unwrap_or_default();
                        format!(
                            "{}{group}/{}",
                            p["kind"].as_str().unwrap_or_default(),
                            p["name"].as_str().unwrap_or_default()
                        )
                    } else {
                        "<none>".into()
                    };
                    vec![o["metadata"]["name"].clone(), o["spec"]["controller"].clone(), json!(params), json!(age(o))]
                },
                ..BASE
            },
            Resource {
                group: "networking.k8s.io",
                name: "ingresses",
                singular: "ingress",
                kind: "Ingress",
                short_names: &["ing"],
                subresources: &[Subresource::Status],
                generation: true,
                etcd_prefix: "ingress",
                decode: typed::<Ingress>,
                proto: proto::INGRESS,
                validate: validate_ingress,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Class",
                        "string",
                        "The name of the IngressClass resource that should be used for additional configuration",
                    ),
                    Column::new(
                        "Hosts",
                        "string",
                        "Hosts that incoming requests are matched against before the ingress rule",
                    ),
                    Column::new(
                        "Address",
                        "string",
                        "Address is a list containing ingress points for the load-balancer",
                    ),
                    Column::new("Ports", "string", "Ports of TLS configurations that open"),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    let hosts: Vec<&str> = o["spec"]["rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["host"].as_str())
                        .collect();
                    let addrs: Vec<&str> = o["status"]["loadBalancer"]["ingress"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()))
                        .collect();
                    let ports =
                        if o["spec"]["tls"].as_array().is_some_and(|t| !t.is_empty()) { "80, 443" } else { "80" };
                    vec![
                        o["metadata"]["name"].clone(),
                        or_none(field_value(o, "spec.ingressClassName")),
                        json!(if hosts.is_empty() { "*".to_string() } else { hosts.join(",") }),
                        json!(addrs.join(",")),
                        json!(ports),
                        json!(age(o)),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "networking.k8s.io",
                name: "ipaddresses",
                singular: "ipaddress",
                kind: "IPAddress",
                namespaced: false,
                short_names: &["ip"],
                etcd_prefix: "ipaddresses",
                decode: typed::<IPAddress>,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "ParentRef",
                        "string",
                        "ParentRef references the resource that an IPAddress is attached to.",
                    ),
                ],
                cells: |o| {
                    let p = &o["spec"]["parentRef"];
                    let parent = format!(
                        "{}/{}/{}",
                        p["resource"].as_str().unwrap_or_default(),
                        p["namespace"].as_str().unwrap_or_default(),
                        p["name"].as_str().unwrap_or_default()
                    );
                    vec![o["metadata"]["name"].clone(), json!(parent)]
                },
                ..BASE
            },
            Resource {
                group: "networking.k8s.io",
                name: "networkpolicies",
                singular: "networkpolicy",
                kind: "NetworkPolicy",
                short_names: &["netpol"],
                generation: true,
                etcd_prefix: "networkpolicies",
                decode: typed::<NetworkPolicy>,
                prepare_for_create: |o| {
                    if o["spec"]["policyTypes"].as_array().is_none_or(Vec::is_empty) {
                        let mut types = vec![json!("Ingress")];
                        if o["spec"]["egress"].as_array().is_some_and(|e| !e.is_empty()) {
                            types.push(json!("Egress"));
                        }
                        o["spec"]["policyTypes"] = json!(types);
                    }
                },
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Pod-Selector",
                        "string",
                        "podSelector selects the pods to which this NetworkPolicy object applies.",
                    ),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    vec![
                        o["metadata"]["name"].clone(),
                        or_none(selector_string(&o["spec"]["podSelector"])),
                        json!(age(o)),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "networking.k8s.io",
                name: "servicecidrs",
                singular: "servicecidr",
                kind: "ServiceCIDR",
                namespaced: false,
                subresources: &[Subresource::Status],
                etcd_prefix: "servicecidrs",
                decode: typed::<ServiceCIDR>,
                columns: &[
                    NAME_COLUMN,
                    Column::new("CIDRs", "string", "CIDRs defines the IP blocks in CIDR notation."),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    let cidrs: Vec<&str> =
                        o["spec"]["cidrs"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    vec![o["metadata"]["name"].clone(), json!(cidrs.join(",")), json!(age(o))]
                },
                ..BASE
            },
        ],
    }],
};

pub static STORAGE: Group = Group {
    name: "storage.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: "storage.k8s.io",
                name: "csidrivers",
                singular: "csidriver",
                kind: "CSIDriver",
                namespaced: false,
                etcd_prefix: "csidrivers",
                decode: typed::<CSIDriver>,
                prepare_for_create: default_csidriver,
                prepare_for_update: |new, _| default_csidriver(new),
                ..BASE
            },
            Resource {
                group: "storage.k8s.io",
                name: "csinodes",
                singular: "csinode",
                kind: "CSINode",
                namespaced: false,
                etcd_prefix: "csinodes",
                decode: typed::<CSINode>,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Drivers",
                        "integer",
                        "Drivers indicates the number of CSI drivers registered on the node",
                    ),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    vec![
                        o["metadata"]["name"].clone(),
                        json!(o["spec"]["drivers"].as_array().map_or(0, Vec::len)),
                        json!(age(o)),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "storage.k8s.io",
                name: "storageclasses",
                singular: "storageclass",
                kind: "StorageClass",
                namespaced: false,
                short_names: &["sc"],
                etcd_prefix: "storageclasses",
                decode: typed::<StorageClass>,
                prepare_for_create: |o| {
                    default(o, "reclaimPolicy", json!("Delete"));
                    default(o, "volumeBindingMode", json!("Immediate"));
                },
                validate: |o| {
                    if o["provisioner"].as_str().is_none_or(str::is_empty) {
                        vec![FieldError::required("provisioner", "")]
                    } else {
                        Vec::new()
                    }
                },
                validate_update: |new, old| {
                    let mut errs = Vec::new();
                    for f in ["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"] {
                        if new[f] != old[f] {
                            errs.push(FieldError::forbidden(f, "updates to provisioner are forbidden."));
                        }
                    }
                    errs.truncate(1);
                    errs
                },
                columns: &[
                    NAME_COLUMN,
                    Column::new("Provisioner", "string", "provisioner indicates the type of the provisioner."),
                    Column::new(
                        "ReclaimPolicy",
                        "string",
                        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
                    ),
                    Column::new(
                        "VolumeBindingMode",
                        "string",
                        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used.",
                    ),
                    Column::new(
                        "AllowVolumeExpansion",
                        "string",
                        "allowVolumeExpansion shows whether the storage class allow volume expand.",
                    ),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    let mut name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let ann = &o["metadata"]["annotations"];
                    if ann["storageclass.kubernetes.io/is-default-class"] == "true"
                        || ann["storageclass.beta.kubernetes.io/is-default-class"] == "true"
                    {
                        name.push_str(" (default)");
                    }
                    vec![
                        json!(name),
                        o["provisioner"].clone(),
                        o["reclaimPolicy"].clone(),
                        o["volumeBindingMode"].clone(),
                        json!(o["allowVolumeExpansion"].as_bool().unwrap_or(false).to_string()),
                        json!(age(o)),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "storage.k8s.io",
                name: "volumeattachments",
                singular: "volumeattachment",
                kind: "VolumeAttachment",
                namespaced: false,
                subresources: &[Subresource::Status],
                etcd_prefix: "volumeattachments",
                decode: typed::<VolumeAttachment>,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Attacher",
                        "string",
                        "attacher indicates the name of the volume driver that MUST handle this request.",
                    )
                    .format("name"),
                    Column::new(
                        "PV",
                        "string",
                        "persistentVolumeName represents the name of the persistent volume to attach.",
                    ),
                    Column::new(
                        "Node",
                        "string",
                        "nodeName represents the node that the volume should be attached to.",
                    ),
                    Column::new("Attached", "boolean", "attached indicates the volume is successfully attached."),
                    AGE_COLUMN,
                ],
                cells: |o| {
                    vec![
                        o["metadata"]["name"].clone(),
                        o["spec"]["attacher"].clone(),
                        json!(field_value(o, "spec.source.persistentVolumeName")),
                        o["spec"]["nodeName"].clone(),
                        json!(o["status"]["attached"].as_bool().unwrap_or(false)),
                        json!(age(o)),
                    ]
                },
                ..BASE
            },
        ],
    }],
};

fn default_csidriver(o: &mut Value) {
    let spec = &mut o["spec"];
    default(spec, "attachRequired", json!(true));
    default(spec, "podInfoOnMount", json!(false));
    default(spec, "storageCapacity", json!(false));
    default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    default(spec, "requiresRepublish", json!(false));
    default(spec, "seLinuxMount", json!(false));
    default(spec, "volumeLifecycleModes", json!(["Persistent"]));
}

pub static NODE: Group = Group {
    name: "node.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "node.k8s.io",
            name: "runtimeclasses",
            singular: "runtimeclass",
            kind: "RuntimeClass",
            namespaced: false,
            etcd_prefix: "runtimeclasses",
            decode: typed::<RuntimeClass>,
            validate: |o| {
                let h = o["handler"].as_str().unwrap_or_default();
                if h.is_empty() {
                    return vec![FieldError::required("handler", "")];
                }
                dns1123_label(h).iter().map(|d| FieldError::invalid("handler", h, d)).collect()
            },
            validate_update: |new, old| {
                if new["handler"] != old["handler"] { vec![immutable("handler", &new["handler"])] } else { Vec::new() }
            },
            columns: &[
                NAME_COLUMN,
                Column::new(
                    "Handler",
                    "string",
                    "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.",
                ),
                AGE_COLUMN,
            ],
            cells: |o| vec![o["metadata"]["name"].clone(), o["handler"].clone(), json!(age(o))],
            ..BASE
        }],
    }],
};

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
            validate: |o| {
                let mut errs = Vec::new();
                if let Some(d) = o["spec"]["leaseDurationSeconds"].as_i64()
                    && d <= 0
                {
                    errs.push(FieldError::invalid_value(
                        "spec.leaseDurationSeconds",
                        &json!(d),
                        "must be greater than 0",
                    ));
                }
                if let Some(t) = o["spec"]["leaseTransitions"].as_i64()
                    && t < 0
                {
                    errs.push(FieldError::invalid_value(
                        "spec.leaseTransitions",
                        &json!(t),
                        "must be greater than or equal to 0",
                    ));
                }
                errs
            },
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
    if name.starts_with("system-") {
        // Only the known system classes, with their own values (`IsKnownSystemPriorityClass`).
        let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, v, _)) if *v != value => Some(format!("value of {name} PriorityClass must be {v}")),
            Some(_) if o["globalDefault"] == json!(true) => {
                Some(format!("globalDefault of {name} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(FieldError::forbidden(
                "metadata.name",
                &format!("priority class names with 'system-' prefix are reserved for system use only. error: {p}"),
            ));
        }
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

/// events.k8s.io/v1 names of core/v1 Event fields (the two are one stored object).
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(mut o: Value, to_core: bool, api_version: &str) -> Value {
    if let Some(m) = o.as_object_mut() {
        for (v1, core) in EVENT_RENAMES {
            let (from, to) = if to_core { (v1, core) } else { (core, v1) };
            if let Some(v) = m.shift_remove(*from) {
                m.insert((*to).to_string(), v);
            }
        }
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!("Event"));
    }
    o
}

const EVENTS_V1_FIELD_SELECTORS: &[(&str, &str)] = &[
    ("involvedObject.kind", "regarding.kind"),
    ("involvedObject.namespace", "regarding.namespace"),
    ("involvedObject.name", "regarding.name"),
    ("involvedObject.uid", "regarding.uid"),
    ("involvedObject.apiVersion", "regarding.apiVersion"),
    ("involvedObject.resourceVersion", "regarding.resourceVersion"),
    ("involvedObject.fieldPath", "regarding.fieldPath"),
    ("regarding.kind", "regarding.kind"),
    ("regarding.namespace", "regarding.namespace"),
    ("regarding.name", "regarding.name"),
    ("regarding.uid", "regarding.uid"),
    ("reason", "reason"),
    ("reportingController", "reportingController"),
    ("type", "type"),
];

pub static EVENTS: Group = Group {
    name: "events.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "events.k8s.io",
            name: "events",
            singular: "event",
            kind: "Event",
            short_names: &["ev"],
            etcd_prefix: "events",
            decode: typed::<k8s_openapi::api::events::v1::Event>,
            storage_form: Some((|o| rename(o, true, "v1"), |o| rename(o, false, "events.k8s.io/v1"))),
            field_selectors: EVENTS_V1_FIELD_SELECTORS,
            validate: |o| {
                let mut errs = Vec::new();
                if !o["eventTime"].is_string() {
                    errs.push(FieldError::required("eventTime", ""));
                }
                match o["type"].as_str().unwrap_or_default() {
                    "Normal" | "Warning" => {}
                    t => errs.push(FieldError::invalid("type", "", &format!("has invalid value: {t}"))),
                }
                for f in ["deprecatedFirstTimestamp", "deprecatedLastTimestamp"] {
                    if o[f].is_string() {
                        errs.push(FieldError::invalid(f, "", "needs to be unset"));
                    }
                }
                for f in ["reportingController", "reportingInstance", "action", "reason"] {
                    if o[f].as_str().is_none_or(str::is_empty) {
                        errs.push(FieldError::required(f, ""));
                    }
                }
                if o["note"].as_str().is_some_and(|n| n.len() > 1024) {
                    errs.push(FieldError {
                        reason: "FieldValueTooLong",
                        field: "note".into(),
                        message: "note: Too long: may not be more than 1024 bytes".into(),
                    });
                }
                errs
            },
            columns: super::core::EVENT_COLUMNS,
            cells: |o| super::core::event_cells(&rename(o.clone(), true, "v1")),
            ..BASE
        }],
    }],
};

pub static CERTIFICATES: Group = Group {
    name: "certificates.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "certificates.k8s.io",
            name: "certificatesigningrequests",
            singular: "certificatesigningrequest",
            kind: "CertificateSigningRequest",
            namespaced: false,
            short_names: &["csr"],
            subresources: &[Subresource::Status, Subresource::Approval],
            etcd_prefix: "certificatesigningrequests",
            decode: typed::<CertificateSigningRequest>,
            field_selectors: &[("spec.signerName", "spec.signerName")],
            proto: proto::CSR,
            validate: validate_csr,
            validate_update: |new, old| {
                let mut errs = Vec::new();
                if new["spec"] != old["spec"] {
                    errs.push(FieldError::forbidden("spec", "updates to certificatesigningrequest spec are forbidden"));
                }
                let approved = |o: &Value| {
                    o["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Approved")
                };
                if approved(old) && !approved(new) {
                    errs.push(FieldError::forbidden(
                        "status.conditions",
                        "updates may not remove a condition of type \"Approved\"",
                    ));
                }
                errs
            },
            columns: &[
                NAME_COLUMN,
                AGE_COLUMN,
                Column::new(
                    "SignerName",
                    "string",
                    "signerName indicates the requested signer, and is a qualified name.",
                ),
                Column::new(
                    "Requestor",
                    "string",
                    "request contains an x509 certificate signing request encoded in a \"CERTIFICATE REQUEST\" PEM block.",
                ),
                Column::new(
                    "RequestedDuration",
                    "string",
                    "expirationSeconds is the requested duration of validity of the issued certificate.",
                ),
                Column::new(
                    "Condition",
                    "string",
                    "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\".",
                ),
            ],
            cells: |o| {
                let mut conds: Vec<String> = o["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["type"].as_str().map(String::from))
                    .collect();
                if o["status"]["certificate"].as_str().is_some_and(|c| !c.is_empty()) {
                    conds.push("Issued".into());
                }
                let condition = if conds.is_empty() { "Pending".to_string() } else { conds.join(",") };
                let duration = match o["spec"]["expirationSeconds"].as_i64() {
                    Some(s) => human_duration(s),
                    None => "<none>".into(),
                };
                vec![
                    o["metadata"]["name"].clone(),
                    json!(age(o)),
                    o["spec"]["signerName"].clone(),
                    json!(field_value(o, "spec.username")),
                    json!(duration),
                    json!(condition),
                ]
            },
            ..BASE
        }],
    }],
};

fn validate_csr(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let request = o["spec"]["request"].as_str().unwrap_or_default();
    let pem = base64::engine::general_purpose::STANDARD.decode(request).unwrap_or_default();
    let text = String::from_utf8_lossy(&pem);
    if request.is_empty() {
        errs.push(FieldError::required("spec.request", ""));
    } else if !text.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        errs.push(FieldError {
            reason: "FieldValueInvalid",
            field: "spec.request".into(),
            message: format!(
                "spec.request: Invalid value: []byte{{{}}}: PEM block type must be CERTIFICATE REQUEST",
                pem.iter().map(|b| format!("{b:#x}")).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let signer = o["spec"]["signerName"].as_str().unwrap_or_default();
    if signer.is_empty() {
        errs.push(FieldError::required("spec.signerName", ""));
    }
    if o["spec"]["usages"].as_array().is_none_or(Vec::is_empty) {
        errs.push(FieldError::required("spec.usages", ""));
    }
    let types: Vec<&str> =
        o["status"]["conditions"].as_array().into_iter().flatten().filter_map(|c| c["type"].as_str()).collect();
    if types.contains(&"Approved") && types.contains(&"Denied") {
        let i = types.iter().rposition(|t| *t == "Approved" || *t == "Denied").unwrap_or(0);
        errs.push(FieldError::invalid(
            &format!("status.conditions[{i}].type"),
            types[i],
            "Approved and Denied conditions are mutually exclusive",
        ));
    }
    errs
}

fn validate_ingress(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in o["spec"]["rules"].as_array().into_iter().flatten().enumerate() {
        for (j, p) in rule["http"]["paths"].as_array().into_iter().flatten().enumerate() {
            let path = format!("spec.rules[{i}].http.paths[{j}]");
            match p["pathType"].as_str() {
                None | Some("") => {
                    errs.push(FieldError::required(&format!("{path}.pathType"), "pathType must be specified"))
                }
                Some(t) if !["Exact", "Prefix", "ImplementationSpecific"].contains(&t) => {
                    errs.push(FieldError::not_supported(
                        &format!("{path}.pathType"),
                        t,
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    ))
                }
                _ => {}
            }
        }
    }
    if o["spec"]["defaultBackend"].is_null() && o["spec"]["rules"].as_array().is_none_or(Vec::is_empty) {
        errs.push(FieldError::invalid_value(
            "spec.rules",
            &json!("[]"),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    errs
}
