//! Starts one single-member `store` or real `etcd` on loopback ephemeral ports with a
//! fresh data directory, with the same etcd flags for both, exactly as
//! `store/tests/common/mod.rs` does, and waits until `/health` on the metrics port
//! reports healthy. Killed (SIGKILL) and its directory removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Which implementation a member runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// This project's `store` binary.
    Store,
    /// The real etcd.
    Etcd,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Store => "store",
            Impl::Etcd => "etcd",
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?.local_addr()?.port())
}

/// A running single-member server.
pub struct Member {
    pub which: Impl,
    pub client_port: u16,
    pub metrics_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Member {
    /// Starts `binary` as `which` with its data directory under `parent` (created;
    /// removed again on drop).
    pub fn start(which: Impl, binary: &Path, parent: &Path, log: Option<&Path>) -> Result<Member> {
        let dir = parent.join(format!("{}-{}", which.name(), std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut m = Member { which, client_port: free_port()?, metrics_port: free_port()?, dir, child: None };
        let peer = format!("http://127.0.0.1:{}", free_port()?);
        let client = m.endpoint();
        let name = "default";
        let mut cmd = Command::new(binary);
        cmd.arg("--name")
            .arg(name)
            .arg("--data-dir")
            .arg(m.dir.join("data"))
            .arg("--listen-client-urls")
            .arg(&client)
            .arg("--advertise-client-urls")
            .arg(&client)
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(format!("{name}={peer}"))
            .arg("--listen-metrics-urls")
            .arg(format!("http://127.0.0.1:{}", m.metrics_port))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match log {
            Some(path) => {
                let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
                cmd.stderr(f);
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().with_context(|| format!("spawning {}", binary.display()))?;
        m.child = Some(child);
        m.wait_ready(Duration::from_secs(20))?;
        Ok(m)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let health = format!("127.0.0.1:{}", self.metrics_port);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("{} exited during start-up: {status}", self.which.name());
            }
            if http_get(&health, "/health").is_some_and(|b| b.contains("\"health\":\"true\"")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("{} not healthy after {timeout:?}", self.which.name());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minimal HTTP/1.0 GET, enough for `/health`.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out.split_once("\r\n\r\n")?.1.to_string())
}
