//! The Python `kubernetes` package (installed by `make deps` into `<workspace>/.venv`)
//! against the apiserver: `tests/python/client.py` does CRUD, the three patch types and
//! watches, asserting as it goes; this test checks its summary — on our store and on a
//! real etcd.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{ApiServer, Backend, Etcd};
use serde_json::{Value, json};

/// `$PYTHON_KUBERNETES`, else the venv `make deps` creates.
fn python() -> PathBuf {
    let py = std::env::var_os("PYTHON_KUBERNETES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let ok = Command::new(&py).args(["-c", "import kubernetes"]).output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} cannot import the Python `kubernetes` package: run `make deps` (or set PYTHON_KUBERNETES)",
        py.display()
    );
    py
}

fn scenario(backend: Backend) {
    let py = python();
    let etcd = Etcd::start(backend);
    let api = ApiServer::start(&etcd);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = Command::new(py).arg(&script).arg(&api.url).output().expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{backend:?}: client.py failed:\n{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect(&stdout);

    assert_eq!(summary["duplicate"], "configmaps \"one\" already exists");
    assert_eq!(
        summary["conflict"],
        "Operation cannot be fulfilled on configmaps \"one\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(summary["not_found"], "configmaps \"two\" not found");
    // From the first version: the update, three successful patches, two's create and
    // delete, in order; then one bookmark ~1 s in (2 s before the 3 s timeout).
    let mut events = summary["events"].as_array().expect("events").clone();
    let last = events.pop().unwrap_or_else(|| panic!("no events: {summary}"));
    assert_eq!(
        Value::Array(events),
        json!([
            ["MODIFIED", "one"],
            ["MODIFIED", "one"],
            ["MODIFIED", "one"],
            ["MODIFIED", "one"],
            ["ADDED", "two"],
            ["DELETED", "two"]
        ]),
        "{summary}"
    );
    assert_eq!(last, json!(["BOOKMARK", ""]), "{summary}");
    let secs = summary["watch_seconds"].as_f64().unwrap();
    assert!((2.5..10.0).contains(&secs), "watch lasted {secs} s, not its 3 s timeout");
    assert_eq!(summary["initial"], json!([["ADDED", "one"]]), "{summary}");
    let secs = summary["initial_seconds"].as_f64().unwrap();
    assert!((0.5..8.0).contains(&secs), "watch lasted {secs} s, not its 1 s timeout");
}

#[test]
fn python_kubernetes_on_store() {
    scenario(Backend::Store);
}

#[test]
fn python_kubernetes_on_etcd() {
    scenario(Backend::Etcd);
}
