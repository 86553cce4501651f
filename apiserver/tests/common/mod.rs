//! Process harness for the apiserver's integration tests: a real etcd (Debian
//! `etcd-server`) or this project's `store` on loopback ephemeral ports, and the
//! `apiserver` binary in front of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which etcd implementation backs a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Store,
    Etcd,
}

impl Backend {
    pub fn both() -> [Backend; 2] {
        [Backend::Store, Backend::Etcd]
    }

    fn binary(self) -> PathBuf {
        match self {
            Backend::Store => std::env::var_os("STORE_BIN").map(PathBuf::from).unwrap_or_else(|| {
                // Integration tests run from <target>/<profile>/deps; the store binary
                // (built by `cargo build --workspace`) sits one level up.
                let exe = std::env::current_exe().expect("current exe");
                let bin = exe.parent().and_then(|d| d.parent()).expect("target dir").join("store");
                assert!(bin.exists(), "{} missing: run `cargo build -p store` or set STORE_BIN", bin.display());
                bin
            }),
            Backend::Etcd => PathBuf::from(std::env::var("ETCD_BIN").unwrap_or_else(|_| "/usr/bin/etcd".into())),
        }
    }
}

pub use component_base::ports::free_port;

/// A child process killed on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A single etcd-compatible member with its own data directory.
pub struct Etcd {
    pub backend: Backend,
    pub endpoint: String,
    _proc: Proc,
    _dir: tempfile::TempDir,
    /// How it was started, for [`Etcd::restart`].
    args: Vec<std::ffi::OsString>,
    client_port: u16,
}

fn wait_for_port(port: u16, proc: &mut Proc, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("{what} exited during start-up ({status}):\n{}", proc.log_text());
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {port} within 20 s:\n{}", proc.log_text());
}

