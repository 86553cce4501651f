//! `/version` and legacy discovery (`/api`, `/api/v1`, `/apis`). Aggregated discovery
//! (`apidiscovery.k8s.io/v2`) is not served yet: clients asking for it get the legacy
//! documents as plain `application/json`, which kubectl and client-go fall back to.

use serde_json::{Value, json};

use crate::registry::RESOURCES;

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

/// `/apis`: the named groups (none yet).
pub fn api_groups() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
}

/// `/api/v1`: the core resources.
pub fn core_v1_resources() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|r| {
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
            v
        })
        .collect();
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let info: Info = serde_json::from_value(version()).unwrap();
        assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
        assert!(info.git_version.starts_with("v1.33."));
    }
}
