//! The Node authorizer: requests from kubelets (group `system:nodes`, user
//! `system:node:<name>`) may do what upstream's `NodeRules()` allow, and may read
//! secrets, configmaps, persistent volume claims and volumes, and ask for service
//! account tokens, only when a pod bound to that node references them; node leases and
//! CSINodes only under the node's own name. Upstream keeps a graph updated by
//! informers; here the relationship is looked up in storage per request (pods of the
//! object's namespace with `spec.nodeName` = the node). Everyone else: no opinion.

use serde_json::Value;

use super::{Attributes, Decision, UserInfo};
use crate::storage::Storage;

/// `system:node:<name>` in group `system:nodes`: Some(name) (possibly empty).
fn node_name(u: &UserInfo) -> Option<&str> {
    if !u.groups.iter().any(|g| g == "system:nodes") {
        return None;
    }
    Some(u.name.strip_prefix("system:node:").unwrap_or(""))
}

async fn pods_on_node(storage: &Storage, ns: &str, node: &str) -> Vec<Value> {
    let prefix = format!("/registry/pods/{ns}/");
    match storage.list(prefix.as_bytes(), None, 0, 0).await {
        Ok(page) => page
            .items
            .iter()
            .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
            .filter(|p| p["spec"]["nodeName"] == node)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "node authorizer: listing pods failed");
            Vec::new()
        }
    }
}

/// Whether a pod references the object (the edges of upstream's graph).
fn references(pod: &Value, resource: &str, name: &str) -> bool {
    let spec = &pod["spec"];
    let arr = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let containers: Vec<Value> =
        ["containers", "initContainers", "ephemeralContainers"].iter().flat_map(|f| arr(&spec[*f])).collect();
    let volumes = arr(&spec["volumes"]);
    let projected =
        |v: &Value, key: &str, field: &str| arr(&v["projected"]["sources"]).iter().any(|s| s[key][field] == name);
    match resource {
        "secrets" => {
            arr(&spec["imagePullSecrets"]).iter().any(|s| s["name"] == name)
                || volumes.iter().any(|v| {
                    v["secret"]["secretName"] == name
                        || projected(v, "secret", "name")
                        || ["azureFile", "cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"]
                            .iter()
                            .any(|k| v[*k]["secretRef"]["name"] == name || v[*k]["secretName"] == name)
                })
                || containers.iter().any(|c| {
                    arr(&c["envFrom"]).iter().any(|e| e["secretRef"]["name"] == name)
                        || arr(&c["env"]).iter().any(|e| e["valueFrom"]["secretKeyRef"]["name"] == name)
                })
        }
        "configmaps" => {
            volumes.iter().any(|v| v["configMap"]["name"] == name || projected(v, "configMap", "name"))
                || containers.iter().any(|c| {
                    arr(&c["envFrom"]).iter().any(|e| e["configMapRef"]["name"] == name)
                        || arr(&c["env"]).iter().any(|e| e["valueFrom"]["configMapKeyRef"]["name"] == name)
                })
        }
        "persistentvolumeclaims" => volumes.iter().any(|v| v["persistentVolumeClaim"]["claimName"] == name),
        "serviceaccounts" => spec["serviceAccountName"] == name,
        _ => false,
    }
}

pub async fn authorize(storage: &Storage, a: &Attributes) -> Decision {
    let Some(node) = node_name(&a.user) else { return Decision::NoOpinion(String::new()) };
    if node.is_empty() {
        return Decision::NoOpinion(format!("unknown node for user {:?}", a.user.name));
    }
    let no_relationship =
        || Decision::NoOpinion(format!("no relationship found between node '{node}' and this object"));
    if a.resource_request {
        match (a.api_group.as_str(), a.resource.as_str()) {
            ("", "secrets" | "configmaps" | "persistentvolumeclaims") => {
                if a.verb != "get" {
                    return Decision::NoOpinion("can only get individual resources of this type".into());
                }
                if !a.subresource.is_empty() {
                    return Decision::NoOpinion("cannot get subresource".into());
                }
                let pods = pods_on_node(storage, &a.namespace, node).await;
                return if pods.iter().any(|p| references(p, &a.resource, &a.name)) {
                    Decision::Allow(String::new())
                } else {
                    no_relationship()
                };
            }
            ("", "serviceaccounts") if a.subresource == "token" => {
                if a.verb != "create" {
                    return Decision::NoOpinion("can only create tokens for individual service accounts".into());
                }
                let pods = pods_on_node(storage, &a.namespace, node).await;
                return if pods.iter().any(|p| references(p, "serviceaccounts", &a.name)) {
                    Decision::Allow(String::new())
                } else {
                    no_relationship()
                };
            }
            ("", "persistentvolumes") => {
                if a.verb != "get" {
                    return Decision::NoOpinion("can only get individual resources of this type".into());
                }
                // PV <- bound PVC <- pod on the node.
                let claims = match storage.list(b"/registry/persistentvolumeclaims/", None, 0, 0).await {
                    Ok(page) => page.items,
                    Err(_) => Vec::new(),
                };
                for kv in claims {
                    let Ok(pvc) = serde_json::from_slice::<Value>(&kv.value) else { continue };
                    if pvc["spec"]["volumeName"] != a.name.as_str() {
                        continue;
                    }
                    let ns = pvc["metadata"]["namespace"].as_str().unwrap_or("");
                    let claim = pvc["metadata"]["name"].as_str().unwrap_or("");
                    let pods = pods_on_node(storage, ns, node).await;
                    if pods.iter().any(|p| references(p, "persistentvolumeclaims", claim)) {
                        return Decision::Allow(String::new());
                    }
                }
                return no_relationship();
            }
            ("coordination.k8s.io", "leases") => {
                if !["get", "create", "update", "patch", "delete"].contains(&a.verb.as_str()) {
                    return Decision::NoOpinion("can only get, create, update, patch, or delete a node lease".into());
                }
                if a.namespace != "kube-node-lease" {
                    return Decision::NoOpinion("can only access leases in the kube-node-lease namespace".into());
                }
                if a.verb != "create" && a.name != node {
                    return Decision::NoOpinion(
                        "can only access node lease with the same name as the requesting node".into(),
                    );
                }
                return Decision::Allow(String::new());
            }
            ("storage.k8s.io", "csinodes") => {
                if a.verb != "create" && a.name != node {
                    return Decision::NoOpinion(
                        "can only access CSINode with the same name as the requesting node".into(),
                    );
                }
                return Decision::Allow(String::new());
            }
            _ => {}
        }
    }
    if super::bootstrap::node_rules().iter().any(|r| super::rbac::rule_allows(a, r)) {
        Decision::Allow(String::new())
    } else {
        Decision::NoOpinion(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_references() {
        let pod = json!({"spec": {
            "nodeName": "n1",
            "serviceAccountName": "sa",
            "volumes": [{"name": "v", "secret": {"secretName": "s1"}}, {"name": "c", "configMap": {"name": "cm"}}],
            "containers": [{"name": "a", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}}]}],
        }});
        assert!(references(&pod, "secrets", "s1"));
        assert!(references(&pod, "secrets", "s2"));
        assert!(!references(&pod, "secrets", "s3"));
        assert!(references(&pod, "configmaps", "cm"));
        assert!(references(&pod, "serviceaccounts", "sa"));
        let kubelet =
            UserInfo { name: "system:node:n1".into(), groups: vec!["system:nodes".into()], ..Default::default() };
        assert_eq!(node_name(&kubelet), Some("n1"));
        assert_eq!(node_name(&UserInfo::default()), None);
    }
}
