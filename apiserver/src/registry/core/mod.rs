//! The legacy core group (`/api/v1`): its resource table and the strategies of its
//! smaller resources; the larger ones have their own files.

pub mod pods;
pub mod services;

use base64::Engine;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    PodTemplate, ReplicationController, ResourceQuota, Secret, Service, ServiceAccount,
};
use serde_json::{Value, json};

use super::podspec::{default, default_template, validate_pod_spec};
use super::*;
use crate::status::FieldError;

pub const CONTAINERS_COLUMN: Column =
    Column::new("Containers", "string", "Names of each container in the template.").wide();
pub const IMAGES_COLUMN: Column =
    Column::new("Images", "string", "Images referenced by each container in the template.").wide();

pub static GROUP: Group = Group { name: "", versions: &[GroupVersion { version: "v1", resources: RESOURCES }] };

pub static RESOURCES: &[Resource] = &[
    Resource {
        name: "bindings",
        singular: "binding",
        kind: "Binding",
        verbs: &["create"],
        etcd_prefix: "bindings",
        columns: &[NAME_COLUMN, AGE_COLUMN],
        ..BASE
    },
    Resource {
        name: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        verbs: VERBS_CRUD,
        etcd_prefix: "configmaps",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::CONFIG_MAP,
        decode: typed::<ConfigMap>,
        validate: validate_configmap,
        validate_update: validate_immutable_data,
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        columns: &[NAME_COLUMN, Column::new("Data", "integer", "Data contains the configuration data."), AGE_COLUMN],
        cells: |o| {
            let n = ["data", "binaryData"].iter().map(|f| o[f].as_object().map_or(0, |m| m.len())).sum::<usize>();
            vec![o["metadata"]["name"].clone(), json!(n), json!(age(o))]
        },
        ..BASE
    },
    Resource {
        name: "endpoints",
        singular: "endpoints",
        kind: "Endpoints",
        short_names: &["ep"],
        etcd_prefix: "services/endpoints",
        decode: typed::<Endpoints>,
        validate: validate_endpoints,
        warning: Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"),
        prepare_for_create: default_endpoints,
        prepare_for_update: |new, _| default_endpoints(new),
        columns: &[
            NAME_COLUMN,
            Column::new(
                "Endpoints",
                "string",
                "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
            ),
            AGE_COLUMN,
        ],
        cells: |o| vec![o["metadata"]["name"].clone(), json!(endpoints_cell(o)), json!(age(o))],
        ..BASE
    },
    Resource {
        name: "events",
        singular: "event",
        kind: "Event",
        short_names: &["ev"],
        etcd_prefix: "events",
        decode: typed::<Event>,
        field_selectors: EVENT_FIELD_SELECTORS,
        validate: |o| {
            let mut errs = Vec::new();
            if o["involvedObject"]["namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty() && Some(n) != o["metadata"]["namespace"].as_str())
            {
                errs.push(FieldError::invalid(
                    "involvedObject.namespace",
                    o["involvedObject"]["namespace"].as_str().unwrap_or_default(),
                    "does not match event.namespace",
                ));
            }
            errs
        },
        columns: EVENT_COLUMNS,
        cells: event_cells,
        ..BASE
    },
    Resource {
        name: "limitranges",
        singular: "limitrange",
        kind: "LimitRange",
        short_names: &["limits"],
        etcd_prefix: "limitranges",
        decode: typed::<LimitRange>,
        columns: &[
            NAME_COLUMN,
            Column::new(
                "Created At",
                "date",
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        cells: |o| vec![o["metadata"]["name"].clone(), o["metadata"]["creationTimestamp"].clone()],
        ..BASE
    },
    Resource {
        name: "namespaces",
        field_selectors: &[("status.phase", "status.phase")],
        subresources: &[Subresource::Finalize, Subresource::Status],
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: VERBS_NAMESPACES,
        etcd_prefix: "namespaces",
        name_rule: NameRule::DnsLabel,
        proto: crate::protobuf::NAMESPACE,
        decode: typed::<Namespace>,
        validate: |_| Vec::new(),
        validate_update: |_, _| Vec::new(),
        prepare_for_create: |o| {
            // Upstream's namespace strategy: the "kubernetes" finalizer, phase Active,
            // and the immutable kubernetes.io/metadata.name label.
            let name = o["metadata"]["name"].clone();
            o["status"] = json!({"phase": "Active"});
            if !o["spec"]["finalizers"].is_array() {
                o["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            if !o["metadata"]["labels"].is_object() {
                o["metadata"]["labels"] = json!({});
            }
            o["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        },
        prepare_for_update: |new, _| {
            let name = new["metadata"]["name"].clone();
            if !new["metadata"]["labels"].is_object() {
                new["metadata"]["labels"] = json!({});
            }
            new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        },
        columns: &[NAME_COLUMN, Column::new("Status", "string", "The status of the namespace"), AGE_COLUMN],
        cells: |o| vec![o["metadata"]["name"].clone(), o["status"]["phase"].clone(), json!(age(o))],
        ..BASE
    },
    Resource {
        name: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        subresources: &[Subresource::Status],
        keep_status_on_create: true,
        etcd_prefix: "minions",
        decode: typed::<Node>,
        field_selectors: &[("spec.unschedulable", "spec.unschedulable")],
        validate: |o| {
            let mut errs = Vec::new();
            const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
            for (i, t) in o["spec"]["taints"].as_array().into_iter().flatten().enumerate() {
                match t["effect"].as_str() {
                    None | Some("") => errs.push(FieldError::required(&format!("spec.taints[{i}].effect"), "")),
                    Some(e) if !EFFECTS.contains(&e) => {
                        errs.push(FieldError::not_supported(&format!("spec.taints[{i}].effect"), e, EFFECTS))
                    }
                    _ => {}
                }
            }
            errs
        },
        validate_update: |new, old| {
            let mut errs = Vec::new();
            if let Some(o) = old["spec"]["podCIDR"].as_str().filter(|s| !s.is_empty())
                && new["spec"]["podCIDR"].as_str() != Some(o)
            {
                errs.push(FieldError::forbidden(
                    "spec.podCIDRs",
                    "node updates may not change podCIDR except from \"\" to valid",
                ));
            }
            errs
        },
        prepare_for_update: |new, old| {
            if new["spec"]["unschedulable"] == json!(false) {
                new.get_mut("spec").and_then(Value::as_object_mut).map(|m| m.shift_remove("unschedulable"));
            }
            let _ = old;
        },
        // Taints have no patch strategy upstream: a patch replaces the list.
        columns: NODE_COLUMNS,
        cells: node_cells,
        ..BASE
    },
    Resource {
        name: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim",
        short_names: &["pvc"],
        subresources: &[Subresource::Status],
        etcd_prefix: "persistentvolumeclaims",
        decode: typed::<PersistentVolumeClaim>,
        prepare_for_create: |o| {
            default(&mut o["spec"], "volumeMode", json!("Filesystem"));
            o["status"] = json!({"phase": "Pending"});
        },
        prepare_for_update: |new, _| default(&mut new["spec"], "volumeMode", json!("Filesystem")),
        validate: |o| {
            let mut errs = Vec::new();
            if o["spec"]["accessModes"].as_array().is_none_or(Vec::is_empty) {
                errs.push(FieldError::required("spec.accessModes", "at least 1 access mode is required"));
            }
            if o["spec"]["resources"]["requests"]["storage"].is_null() {
                errs.push(FieldError::required("spec.resources[storage]", ""));
            }
            errs
        },
        columns: PVC_COLUMNS,
        cells: |o| {
            vec![
                o["metadata"]["name"].clone(),
                o["status"]["phase"].clone(),
                json!(field_value(o, "spec.volumeName")),
                json!(field_value(o, "status.capacity.storage")),
                json!(access_modes(&o["status"]["accessModes"])),
                or_unset(field_value(o, "spec.storageClassName")),
                or_unset(field_value(o, "spec.volumeAttributesClassName")),
                json!(age(o)),
                json!(field_value(o, "spec.volumeMode")),
            ]
        },
        ..BASE
    },
    Resource {
        name: "persistentvolumes",
        singular: "persistentvolume",
        kind: "PersistentVolume",
        namespaced: false,
        short_names: &["pv"],
        subresources: &[Subresource::Status],
        etcd_prefix: "persistentvolumes",
        decode: typed::<PersistentVolume>,
        prepare_for_create: |o| {
            default_pv(o);
            o["status"] = json!({"phase": "Pending"});
        },
        prepare_for_update: |new, _| default_pv(new),
        columns: PV_COLUMNS,
        cells: |o| {
            let claim = match (o["spec"]["claimRef"]["namespace"].as_str(), o["spec"]["claimRef"]["name"].as_str()) {
                (Some(ns), Some(n)) => format!("{ns}/{n}"),
                _ => String::new(),
            };
            vec![
                o["metadata"]["name"].clone(),
                json!(field_value(o, "spec.capacity.storage")),
                json!(access_modes(&o["spec"]["accessModes"])),
                o["spec"]["persistentVolumeReclaimPolicy"].clone(),
                o["status"]["phase"].clone(),
                json!(claim),
                json!(field_value(o, "spec.storageClassName")),
                or_unset(field_value(o, "spec.volumeAttributesClassName")),
                json!(field_value(o, "status.reason")),
                json!(age(o)),
                json!(field_value(o, "spec.volumeMode")),
            ]
        },
        ..BASE
    },
    Resource {
        name: "pods",
        singular: "pod",
        kind: "Pod",
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            Subresource::EphemeralContainers,
            Subresource::Status,
            Subresource::Binding,
            Subresource::Eviction,
        ],
        etcd_prefix: "pods",
        decode: typed::<Pod>,
        proto: proto::POD,
        field_selectors: pods::FIELD_SELECTORS,
        validate: pods::validate,
        validate_update: pods::validate_update,
        prepare_for_create: pods::prepare_for_create,
        prepare_for_update: pods::prepare_for_update,
        columns: pods::COLUMNS,
        cells: pods::cells,
        graceful_delete: Some(pods::grace_period),
        ..BASE
    },
    Resource {
        name: "podtemplates",
        singular: "podtemplate",
        kind: "PodTemplate",
        etcd_prefix: "podtemplates",
        decode: typed::<PodTemplate>,
        prepare_for_create: |o| default_template(&mut o["template"]),
        prepare_for_update: |new, _| default_template(&mut new["template"]),
        validate: |o| validate_pod_spec(&o["template"]["spec"], "template.spec"),
        columns: &[
            NAME_COLUMN,
            Column::new("Containers", "string", "Names of each container in the template."),
            Column::new("Images", "string", "Images referenced by each container in the template."),
            Column::new("Pod Labels", "string", "The labels for the pod template."),
        ],
        cells: |o| {
            let (c, i) = containers_and_images(&o["template"]["spec"]);
            vec![o["metadata"]["name"].clone(), c, i, or_none(selector_string(&o["template"]["metadata"]["labels"]))]
        },
        ..BASE
    },
    Resource {
        name: "replicationcontrollers",
        field_selectors: &[("status.replicas", "status.replicas")],
        singular: "replicationcontroller",
        kind: "ReplicationController",
        short_names: &["rc"],
        categories: &["all"],
        subresources: &[Subresource::Status, Subresource::Scale],
        generation: true,
        etcd_prefix: "controllers",
        decode: typed::<ReplicationController>,
        prepare_for_create: default_rc,
        prepare_for_update: |new, _| default_rc(new),
        validate: |o| {
            let mut errs = validate_pod_spec(&o["spec"]["template"]["spec"], "spec.template.spec");
            let sel = &o["spec"]["selector"];
            if sel.as_object().is_none_or(|m| m.is_empty()) {
                errs.push(FieldError::required("spec.selector", ""));
            } else if !super::podspec::selector_matches(sel, &o["spec"]["template"]["metadata"]["labels"]) {
                errs.push(FieldError::invalid_value(
                    "spec.template.metadata.labels",
                    &o["spec"]["template"]["metadata"]["labels"],
                    "`selector` does not match template `labels`",
                ));
            }
            errs
        },
        columns: &[
            NAME_COLUMN,
            Column::new("Desired", "integer", "Replicas is the number of desired replicas."),
            Column::new("Current", "integer", "Replicas is the most recently observed number of replicas."),
            Column::new("Ready", "integer", "The number of ready replicas for this replication controller."),
            AGE_COLUMN,
            CONTAINERS_COLUMN,
            IMAGES_COLUMN,
            Column::new(
                "Selector",
                "string",
                "Selector is a label query over pods that should match the Replicas count.",
            )
            .wide(),
        ],
        cells: replica_cells,
        ..BASE
    },
    Resource {
        name: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        short_names: &["quota"],
        subresources: &[Subresource::Status],
        etcd_prefix: "resourcequotas",
        decode: typed::<ResourceQuota>,
        proto: proto::RESOURCE_QUOTA,
        validate: |o| {
            let mut errs = Vec::new();
            for (k, v) in o["spec"]["hard"].as_object().into_iter().flatten() {
                if v.as_str().is_some_and(|q| q.starts_with('-')) {
                    errs.push(FieldError::invalid(
                        &format!("spec.hard[{k}]"),
                        v.as_str().unwrap_or_default(),
                        "must be greater than or equal to 0",
                    ));
                }
            }
            errs.extend(crate::admission::resource_quota::validate_spec(o));
            errs
        },
        columns: &[
            NAME_COLUMN,
            AGE_COLUMN,
            Column::new(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            Column::new(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
        ],
        cells: quota_cells,
        ..BASE
    },
    Resource {
        name: "secrets",
        field_selectors: &[("type", "type")],
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        verbs: VERBS_CRUD,
        etcd_prefix: "secrets",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::SECRET,
        decode: typed::<Secret>,
        validate: validate_secret,
        validate_update: |new, old| {
            let mut errs = validate_immutable_data(new, old);
            if new["type"] != old["type"] {
                errs.push(FieldError::invalid("type", new["type"].as_str().unwrap_or(""), "field is immutable"));
            }
            errs
        },
        prepare_for_create: secret_string_data,
        prepare_for_update: |new, _| secret_string_data(new),
        columns: &[
            NAME_COLUMN,
            Column::new(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            Column::new(
                "Data",
                "integer",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            AGE_COLUMN,
        ],
        cells: |o| {
            let n = o["data"].as_object().map_or(0, |m| m.len());
            vec![o["metadata"]["name"].clone(), o["type"].clone(), json!(n), json!(age(o))]
        },
        ..BASE
    },
    Resource {
        name: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        verbs: VERBS_CRUD,
        etcd_prefix: "serviceaccounts",
        name_rule: NameRule::DnsSubdomain,
        proto: crate::protobuf::SERVICE_ACCOUNT,
        decode: typed::<ServiceAccount>,
        validate: |_| Vec::new(),
        validate_update: |_, _| Vec::new(),
        prepare_for_create: |_| {},
        prepare_for_update: |_, _| {},
        columns: &[
            NAME_COLUMN,
            Column::new(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE_COLUMN,
        ],
        cells: |o| {
            vec![o["metadata"]["name"].clone(), json!(o["secrets"].as_array().map_or(0, Vec::len)), json!(age(o))]
        },
        ..BASE
    },
    Resource {
        name: "services",
        singular: "service",
        kind: "Service",
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[Subresource::Status],
        etcd_prefix: "services/specs",
        name_rule: NameRule::Dns1035,
        decode: typed::<Service>,
        proto: proto::SERVICE,
        validate: services::validate,
        validate_update: services::validate_update,
        prepare_for_create: services::prepare,
        prepare_for_update: services::prepare_for_update,
        columns: services::COLUMNS,
        cells: services::cells,
        allocate: Some(services::allocate),
        reallocate: Some(services::reallocate),
        release: Some(services::release),
        ..BASE
    },
];

pub const EVENT_FIELD_SELECTORS: &[(&str, &str)] = &[
    ("involvedObject.kind", "involvedObject.kind"),
    ("involvedObject.namespace", "involvedObject.namespace"),
    ("involvedObject.name", "involvedObject.name"),
    ("involvedObject.uid", "involvedObject.uid"),
    ("involvedObject.apiVersion", "involvedObject.apiVersion"),
    ("involvedObject.resourceVersion", "involvedObject.resourceVersion"),
    ("involvedObject.fieldPath", "involvedObject.fieldPath"),
    ("reason", "reason"),
    ("reportingComponent", "reportingComponent"),
    ("source", "source.component"),
    ("type", "type"),
];

pub const EVENT_COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
    Column::new("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
    Column::new("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    Column::new("Object", "string", "The object that this event is about."),
    Column::new("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].").wide(),
    Column::new("Source", "string", "The component reporting this event. Should be a short machine understandable string.").wide(),
    Column::new("Message", "string", "A human-readable description of the status of this operation."),
    Column::new("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)").wide(),
    Column::new("Count", "string", "The number of times this event has occurred.").wide(),
    NAME_COLUMN.wide(),
];

/// A core/v1 Event's table row.
pub fn event_cells(o: &Value) -> Vec<Value> {
    let pick = |a: &str| if o[a].is_string() { &o[a] } else { &o["eventTime"] };
    let (mut last, first) = (since(pick("lastTimestamp")), since(pick("firstTimestamp")));
    let mut count = o["count"].as_i64().unwrap_or(0);
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"]);
        count = o["series"]["count"].as_i64().unwrap_or(0);
    } else if count > 1 {
        last = format!("{last} (x{count} over {first})");
    }
    let kind = o["involvedObject"]["kind"].as_str().unwrap_or_default().to_lowercase();
    let object = format!("{kind}/{}", o["involvedObject"]["name"].as_str().unwrap_or_default());
    let component = o["source"]["component"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or(o["reportingComponent"].as_str())
        .unwrap_or_default();
    let host =
        o["source"]["host"].as_str().filter(|s| !s.is_empty()).or(o["reportingInstance"].as_str()).unwrap_or_default();
    let source = if host.is_empty() { component.to_string() } else { format!("{component}, {host}") };
    vec![
        json!(last),
        o["type"].clone(),
        o["reason"].clone(),
        json!(object),
        json!(field_value(o, "involvedObject.fieldPath")),
        json!(source),
        json!(o["message"].as_str().unwrap_or_default().trim()),
        json!(first),
        json!(count),
        o["metadata"]["name"].clone(),
    ]
}

const IP_ERR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

fn validate_endpoints(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, subset) in o["subsets"].as_array().into_iter().flatten().enumerate() {
        for list in ["addresses", "notReadyAddresses"] {
            for (j, a) in subset[list].as_array().into_iter().flatten().enumerate() {
                let ip = a["ip"].as_str().unwrap_or_default();
                if ip.parse::<std::net::IpAddr>().is_err() {
                    errs.push(FieldError::invalid(&format!("subsets[{i}].{list}[{j}].ip"), ip, IP_ERR));
                }
            }
        }
        let ports = subset["ports"].as_array().cloned().unwrap_or_default();
        for (k, p) in ports.iter().enumerate() {
            let n = p["port"].as_i64().unwrap_or(0);
            if !(1..=65535).contains(&n) {
                errs.push(FieldError::invalid_value(
                    &format!("subsets[{i}].ports[{k}].port"),
                    &json!(n),
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
                errs.push(FieldError::required(&format!("subsets[{i}].ports[{k}].name"), ""));
            }
        }
    }
    errs
}

fn default_endpoints(o: &mut Value) {
    for subset in o.get_mut("subsets").and_then(Value::as_array_mut).into_iter().flatten() {
        for p in subset.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            default(p, "protocol", json!("TCP"));
        }
    }
}

/// `ip:port` pairs of an Endpoints, at most three then `+ N more...`.
fn endpoints_cell(o: &Value) -> String {
    let mut all = Vec::new();
    for s in o["subsets"].as_array().into_iter().flatten() {
        let ports: Vec<i64> = s["ports"].as_array().into_iter().flatten().filter_map(|p| p["port"].as_i64()).collect();
        for a in s["addresses"].as_array().into_iter().flatten() {
            let ip = a["ip"].as_str().unwrap_or_default();
            if ports.is_empty() {
                all.push(ip.to_string());
            }
            for p in &ports {
                all.push(format!("{ip}:{p}"));
            }
        }
    }
    if all.is_empty() {
        return "<none>".into();
    }
    let more = all.len().saturating_sub(3);
    let mut out = all.into_iter().take(3).collect::<Vec<_>>().join(",");
    if more > 0 {
        out.push_str(&format!(" + {more} more..."));
    }
    out
}

pub const NODE_COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new("Status", "string", "The status of the node"),
    Column::new("Roles", "string", "The roles of the node"),
    AGE_COLUMN,
    Column::new("Version", "string", "Kubelet Version reported by the node."),
    Column::new("Internal-IP", "string", "List of addresses reachable to the node.").wide(),
    Column::new("External-IP", "string", "List of addresses reachable to the node.").wide(),
    Column::new(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    )
    .wide(),
    Column::new(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    )
    .wide(),
    Column::new(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    )
    .wide(),
];

fn node_cells(o: &Value) -> Vec<Value> {
    let conds = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut status: Vec<String> = Vec::new();
    match conds.iter().find(|c| c["type"] == "Ready") {
        Some(c) if c["status"] == "True" => status.push("Ready".into()),
        Some(c) if c["status"] == "False" => status.push("NotReady".into()),
        _ => status.push("Unknown".into()),
    }
    if o["spec"]["unschedulable"] == json!(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = Vec::new();
    for (k, v) in o["metadata"]["labels"].as_object().into_iter().flatten() {
        if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
            if !r.is_empty() {
                roles.push(r.to_string());
            }
        } else if k == "kubernetes.io/role"
            && let Some(r) = v.as_str().filter(|r| !r.is_empty())
        {
            roles.push(r.to_string());
        }
    }
    roles.sort();
    roles.dedup();
    let address = |ty: &str| {
        o["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == ty)
            .and_then(|a| a["address"].as_str())
            .unwrap_or("<none>")
            .to_string()
    };
    let info = |f: &str| {
        let v = field_value(o, &format!("status.nodeInfo.{f}"));
        if v.is_empty() { "<unknown>".to_string() } else { v }
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(status.join(",")),
        if roles.is_empty() { json!("<none>") } else { json!(roles.join(",")) },
        json!(age(o)),
        json!(field_value(o, "status.nodeInfo.kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// `RWO,ROX,RWX,RWOP`.
fn access_modes(modes: &Value) -> String {
    let short = |m: &str| match m {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        "ReadWriteOncePod" => "RWOP",
        _ => "",
    };
    let list: Vec<&str> =
        modes.as_array().into_iter().flatten().filter_map(Value::as_str).map(short).filter(|s| !s.is_empty()).collect();
    list.join(",")
}

fn or_unset(s: String) -> Value {
    if s.is_empty() { json!("<unset>") } else { json!(s) }
}

pub const PV_COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
    Column::new("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    Column::new("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    Column::new("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    Column::new("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    Column::new("StorageClass", "string", "StorageClass of the pv"),
    Column::new("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column::new("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE_COLUMN,
    Column::new("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.").wide(),
];

pub const PVC_COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    Column::new("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    Column::new("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    Column::new(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    Column::new("StorageClass", "string", "StorageClass of the pvc"),
    Column::new("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE_COLUMN,
    Column::new("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim.").wide(),
];

fn default_pv(o: &mut Value) {
    default(&mut o["spec"], "persistentVolumeReclaimPolicy", json!("Retain"));
    default(&mut o["spec"], "volumeMode", json!("Filesystem"));
}

fn default_rc(o: &mut Value) {
    default(&mut o["spec"], "replicas", json!(1));
    default_template(&mut o["spec"]["template"]);
    let labels = o["spec"]["template"]["metadata"]["labels"].clone();
    if o["spec"]["selector"].as_object().is_none_or(|m| m.is_empty()) && labels.is_object() {
        o["spec"]["selector"] = labels.clone();
    }
    if o["metadata"]["labels"].as_object().is_none_or(|m| m.is_empty()) && labels.is_object() {
        o["metadata"]["labels"] = labels;
    }
}

/// REQUEST and LIMIT: `resource: used/hard`, sorted by resource.
fn quota_cells(o: &Value) -> Vec<Value> {
    let hard = if o["status"]["hard"].is_object() { &o["status"]["hard"] } else { &o["spec"]["hard"] };
    let mut keys: Vec<&String> = hard.as_object().map(|m| m.keys().collect()).unwrap_or_default();
    keys.sort();
    let (mut req, mut lim) = (Vec::new(), Vec::new());
    for k in keys {
        let used = o["status"]["used"][k.as_str()].as_str().unwrap_or("0");
        let text = format!("{k}: {used}/{}", hard[k.as_str()].as_str().unwrap_or_default());
        if k.starts_with("limits.") { lim.push(text) } else { req.push(text) }
    }
    vec![o["metadata"]["name"].clone(), json!(age(o)), json!(req.join(", ")), json!(lim.join(", "))]
}

pub fn validate_configmap(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = o["data"].as_object();
    let binary = o["binaryData"].as_object();
    for (field, map) in [("data", data), ("binaryData", binary)] {
        for key in map.into_iter().flat_map(|m| m.keys()) {
            let path = format!("{field}[{key}]");
            if key.len() > 253 {
                errs.push(FieldError::invalid(&path, key, "must be no more than 253 characters"));
            }
            let ok = !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c));
            if !ok {
                let msg = regex_error(CONFIG_KEY_ERR, "[-._a-zA-Z0-9]+", &["key.name", "KEY_NAME", "key-name"]);
                errs.push(FieldError::invalid(&path, key, &msg));
            }
            if key == "." || key == ".." || key.starts_with("..") {
                let detail = if key.starts_with("..") && key.len() > 2 {
                    "must not start with '..'"
                } else {
                    "must not be '.' or '..'"
                };
                errs.push(FieldError::invalid(&path, key, detail));
            }
            if field == "binaryData" && data.is_some_and(|d| d.contains_key(key)) {
                errs.push(FieldError::invalid(&path, key, "duplicate of key present in data"));
            }
        }
    }
    errs
}

/// `immutable: true` on a ConfigMap or Secret freezes its data (and itself).
fn validate_immutable_data(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old["immutable"] != json!(true) {
        return errs;
    }
    let forbidden = |field: &str| FieldError {
        reason: "FieldValueForbidden",
        field: field.into(),
        message: format!("{field}: Forbidden: field is immutable when `immutable` is set"),
    };
    if new["immutable"] != json!(true) {
        errs.push(forbidden("immutable"));
    }
    for f in ["data", "binaryData"] {
        let empty = |v: &Value| v.is_null() || v.as_object().is_some_and(|m| m.is_empty());
        if new[f] != old[f] && !(empty(&new[f]) && empty(&old[f])) {
            errs.push(forbidden(f));
        }
    }
    errs
}

/// The secret strategy: `stringData` is merged into `data` (base64) and never stored;
/// the type defaults to Opaque.
fn secret_string_data(o: &mut Value) {
    if let Some(Value::Object(sd)) = o.as_object_mut().and_then(|m| m.shift_remove("stringData")) {
        if !o["data"].is_object() {
            o["data"] = json!({});
        }
        for (k, v) in sd {
            let b64 = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
            o["data"][k] = json!(b64);
        }
    }
    if o["type"].as_str().is_none_or(str::is_empty) {
        o["type"] = json!("Opaque");
    }
}

fn validate_secret(o: &Value) -> Vec<FieldError> {
    let mut errs = validate_configmap(&json!({"data": o["data"].clone()}));
    let total: usize = o["data"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .map(|v| {
            base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).map_or(0, |b| b.len())
        })
        .sum();
    if total > 1024 * 1024 {
        errs.push(FieldError {
            reason: "FieldValueTooLong",
            field: "data".into(),
            message: "data: Too long: may not be more than 1048576 bytes".into(),
        });
    }
    errs
}

/// Cells of ReplicationController and ReplicaSet rows: NAME, DESIRED, CURRENT, READY,
/// AGE, then (wide) CONTAINERS, IMAGES, SELECTOR.
pub fn replica_cells(o: &Value) -> Vec<Value> {
    let (c, i) = containers_and_images(&o["spec"]["template"]["spec"]);
    vec![
        o["metadata"]["name"].clone(),
        json!(o["spec"]["replicas"].as_i64().unwrap_or(0)),
        json!(o["status"]["replicas"].as_i64().unwrap_or(0)),
        json!(o["status"]["readyReplicas"].as_i64().unwrap_or(0)),
        json!(age(o)),
        c,
        i,
        or_none(selector_string(&o["spec"]["selector"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_checks_and_cell() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}, {"ip": "nope"}], "ports": [{"port": 80}]}]});
        let errs = validate_endpoints(&ep);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].message,
            r#"subsets[0].addresses[2].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#
        );
        let four = json!({"subsets": [{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}, {"ip": "d"}], "ports": [{"port": 80}]}]});
        assert_eq!(endpoints_cell(&four), "a:80,b:80,c:80 + 1 more...");
        assert_eq!(endpoints_cell(&json!({})), "<none>");
    }

    #[test]
    fn event_and_node_cells() {
        let ev = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}, "type": "Warning",
            "reason": "BackOff", "message": "again ", "count": 3, "source": {"component": "kubelet", "host": "n1"}});
        let c = event_cells(&ev);
        assert_eq!((c[3].as_str(), c[5].as_str(), c[6].as_str()), (Some("pod/p"), Some("kubelet, n1"), Some("again")));
        assert!(c[0].as_str().unwrap().contains("(x3 over"), "{c:?}");
        let node = json!({"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/worker": "", "kubernetes.io/role": "edge"}},
            "spec": {"unschedulable": true}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let c = node_cells(&node);
        assert_eq!(
            (c[1].as_str(), c[2].as_str(), c[7].as_str()),
            (Some("NotReady,SchedulingDisabled"), Some("edge,worker"), Some("<unknown>"))
        );
    }

    #[test]
    fn quota_cells_split_requests_and_limits() {
        let q = json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "2", "limits.cpu": "2", "requests.memory": "1Gi"}}, "status": {"used": {"pods": "1"}}});
        let c = quota_cells(&q);
        assert_eq!(c[2], "pods: 1/2, requests.memory: 0/1Gi");
        assert_eq!(c[3], "limits.cpu: 0/2");
    }
}
