//! The CustomResourceDefinition controllers upstream runs inside kube-apiserver, run in
//! every apiserver of this one: a watch of the CRDs (through the watch cache) keeps the
//! served custom resources (`registry::custom`) in step with the stored CRDs; the naming
//! and establishing controllers write `status.acceptedNames` and the `NamesAccepted` and
//! `Established` conditions; the finalizing controller deletes a deleted CRD's objects
//! and then its `customresourcecleanup` finalizer.
//!
//! Several apiservers may write the same status at once; optimistic concurrency settles
//! it (the loser sees its own desired status already stored and writes nothing).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::cache::{WatchParams, WatchStart};
use crate::registry::apiextensions::{CLEANUP_FINALIZER, desired_status, set_condition};
use crate::registry::{self, Resource, custom};
use crate::rest::{ListOptions, Rest, Target, WriteContext};

fn crd_resource() -> &'static Resource {
    registry::lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions").expect("CRDs are registered")
}

fn name_of(o: &Value) -> String {
    o["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

fn system_context() -> WriteContext {
    WriteContext { field_manager: Some("kube-apiserver".into()), ..Default::default() }
}

/// Runs until the task is dropped (the caller selects on shutdown).
pub async fn run(rest: Rest) {
    let res = crd_resource();
    let Some(cacher) = rest.cacher.clone() else {
        tracing::warn!("no watch cache: custom resources are not served");
        custom::install(&BTreeMap::new());
        return;
    };
    let cleaning: Arc<Mutex<HashSet<String>>> = Arc::default();
    // The cleanups run as long as this task (dropping the set aborts them at shutdown).
    let mut cleanups = JoinSet::new();
    loop {
        let params = WatchParams {
            start: WatchStart::InitialEvents { consistent: true, min_rv: 0, end_bookmark: true },
            key_prefix: res.prefix(),
            filter: Arc::new(|_| true),
            bookmarks: true,
            timeout: Duration::from_secs(3600),
            kind: res.kind.to_string(),
            api_version: res.api_version(),
        };
        let mut events = match cacher.get(&res.prefix()).watch(cacher.storage(), params).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = ?e, "waiting for the CRD watch cache");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut crds: BTreeMap<String, Value> = BTreeMap::new();
        let mut synced = false;
        while let Some(ev) = events.next().await {
            let obj = &ev.object_value();
            let name = name_of(obj);
            let group = obj["spec"]["group"].clone();
            match ev.kind {
                "ADDED" | "MODIFIED" => {
                    crds.insert(name.clone(), obj.clone());
                }
                "DELETED" => {
                    crds.remove(&name);
                }
                "BOOKMARK" => {
                    if !synced && obj["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true" {
                        synced = true;
                        custom::install(&crds);
                        tracing::info!(crds = crds.len(), "custom resource definitions synced");
                        let names: Vec<String> = crds.keys().cloned().collect();
                        for n in names {
                            reconcile(&rest, &mut crds, &n, &cleaning, &mut cleanups).await;
                        }
                    }
                    continue;
                }
                _ => {
                    tracing::debug!(event = %ev.to_value(), "CRD watch ended");
                    break;
                }
            }
            if synced {
                custom::install(&crds);
                // Names taken or freed in a group concern every CRD of it (upstream's
                // naming controller requeues the group).
                let mut names: Vec<String> =
                    crds.values().filter(|c| c["spec"]["group"] == group && name_of(c) != name).map(name_of).collect();
                if crds.contains_key(&name) {
                    names.insert(0, name);
                }
                for n in names {
                    reconcile(&rest, &mut crds, &n, &cleaning, &mut cleanups).await;
                }
            }
        }
    }
}

/// Brings one CRD's status to what the naming and establishing controllers want, or
/// starts the cleanup of a deleted one.
async fn reconcile(
    rest: &Rest,
    crds: &mut BTreeMap<String, Value>,
    name: &str,
    cleaning: &Arc<Mutex<HashSet<String>>>,
    cleanups: &mut JoinSet<()>,
) {
    while cleanups.try_join_next().is_some() {}
    let res = crd_resource();
    let Some(crd) = crds.get(name) else { return };
    if crate::rest::is_deleting(crd) {
        let ours = crd["metadata"]["finalizers"].as_array().into_iter().flatten().any(|f| f == CLEANUP_FINALIZER);
        if ours && cleaning.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string()) {
            let (rest, name, cleaning) = (rest.clone(), name.to_string(), cleaning.clone());
            cleanups.spawn(async move {
                cleanup(&rest, &name).await;
                cleaning.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
            });
        }
        return;
    }
    let others: Vec<&Value> = crds.values().filter(|o| name_of(o) != name).collect();
    let mut desired = crd.clone();
    desired["status"] = desired_status(crd, &others);
    // Compare in the stored shape, so a normalised field never causes an endless rewrite.
    let Ok(desired) = (res.decode)(&desired) else { return };
    if desired["status"] == crd["status"] {
        return;
    }
    // Serve first: a client that sees Established finds the resources on this server.
    crds.insert(name.to_string(), desired.clone());
    custom::install(crds);
    let body = serde_json::to_vec(&desired).unwrap_or_default();
    match rest.update_as(res, Target::Status, None, name, &body, &mut system_context()).await {
        Ok(_) => tracing::info!(crd = name, "custom resource definition status updated"),
        // Another apiserver (or the user) wrote first: the next event brings it here.
        Err(e) if e.code == 409 || e.code == 404 => {}
        Err(e) => tracing::warn!(crd = name, error = %e.message, "updating the status of a CRD failed"),
    }
}

/// The finalizing controller: deletes every custom object of a deleted CRD (waiting for
/// their own finalizers), then removes the CRD's cleanup finalizer, which deletes it.
async fn cleanup(rest: &Rest, name: &str) {
    let res = crd_resource();
    let mut announced = false;
    loop {
        let crd = match rest.get(res, None, name).await {
            Ok(c) => c,
            Err(e) if e.code == 404 => return,
            Err(e) => {
                tracing::warn!(crd = name, error = %e.message, "reading a deleted CRD failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let finalizers: Vec<Value> = crd["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
            return;
        }
        let group = crd["spec"]["group"].as_str().unwrap_or_default().to_string();
        let plural = match crd["status"]["acceptedNames"]["plural"].as_str() {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => crd["spec"]["names"]["plural"].as_str().unwrap_or_default().to_string(),
        };
        if !announced {
            let mut c = crd.clone();
            set_condition(
                &mut c,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            );
            let body = serde_json::to_vec(&c).unwrap_or_default();
            if rest.update_as(res, Target::Status, None, name, &body, &mut system_context()).await.is_ok() {
                announced = true;
            }
            continue;
        }
        let prefix = format!("/registry/{group}/{plural}/");
        let served = registry::all().find(|r| r.custom.is_some() && r.group == group && r.name == plural);
        match served {
            Some(r) => {
                let list = rest.list(r, None, &ListOptions::default()).await;
                for item in list.iter().flat_map(|l| l["items"].as_array().cloned().unwrap_or_default()) {
                    let ns = item["metadata"]["namespace"].as_str();
                    if let Err(e) = rest.delete(r, ns, &name_of(&item), b"", &mut WriteContext::default()).await
                        && e.code != 404
                    {
                        tracing::warn!(crd = name, error = %e.message, "deleting a custom object failed");
                    }
                }
            }
            // Never served: nothing can hold the objects.
            None => {
                if let Err(e) = rest.storage.delete_prefix(prefix.as_bytes()).await {
                    tracing::warn!(crd = name, error = %e, "deleting custom objects failed");
                }
            }
        }
        match rest.storage.count(prefix.as_bytes()).await {
            Ok(0) => {
                let mut c = crd.clone();
                let rest_f: Vec<Value> = finalizers.into_iter().filter(|f| f != CLEANUP_FINALIZER).collect();
                c["metadata"]["finalizers"] = Value::Array(rest_f);
                set_condition(&mut c, "Terminating", "False", "InstanceDeletionCompleted", "removed all instances");
                let body = serde_json::to_vec(&c).unwrap_or_default();
                match rest.update_as(res, Target::System, None, name, &body, &mut system_context()).await {
                    Ok(_) => {
                        tracing::info!(crd = name, "custom resource definition cleaned up");
                        return;
                    }
                    Err(e) if e.code == 409 => continue,
                    Err(e) if e.code == 404 => return,
                    Err(e) => tracing::warn!(crd = name, error = %e.message, "removing the cleanup finalizer failed"),
                }
            }
            Ok(n) => tracing::debug!(crd = name, remaining = n, "custom objects still being deleted"),
            Err(e) => tracing::warn!(crd = name, error = %e, "counting custom objects failed"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
