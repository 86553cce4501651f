//! Process harness shared by the store's integration tests: starts a real `store` or a
//! real `etcd` (Debian `etcd-server`) single member on loopback ephemeral ports, with
//! the same etcd flag names, and waits until it answers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which implementation a member runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// This project's `store` binary.
    Store,
    /// The real etcd from Debian's `etcd-server`.
    Etcd,
}

impl Impl {
    pub fn binary(self) -> PathBuf {
        match self {
            Impl::Store => std::env::var_os("STORE_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_store"))),
            Impl::Etcd => PathBuf::from(std::env::var("ETCD_BIN").unwrap_or_else(|_| "/usr/bin/etcd".into())),
        }
    }

    /// Both implementations, for suites that must pass on each.
    pub fn both() -> [Impl; 2] {
        [Impl::Store, Impl::Etcd]
    }
}

pub use component_base::ports::free_port;

/// A running single-member server. Killed (SIGKILL) on drop; its data directory is
/// removed with it unless `keep_data` is set.
pub struct Member {
    pub which: Impl,
    pub name: String,
    pub data_dir: PathBuf,
    pub client_port: u16,
    pub peer_port: u16,
    pub metrics_port: u16,
    pub extra_args: Vec<String>,
    /// `--initial-cluster` for multi-member clusters (None: just this member).
    pub initial_cluster: Option<String>,
    pub child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Member {
    /// A member with its own temporary data directory and free ports, not started.
    pub fn fresh(which: Impl, name: &str, extra_args: &[&str]) -> Member {
        let dir = tempfile::tempdir().expect("tempdir");
        Member {
            which,
            name: name.into(),
            data_dir: dir.path().join("data"),
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            initial_cluster: None,
            child: None,
            _dir: Some(dir),
        }
    }

    /// Starts a fresh single member. Free ports are picked before the process binds
    /// them, so another process may take one first: then it is tried again on new ones.
    pub fn start(which: Impl, extra_args: &[&str]) -> Member {
        for _ in 0..3 {
            let mut m = Member::fresh(which, "default", extra_args);
            m.launch();
            match m.try_wait_answering(Duration::from_secs(20), true) {
                Ok(()) => return m,
                Err(e) if e.contains("exited during start-up") => eprintln!("{e}; retrying on other ports"),
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{which:?} failed to start three times");
    }

    /// An empty slot (no process, no data), for swapping members in and out of a Vec.
    pub fn placeholder() -> Member {
        Member {
            which: Impl::Store,
            name: String::new(),
            data_dir: PathBuf::new(),
            client_port: 0,
            peer_port: 0,
            metrics_port: 0,
            extra_args: Vec::new(),
            initial_cluster: None,
            child: None,
            _dir: None,
        }
    }

    /// Starts an `n`-member cluster (all members launched, then waited for, since none
    /// is healthy before a quorum is up).
    pub fn cluster(which: Impl, n: usize, extra_args: &[&str]) -> Vec<Member> {
        let mut members: Vec<Member> = (0..n).map(|i| Member::fresh(which, &format!("m{i}"), extra_args)).collect();
        let spec = members.iter().map(|m| format!("{}={}", m.name, m.peer_endpoint())).collect::<Vec<_>>().join(",");
        for m in &mut members {
            m.initial_cluster = Some(spec.clone());
            m.launch();
        }
        for m in &mut members {
            m.wait_answering(Duration::from_secs(30), true);
        }
        members
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn metrics_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.metrics_port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// (Re)starts the process on the same ports and data directory and waits until the
    /// client port accepts connections and answers a Status request.
    pub fn spawn(&mut self) {
        self.spawn_inner(true);
    }

    fn spawn_inner(&mut self, healthy: bool) {
        self.launch();
        self.wait_answering(Duration::from_secs(20), healthy);
    }

    /// Starts the process without waiting for it.
    pub fn launch(&mut self) {
        let peer = self.peer_endpoint();
        let client = self.endpoint();
        let mut cmd = Command::new(self.which.binary());
        cmd.arg("--name")
            .arg(&self.name)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen-client-urls")
            .arg(&client)
            .arg("--advertise-client-urls")
            .arg(&client)
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(self.initial_cluster.clone().unwrap_or_else(|| format!("{}={}", self.name, peer)))
            .arg("--listen-metrics-urls")
            .arg(self.metrics_endpoint())
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if std::env::var_os("TEST_SERVER_LOGS").is_none() {
            cmd.stderr(Stdio::null());
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.which.binary()));
        self.child = Some(child);
    }

    /// Restarts without requiring `/health` to be true (a member with an alarm raised
    /// reports unhealthy); waits until it answers at all.
    pub fn spawn_unchecked_health(&mut self) {
        self.spawn_inner(false);
    }

    pub fn wait_answering(&mut self, timeout: Duration, healthy: bool) {
        if let Err(e) = self.try_wait_answering(timeout, healthy) {
            panic!("{e}");
        }
    }

    fn try_wait_answering(&mut self, timeout: Duration, healthy: bool) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let health = format!("127.0.0.1:{}", self.metrics_port);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("{:?} exited during start-up: {status}", self.which));
            }
            if http_get(&health, "/health").is_some_and(|b| !healthy || b.contains("\"health\":\"true\"")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("{:?} not healthy after {timeout:?}", self.which));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        c.wait().ok()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.0 GET, enough for `/health` and `/metrics`.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_string();
    Some(body)
}

impl Member {
    pub fn peer_endpoint(&self) -> String {
        let scheme = if self.extra_args.iter().any(|a| a == "--peer-cert-file") { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.peer_port)
    }

    /// An `etcdctl` (v3 API) command aimed at this member only, with no inherited
    /// `ETCDCTL_*` settings. `ETCDCTL_BIN` overrides the binary.
    pub fn etcdctl(&self) -> Command {
        let bin = std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "/usr/bin/etcdctl".into());
        let mut cmd = Command::new(bin);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETCDCTL_") {
                cmd.env_remove(k);
            }
        }
        // With the scheme, as users write it: etcdctl 3.4 then sends "http://host:port"
        // as the HTTP/2 :authority of its per-endpoint calls, which the store must accept.
        cmd.env("ETCDCTL_API", "3").arg(format!("--endpoints={}", self.endpoint()));
        cmd
    }
}

/// Step-by-step differences between two transcripts (etcd's first), empty when equal.
pub fn transcript_diff(etcd: &[String], store: &[String]) -> String {
    let mut diff = String::new();
    for i in 0..etcd.len().max(store.len()) {
        let (a, b) = (etcd.get(i), store.get(i));
        if a != b {
            diff.push_str(&format!(
                "step {i}\n  etcd:  {}\n  store: {}\n",
                a.map_or("<none>", |s| s),
                b.map_or("<none>", |s| s)
            ));
        }
    }
    diff
}

/// A throwaway PKI: a CA, a server certificate for 127.0.0.1/localhost and a client
/// certificate, as PEM files in a temporary directory.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "test-ca");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let write = |name: &str, s: String| std::fs::write(dir.path().join(name), s).unwrap();
        write("ca.crt", ca_cert.pem());
        for (name, sans) in
            [("server", vec!["127.0.0.1".to_string(), "localhost".to_string()]), ("client", vec!["client".to_string()])]
        {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(sans).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            let cert = p.signed_by(&key, &issuer).unwrap();
            write(&format!("{name}.crt"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}