/// A throwaway PKI in a temporary directory: `ca.crt`, `server.{crt,key}` for
/// 127.0.0.1/localhost, `client.{crt,key}`.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "etcd-ca");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        for (name, sans) in [("server", vec!["127.0.0.1", "localhost"]), ("client", vec!["kube-apiserver-etcd-client"])]
        {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(sans.into_iter().map(String::from).collect::<Vec<_>>()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            let cert = p.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.path().join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Pki { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Etcd {
    pub fn start(backend: Backend) -> Etcd {
        Self::start_with(backend, None)
    }

    /// A member serving clients over TLS and requiring client certificates from `pki`.
    pub fn start_tls(backend: Backend, pki: &Pki) -> Etcd {
        Self::start_with(backend, Some(pki))
    }

    fn start_with(backend: Backend, pki: Option<&Pki>) -> Etcd {
        let scheme = if pki.is_some() { "https" } else { "http" };
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, peer, metrics) = (free_port(), free_port(), free_port());
        let log = dir.path().join("etcd.log");
        let out = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(backend.binary());
        cmd.arg("--name")
            .arg("default")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(format!("{scheme}://127.0.0.1:{client}"))
            .arg("--advertise-client-urls")
            .arg(format!("{scheme}://127.0.0.1:{client}"))
            .arg("--listen-peer-urls")
            .arg(format!("http://127.0.0.1:{peer}"))
            .arg("--initial-advertise-peer-urls")
            .arg(format!("http://127.0.0.1:{peer}"))
            .arg("--initial-cluster")
            .arg(format!("default=http://127.0.0.1:{peer}"))
            .arg("--listen-metrics-urls")
            .arg(format!("http://127.0.0.1:{metrics}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out);
        if let Some(pki) = pki {
            cmd.arg("--cert-file")
                .arg(pki.path("server.crt"))
                .arg("--key-file")
                .arg(pki.path("server.key"))
                .arg("--trusted-ca-file")
                .arg(pki.path("ca.crt"))
                .arg("--client-cert-auth");
        }
        let args: Vec<std::ffi::OsString> = cmd.get_args().map(|a| a.to_os_string()).collect();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {:?}: {e}", backend.binary()));
        let mut proc = Proc { child, log };
        wait_for_port(client, &mut proc, &format!("{backend:?}"));
        Etcd {
            backend,
            endpoint: format!("{scheme}://127.0.0.1:{client}"),
            _proc: proc,
            _dir: dir,
            args,
            client_port: client,
        }
    }

    /// Kills the member and starts it again on the same ports and data, breaking every
    /// client connection and watch.
    pub fn restart(&mut self) {
        let _ = self._proc.child.kill();
        let _ = self._proc.child.wait();
        let log = self._dir.path().join("etcd-restarted.log");
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(self.backend.binary())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("restarting etcd");
        self._proc = Proc { child, log };
        wait_for_port(self.client_port, &mut self._proc, &format!("{:?} (restarted)", self.backend));
    }
}

/// The apiserver binary in front of an etcd.
pub struct ApiServer {
    pub url: String,
    pub port: u16,
    pub proc: Proc,
    pub kubeconfig: PathBuf,
    /// curl options every [`ApiServer::curl`] call adds (the admin identity and the CA
    /// on a secure server).
    pub curl_auth: Vec<String>,
    _dir: tempfile::TempDir,
}

impl ApiServer {
    /// An apiserver with the defaults: a self-signed certificate, AlwaysAllow, anonymous.
    pub fn start(etcd: &Etcd) -> ApiServer {
        Self::start_with(etcd, &[], None)
    }

    /// An apiserver on a cluster PKI (`component_base::pki`): serving certificate,
    /// `--client-ca-file`, service-account keys and issuer, plus `extra` flags (e.g.
    /// `--authorization-mode`). Its kubeconfig and curl calls use the admin client
    /// certificate and verify the server against the CA.
    pub fn start_secure(etcd: &Etcd, pki: &component_base::pki::ClusterPki, extra: &[&str]) -> ApiServer {
        let p = |f: &str| pki.path(f).display().to_string();
        let mut args: Vec<String> = [
            "--tls-cert-file",
            &p("apiserver.crt"),
            "--tls-private-key-file",
            &p("apiserver.key"),
            "--client-ca-file",
            &p("ca.crt"),
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file",
            &p("sa.pub"),
            "--service-account-signing-key-file",
            &p("sa.key"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start_with(etcd, &args, Some(pki))
    }

    /// An apiserver whose `--etcd-servers` is `endpoint` (e.g. a proxy in front of a member).
    pub fn start_with_etcd_servers(endpoint: &str) -> ApiServer {
        Self::start_at(endpoint, &[], None)
    }

    /// An apiserver with the defaults plus `extra` flags.
    pub fn start_with_flags(etcd: &Etcd, extra: &[&str]) -> ApiServer {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Self::start_with(etcd, &extra, None)
    }

    fn start_with(etcd: &Etcd, extra: &[String], pki: Option<&component_base::pki::ClusterPki>) -> ApiServer {
        Self::start_at(&etcd.endpoint, extra, pki)
    }

    fn start_at(endpoint: &str, extra: &[String], pki: Option<&component_base::pki::ClusterPki>) -> ApiServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let log = dir.path().join("apiserver.log");
        let out = std::fs::File::create(&log).expect("log file");
        // No controller-manager runs here to create each namespace's `default` service
        // account or to lift a Ready node's `not-ready` taint, so the ServiceAccount and
        // TaintNodesByCondition admission plugins are off unless a test chooses its
        // admission plugins.
        let mut extra = extra.to_vec();
        if !extra
            .iter()
            .any(|a| a.starts_with("--enable-admission-plugins") || a.starts_with("--disable-admission-plugins"))
        {
            extra.push("--disable-admission-plugins=ServiceAccount,TaintNodesByCondition".into());
        }
        let child = Command::new(env!("CARGO_BIN_EXE_apiserver"))
            .args(["--etcd-servers", endpoint, "--bind-address", "127.0.0.1", "--secure-port"])
            .arg(port.to_string())
            .args(&extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("starting apiserver");
        let mut proc = Proc { child, log };
        wait_for_port(port, &mut proc, "apiserver");
        let url = format!("https://127.0.0.1:{port}");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {url}\n    insecure-skip-tls-verify: true\nusers:\n- name: admin\n  user:\n    token: unused\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: admin\ncurrent-context: local\n"
            ),
        )
        .expect("kubeconfig");
        let mut curl_auth = Vec::new();
        if let Some(pki) = pki {
            let text = pki.kubeconfig(&url, "admin", "kubernetes-admin").expect("admin kubeconfig");
            std::fs::write(&kubeconfig, text).expect("kubeconfig");
            for (flag, file) in [("--cacert", "ca.crt"), ("--cert", "admin.crt"), ("--key", "admin.key")] {
                curl_auth.push(flag.to_string());
                curl_auth.push(pki.path(file).display().to_string());
            }
        }
        let api = ApiServer { url, port, proc, kubeconfig, curl_auth, _dir: dir };
        api.wait_ready();
        api
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let (code, _) = self.curl(&["/readyz"]);
            if code == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("apiserver not ready within 20 s:\n{}", self.proc.log_text());
    }

    /// curl against the server; the first argument is the path, the rest curl options.
    /// Returns (HTTP status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        let (path, opts) = args.split_first().expect("a path");
        let out = Command::new("curl")
            .args(["-sk", "-o", "-", "-w", "\n%{http_code}"])
            .args(&self.curl_auth)
            .args(opts)
            .arg(format!("{}{}", self.url, path))
            .output()
            .expect("curl (Debian package curl) must be installed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

/// The kubectl to test with: `$KUBECTL`, else v1.32 from the Google Cloud SDK layout
/// (its `kubectl` is a dispatcher that picks a client matching the server's minor
/// version), else `kubectl` on the PATH.
pub fn kubectl_bin() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return PathBuf::from(k);
    }
    let sdk = PathBuf::from("/usr/lib/google-cloud-sdk/bin/kubectl.1.32");
    if sdk.exists() { sdk } else { PathBuf::from("kubectl") }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn kubectl(api: &ApiServer, args: &[&str]) -> Output {
    kubectl_with(&api.kubeconfig, args)
}

/// kubectl with a given kubeconfig.
pub fn kubectl_with(kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    let out = Command::new(kubectl_bin())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().expect("dir"))
        .args(args)
        .output()
        .expect("running kubectl");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Collects what a child process prints, as it prints it, on a thread of its own.
pub fn collect_output(
    mut out: impl std::io::Read + Send + 'static,
) -> (std::sync::Arc<std::sync::Mutex<String>>, std::thread::JoinHandle<()>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (seen, reader)
}

/// kubectl that must succeed; its stdout.
pub fn kubectl_ok(api: &ApiServer, args: &[&str]) -> String {
    let out = kubectl(api, args);
    assert_eq!(out.code, 0, "kubectl {args:?} failed:\n{}\n{}", out.stderr, api.proc.log_text());
    out.stdout
}

/// kubectl that must fail with exactly `stderr`.
pub fn kubectl_fails(api: &ApiServer, args: &[&str], stderr: &str) {
    let out = kubectl(api, args);
    assert_eq!(out.code, 1, "kubectl {args:?} should fail:\n{}", out.stdout);
    assert_eq!(out.stderr.trim(), stderr, "kubectl {args:?}");
}

/// A scenario as two tests: on our store and on a real etcd.
#[allow(unused_macros)]
macro_rules! both {
    ($scenario:ident, $store:ident, $etcd:ident) => {
        #[test]
        fn $store() {
            $scenario($crate::common::Backend::Store);
        }
        #[test]
        fn $etcd() {
            $scenario($crate::common::Backend::Etcd);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both;
