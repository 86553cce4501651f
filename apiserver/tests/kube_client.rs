//! kube-rs (the client our own components use) against the apiserver: list, create,
//! get, the three patch types, delete, and `kube_runtime::watcher` in both its
//! list-then-watch and watch-list (sendInitialEvents + bookmarks) modes, server-side
//! apply (create, update, a conflict, force) and the status subresource — on our store
//! and on a real etcd.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ApiServer, Backend, Etcd};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

fn client(api: &ApiServer) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = kube::Config::new(api.url.parse().expect("url"));
    cfg.accept_invalid_certs = true;
    Client::try_from(cfg).expect("kube client")
}

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("suite".to_string(), "kube-rs".to_string())])),
            ..Default::default()
        },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

/// The next watcher event that is not a bookmark-driven no-op, within 10 s.
async fn next_event<S>(events: &mut S) -> watcher::Event<ConfigMap>
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("a watcher event within 10 s")
        .expect("watcher error")
        .expect("watcher stream ended")
}

fn describe(ev: &watcher::Event<ConfigMap>) -> String {
    match ev {
        watcher::Event::Init => "Init".into(),
        watcher::Event::InitApply(o) => format!("InitApply({})", o.name_any()),
        watcher::Event::InitDone => "InitDone".into(),
        watcher::Event::Apply(o) => format!("Apply({})", o.name_any()),
        watcher::Event::Delete(o) => format!("Delete({})", o.name_any()),
    }
}

/// Runs a watcher until its initial listing is done; returns the names it listed.
async fn initial<S>(events: &mut S) -> Vec<String>
where
    S: futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    let first = next_event(events).await;
    assert_eq!(describe(&first), "Init");
    let mut names = Vec::new();
    loop {
        match next_event(events).await {
            watcher::Event::InitApply(o) => names.push(o.name_any()),
            watcher::Event::InitDone => return names,
            other => panic!("unexpected {} during the initial listing", describe(&other)),
        }
    }
}

