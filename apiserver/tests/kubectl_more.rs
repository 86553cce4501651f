//! More of kubectl v1.32 end to end, on our store and on a real etcd: client-side apply
//! (update through the last-applied annotation, `--prune`), replace, edit with a scripted
//! EDITOR, label/annotate, delete by selector / `--all` / `--cascade`, the `get` output
//! formats and `--watch`, describe with events, diff, wait, `create secret|configmap`
//! from files, and `kubectl proxy`.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{ApiServer, Backend, Etcd, both, collect_output, kubectl, kubectl_bin, kubectl_ok as ok};
use serde_json::Value;

/// A raw DELETE of `path` with a JSON DeleteOptions body: (status, body).
fn delete_with(api: &ApiServer, path: &str, body: &str) -> (u16, String) {
    api.curl(&[path, "-X", "DELETE", "-H", "Content-Type: application/json", "--data", body])
}

fn json_of(api: &ApiServer, args: &[&str]) -> Value {
    serde_json::from_str(&ok(api, args)).expect("json")
}

/// Whether some line of `text` is `tokens` once whitespace is collapsed.
fn has_line(text: &str, tokens: &str) -> bool {
    let want: Vec<&str> = tokens.split_whitespace().collect();
    text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == want)
}

fn write(api: &ApiServer, name: &str, text: &str) -> String {
    let path = api.kubeconfig.with_file_name(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A kubectl left running (watch, wait, proxy), its stdout collected.
struct Running {
    child: Child,
    seen: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(api: &ApiServer, args: &[&str]) -> Running {
        let mut child = Command::new(kubectl_bin())
            .env("KUBECONFIG", &api.kubeconfig)
            .env("HOME", api.kubeconfig.parent().unwrap())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        let (seen, reader) = collect_output(child.stdout.take().expect("stdout"));
        Running { child, seen, reader: Some(reader) }
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.seen.lock().unwrap().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("kubectl never printed {needle:?}:\n{}", self.seen.lock().unwrap());
    }

    /// Waits for the process to end by itself; (exit code, stdout).
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return (status.code().unwrap_or(-1), self.seen.lock().unwrap().clone());
            }
            assert!(Instant::now() < deadline, "kubectl did not finish:\n{}", self.seen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn apply_edit_label(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);

    // Client-side apply twice: the second is a patch computed from the last-applied annotation.
    let v1 =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\n  labels:\n    set: p\ndata:\n  k: v\n  gone: x\n";
    let file = write(&api, "ap.yaml", v1);
    assert_eq!(ok(&api, &["apply", "-f", &file]).trim(), "configmap/ap created");
    let obj = json_of(&api, &["get", "cm", "ap", "-o", "json"]);
    let last = obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap();
    let last: Value = serde_json::from_str(last).unwrap();
    assert_eq!(last["data"], serde_json::json!({"k": "v", "gone": "x"}));
    // Someone else's field survives the second apply; the dropped key goes.
    ok(&api, &["patch", "cm", "ap", "--type=merge", "-p", r#"{"data":{"theirs":"t"}}"#]);
    let v2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\n  labels:\n    set: p\ndata:\n  k: v2\n";
    write(&api, "ap.yaml", v2);
    assert_eq!(ok(&api, &["apply", "-f", &file]).trim(), "configmap/ap configured");
    assert_eq!(ok(&api, &["apply", "-f", &file]).trim(), "configmap/ap unchanged");
    assert_eq!(ok(&api, &["get", "cm", "ap", "-o", "jsonpath={.data}"]), r#"{"k":"v2","theirs":"t"}"#);

    // apply --prune -l: an applied object with the label, no longer in the files, goes.
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap2\n  labels:\n    set: p\ndata:\n  a: b\n";
    let other_file = write(&api, "ap2.yaml", other);
    assert_eq!(ok(&api, &["apply", "-f", &other_file]).trim(), "configmap/ap2 created");
    ok(&api, &["create", "cm", "bystander", "--from-literal=a=b"]);
    ok(&api, &["label", "cm", "bystander", "set=p"]);
    let pruned = ok(&api, &["apply", "-f", &file, "--prune", "-l", "set=p"]);
    assert_eq!(pruned.trim(), "configmap/ap unchanged\nconfigmap/ap2 pruned", "{pruned}");
    let gone = kubectl(&api, &["get", "cm", "ap2"]);
    assert_eq!(gone.stderr.trim(), r#"Error from server (NotFound): configmaps "ap2" not found"#);
    // Never applied (no annotation): not pruned.
    ok(&api, &["get", "cm", "bystander"]);

    // replace: the whole object, the annotation-less manifest wins.
    let replaced = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  only: r\n";
    let rfile = write(&api, "rep.yaml", replaced);
    assert_eq!(ok(&api, &["replace", "-f", &rfile]).trim(), "configmap/ap replaced");
    let obj = json_of(&api, &["get", "cm", "ap", "-o", "json"]);
    assert_eq!(obj["data"], serde_json::json!({"only": "r"}));
    assert!(obj["metadata"].get("labels").is_none(), "{obj}");
    // replace of something that is not there.
    let missing = write(&api, "missing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nope\n");
    let out = kubectl(&api, &["replace", "-f", &missing]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): error when replacing "PATH": configmaps "nope" not found"#
            .replace("PATH", &missing)
    );

    // edit with a scripted editor.
    ok(&api, &["create", "cm", "ed", "--from-literal=color=blue"]);
    let out = Command::new(kubectl_bin())
        .env("KUBECONFIG", &api.kubeconfig)
        .env("HOME", api.kubeconfig.parent().unwrap())
        .env("EDITOR", "sed -i s/blue/green/")
        .args(["edit", "cm", "ed"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "configmap/ed edited");
    assert_eq!(ok(&api, &["get", "cm", "ed", "-o", "jsonpath={.data.color}"]), "green");
    // An edit that changes nothing.
    let out = Command::new(kubectl_bin())
        .env("KUBECONFIG", &api.kubeconfig)
        .env("HOME", api.kubeconfig.parent().unwrap())
        .env("EDITOR", "true")
        .args(["edit", "cm", "ed"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "Edit cancelled, no changes made.");

    // label / annotate: add, refuse, overwrite, remove.
    assert_eq!(ok(&api, &["label", "cm", "ed", "tier=a", "team=x"]).trim(), "configmap/ed labeled");
    let refused = kubectl(&api, &["annotate", "cm", "ed", "n=1"]);
    assert_eq!(refused.code, 0);
    let refused = kubectl(&api, &["annotate", "cm", "ed", "n=2"]);
    assert_eq!(refused.code, 1);
    assert_eq!(
        refused.stderr.trim(),
        "error: --overwrite is false but found the following declared annotation(s): 'n' already has a value (1)"
    );
    assert_eq!(ok(&api, &["annotate", "cm", "ed", "n=2", "--overwrite"]).trim(), "configmap/ed annotated");
    assert_eq!(ok(&api, &["label", "cm", "ed", "tier=b", "--overwrite"]).trim(), "configmap/ed labeled");
    assert_eq!(ok(&api, &["label", "cm", "ed", "team-"]).trim(), "configmap/ed unlabeled");
    assert_eq!(ok(&api, &["annotate", "cm", "ed", "n-"]).trim(), "configmap/ed annotated");
    let obj = json_of(&api, &["get", "cm", "ed", "-o", "json"]);
    assert_eq!(obj["metadata"]["labels"], serde_json::json!({"tier": "b"}));
    assert!(obj["metadata"].get("annotations").is_none_or(|a| a.get("n").is_none()), "{obj}");
    // Label many at once by selector.
    assert_eq!(ok(&api, &["label", "cm", "-l", "tier=b", "bulk=yes"]).trim(), "configmap/ed labeled");
}

fn delete_modes(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    for (name, app) in [("d1", "web"), ("d2", "web"), ("d3", "db")] {
        ok(&api, &["create", "cm", name, "--from-literal=a=b"]);
        ok(&api, &["label", "cm", name, &format!("app={app}")]);
    }
    assert_eq!(
        ok(&api, &["delete", "cm", "-l", "app=web"]).trim(),
        "configmap \"d1\" deleted\nconfigmap \"d2\" deleted"
    );
    let none = kubectl(&api, &["delete", "cm", "-l", "app=web"]);
    assert_eq!((none.code, none.stdout.as_str()), (0, "No resources found\n"), "{}", none.stderr);
    ok(&api, &["create", "cm", "d4", "--from-literal=a=b"]);
    let all = ok(&api, &["delete", "cm", "--all"]);
    assert!(all.contains("configmap \"d3\" deleted") && all.contains("configmap \"d4\" deleted"), "{all}");
    let left = kubectl(&api, &["get", "cm"]);
    // kube-root-ca.crt is made by a controller we do not run here.
    assert!(!left.stdout.contains("d3") && !left.stdout.contains("d4"), "{}", left.stdout);

    // --cascade: orphan and foreground are recorded as finalizers on the owner (the
    // garbage collector removes them); background deletes at once.
    for (mode, finalizer) in
        [("orphan", Some("orphan")), ("foreground", Some("foregroundDeletion")), ("background", None)]
    {
        let name = format!("c-{mode}");
        ok(&api, &["create", "deployment", &name, "--image=nginx"]);
        let out = ok(&api, &["delete", "deployment", &name, &format!("--cascade={mode}"), "--wait=false"]);
        assert_eq!(out.trim(), format!("deployment.apps \"{name}\" deleted"));
        let got = kubectl(&api, &["get", "deployment", &name, "-o", "json"]);
        match finalizer {
            Some(f) => {
                let obj: Value = serde_json::from_str(&got.stdout).unwrap_or_else(|_| panic!("{mode}: {}", got.stderr));
                assert_eq!(obj["metadata"]["finalizers"], serde_json::json!([f]), "{mode}: {obj}");
                assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
                assert_eq!(obj["metadata"]["deletionGracePeriodSeconds"], 0, "{obj}");
                // What the garbage collector does when it is done.
                ok(&api, &["patch", "deployment", &name, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
                let gone = kubectl(&api, &["get", "deployment", &name]);
                assert_eq!(gone.code, 1, "{}", gone.stdout);
            }
            None => {
                assert_eq!(
                    got.stderr.trim(),
                    format!("Error from server (NotFound): deployments.apps \"{name}\" not found")
                );
            }
        }
    }
    // Without options a batch/v1 Job orphans (upstream's default kept for backwards
    // compatibility); kubectl's Background then swaps the finalizer out and it goes.
    ok(&api, &["create", "job", "j", "--image=busybox"]);
    let (code, out) = api.curl(&["/apis/batch/v1/namespaces/default/jobs/j", "-X", "DELETE"]);
    assert_eq!(code, 200, "{out}");
    let job: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(job["metadata"]["finalizers"], serde_json::json!(["orphan"]), "{job}");
    assert!(job["metadata"]["deletionTimestamp"].is_string(), "{job}");
    assert_eq!(ok(&api, &["delete", "job", "j", "--wait=false"]).trim(), "job.batch \"j\" deleted");
    assert_eq!(kubectl(&api, &["get", "job", "j"]).code, 1);
    // A configmap's default is Background; orphanDependents in the query still works.
    ok(&api, &["create", "cm", "q", "--from-literal=a=b"]);
    let (code, out) = api.curl(&["/api/v1/namespaces/default/configmaps/q?orphanDependents=true", "-X", "DELETE"]);
    assert_eq!(code, 200, "{out}");
    assert_eq!(
        json_of(&api, &["get", "cm", "q", "-o", "json"])["metadata"]["finalizers"],
        serde_json::json!(["orphan"])
    );
    // A later foreground delete replaces the orphan finalizer.
    ok(&api, &["delete", "cm", "q", "--cascade=foreground", "--wait=false"]);
    assert_eq!(
        json_of(&api, &["get", "cm", "q", "-o", "json"])["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    ok(&api, &["delete", "cm", "q", "--wait=false"]);
    assert_eq!(kubectl(&api, &["get", "cm", "q"]).code, 1);
    // deletecollection takes its DeleteOptions body too.
    for name in ["o1", "o2"] {
        ok(&api, &["create", "cm", name, "--from-literal=a=b"]);
        ok(&api, &["label", "cm", name, "batch=o"]);
    }
    let (code, out) = delete_with(
        &api,
        "/api/v1/namespaces/default/configmaps?labelSelector=batch%3Do",
        r#"{"propagationPolicy":"Orphan"}"#,
    );
    assert_eq!(code, 200, "{out}");
    let left = json_of(&api, &["get", "cm", "-l", "batch=o", "-o", "json"]);
    let finalizers: Vec<&Value> =
        left["items"].as_array().unwrap().iter().map(|o| &o["metadata"]["finalizers"]).collect();
    assert_eq!(finalizers, [&serde_json::json!(["orphan"]), &serde_json::json!(["orphan"])], "{left}");
    let (code, out) = delete_with(
        &api,
        "/api/v1/namespaces/default/configmaps?labelSelector=batch%3Do",
        r#"{"propagationPolicy":"Background"}"#,
    );
    assert_eq!(code, 200, "{out}");
    assert_eq!(ok(&api, &["get", "cm", "-l", "batch=o", "-o", "name"]), "");
    // Other finalizers stay next to the GC one.
    ok(&api, &["create", "cm", "held", "--from-literal=a=b"]);
    ok(&api, &["patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    ok(&api, &["delete", "cm", "held", "--cascade=orphan", "--wait=false"]);
    let held = json_of(&api, &["get", "cm", "held", "-o", "json"]);
    assert_eq!(held["metadata"]["finalizers"], serde_json::json!(["example.com/hold", "orphan"]), "{held}");
    ok(&api, &["patch", "cm", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);

    // DeleteOptions that do not validate.
    ok(&api, &["create", "cm", "bad", "--from-literal=a=b"]);
    let (code, out) =
        delete_with(&api, "/api/v1/namespaces/default/configmaps/bad", r#"{"propagationPolicy":"Sideways"}"#);
    assert_eq!(code, 422, "{out}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        status["message"],
        r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#
    );
    let (code, out) = delete_with(
        &api,
        "/api/v1/namespaces/default/configmaps/bad",
        r#"{"propagationPolicy":"Orphan","orphanDependents":true}"#,
    );
    assert_eq!(code, 422, "{out}");
    ok(&api, &["get", "cm", "bad"]);
}

fn get_formats_watch(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    for (name, app) in [("zeta", "web"), ("alpha", "db"), ("mid", "web")] {
        ok(&api, &["create", "cm", name, &format!("--from-literal=name={name}")]);
        ok(&api, &["label", "cm", name, &format!("app={app}")]);
    }
    let sel = ["-l", "app"];
    let names = ok(&api, &[&["get", "cm", "-o", "name"][..], &sel].concat());
    assert_eq!(names, "configmap/alpha\nconfigmap/mid\nconfigmap/zeta\n");
    let jp = ok(
        &api,
        &[&["get", "cm", "-o", "jsonpath={range .items[*]}{.metadata.name}={.data.name};{end}"][..], &sel].concat(),
    );
    assert_eq!(jp, "alpha=alpha;mid=mid;zeta=zeta;");
    let cc = ok(
        &api,
        &[&["get", "cm", "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app"][..], &sel].concat(),
    );
    let rows: Vec<Vec<&str>> = cc.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows, [vec!["NAME", "APP"], vec!["alpha", "db"], vec!["mid", "web"], vec!["zeta", "web"]]);
    let gt = ok(
        &api,
        &[
            &["get", "cm", "-o", "go-template={{range .items}}{{.metadata.name}}:{{.metadata.labels.app}} {{end}}"][..],
            &sel,
        ]
        .concat(),
    );
    assert_eq!(gt, "alpha:db mid:web zeta:web ");
    let shown = ok(&api, &["get", "cm", "zeta", "--show-labels"]);
    let head: Vec<&str> = shown.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "DATA", "AGE", "LABELS"]);
    assert_eq!(shown.lines().nth(1).unwrap().split_whitespace().last(), Some("app=web"), "{shown}");
    // Sorted by a field other than the name: the creation order is zeta, alpha, mid.
    let by_time = ok(&api, &[&["get", "cm", "-o", "name", "--sort-by=.metadata.creationTimestamp"][..], &sel].concat());
    assert_eq!(by_time.lines().count(), 3);
    let sorted = ok(&api, &[&["get", "cm", "--sort-by=.metadata.name", "--no-headers"][..], &sel].concat());
    let first: Vec<&str> = sorted.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(first, ["alpha", "mid", "zeta"]);
    let by_label = ok(&api, &["get", "cm", "-l", "app", "--sort-by=.metadata.labels.app", "-o", "name"]);
    assert_eq!(by_label.lines().next(), Some("configmap/alpha"));

    // get --watch on one object: its change arrives as a new row.
    let watch = Running::start(
        &api,
        &["get", "cm", "zeta", "--watch", "-o", "custom-columns=NAME:.metadata.name,V:.data.name"],
    );
    watch.wait_for("zeta");
    ok(&api, &["patch", "cm", "zeta", "--type=merge", "-p", r#"{"data":{"name":"changed"}}"#]);
    watch.wait_for("changed");
}

fn describe_events(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    ok(&api, &["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"]);
    let d = ok(&api, &["describe", "deployment", "web"]);
    for want in [
        "Name:                   web",
        "Namespace:              default",
        "Replicas: 2 desired | 0 updated | 0 total | 0 available | 0 unavailable",
        "Image:         nginx:1.27",
        "StrategyType:           RollingUpdate",
    ] {
        assert!(has_line(&d, want), "{want:?} missing:\n{d}");
    }
    assert_eq!(ok(&api, &["run", "p", "--image=busybox", "--labels=app=p"]).trim(), "pod/p created");
    let uid = ok(&api, &["get", "pod", "p", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: p.1\ninvolvedObject:\n  kind: Pod\n  name: p\n  namespace: default\n  uid: {uid}\n  apiVersion: v1\nreason: Pulled\nmessage: Image pulled for the test\ntype: Normal\nsource:\n  component: kubelet\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\ncount: 1\n"
    );
    let efile = write(&api, "event.yaml", &event);
    assert_eq!(ok(&api, &["create", "-f", &efile]).trim(), "event/p.1 created");
    // An event about something else stays out of it.
    let other = event
        .replace("name: p.1", "name: q.1")
        .replace("  name: p\n", "  name: q\n")
        .replace("Image pulled for the test", "not this one");
    let ofile = write(&api, "other.yaml", &other);
    ok(&api, &["create", "-f", &ofile]);
    let p = ok(&api, &["describe", "pod", "p"]);
    for want in [
        "Name:             p",
        "Namespace:        default",
        "Labels:           app=p",
        "Image:          busybox",
        "Events:",
    ] {
        assert!(has_line(&p, want), "{want:?} missing:\n{p}");
    }
    let events = p.split("Events:").nth(1).unwrap();
    let row = events.lines().find(|l| l.contains("Pulled")).unwrap_or_else(|| panic!("no event row:\n{p}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cols[0], cols[1], cols[3]), ("Normal", "Pulled", "kubelet"), "{row}");
    assert!(row.ends_with("Image pulled for the test"), "{row}");
    assert!(!p.contains("not this one"), "{p}");
    let ev = ok(&api, &["get", "events", "--field-selector", "involvedObject.name=p", "-o", "name"]);
    assert_eq!(ev.trim(), "event/p.1");
    // A graceful delete (pods) records the cascade mode as well.
    ok(&api, &["delete", "pod", "p", "--cascade=orphan", "--wait=false"]);
    let pod = json_of(&api, &["get", "pod", "p", "-o", "json"]);
    assert_eq!(pod["metadata"]["finalizers"], serde_json::json!(["orphan"]), "{pod}");
    // Never scheduled: no grace period (upstream's pod strategy), the finalizer holds it.
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 0, "{pod}");
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");

    let ns = ok(&api, &["describe", "namespace", "default"]);
    for want in ["Name: default", "Status: Active", "No resource quota.", "No LimitRange resource."] {
        assert!(has_line(&ns, want), "{want:?} missing:\n{ns}");
    }
    ok(&api, &["create", "cm", "conf", "--from-literal=key=value"]);
    let cm = ok(&api, &["describe", "cm", "conf"]);
    for want in ["Name:         conf", "Namespace:    default", "Data\n====\nkey:\n----\nvalue\n", "Events:  <none>"] {
        assert!(cm.contains(want), "{want:?} missing:\n{cm}");
    }
    ok(&api, &["create", "service", "clusterip", "svc", "--tcp=80:8080"]);
    let svc = ok(&api, &["describe", "service", "svc"]);
    for want in [
        "Name:                     svc",
        "Selector:                 app=svc",
        "Type:                     ClusterIP",
        "TargetPort:               8080/TCP",
    ] {
        assert!(has_line(&svc, want), "{want:?} missing:\n{svc}");
    }
}

fn diff_wait(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let file = write(&api, "df.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: df\ndata:\n  k: before\n");
    ok(&api, &["apply", "-f", &file]);
    let same = kubectl(&api, &["diff", "-f", &file]);
    assert_eq!((same.code, same.stdout.as_str()), (0, ""), "{}", same.stderr);
    write(&api, "df.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: df\ndata:\n  k: after\n");
    let diff = kubectl(&api, &["diff", "-f", &file]);
    assert_eq!(diff.code, 1, "{}", diff.stderr);
    assert!(diff.stdout.contains("\n-  k: before\n") && diff.stdout.contains("\n+  k: after\n"), "{}", diff.stdout);
    // Nothing was written.
    assert_eq!(ok(&api, &["get", "cm", "df", "-o", "jsonpath={.data.k}"]), "before");
    let ssa = kubectl(&api, &["diff", "--server-side", "-f", &file]);
    assert_eq!(ssa.code, 1, "{}", ssa.stderr);
    assert!(ssa.stdout.contains("\n+  k: after\n"), "{}", ssa.stdout);
    // Moving to server-side apply takes over what client-side apply last applied...
    assert_eq!(ok(&api, &["apply", "--server-side", "-f", &file]).trim(), "configmap/df serverside-applied");
    assert_eq!(ok(&api, &["get", "cm", "df", "-o", "jsonpath={.data.k}"]), "after");
    // ...but not a field changed since (by the same manager, so the annotation is stale).
    let csa = write(&api, "csa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: one\n");
    ok(&api, &["apply", "-f", &csa]);
    let (code, out) = api.curl(&[
        "/api/v1/namespaces/default/configmaps/csa?fieldManager=kubectl-client-side-apply",
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/merge-patch+json",
        "--data",
        r#"{"data":{"k":"drifted"}}"#,
    ]);
    assert_eq!(code, 200, "{out}");
    write(&api, "csa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: two\n");
    let refused = kubectl(&api, &["apply", "--server-side", "-f", &csa]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains(r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.k"#),
        "{}",
        refused.stderr
    );
    assert_eq!(ok(&api, &["get", "cm", "csa", "-o", "jsonpath={.data.k}"]), "drifted");

    // wait --for=condition / jsonpath / delete.
    ok(&api, &["run", "w", "--image=busybox"]);
    let waiting = Running::start(&api, &["wait", "--for=condition=Ready", "pod/w", "--timeout=20s"]);
    std::thread::sleep(Duration::from_millis(500));
    ok(
        &api,
        &[
            "patch",
            "pod",
            "w",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
        ],
    );
    assert_eq!(waiting.finish(), (0, "pod/w condition met\n".to_string()));
    assert_eq!(
        ok(&api, &["wait", "--for=jsonpath={.status.phase}=Running", "pod/w", "--timeout=5s"]),
        "pod/w condition met\n"
    );
    let timeout = kubectl(&api, &["wait", "--for=condition=Initialized", "pod/w", "--timeout=1s"]);
    assert_eq!(timeout.code, 1);
    assert_eq!(timeout.stderr.trim(), "error: timed out waiting for the condition on pods/w");
    ok(&api, &["create", "cm", "wd", "--from-literal=a=b"]);
    let deleting = Running::start(&api, &["wait", "--for=delete", "cm/wd", "--timeout=20s"]);
    std::thread::sleep(Duration::from_millis(500));
    ok(&api, &["delete", "cm", "wd"]);
    assert_eq!(deleting.finish(), (0, "configmap/wd condition met\n".to_string()));
}

fn from_files_proxy(backend: Backend) {
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let key = write(&api, "tls.key", "not really a key\n");
    let env = write(&api, "app.env", "# comment\nUSER=admin\nPASS=s3cret\n\n");
    let from_file = format!("--from-file={key}");
    assert_eq!(ok(&api, &["create", "secret", "generic", "sf", &from_file]).trim(), "secret/sf created");
    let s = json_of(&api, &["get", "secret", "sf", "-o", "json"]);
    assert_eq!(s["data"], serde_json::json!({"tls.key": "bm90IHJlYWxseSBhIGtleQo="}));
    assert_eq!(s["type"], "Opaque");
    assert_eq!(
        ok(&api, &["create", "secret", "generic", "se", &format!("--from-env-file={env}")]).trim(),
        "secret/se created"
    );
    let s = json_of(&api, &["get", "secret", "se", "-o", "json"]);
    assert_eq!(s["data"], serde_json::json!({"USER": "YWRtaW4=", "PASS": "czNjcmV0"}));
    assert_eq!(
        ok(&api, &["create", "configmap", "ce", &format!("--from-env-file={env}")]).trim(),
        "configmap/ce created"
    );
    assert_eq!(ok(&api, &["get", "cm", "ce", "-o", "jsonpath={.data}"]), r#"{"PASS":"s3cret","USER":"admin"}"#);
    let both = kubectl(&api, &["create", "cm", "cf", &format!("--from-file=k={key}"), "--from-literal=x=y"]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert_eq!(ok(&api, &["get", "cm", "cf", "-o", "jsonpath={.data}"]), r#"{"k":"not really a key\n","x":"y"}"#);

    // kubectl proxy: plain HTTP in front of the apiserver.
    let port = common::free_port();
    let proxy = Running::start(&api, &["proxy", &format!("--port={port}")]);
    proxy.wait_for(&format!("Starting to serve on 127.0.0.1:{port}"));
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps/ce"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "200", "{body}");
    let cm: Value = serde_json::from_str(body).unwrap();
    assert_eq!(cm["data"]["USER"], "admin");
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps/none"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "404", "{body}");
    assert_eq!(serde_json::from_str::<Value>(body).unwrap()["reason"], "NotFound");
}

both!(apply_edit_label, apply_edit_label_on_store, apply_edit_label_on_etcd);
both!(delete_modes, delete_modes_on_store, delete_modes_on_etcd);
both!(get_formats_watch, get_formats_watch_on_store, get_formats_watch_on_etcd);
both!(describe_events, describe_events_on_store, describe_events_on_etcd);
both!(diff_wait, diff_wait_on_store, diff_wait_on_etcd);
both!(from_files_proxy, from_files_proxy_on_store, from_files_proxy_on_etcd);
