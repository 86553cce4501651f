//! Services: defaulting, validation, table, and the allocation of cluster IPs (one
//! `networking.k8s.io/v1` IPAddress object per allocated IP, created atomically, as
//! upstream's IPAddress allocator does) and node ports (the `RangeAllocation` bitmap at
//! `/registry/ranges/servicenodeports`, updated by compare-and-swap). Every apiserver
//! of a cluster allocates through the store, so allocations never collide.

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::super::podspec::default;
use super::super::*;
use crate::status::{ApiError, FieldError};
use crate::storage::{Storage, StorageError};

/// `--service-cluster-ip-range` (IPv4) and `--service-node-port-range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub network: Ipv4Addr,
    pub prefix: u8,
    pub node_ports: (u16, u16),
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig { network: Ipv4Addr::new(10, 0, 0, 0), prefix: 24, node_ports: (30000, 32767) }
    }
}

static CONFIG: OnceLock<ServiceConfig> = OnceLock::new();

/// Sets the ranges once at start (later calls are ignored).
pub fn configure(cfg: ServiceConfig) {
    let _ = CONFIG.set(cfg);
}

pub fn config() -> ServiceConfig {
    CONFIG.get().copied().unwrap_or_default()
}

impl ServiceConfig {
    /// The usable addresses: the range without its network and broadcast addresses.
    fn bounds(&self) -> (u32, u32) {
        let base = u32::from(self.network) & (u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0));
        let size = 1u64 << (32 - u32::from(self.prefix));
        if size <= 2 {
            return (base, base + size as u32 - 1);
        }
        (base + 1, base + (size - 2) as u32)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let (lo, hi) = self.bounds();
        (lo..=hi).contains(&u32::from(ip))
    }

    /// The first usable address: the `kubernetes` service's.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.bounds().0)
    }

    fn cidr(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }
}

pub const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

pub const COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
    ),
    Column::new("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
    Column::new(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
    ),
    Column::new("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE_COLUMN,
    Column::new(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector.",
    )
    .wide(),
];

fn needs_node_ports(o: &Value) -> bool {
    matches!(o["spec"]["type"].as_str(), Some("NodePort" | "LoadBalancer"))
        && !(o["spec"]["type"] == "LoadBalancer" && o["spec"]["allocateLoadBalancerNodePorts"] == json!(false))
}

/// `SetDefaults_Service` and the registry's own defaults.
pub fn prepare(o: &mut Value) {
    let spec = &mut o["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let ty = spec["type"].as_str().unwrap_or_default().to_string();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
            if p.get("targetPort").is_none_or(|t| t.is_null() || *t == json!(0) || *t == json!("")) {
                p["targetPort"] = p["port"].clone();
            }
        }
    }
    if ty != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if spec["sessionAffinity"] == "ClientIP" {
        default(spec, "sessionAffinityConfig", json!({"clientIP": {"timeoutSeconds": 10800}}));
    }
    if !o["status"].is_object() {
        o["status"] = json!({"loadBalancer": {}});
    }
}

pub fn prepare_for_update(new: &mut Value, old: &Value) {
    // dropTypeDependentFields: what the old type needed and the new one does not goes,
    // unless the update itself changed it.
    if !needs_node_ports(new)
        && needs_node_ports(old)
        && node_ports_of(new) == node_ports_of(old)
        && let Some(ps) = new.get_mut("spec").and_then(|s| s.get_mut("ports")).and_then(Value::as_array_mut)
    {
        for p in ps {
            p.as_object_mut().map(|m| m.shift_remove("nodePort"));
        }
    }
    let external = |o: &Value| matches!(o["spec"]["type"].as_str(), Some("NodePort" | "LoadBalancer"));
    if !external(new) && external(old) && new["spec"]["externalTrafficPolicy"] == old["spec"]["externalTrafficPolicy"] {
        new.get_mut("spec").and_then(Value::as_object_mut).map(|m| m.shift_remove("externalTrafficPolicy"));
    }
    if new["spec"]["type"] != "LoadBalancer" && old["spec"]["type"] == "LoadBalancer" {
        for f in ["allocateLoadBalancerNodePorts", "loadBalancerClass", "healthCheckNodePort"] {
            if new["spec"][f] == old["spec"][f] {
                new.get_mut("spec").and_then(Value::as_object_mut).map(|m| m.shift_remove(f));
            }
        }
    }
    // An update that leaves out the allocated IPs keeps them (as upstream's REST does).
    let ty = new["spec"]["type"].as_str().unwrap_or("ClusterIP").to_string();
    if ty != "ExternalName" && new["spec"]["clusterIP"].as_str().is_none_or(str::is_empty) {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if !old["spec"][f].is_null() && new["spec"][f].is_null() {
                new["spec"][f] = old["spec"][f].clone();
            }
        }
    }
    prepare(new);
}

