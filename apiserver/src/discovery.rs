//! `/version` and discovery: legacy (`/api`, `/api/v1`, `/apis`) and aggregated
//! (`apidiscovery.k8s.io/v2` and `v2beta1`, chosen by the `Accept` header, as
//! `APIGroupDiscoveryList` on `/api` and `/apis`).

use serde_json::{Value, json};

use crate::registry::{Group, GroupVersion, Resource, groups};

/// The Kubernetes version this server implements.
pub const KUBE_MINOR: &str = "33";

pub fn version() -> Value {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "emulationMajor": "1",
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": format!("v1.33.0-rs.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

/// `/api`: the legacy group's versions.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_string() } else { format!("{group}/{version}") }
}

fn group_json(g: &Group) -> Value {
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|v| json!({"groupVersion": group_version(g.name, v.version), "version": v.version}))
        .collect();
    json!({"name": g.name, "versions": versions, "preferredVersion": versions[0].clone()})
}

/// `/apis`: the named groups.
pub fn api_groups() -> Value {
    let groups: Vec<Value> = groups().iter().filter(|g| !g.name.is_empty()).map(|g| group_json(g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn api_group(g: &Group) -> Value {
    let mut v = json!({"kind": "APIGroup", "apiVersion": "v1"});
    if let (Some(m), Value::Object(body)) = (v.as_object_mut(), group_json(g)) {
        m.extend(body);
    }
    v
}

/// The legacy `APIResource` entries of a group version: each resource, then its
/// subresources as `<resource>/<sub>`.
fn legacy_resources(resources: &[Resource]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in resources {
        let mut v = json!({
            "name": r.name,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        out.push(v);
        let mut subs = r.subresources.to_vec();
        subs.sort_by_key(|s| s.name());
        for sub in subs {
            let (group, version, kind) = sub.response_kind(r);
            let mut s = json!({
                "name": format!("{}/{}", r.name, sub.name()),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": sub.verbs(),
            });
            if (group, version) != (r.group, r.version) {
                s["group"] = json!(group);
                s["version"] = json!(version);
            }
            out.push(s);
        }
    }
    out
}

/// `/api/v1`: the core resources.
pub fn core_v1_resources() -> Value {
    let core = crate::registry::group("").expect("the core group is registered");
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": legacy_resources(core.versions[0].resources)})
}

/// `/apis/<group>/<version>`.
pub fn group_version_resources(g: &Group, gv: &GroupVersion) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(g.name, gv.version),
        "resources": legacy_resources(gv.resources),
    })
}

/// Which aggregated discovery version a request's `Accept` asks for first (None: the
/// legacy documents).
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    for entry in accept.split(',') {
        let params: Vec<&str> = entry.split(';').map(str::trim).collect();
        let media = params.first().copied().unwrap_or("");
        if media != "application/json" && media != "*/*" && media != "application/*" {
            continue;
        }
        let aggregated = params.contains(&"g=apidiscovery.k8s.io") && params.contains(&"as=APIGroupDiscoveryList");
        if !aggregated {
            if params.iter().any(|p| p.starts_with("as=")) {
                continue;
            }
            return None;
        }
        if params.contains(&"v=v2") {
            return Some("v2");
        }
        if params.contains(&"v=v2beta1") {
            return Some("v2beta1");
        }
    }
    None
}

/// The `Content-Type` of an aggregated discovery document.
pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

fn aggregated_resource(r: &Resource) -> Value {
    let mut v = json!({
        "resource": r.name,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if !r.subresources.is_empty() {
        let mut sorted = r.subresources.to_vec();
        sorted.sort_by_key(|s| s.name());
        let subs: Vec<Value> = sorted
            .iter()
            .map(|s| {
                let (group, version, kind) = s.response_kind(r);
                json!({
                    "subresource": s.name(),
                    "responseKind": {"group": group, "version": version, "kind": kind},
                    "verbs": s.verbs(),
                })
            })
            .collect();
        v["subresources"] = json!(subs);
    }
    v
}

fn aggregated_group(g: &Group) -> Value {
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = v.resources.iter().map(aggregated_resource).collect();
            json!({"version": v.version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let mut meta = json!({"creationTimestamp": null});
    if !g.name.is_empty() {
        meta = json!({"name": g.name, "creationTimestamp": null});
    }
    json!({"metadata": meta, "versions": versions})
}

fn aggregated_list(version: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// `/api` as an `APIGroupDiscoveryList`: the legacy group, unnamed.
pub fn aggregated_core(version: &str) -> Value {
    aggregated_list(version, groups().iter().filter(|g| g.name.is_empty()).map(|g| aggregated_group(g)).collect())
}

/// `/apis` as an `APIGroupDiscoveryList`: every named group, versions in preference order.
pub fn aggregated_groups(version: &str) -> Value {
    aggregated_list(version, groups().iter().filter(|g| !g.name.is_empty()).map(|g| aggregated_group(g)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(kubectl), Some("v2"));
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
        assert_eq!(aggregated_version(""), None);
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json"),
            None
        );
        let core = aggregated_core("v2");
        let resources = core["items"][0]["versions"][0]["resources"].as_array().unwrap();
        let cm = resources.iter().find(|r| r["resource"] == "configmaps").unwrap();
        assert_eq!(cm["responseKind"]["kind"], "ConfigMap");
        let groups = aggregated_groups("v2");
        let apps = groups["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(
            deploy["subresources"][0]["responseKind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        assert_eq!(deploy["categories"], json!(["all"]));
    }

    #[test]
    fn documents_decode_as_upstream_types() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList, APIVersions};
        use k8s_openapi::apimachinery::pkg::version::Info;
        let list: APIResourceList = serde_json::from_value(core_v1_resources()).unwrap();
        let cm = list.resources.iter().find(|r| r.name == "configmaps").unwrap();
        assert_eq!(cm.short_names.as_deref(), Some(&["cm".to_string()][..]));
        assert!(cm.namespaced);
        let _: APIVersions = serde_json::from_value(api_versions("10.0.0.1:6443")).unwrap();
        let _: APIGroupList = serde_json::from_value(api_groups()).unwrap();
        let list: APIGroupList = serde_json::from_value(api_groups()).unwrap();
        let batch = list.groups.iter().find(|g| g.name == "batch").unwrap();
        assert_eq!(batch.preferred_version.as_ref().unwrap().group_version, "batch/v1");
        let apps = crate::registry::group("apps").unwrap();
        let rl: APIResourceList = serde_json::from_value(group_version_resources(apps, &apps.versions[0])).unwrap();
        let scale = rl.resources.iter().find(|r| r.name == "deployments/scale").unwrap();
        assert_eq!((scale.group.as_deref(), scale.kind.as_str()), (Some("autoscaling"), "Scale"));
        let info: Info = serde_json::from_value(version()).unwrap();
        assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
        assert!(info.git_version.starts_with("v1.33."));
    }
}
