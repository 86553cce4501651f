//! Operating the store as etcd is operated: Prometheus metrics and `/health` under
//! etcd's names, the NOSPACE alarm raised by `--quota-backend-bytes`, and client TLS
//! with client-certificate authentication — each driven by real etcdctl or HTTP.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Impl, Member, Pki, free_port, http_get};

fn etcdctl_ok(m: &Member, args: &[&str]) -> String {
    let out = m.etcdctl().args(args).output().expect("etcdctl");
    assert!(out.status.success(), "etcdctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn metrics_and_health_use_etcd_names() {
    let m = Member::start(Impl::Store, &[]);
    etcdctl_ok(&m, &["put", "a", "1"]);
    etcdctl_ok(&m, &["put", "b", "2"]);
    etcdctl_ok(&m, &["get", "a"]);
    let metrics_addr = format!("127.0.0.1:{}", m.metrics_port);
    let text = http_get(&metrics_addr, "/metrics").expect("GET /metrics");
    for want in [
        "etcd_server_has_leader 1",
        "etcd_server_is_leader 1",
        "etcd_debugging_mvcc_keys_total 2",
        "etcd_debugging_mvcc_current_revision 3",
        "etcd_mvcc_db_total_size_in_bytes ",
        // The two puts and the member publishing its attributes (as etcd's does).
        "etcd_server_proposals_committed_total 3",
        "etcd_server_proposals_applied_total 3",
        "etcd_disk_wal_fsync_duration_seconds_bucket",
        "etcd_disk_backend_commit_duration_seconds_count",
        "etcd_server_quota_backend_bytes 2147483648",
        "etcd_server_version{server_version=",
    ] {
        assert!(text.contains(want), "/metrics lacks {want:?}:\n{text}");
    }
    let handled = text
        .lines()
        .find(|l| {
            l.starts_with("grpc_server_handled_total")
                && l.contains("grpc_method=\"Put\"")
                && l.contains("grpc_code=\"OK\"")
        })
        .unwrap_or_else(|| panic!("no grpc_server_handled_total for Put:\n{text}"));
    assert!(handled.ends_with(" 2"), "{handled}");
    assert_eq!(http_get(&metrics_addr, "/health").as_deref(), Some(r#"{"health":"true"}"#));
    // etcd also answers /health, /version and /metrics on the client port.
    let client_addr = format!("127.0.0.1:{}", m.client_port);
    assert_eq!(http_get(&client_addr, "/health").as_deref(), Some(r#"{"health":"true"}"#));
    assert!(http_get(&client_addr, "/version").is_some_and(|v| v.contains("\"etcdserver\"")));
    assert!(http_get(&client_addr, "/metrics").is_some_and(|v| v.contains("etcd_server_has_leader")));
}

#[test]
fn quota_raises_nospace_and_writes_are_refused_until_disarmed() {
    let mut m = Member::start(Impl::Store, &["--quota-backend-bytes", "262144"]);
    let value = "x".repeat(16 * 1024);
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        assert!(Instant::now() < deadline, "the quota never triggered");
        let out = m.etcdctl().args(["put", "k", &value]).output().unwrap();
        if !out.status.success() {
            break String::from_utf8_lossy(&out.stderr).into_owned();
        }
        // sled's size on disk is sampled every 500 ms.
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(refused.contains("etcdserver: mvcc: database space exceeded"), "{refused}");
    let alarms = etcdctl_ok(&m, &["alarm", "list"]);
    assert!(alarms.contains("alarm:NOSPACE"), "{alarms}");
    // Reads and deletes still work; puts keep failing while the alarm is raised.
    assert!(etcdctl_ok(&m, &["get", "k", "--print-value-only"]).starts_with('x'));
    let again = m.etcdctl().args(["put", "other", "1"]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("database space exceeded"));
    etcdctl_ok(&m, &["del", "k"]);
    let health = http_get(&format!("127.0.0.1:{}", m.metrics_port), "/health").unwrap();
    assert!(health.contains(r#""health":"false""#) && health.contains("NOSPACE"), "{health}");
    // The alarm survives a restart; with a larger quota, disarming lets writes through.
    m.kill();
    m.extra_args = vec!["--quota-backend-bytes".into(), "1073741824".into()];
    m.spawn_unchecked_health();
    assert!(etcdctl_ok(&m, &["alarm", "list"]).contains("alarm:NOSPACE"));
    let disarmed = etcdctl_ok(&m, &["alarm", "disarm"]);
    assert!(disarmed.contains("alarm:NOSPACE"), "{disarmed}");
    assert_eq!(etcdctl_ok(&m, &["alarm", "list"]), "");
    etcdctl_ok(&m, &["put", "after", "disarm"]);
}

#[test]
fn client_tls_with_client_certificate_auth() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let (client, peer, metrics) = (free_port(), free_port(), free_port());
    let url = format!("https://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut child = Command::new(Impl::Store.binary())
        .args(["--data-dir", &data.path().join("d").display().to_string()])
        .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
        .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("default={peer_url}")])
        .args(["--listen-metrics-urls", &format!("http://127.0.0.1:{metrics}")])
        .args(["--cert-file", &pki.path("server.crt"), "--key-file", &pki.path("server.key")])
        .args(["--trusted-ca-file", &pki.path("ca.crt"), "--client-cert-auth"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(&format!("127.0.0.1:{metrics}"), "/health").is_none() {
        assert!(Instant::now() < deadline, "store did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ctl = |with_cert: bool, args: &[&str]| {
        let mut c = Command::new("etcdctl");
        c.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints=127.0.0.1:{client}"))
            .arg(format!("--cacert={}", pki.path("ca.crt")));
        if with_cert {
            c.arg(format!("--cert={}", pki.path("client.crt"))).arg(format!("--key={}", pki.path("client.key")));
        }
        c.arg("--command-timeout=3s").args(args).output().unwrap()
    };
    let put = ctl(true, &["put", "secure", "yes"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    let get = ctl(true, &["get", "secure", "--print-value-only"]);
    assert_eq!(String::from_utf8_lossy(&get.stdout), "yes\n");
    let anon = ctl(false, &["get", "secure"]);
    assert!(!anon.status.success(), "a client without a certificate must be refused");
    let _ = child.kill();
    let _ = child.wait();
}

/// `etcdctl snapshot save` against the store, `etcdctl snapshot restore` (with its
/// SHA-256 check), then a real etcd serves the data and its history.
#[test]
fn a_store_snapshot_restores_into_real_etcd() {
    let m = Member::start(Impl::Store, &[]);
    for (k, v) in [("a", "1"), ("b", "2"), ("a", "3")] {
        etcdctl_ok(&m, &["put", k, v]);
    }
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.db").display().to_string();
    etcdctl_ok(&m, &["snapshot", "save", &snap]);
    let status = etcdctl_ok(&m, &["snapshot", "status", &snap, "-w", "json"]);
    assert!(status.contains("\"revision\":4"), "{status}");
    let restored = dir.path().join("restored").display().to_string();
    let peer = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore", &snap, "--data-dir", &restored, "--name", "r"])
        .args(["--initial-cluster", &format!("r={peer}"), "--initial-advertise-peer-urls", &peer])
        .output()
        .unwrap();
    assert!(out.status.success(), "restore (with hash check) failed: {}", String::from_utf8_lossy(&out.stderr));
    let client = format!("http://127.0.0.1:{}", free_port());
    let metrics = free_port();
    let mut etcd = Command::new(Impl::Etcd.binary())
        .args([
            "--name",
            "r",
            "--data-dir",
            &restored,
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &format!("r={peer}"),
        ])
        .args(["--listen-metrics-urls", &format!("http://127.0.0.1:{metrics}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http_get(&format!("127.0.0.1:{metrics}"), "/health").is_some_and(|b| b.contains("true")) {
        assert!(Instant::now() < deadline, "etcd did not start on the restored data");
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = |args: &[&str]| {
        let o = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={client}"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(get(&["get", "", "--prefix", "--print-value-only"]), "3\n2\n");
    assert_eq!(get(&["get", "a", "--rev=2", "--print-value-only"]), "1\n", "history survives the restore");
    let _ = etcd.kill();
    let _ = etcd.wait();
}