pub fn validate(o: &Value) -> Vec<FieldError> {
    let spec = &o["spec"];
    let mut errs = Vec::new();
    let ty = spec["type"].as_str().unwrap_or("ClusterIP");
    if !TYPES.contains(&ty) {
        errs.push(FieldError::not_supported("spec.type", ty, TYPES));
    }
    let ports = spec["ports"].as_array().cloned().unwrap_or_default();
    let headless = spec["clusterIP"] == "None";
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if ty == "ExternalName" && spec["externalName"].as_str().is_none_or(str::is_empty) {
        errs.push(FieldError::required("spec.externalName", ""));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = p["name"].as_str().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&format!("{path}.name"), ""));
        } else if !name.is_empty() {
            for d in dns1123_label(name) {
                errs.push(FieldError::invalid(&format!("{path}.name"), name, &d));
            }
            if names.contains(&name) {
                errs.push(FieldError::duplicate(&format!("{path}.name"), &json!(name)));
            }
            names.push(name);
        }
        let port = p["port"].as_i64().unwrap_or(0);
        if !(1..=65535).contains(&port) {
            errs.push(FieldError::invalid_value(
                &format!("{path}.port"),
                &json!(port),
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(proto) = p["protocol"].as_str()
            && !["SCTP", "TCP", "UDP"].contains(&proto)
        {
            errs.push(FieldError::not_supported(&format!("{path}.protocol"), proto, &["SCTP", "TCP", "UDP"]));
        }
        if p["nodePort"].as_i64().unwrap_or(0) != 0 && ty == "ClusterIP" {
            errs.push(FieldError::forbidden(&format!("{path}.nodePort"), "may not be used when `type` is 'ClusterIP'"));
        }
    }
    if let Some(ip) = spec["clusterIP"].as_str().filter(|s| !s.is_empty() && *s != "None")
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            ip,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    errs
}

pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (n, o) = (&new["spec"]["clusterIP"], &old["spec"]["clusterIP"]);
    let changing_type = new["spec"]["type"] == "ExternalName" || old["spec"]["type"] == "ExternalName";
    if o.as_str().is_some_and(|s| !s.is_empty()) && n != o && !changing_type {
        errs.push(FieldError::invalid("spec.clusterIPs[0]", n.as_str().unwrap_or_default(), "may not change once set"));
    }
    errs
}

fn ports_cell(o: &Value) -> String {
    let ports: Vec<String> = o["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(np) => format!("{}:{np}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    ports.join(",")
}

fn external_ip_cell(o: &Value) -> Value {
    let spec = &o["spec"];
    let external: Vec<&str> = spec["externalIPs"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    match spec["type"].as_str().unwrap_or("ClusterIP") {
        "ExternalName" => json!(spec["externalName"].as_str().unwrap_or_default()),
        "LoadBalancer" => {
            let mut ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()).map(String::from))
                .collect();
            ips.extend(external.iter().map(|s| s.to_string()));
            if ips.is_empty() { json!("<pending>") } else { json!(ips.join(",")) }
        }
        _ => or_none(external.join(",")),
    }
}

pub fn cells(o: &Value) -> Vec<Value> {
    vec![
        o["metadata"]["name"].clone(),
        o["spec"]["type"].clone(),
        or_none(field_value(o, "spec.clusterIP")),
        external_ip_cell(o),
        or_none(ports_cell(o)),
        json!(age(o)),
        or_none(selector_string(&o["spec"]["selector"])),
    ]
}

/// An allocation failure; `value` is Go's `%#v` of the offending value.
fn alloc_error(field: &str, value: &str, detail: &str, name: &str) -> ApiError {
    let err = FieldError {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("{field}: Invalid value: {value}: {detail}"),
    };
    ApiError::invalid("Service", name, &[err])
}

/// Go's `%#v` of a `[]string` with one element.
fn go_strings(s: &str) -> String {
    format!("[]string{{{s:?}}}")
}

fn storage_failed(e: StorageError) -> ApiError {
    ApiError::internal(format!("allocating: {e}"))
}