async fn scenario(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let client = client(&api);

    // List: the system namespaces exist.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let listed = namespaces.list(&ListParams::default()).await.expect("list namespaces");
    let names: Vec<String> = listed.items.iter().map(|n| n.name_any()).collect();
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&want.to_string()), "{want} missing from {names:?}");
    }
    assert!(listed.metadata.resource_version.is_some_and(|rv| !rv.is_empty()));

    // Create a namespace and patch it (strategic merge on labels).
    let ns = Namespace {
        metadata: kube::api::ObjectMeta { name: Some("kube-rs".into()), ..Default::default() },
        ..Default::default()
    };
    let created = namespaces.create(&PostParams::default(), &ns).await.expect("create namespace");
    assert_eq!(created.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    let patched = namespaces
        .patch("kube-rs", &PatchParams::default(), &Patch::Strategic(json!({"metadata": {"labels": {"team": "a"}}})))
        .await
        .expect("strategic patch namespace");
    assert_eq!(patched.labels().get("team").map(String::as_str), Some("a"));

    // Watchers over the namespace's configmaps, started before any exist: one in the
    // default list-then-watch mode, one in watch-list (streaming lists) mode.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-rs");
    cms.create(&PostParams::default(), &cm("zero", &[("k", "v")])).await.expect("create zero");
    let mut listwatch = watcher(cms.clone(), watcher::Config::default().labels("suite=kube-rs")).boxed();
    let mut streaming = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert_eq!(initial(&mut listwatch).await, ["zero"]);
    assert_eq!(initial(&mut streaming).await, ["zero"]);

    // Create: both watchers see it, with the server's metadata.
    let one = cms.create(&PostParams::default(), &cm("one", &[("a", "1")])).await.expect("create one");
    assert!(one.uid().is_some() && one.resource_version().is_some() && one.creation_timestamp().is_some());
    let err = cms.create(&PostParams::default(), &cm("one", &[])).await.expect_err("duplicate");
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
            assert_eq!(s.message, "configmaps \"one\" already exists");
        }
        other => panic!("unexpected error {other:?}"),
    }
    for events in [&mut listwatch, &mut streaming] {
        assert_eq!(describe(&next_event(events).await), "Apply(one)");
    }

    // JSON merge patch, JSON patch, strategic merge patch.
    let pp = PatchParams::default();
    let merged = cms.patch("one", &pp, &Patch::Merge(json!({"data": {"b": "2"}}))).await.expect("merge patch");
    assert_eq!(merged.data.as_ref().unwrap().get("b").map(String::as_str), Some("2"));
    let ops = serde_json::from_value(json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
    ]))
    .expect("a JSON patch");
    let jsoned = cms.patch("one", &pp, &Patch::Json::<()>(ops)).await.expect("json patch");
    assert_eq!(jsoned.data.as_ref().unwrap(), &BTreeMap::from([("a".to_string(), "10".to_string())]));
    let bad = serde_json::from_value(json!([{"op": "test", "path": "/data/a", "value": "nope"}])).unwrap();
    let err = cms.patch("one", &pp, &Patch::Json::<()>(bad)).await.expect_err("failing test op");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err:?}");
    let strategic = cms
        .patch("one", &pp, &Patch::Strategic(json!({"metadata": {"labels": {"tier": "x"}}, "data": {"c": "3"}})))
        .await
        .expect("strategic patch");
    assert_eq!(strategic.labels().get("tier").map(String::as_str), Some("x"));
    assert_eq!(strategic.labels().get("suite").map(String::as_str), Some("kube-rs"));
    assert_eq!(strategic.data.as_ref().unwrap().len(), 2);
    let got = cms.get("one").await.expect("get");
    assert_eq!(got.resource_version(), strategic.resource_version());
    for events in [&mut listwatch, &mut streaming] {
        for _ in 0..3 {
            assert_eq!(describe(&next_event(events).await), "Apply(one)");
        }
    }

    // List with a label selector; delete; the watchers see the deletion.
    let selected = cms.list(&ListParams::default().labels("tier=x")).await.expect("list by label");
    assert_eq!(selected.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(), ["one"]);
    cms.delete("one", &DeleteParams::default()).await.expect("delete");
    for events in [&mut listwatch, &mut streaming] {
        assert_eq!(describe(&next_event(events).await), "Delete(one)");
    }
    let err = cms.get("one").await.expect_err("deleted");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"), "{err:?}");

    // Server-side apply creates a deployment, then updates it; another manager's
    // different replicas conflict until forced.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "kube-rs");
    let web = |replicas: i32, image: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "main", "image": image}]}},
            },
        })
    };
    let ssa = PatchParams::apply("kube-rs-ctl");
    let d = deploys.patch("web", &ssa, &Patch::Apply(web(2, "busybox:1"))).await.expect("apply creates");
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    let mf = d.metadata.managed_fields.clone().unwrap_or_default();
    assert_eq!(mf.len(), 1, "{mf:?}");
    assert_eq!((mf[0].manager.as_deref(), mf[0].operation.as_deref()), (Some("kube-rs-ctl"), Some("Apply")));
    let d = deploys.patch("web", &ssa, &Patch::Apply(web(2, "busybox:2"))).await.expect("apply updates");
    assert_eq!(d.spec.unwrap().template.spec.unwrap().containers[0].image.as_deref(), Some("busybox:2"));
    let other = PatchParams::apply("autoscaler");
    let scale =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}});
    let err = deploys.patch("web", &other, &Patch::Apply(scale.clone())).await.expect_err("conflict");
    match &err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}");
            assert_eq!(
                s.message,
                "Apply failed with 1 conflict: conflict with \"kube-rs-ctl\" using apps/v1: .spec.replicas"
            );
        }
        e => panic!("{e:?}"),
    }
    let d = deploys.patch("web", &other.force(), &Patch::Apply(scale)).await.expect("forced apply");
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(5));

    // The status subresource: a status patch changes only the status; the main
    // resource keeps it.
    let st = json!({"status": {"observedGeneration": 1, "replicas": 5, "readyReplicas": 3}});
    let d = deploys.patch_status("web", &PatchParams::default(), &Patch::Merge(st)).await.expect("status patch");
    assert_eq!(d.status.as_ref().unwrap().ready_replicas, Some(3));
    let d = deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"status": {"readyReplicas": 0}})))
        .await
        .expect("main patch");
    assert_eq!(d.status.as_ref().unwrap().ready_replicas, Some(3), "the main resource ignores status changes");
    let got = deploys.get_status("web").await.expect("get status");
    assert_eq!(got.status.unwrap().replicas, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_on_store() {
    scenario(Backend::Store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_on_etcd() {
    scenario(Backend::Etcd).await;
}
