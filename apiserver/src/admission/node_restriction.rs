//! NodeRestriction: a kubelet (user `system:node:<name>` in group `system:nodes`) may
//! only write its own Node (without `node-restriction.kubernetes.io/` labels or taint
//! changes), its own Lease, and mirror pods bound to itself.

use serde_json::Value;

use super::{Attributes, Operation};
use crate::auth::UserInfo;
use crate::status::ApiError;

const RESTRICTED_LABEL_PREFIX: &str = "node-restriction.kubernetes.io/";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The node a user acts for; Some("") for a node identity without a name.
fn node_name(u: &UserInfo) -> Option<&str> {
    if !u.groups.iter().any(|g| g == "system:nodes") {
        return None;
    }
    u.name.strip_prefix("system:node:")
}

fn restricted_labels(obj: &Value) -> Vec<(String, Value)> {
    obj["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(RESTRICTED_LABEL_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn admit(a: &Attributes<'_>, user: Option<&UserInfo>, obj: &Value) -> Result<(), ApiError> {
    let Some(node) = user.and_then(node_name) else { return Ok(()) };
    let user_name = user.map(|u| u.name.as_str()).unwrap_or_default();
    let watched = a.is("", "pods") || a.is("", "nodes") || a.is("coordination.k8s.io", "leases");
    if !watched {
        return Ok(());
    }
    if node.is_empty() {
        return Err(a.forbidden(&format!("could not determine node from user {user_name:?}")));
    }
    match (a.resource.group, a.resource.name) {
        ("", "pods") => match a.operation {
            Operation::Create => {
                if obj["metadata"]["annotations"][MIRROR_ANNOTATION].is_null() {
                    return Err(a.forbidden(&format!(
                        "pod does not have \"{MIRROR_ANNOTATION}\" annotation, node {node:?} can only create mirror pods"
                    )));
                }
                if obj["spec"]["nodeName"] != node {
                    return Err(
                        a.forbidden(&format!("node {node:?} can only create pods with spec.nodeName set to itself"))
                    );
                }
                Ok(())
            }
            op => Err(a.forbidden(&format!(
                "unexpected operation {:?}, node {node:?} can only create and delete mirror pods",
                op.as_str()
            ))),
        },
        ("", "nodes") => {
            if a.name != node {
                return Err(a.forbidden(&format!("node {node:?} is not allowed to modify node {:?}", a.name)));
            }
            let labels = restricted_labels(obj);
            match a.old {
                None => {
                    if !labels.is_empty() {
                        let names: Vec<String> = labels.into_iter().map(|(k, _)| k).collect();
                        return Err(a.forbidden(&format!(
                            "node {node:?} is not allowed to set the following labels: {}",
                            names.join(", ")
                        )));
                    }
                }
                Some(old) => {
                    let before = restricted_labels(old);
                    let mut changed: Vec<String> = labels
                        .iter()
                        .filter(|l| !before.contains(l))
                        .chain(before.iter().filter(|l| !labels.contains(l)))
                        .map(|(k, _)| k.clone())
                        .collect();
                    changed.sort();
                    changed.dedup();
                    if !changed.is_empty() {
                        return Err(a.forbidden(&format!(
                            "node {node:?} is not allowed to modify labels: {}",
                            changed.join(", ")
                        )));
                    }
                    if old["spec"]["taints"] != obj["spec"]["taints"] {
                        return Err(a.forbidden(&format!("node {node:?} is not allowed to modify taints")));
                    }
                }
            }
            Ok(())
        }
        _ => {
            if a.ns() == "kube-node-lease" && a.name != node {
                return Err(a.forbidden("can only access node lease with the same name as the requesting node"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_write_only_their_own_objects() {
        let kubelet =
            UserInfo { name: "system:node:n1".into(), groups: vec!["system:nodes".into()], ..Default::default() };
        let nodes = crate::registry::find("nodes").unwrap();
        let attrs = |name: &str, old: Option<&'static Value>| Attributes {
            resource: nodes,
            operation: if old.is_some() { Operation::Update } else { Operation::Create },
            namespace: None,
            name: name.into(),
            old,
            dry_run: false,
            subresource: None,
        };
        let plain = json!({"metadata": {"name": "n1"}});
        assert!(admit(&attrs("n1", None), Some(&kubelet), &plain).is_ok());
        assert_eq!(
            admit(&attrs("n2", None), Some(&kubelet), &plain).unwrap_err().message,
            r#"nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2""#
        );
        let labelled = json!({"metadata": {"labels": {"node-restriction.kubernetes.io/x": "y"}}});
        assert_eq!(
            admit(&attrs("n1", None), Some(&kubelet), &labelled).unwrap_err().message,
            r#"nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/x"#
        );
        let pods = crate::registry::find("pods").unwrap();
        let pod = Attributes {
            resource: pods,
            operation: Operation::Create,
            namespace: Some("default"),
            name: "p".into(),
            old: None,
            dry_run: false,
            subresource: None,
        };
        assert_eq!(
            admit(&pod, Some(&kubelet), &json!({"spec": {"nodeName": "n1"}})).unwrap_err().message,
            r#"pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods"#
        );
        let admin = UserInfo { name: "admin".into(), ..Default::default() };
        assert!(admit(&pod, Some(&admin), &json!({})).is_ok());
    }
}