fn ip_key(ip: Ipv4Addr) -> String {
    format!("/registry/ipaddresses/{ip}")
}

/// Claims one IP by creating its IPAddress object; false when it is taken.
async fn claim_ip(storage: &Storage, ip: Ipv4Addr, ns: &str, name: &str) -> Result<bool, ApiError> {
    let obj = json!({
        "kind": "IPAddress",
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {
            "name": ip.to_string(),
            "uid": crate::rest::new_uid(),
            "creationTimestamp": crate::rest::now_rfc3339(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
            },
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": name}},
    });
    match storage.create(ip_key(ip).as_bytes(), serde_json::to_vec(&obj).unwrap_or_default()).await {
        Ok(_) => Ok(true),
        Err(StorageError::AlreadyExists) => Ok(false),
        Err(e) => Err(storage_failed(e)),
    }
}

async fn release_ip(storage: &Storage, ip: &str) {
    let Ok(ip) = ip.parse::<Ipv4Addr>() else { return };
    let key = ip_key(ip);
    let r = match storage.get(key.as_bytes()).await {
        Ok(Some(kv)) => storage.delete(key.as_bytes(), kv.mod_revision).await.map(|_| ()),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, %ip, "releasing a cluster IP failed");
    }
}

/// Allocates a free IP: a random start in the upper band (upstream keeps the lower
/// band for static choices), then every address in turn.
async fn allocate_ip(storage: &Storage, cfg: &ServiceConfig, ns: &str, name: &str) -> Result<Ipv4Addr, ApiError> {
    let (lo, hi) = cfg.bounds();
    let size = u64::from(hi - lo) + 1;
    let band = (size / 16).clamp(16, 256).min(size / 2);
    let upper = size - band;
    let start = band + if upper > 0 { rand::random_range(0..upper) } else { 0 };
    for i in 0..size {
        let ip = Ipv4Addr::from(lo + ((start + i) % size) as u32);
        if claim_ip(storage, ip, ns, name).await? {
            return Ok(ip);
        }
    }
    Err(ApiError::internal("failed to allocate a serviceIP: range is full"))
}

const NODE_PORTS_KEY: &str = "/registry/ranges/servicenodeports";

/// The node-port bitmap (`big.Int` bytes: big-endian, bit `i` is port `lo + i`).
struct Bitmap {
    bits: Vec<bool>,
}

impl Bitmap {
    fn decode(data: &str, size: usize) -> Bitmap {
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default();
        let mut bits = vec![false; size];
        for (i, b) in bytes.iter().rev().enumerate() {
            for bit in 0..8 {
                let idx = i * 8 + bit;
                if idx < size && b & (1 << bit) != 0 {
                    bits[idx] = true;
                }
            }
        }
        Bitmap { bits }
    }

    fn encode(&self) -> String {
        let mut bytes = vec![0u8; self.bits.len().div_ceil(8)];
        for (i, set) in self.bits.iter().enumerate() {
            if *set {
                bytes[i / 8] |= 1 << (i % 8);
            }
        }
        bytes.reverse();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        base64::engine::general_purpose::STANDARD.encode(&bytes[first..])
    }
}

