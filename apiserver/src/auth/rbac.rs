//! The RBAC authorizer, as upstream evaluates it: ClusterRoleBindings first, then the
//! RoleBindings of the request's namespace; a binding applies when one of its subjects
//! is the user, one of the user's groups, or the user's service account; the first rule
//! of a bound role that covers the request allows it. Objects are read from storage in
//! upstream's key layout (`/registry/clusterroles/<name>`, `/registry/roles/<ns>/<name>`,
//! `/registry/clusterrolebindings/<name>`, `/registry/rolebindings/<ns>/<name>`).
//!
//! Aggregated ClusterRoles (`aggregationRule`) are resolved here, at evaluation time,
//! as the union of the rules of the ClusterRoles their selectors pick (transitively):
//! upstream's clusterrole-aggregation controller writes that union into the role, and
//! there is no controller-manager yet to do it.

use std::collections::HashSet;

use serde_json::Value;

use super::{Attributes, Decision, UserInfo};
use crate::storage::Storage;

const GROUP: &str = "rbac.authorization.k8s.io";

/// Where RBAC objects are read from: the store itself, or the watch-fed [`Cache`].
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Storage(&'a Storage),
    Cache(&'a Cache),
}

impl Source<'_> {
    async fn list(&self, prefix: &str) -> Result<Vec<Value>, String> {
        match self {
            Source::Storage(storage) => {
                let page = storage.list(prefix.as_bytes(), None, 0, 0).await.map_err(|e| e.to_string())?;
                Ok(page.items.iter().filter_map(|kv| serde_json::from_slice(&kv.value).ok()).collect())
            }
            Source::Cache(c) => Ok(c.list(prefix)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, String> {
        match self {
            Source::Storage(storage) => match storage.get(key.as_bytes()).await {
                Ok(Some(kv)) => Ok(serde_json::from_slice(&kv.value).ok()),
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Source::Cache(c) => Ok(c.get(key)),
        }
    }
}

/// The prefixes the cache mirrors.
pub const PREFIXES: &[&str] =
    &["/registry/clusterroles/", "/registry/roles/", "/registry/clusterrolebindings/", "/registry/rolebindings/"];

/// RBAC objects mirrored from the store by watches, like upstream's informers. Allows
/// are decided from it; a denial is checked again against the store while RBAC objects
/// changed recently (so a fresh grant takes effect at once), and otherwise stands (so
/// denied requests cost no store reads).
#[derive(Default)]
pub struct Cache {
    objects: std::sync::RwLock<std::collections::BTreeMap<String, Value>>,
    synced: std::sync::atomic::AtomicBool,
    /// When the last change arrived (unix milliseconds).
    changed_ms: std::sync::atomic::AtomicI64,
}

/// How long after an RBAC change denials are rechecked on the store.
const RECHECK_AFTER_CHANGE_MS: i64 = 5_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Cache {
    fn list(&self, prefix: &str) -> Vec<Value> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.objects.read().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    pub fn synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed_recently(&self) -> bool {
        now_ms() - self.changed_ms.load(std::sync::atomic::Ordering::Acquire) < RECHECK_AFTER_CHANGE_MS
    }

    /// Lists and watches the RBAC prefixes until cancelled; relists after any error.
    pub async fn run(&self, storage: &Storage) {
        loop {
            if let Err(e) = self.sync(storage).await {
                tracing::warn!(error = %e, "RBAC cache: resyncing");
            }
            self.synced.store(false, std::sync::atomic::Ordering::Release);
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    async fn sync(&self, storage: &Storage) -> Result<(), String> {
        use futures::StreamExt;
        let mut fresh = std::collections::BTreeMap::new();
        let mut watches = Vec::new();
        for prefix in PREFIXES {
            let page = storage.list(prefix.as_bytes(), None, 0, 0).await.map_err(|e| e.to_string())?;
            for kv in &page.items {
                if let Ok(v) = serde_json::from_slice::<Value>(&kv.value) {
                    fresh.insert(String::from_utf8_lossy(&kv.key).into_owned(), v);
                }
            }
            watches.push(storage.watch(prefix.as_bytes(), page.revision + 1).await.map_err(|e| e.to_string())?.boxed());
        }
        *self.objects.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.changed_ms.store(now_ms(), std::sync::atomic::Ordering::Release);
        self.synced.store(true, std::sync::atomic::Ordering::Release);
        let mut events = futures::stream::select_all(watches);
        while let Some(ev) = events.next().await {
            self.changed_ms.store(now_ms(), std::sync::atomic::Ordering::Release);
            let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
            match ev.map_err(|e| e.to_string())? {
                crate::storage::WatchEvent::Put { kv, .. } => {
                    if let Ok(v) = serde_json::from_slice::<Value>(&kv.value) {
                        objects.insert(String::from_utf8_lossy(&kv.key).into_owned(), v);
                    }
                }
                crate::storage::WatchEvent::Delete { key, .. } => {
                    objects.remove(String::from_utf8_lossy(&key).as_ref());
                }
            }
        }
        Err("watch ended".into())
    }
}

/// `matchLabels` and `matchExpressions` of a metav1.LabelSelector.
pub fn selector_matches(sel: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let labels_ok = sel["matchLabels"].as_object().into_iter().flatten().all(|(k, v)| label(k) == v.as_str());
    let exprs_ok = sel["matchExpressions"].as_array().into_iter().flatten().all(|e| {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        match e["operator"].as_str().unwrap_or("") {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// The rules of a role; ClusterRoles with an `aggregationRule` get the rules of every
/// ClusterRole their selectors pick, transitively.
pub async fn role_rules(src: Source<'_>, kind: &str, ns: &str, name: &str) -> Result<Vec<Value>, String> {
    let (key, what) = if kind == "ClusterRole" {
        (format!("/registry/clusterroles/{name}"), "clusterrole")
    } else {
        (format!("/registry/roles/{ns}/{name}"), "role")
    };
    let Some(role) = src.get(&key).await? else {
        return Err(format!("{what}.{GROUP} {name:?} not found"));
    };
    let mut rules: Vec<Value> = role["rules"].as_array().cloned().unwrap_or_default();
    if kind == "ClusterRole" && role["aggregationRule"]["clusterRoleSelectors"].is_array() {
        let all = src.list("/registry/clusterroles/").await?;
        let mut seen: HashSet<String> = HashSet::from([name.to_string()]);
        let mut queue = vec![role];
        while let Some(r) = queue.pop() {
            let selectors = r["aggregationRule"]["clusterRoleSelectors"].as_array().cloned().unwrap_or_default();
            for c in &all {
                let cname = c["metadata"]["name"].as_str().unwrap_or("").to_string();
                if seen.contains(&cname) {
                    continue;
                }
                if selectors.iter().any(|s| selector_matches(s, &c["metadata"]["labels"])) {
                    seen.insert(cname);
                    for rule in c["rules"].as_array().into_iter().flatten() {
                        if !rules.contains(rule) {
                            rules.push(rule.clone());
                        }
                    }
                    queue.push(c.clone());
                }
            }
        }
    }
    Ok(rules)
}

/// Whether a binding subject names the user.
fn applies_to(user: &UserInfo, subject: &Value, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str().unwrap_or("") {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(binding_ns);
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn describe_subject(subject: &Value, binding_ns: &str) -> String {
    let kind = subject["kind"].as_str().unwrap_or("");
    let name = subject["name"].as_str().unwrap_or("");
    if kind == "ServiceAccount" {
        let ns = subject["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(binding_ns);
        return format!("{kind} {:?}", format!("{name}/{ns}"));
    }
    format!("{kind} {name:?}")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// Upstream's `RuleAllows`.
pub fn rule_allows(a: &Attributes, rule: &Value) -> bool {
    let verbs = strings(&rule["verbs"]);
    if !verbs.iter().any(|v| *v == "*" || *v == a.verb) {
        return false;
    }
    if !a.resource_request {
        return strings(&rule["nonResourceURLs"])
            .iter()
            .any(|u| *u == "*" || *u == a.path || (u.ends_with('*') && a.path.starts_with(u.trim_end_matches('*'))));
    }
    let groups = strings(&rule["apiGroups"]);
    if !groups.iter().any(|g| *g == "*" || *g == a.api_group) {
        return false;
    }
    let combined = a.combined_resource();
    let resource_ok = strings(&rule["resources"]).iter().any(|r| {
        *r == "*"
            || *r == combined
            || (!a.subresource.is_empty()
                && r.len() == a.subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(a.subresource.as_str()))
    });
    if !resource_ok {
        return false;
    }
    let names = strings(&rule["resourceNames"]);
    names.is_empty() || names.contains(&a.name.as_str())
}

/// A binding that applies to a user: its description (for reasons) and its role's rules.
pub struct Applied {
    pub source: String,
    pub rules: Vec<Value>,
}

/// Every rule bound to the user for `ns` (cluster-wide bindings first), and the errors
/// met on the way (missing roles), as upstream's rule visitor sees them.
pub async fn applicable(src: Source<'_>, user: &UserInfo, ns: &str) -> (Vec<Applied>, Vec<String>) {
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    match src.list("/registry/clusterrolebindings/").await {
        Ok(bindings) => {
            for b in bindings {
                let Some(subject) = b["subjects"].as_array().into_iter().flatten().find(|s| applies_to(user, s, ""))
                else {
                    continue;
                };
                let role = b["roleRef"]["name"].as_str().unwrap_or("");
                match role_rules(src, "ClusterRole", "", role).await {
                    Ok(rules) => out.push(Applied {
                        source: format!(
                            "ClusterRoleBinding {:?} of ClusterRole {role:?} to {}",
                            b["metadata"]["name"].as_str().unwrap_or(""),
                            describe_subject(subject, "")
                        ),
                        rules,
                    }),
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    if ns.is_empty() {
        return (out, errors);
    }
    match src.list(&format!("/registry/rolebindings/{ns}/")).await {
        Ok(bindings) => {
            for b in bindings {
                let Some(subject) = b["subjects"].as_array().into_iter().flatten().find(|s| applies_to(user, s, ns))
                else {
                    continue;
                };
                let kind = b["roleRef"]["kind"].as_str().unwrap_or("Role");
                let role = b["roleRef"]["name"].as_str().unwrap_or("");
                match role_rules(src, kind, ns, role).await {
                    Ok(rules) => out.push(Applied {
                        source: format!(
                            "RoleBinding {:?} of {kind} {role:?} to {}",
                            format!("{}/{ns}", b["metadata"]["name"].as_str().unwrap_or("")),
                            describe_subject(subject, ns)
                        ),
                        rules,
                    }),
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }
    (out, errors)
}

/// Decides from the cache when it is synced; a denial shortly after an RBAC change is
/// checked again on the store.
pub async fn authorize(storage: &Storage, cache: &Cache, a: &Attributes) -> Decision {
    if cache.synced() {
        let d = decide(Source::Cache(cache), a).await;
        if matches!(d, Decision::Allow(_)) || !cache.changed_recently() {
            return d;
        }
    }
    decide(Source::Storage(storage), a).await
}

async fn decide(src: Source<'_>, a: &Attributes) -> Decision {
    let (applied, errors) = applicable(src, &a.user, &a.namespace).await;
    for ap in &applied {
        if ap.rules.iter().any(|r| rule_allows(a, r)) {
            return Decision::Allow(format!("RBAC: allowed by {}", ap.source));
        }
    }
    if errors.is_empty() {
        Decision::NoOpinion(String::new())
    } else if errors.len() == 1 {
        Decision::NoOpinion(format!("RBAC: {}", errors[0]))
    } else {
        Decision::NoOpinion(format!("RBAC: [{}]", errors.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_like_upstream() {
        let r = json!({"apiGroups": [""], "resources": ["pods", "*/scale"], "verbs": ["get", "list"]});
        assert!(rule_allows(&attrs("get", "", "pods", "", "x"), &r));
        assert!(!rule_allows(&attrs("delete", "", "pods", "", "x"), &r));
        assert!(!rule_allows(&attrs("get", "apps", "pods", "", "x"), &r));
        assert!(!rule_allows(&attrs("get", "", "pods", "log", "x"), &r), "pods does not cover pods/log");
        assert!(rule_allows(&attrs("get", "", "deployments", "scale", "x"), &r));
        let named = json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "resourceNames": ["a"]});
        assert!(rule_allows(&attrs("get", "apps", "deployments", "", "a"), &named));
        assert!(!rule_allows(&attrs("get", "apps", "deployments", "", "b"), &named));
        assert!(!rule_allows(&attrs("list", "apps", "deployments", "", ""), &named));
        let urls = json!({"nonResourceURLs": ["/api", "/apis/*"], "verbs": ["get"]});
        let path = |p: &str| Attributes { verb: "get".into(), path: p.into(), ..Default::default() };
        assert!(rule_allows(&path("/api"), &urls));
        assert!(rule_allows(&path("/apis/apps/v1"), &urls));
        assert!(!rule_allows(&path("/api/v1"), &urls));
        assert!(!rule_allows(&attrs("get", "", "api", "", ""), &urls), "URL rules never match resources");
    }

    #[test]
    fn subjects() {
        let u = UserInfo {
            name: "system:serviceaccount:ns1:bot".into(),
            groups: vec!["system:serviceaccounts".into()],
            ..Default::default()
        };
        assert!(applies_to(&u, &json!({"kind": "ServiceAccount", "name": "bot"}), "ns1"));
        assert!(!applies_to(&u, &json!({"kind": "ServiceAccount", "name": "bot"}), "ns2"));
        assert!(!applies_to(&u, &json!({"kind": "ServiceAccount", "name": "bot"}), ""));
        assert!(applies_to(&u, &json!({"kind": "ServiceAccount", "name": "bot", "namespace": "ns1"}), ""));
        assert!(applies_to(&u, &json!({"kind": "Group", "name": "system:serviceaccounts"}), ""));
        assert!(!applies_to(&u, &json!({"kind": "User", "name": "bot"}), ""));
        assert_eq!(
            describe_subject(&json!({"kind": "ServiceAccount", "name": "bot"}), "ns1"),
            r#"ServiceAccount "bot/ns1""#
        );
    }

    #[test]
    fn cache_prefixes_do_not_overlap() {
        let c = Cache::default();
        {
            let mut o = c.objects.write().unwrap();
            for k in [
                "/registry/roles/default/a",
                "/registry/roles/default2/b",
                "/registry/rolebindings/default/c",
                "/registry/clusterroles/d",
                "/registry/clusterrolebindings/e",
            ] {
                o.insert(k.to_string(), json!({"k": k}));
            }
        }
        assert_eq!(c.list("/registry/roles/default/"), [json!({"k": "/registry/roles/default/a"})]);
        assert_eq!(c.list("/registry/clusterroles/").len(), 1);
        assert_eq!(c.list("/registry/rolebindings/").len(), 1);
        assert_eq!(c.get("/registry/clusterrolebindings/e"), Some(json!({"k": "/registry/clusterrolebindings/e"})));
        assert!(!c.synced() && c.get("/nope").is_none());
    }

    #[test]
    fn selectors() {
        let labels = json!({"a": "1", "b": "2"});
        assert!(selector_matches(&json!({"matchLabels": {"a": "1"}}), &labels));
        assert!(!selector_matches(&json!({"matchLabels": {"a": "2"}}), &labels));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "b", "operator": "In", "values": ["2"]}]}),
            &labels
        ));
        assert!(!selector_matches(&json!({"matchExpressions": [{"key": "c", "operator": "Exists"}]}), &labels));
    }
}
