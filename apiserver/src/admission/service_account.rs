//! ServiceAccount: a pod runs as a service account that exists (`default` unless named),
//! inherits its image pull secrets, and (unless automounting is turned off by the pod or
//! the account) mounts a projected token volume at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Attributes, Operation, containers_mut};
use crate::registry;
use crate::rest::Rest;
use crate::status::ApiError;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const VOLUME_PREFIX: &str = "kube-api-access-";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn applies(a: &Attributes<'_>, obj: &Value) -> bool {
    a.operation == Operation::Create && a.is("", "pods") && obj["metadata"]["annotations"][MIRROR_ANNOTATION].is_null()
}

/// `getServiceAccount`: the default account is waited for a little, since its
/// controller creates it right after the namespace.
async fn service_account(rest: &Rest, a: &Attributes<'_>, name: &str) -> Result<Value, ApiError> {
    let res = registry::find("serviceaccounts").expect("serviceaccounts are registered");
    let attempts = if name == DEFAULT_SERVICE_ACCOUNT { 10 } else { 1 };
    for i in 0..attempts {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(100 + rand::random_range(0..100))).await;
        }
        match rest.get(res, a.namespace, name).await {
            Ok(sa) => return Ok(sa),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Err(a
        .forbidden(&format!("error looking up service account {}/{name}: serviceaccount \"{name}\" not found", a.ns())))
}

/// The projected volume upstream's `TokenVolumeSource` describes.
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{
                    "path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                }]}},
            ],
        },
    })
}

pub async fn mutate(rest: &Rest, a: &Attributes<'_>, obj: &mut Value) -> Result<(), ApiError> {
    if !applies(a, obj) {
        return Ok(());
    }
    let spec = &mut obj["spec"];
    if spec["serviceAccountName"].as_str().is_none_or(str::is_empty) {
        spec["serviceAccountName"] = json!(DEFAULT_SERVICE_ACCOUNT);
    }
    let name = spec["serviceAccountName"].as_str().unwrap_or_default().to_string();
    spec["serviceAccount"] = json!(name);
    let sa = service_account(rest, a, &name).await?;
    let automount = spec["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| sa["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    if spec["imagePullSecrets"].as_array().is_none_or(Vec::is_empty)
        && let Some(secrets) = sa["imagePullSecrets"].as_array().filter(|s| !s.is_empty())
    {
        spec["imagePullSecrets"] = Value::Array(secrets.iter().map(|s| json!({"name": s["name"].clone()})).collect());
    }
    Ok(())
}

/// `mountServiceAccountToken`: a container with something at the mount path already
/// is left alone; the volume is added when a container mounts it.
fn mount_token(spec: &mut Value) {
    let existing = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(String::from);
    let volume_name = existing.clone().unwrap_or_else(|| crate::rest::generate_name(VOLUME_PREFIX));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needed = false;
    for c in containers_mut(spec) {
        let mounts = &mut c["volumeMounts"];
        if !mounts.is_array() {
            *mounts = json!([]);
        }
        if let Some(list) = mounts.as_array_mut()
            && !list.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH)
        {
            list.push(mount.clone());
            needed = true;
        }
    }
    if existing.is_none() && needed {
        if !spec["volumes"].is_array() {
            spec["volumes"] = json!([]);
        }
        if let Some(v) = spec["volumes"].as_array_mut() {
            v.push(token_volume(&volume_name));
        }
    }
}

/// The account must exist (a pod written with the plugin's mutation skipped by dry-run
/// of another plugin still passes through here).
pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value) -> Result<(), ApiError> {
    if !applies(a, obj) {
        return Ok(());
    }
    let name = obj["spec"]["serviceAccountName"].as_str().unwrap_or(DEFAULT_SERVICE_ACCOUNT);
    service_account(rest, a, name).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_mounts_the_token_once() {
        let mut spec = json!({"containers": [
            {"name": "a"},
            {"name": "b", "volumeMounts": [{"name": "x", "mountPath": TOKEN_MOUNT_PATH}]},
        ], "initContainers": [{"name": "i"}]});
        mount_token(&mut spec);
        let vol = spec["volumes"][0]["name"].as_str().unwrap().to_string();
        assert!(vol.starts_with(VOLUME_PREFIX) && vol.len() == VOLUME_PREFIX.len() + 5, "{vol}");
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["name"], vol);
        assert_eq!(spec["containers"][1]["volumeMounts"].as_array().unwrap().len(), 1);
        assert_eq!(spec["initContainers"][0]["volumeMounts"][0]["mountPath"], TOKEN_MOUNT_PATH);
        assert_eq!(spec["volumes"][0]["projected"]["defaultMode"], 420);
    }
}