/// Applies `change` to the node-port bitmap under compare-and-swap.
async fn with_node_ports<T>(
    storage: &Storage,
    mut change: impl FnMut(&mut Bitmap) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let (lo, hi) = config().node_ports;
    let size = usize::from(hi - lo) + 1;
    let range = format!("{lo}-{hi}");
    for _ in 0..20 {
        let current = storage.get(NODE_PORTS_KEY.as_bytes()).await.map_err(storage_failed)?;
        let (mut map, rev) = match &current {
            Some(kv) => {
                let v: Value = serde_json::from_slice(&kv.value).unwrap_or_default();
                let map = if v["range"] == json!(range) {
                    Bitmap::decode(v["data"].as_str().unwrap_or_default(), size)
                } else {
                    Bitmap { bits: vec![false; size] }
                };
                (map, Some(kv.mod_revision))
            }
            None => (Bitmap { bits: vec![false; size] }, None),
        };
        let out = change(&mut map)?;
        let body = json!({
            "kind": "RangeAllocation",
            "apiVersion": "v1",
            "metadata": {"creationTimestamp": null},
            "range": range,
            "data": map.encode(),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let written = match rev {
            Some(rev) => storage.update(NODE_PORTS_KEY.as_bytes(), bytes, rev).await,
            None => storage.create(NODE_PORTS_KEY.as_bytes(), bytes).await,
        };
        match written {
            Ok(_) => return Ok(out),
            Err(StorageError::Conflict | StorageError::AlreadyExists) => continue,
            Err(e) => return Err(storage_failed(e)),
        }
    }
    Err(ApiError::internal("allocating node ports: too many concurrent updates"))
}

/// Claims the node ports the service asks for and allocates the missing ones.
async fn allocate_node_ports(storage: &Storage, o: &mut Value, keep: &[i64]) -> Result<(), ApiError> {
    let (lo, hi) = config().node_ports;
    let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let ports = o["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let assigned = with_node_ports(storage, |map| {
        let mut out = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let want = p["nodePort"].as_i64().unwrap_or(0);
            if want != 0 {
                if want < i64::from(lo) || want > i64::from(hi) {
                    return Err(alloc_error(
                        &format!("spec.ports[{i}].nodePort"),
                        &want.to_string(),
                        &format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
                        &name,
                    ));
                }
                let idx = (want - i64::from(lo)) as usize;
                if map.bits[idx] && !keep.contains(&want) {
                    return Err(alloc_error(
                        &format!("spec.ports[{i}].nodePort"),
                        &want.to_string(),
                        "provided port is already allocated",
                        &name,
                    ));
                }
                map.bits[idx] = true;
                out.push(want);
                continue;
            }
            let free: Vec<usize> = (0..map.bits.len()).filter(|i| !map.bits[*i]).collect();
            if free.is_empty() {
                return Err(ApiError::internal("failed to allocate a nodePort: range is full"));
            }
            let idx = free[rand::random_range(0..free.len())];
            map.bits[idx] = true;
            out.push(i64::from(lo) + idx as i64);
        }
        Ok(out)
    })
    .await?;
    if let Some(ps) = o.get_mut("spec").and_then(|s| s.get_mut("ports")).and_then(Value::as_array_mut) {
        for (p, n) in ps.iter_mut().zip(assigned) {
            p["nodePort"] = json!(n);
        }
    }
    Ok(())
}

async fn release_node_ports(storage: &Storage, ports: Vec<i64>) {
    if ports.is_empty() {
        return;
    }
    let (lo, _) = config().node_ports;
    let r = with_node_ports(storage, |map| {
        for p in &ports {
            if let Some(b) = usize::try_from(p - i64::from(lo)).ok().and_then(|i| map.bits.get_mut(i)) {
                *b = false;
            }
        }
        Ok(())
    })
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e.message, "releasing node ports failed");
    }
}

fn node_ports_of(o: &Value) -> Vec<i64> {
    o["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_i64())
        .filter(|n| *n > 0)
        .collect()
}

/// Allocates the cluster IP (unless headless or ExternalName) and node ports of a new
/// service, and fills in the IP family fields.
pub fn allocate<'a>(storage: &'a Storage, o: &'a mut Value) -> BoxFuture<'a, Result<(), ApiError>> {
    Box::pin(async move {
        let cfg = config();
        let ns = o["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let ty = o["spec"]["type"].as_str().unwrap_or("ClusterIP").to_string();
        if ty != "ExternalName" {
            let requested = o["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
            let ip = match requested.as_str() {
                "None" => None,
                "" => Some(allocate_ip(storage, &cfg, &ns, &name).await?),
                s => {
                    let ip: Ipv4Addr = s.parse().map_err(|_| {
                        alloc_error(
                            "spec.clusterIPs",
                            &go_strings(s),
                            "failed to allocate IP: not a valid IPv4 address",
                            &name,
                        )
                    })?;
                    if !cfg.contains(ip) {
                        return Err(alloc_error(
                            "spec.clusterIPs",
                            &go_strings(s),
                            &format!(
                                "failed to allocate IP {s}: the provided IP ({s}) is not in the valid range. The range of valid IPs is {}",
                                cfg.cidr()
                            ),
                            &name,
                        ));
                    }
                    if !claim_ip(storage, ip, &ns, &name).await? {
                        return Err(alloc_error(
                            "spec.clusterIPs",
                            &go_strings(s),
                            &format!("failed to allocate IP {s}: provided IP is already allocated"),
                            &name,
                        ));
                    }
                    Some(ip)
                }
            };
            let text = ip.map_or("None".to_string(), |ip| ip.to_string());
            o["spec"]["clusterIP"] = json!(text);
            o["spec"]["clusterIPs"] = json!([text]);
            default(&mut o["spec"], "ipFamilies", json!(["IPv4"]));
            default(&mut o["spec"], "ipFamilyPolicy", json!("SingleStack"));
        }
        if needs_node_ports(o)
            && let Err(e) = allocate_node_ports(storage, o, &[]).await
        {
            if let Some(ip) = o["spec"]["clusterIP"].as_str() {
                release_ip(storage, ip).await;
            }
            return Err(e);
        }
        Ok(())
    })
}

/// Allocates what an updated service newly needs (node ports after a type change).
pub fn reallocate<'a>(storage: &'a Storage, new: &'a mut Value, old: &'a Value) -> BoxFuture<'a, Result<(), ApiError>> {
    Box::pin(async move {
        if needs_node_ports(new) {
            let keep = node_ports_of(old);
            let asked: Vec<i64> = node_ports_of(new);
            if asked != keep
                || new["spec"]["ports"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["nodePort"].as_i64().unwrap_or(0) == 0))
            {
                allocate_node_ports(storage, new, &keep).await?;
            }
        } else if let Some(ps) = new.get_mut("spec").and_then(|s| s.get_mut("ports")).and_then(Value::as_array_mut) {
            for p in ps {
                p.as_object_mut().map(|m| m.shift_remove("nodePort"));
            }
        }
        Ok(())
    })
}

