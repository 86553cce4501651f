//! RBAC's privilege-escalation prevention, as upstream's rbac REST storage does it:
//! a Role or ClusterRole may only be written by someone who holds every permission it
//! grants (or may `escalate` it), and a RoleBinding or ClusterRoleBinding only by someone
//! who holds every permission of the role it references (or may `bind` it). Members
//! of system:masters may do both. Runs on the final object right before it is stored
//! (so creates, updates and patches alike), through `rest::WriteContext::admit`.

use std::sync::Arc;

use http::Request;
use hyper::body::Incoming;
use serde_json::Value;

use super::{Attributes, Decision, RequestUser, SYSTEM_PRIVILEGED_GROUP, UserInfo, rbac};
use crate::registry::Resource;
use crate::rest::Admit;
use crate::server::State;
use crate::status::ApiError;

const GROUP: &str = "rbac.authorization.k8s.io";

/// The admission hook for a write to an RBAC resource (None for other resources, or
/// when RBAC is not an authorization mode).
pub fn admit(state: &Arc<State>, req: &Request<Incoming>, res: &'static Resource, ns: Option<&str>) -> Option<Admit> {
    if res.group != GROUP || !state.auth.rbac_enabled() {
        return None;
    }
    let user = req.extensions().get::<RequestUser>()?.0.clone();
    let state = state.clone();
    let ns = ns.unwrap_or_default().to_string();
    Some(Admit(Arc::new(move |obj: Value| {
        let state = state.clone();
        let user = user.clone();
        let ns = ns.clone();
        Box::pin(async move { check(&state, &user, res, &ns, &obj).await })
    })))
}

async fn allowed(state: &State, user: &UserInfo, verb: &str, resource: &str, ns: &str, name: &str) -> bool {
    let a = Attributes {
        user: user.clone(),
        verb: verb.into(),
        resource_request: true,
        api_group: GROUP.into(),
        namespace: ns.into(),
        resource: resource.into(),
        name: name.into(),
        ..Default::default()
    };
    matches!(state.auth.authorize(&state.rest.storage, &a).await, Decision::Allow(_))
}

async fn check(state: &State, user: &UserInfo, res: &Resource, ns: &str, obj: &Value) -> Result<(), ApiError> {
    if user.groups.iter().any(|g| g == SYSTEM_PRIVILEGED_GROUP) {
        return Ok(());
    }
    let storage = &state.rest.storage;
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let (rules, scope_ns) = match res.name {
        "roles" | "clusterroles" => {
            if allowed(state, user, "escalate", res.name, ns, name).await {
                return Ok(());
            }
            // An aggregation rule can gather anything: it takes full authority.
            if obj["aggregationRule"]["clusterRoleSelectors"].as_array().is_some_and(|a| !a.is_empty()) {
                let (held, _) = rbac::applicable(rbac::Source::Storage(storage), user, "").await;
                let held: Vec<Value> = held.into_iter().flat_map(|a| a.rules).collect();
                let everything = [
                    serde_json::json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
                    serde_json::json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
                ];
                if everything.iter().any(|r| !uncovered(&held, r).is_empty()) {
                    return Err(ApiError::forbidden_resource(
                        GROUP,
                        res.name,
                        name,
                        "must have cluster-admin privileges to use the aggregationRule",
                    ));
                }
            }
            (obj["rules"].as_array().cloned().unwrap_or_default(), ns.to_string())
        }
        "rolebindings" | "clusterrolebindings" => {
            let kind = obj["roleRef"]["kind"].as_str().unwrap_or_default();
            let role = obj["roleRef"]["name"].as_str().unwrap_or_default();
            let role_resource = if kind == "Role" { "roles" } else { "clusterroles" };
            if allowed(state, user, "bind", role_resource, ns, role).await {
                return Ok(());
            }
            match rbac::role_rules(rbac::Source::Storage(storage), kind, ns, role).await {
                Ok(rules) => (rules, ns.to_string()),
                // Upstream resolves the role through its registry: a plain 404.
                Err(_) => return Err(ApiError::not_found(&format!("{role_resource}.{GROUP}"), role)),
            }
        }
        _ => return Ok(()),
    };
    let (held, _) = rbac::applicable(rbac::Source::Storage(storage), user, &scope_ns).await;
    let held: Vec<Value> = held.into_iter().flat_map(|a| a.rules).collect();
    let missing: Vec<String> = rules.iter().flat_map(|r| uncovered(&held, r)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let groups = user.groups.iter().map(|g| format!("{g:?}")).collect::<Vec<_>>().join(" ");
    Err(ApiError::forbidden_resource(
        GROUP,
        res.name,
        name,
        &format!(
            "user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            missing.join("\n")
        ),
    ))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

fn quoted(items: &[&str]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" ")
}

/// The parts of `rule` no held rule covers (upstream's `Covers`, broken down to
/// single verb/group/resource/name or verb/URL rules), in upstream's compact notation.
fn uncovered(held: &[Value], rule: &Value) -> Vec<String> {
    let verbs = strings(&rule["verbs"]);
    let mut missing = Vec::new();
    let urls = strings(&rule["nonResourceURLs"]);
    for url in &urls {
        for verb in &verbs {
            let a = Attributes { verb: verb.clone(), path: url.clone(), ..Default::default() };
            if !held.iter().any(|h| rbac::rule_allows(&a, h)) {
                missing.push(format!("{{NonResourceURLs:[{}], Verbs:[{}]}}", quoted(&[url]), quoted(&[verb])));
            }
        }
    }
    let names = strings(&rule["resourceNames"]);
    let names: Vec<String> = if names.is_empty() { vec![String::new()] } else { names };
    for group in strings(&rule["apiGroups"]) {
        for resource in strings(&rule["resources"]) {
            let (res, sub) = resource.split_once('/').unwrap_or((&resource, ""));
            for name in &names {
                for verb in &verbs {
                    let a = Attributes {
                        verb: verb.clone(),
                        resource_request: true,
                        api_group: group.clone(),
                        resource: res.into(),
                        subresource: sub.into(),
                        name: name.clone(),
                        ..Default::default()
                    };
                    if !held.iter().any(|h| rbac::rule_allows(&a, h)) {
                        let mut s =
                            format!("{{APIGroups:[{}], Resources:[{}]", quoted(&[&group]), quoted(&[&resource]));
                        if !name.is_empty() {
                            s.push_str(&format!(", ResourceNames:[{}]", quoted(&[name])));
                        }
                        s.push_str(&format!(", Verbs:[{}]}}", quoted(&[verb])));
                        missing.push(s);
                    }
                }
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coverage() {
        let held = vec![json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]})];
        assert!(
            uncovered(&held, &json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]})).is_empty()
        );
        assert_eq!(
            uncovered(&held, &json!({"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["configmaps"]})),
            [r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}"#]
        );
        // A wildcard is only covered by a wildcard.
        assert_eq!(uncovered(&held, &json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*"]})).len(), 1);
        let all = vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})];
        assert!(
            uncovered(&all, &json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}))
                .is_empty()
        );
        assert_eq!(uncovered(&all, &json!({"verbs": ["get"], "nonResourceURLs": ["/x"]})).len(), 1);
    }
}