/// Releases what `old` held and `new` (None after a delete) no longer does.
pub fn release<'a>(storage: &'a Storage, old: &'a Value, new: Option<&'a Value>) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        let kept = new.map(node_ports_of).unwrap_or_default();
        let gone: Vec<i64> = node_ports_of(old).into_iter().filter(|p| !kept.contains(p)).collect();
        release_node_ports(storage, gone).await;
        let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or_default();
        let new_ip = new.and_then(|n| n["spec"]["clusterIP"].as_str()).unwrap_or_default();
        if !old_ip.is_empty() && old_ip != "None" && old_ip != new_ip {
            release_ip(storage, old_ip).await;
        }
    })
}

/// The `kubernetes` service, its Endpoints and EndpointSlice in `default`, pointing at
/// this apiserver, and the default ServiceCIDR.
pub fn kubernetes_objects(address: std::net::IpAddr, port: u16) -> Vec<(&'static str, &'static str, Value)> {
    let cfg = config();
    let ip = cfg.first().to_string();
    let family = if address.is_ipv4() { "IPv4" } else { "IPv6" };
    vec![
        (
            "",
            "services",
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {
                    "type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                },
            }),
        ),
        (
            "",
            "endpoints",
            json!({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [{"addresses": [{"ip": address.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
            }),
        ),
        (
            "networking.k8s.io",
            "servicecidrs",
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
                "metadata": {"name": "kubernetes"},
                "spec": {"cidrs": [cfg.cidr()]},
            }),
        ),
        (
            "discovery.k8s.io",
            "endpointslices",
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
                "addressType": family,
                "endpoints": [{"addresses": [address.to_string()], "conditions": {"ready": true}}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_round_trips_as_big_endian() {
        let mut m = Bitmap { bits: vec![false; 2768] };
        m.bits[0] = true;
        m.bits[9] = true;
        let enc = m.encode();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(&enc).unwrap(), vec![0x02, 0x01]);
        let back = Bitmap::decode(&enc, 2768);
        assert!(back.bits[0] && back.bits[9] && !back.bits[1]);
    }

    #[test]
    fn ranges() {
        let cfg = ServiceConfig::default();
        assert_eq!(cfg.first(), Ipv4Addr::new(10, 0, 0, 1));
        assert!(cfg.contains(Ipv4Addr::new(10, 0, 0, 254)));
        assert!(!cfg.contains(Ipv4Addr::new(10, 0, 0, 255)));
        assert!(!cfg.contains(Ipv4Addr::new(10, 0, 1, 1)));
    }

    #[test]
    fn ports_and_ips_cells() {
        let mut svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.0.0.7", "ports": [{"port": 80, "nodePort": 30080}], "selector": {"app": "web"}}});
        prepare(&mut svc);
        let c = cells(&svc);
        assert_eq!(c[2], "10.0.0.7");
        assert_eq!(c[3], "<none>");
        assert_eq!(c[4], "80:30080/TCP");
        assert_eq!(c[6], "app=web");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");
    }
}
