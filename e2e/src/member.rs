//! Starts a `store` or real `etcd` cluster of one or more members on loopback ephemeral
//! ports, each with a fresh data directory, with the same etcd flags for both (as
//! `store/tests/common/mod.rs` does), and waits until `/health` on every member's
//! metrics port reports healthy. Members can be SIGKILLed and restarted on the same
//! ports and data; every member is killed (SIGKILL) and the directories removed on drop.

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

/// Raft timing given to every member, explicitly and identically for both
/// implementations. The defaults are etcd's (and the store's) defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub heartbeat_ms: u64,
    pub election_ms: u64,
    pub snapshot_count: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { heartbeat_ms: 100, election_ms: 1000, snapshot_count: 100_000 }
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?.local_addr()?.port())
}

/// One member's identity, ports and data directory; `child` while it runs.
struct Node {
    name: String,
    client_port: u16,
    peer_port: u16,
    metrics_port: u16,
    data_dir: PathBuf,
    log: Option<PathBuf>,
    child: Option<Child>,
}

/// A running cluster of `n` members of one implementation.
pub struct Cluster {
    pub which: Impl,
    binary: PathBuf,
    timing: Timing,
    initial_cluster: String,
    /// Holds every member's data directory; removed on drop.
    dir: PathBuf,
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts `n` members of `which` from `binary`, with their data directories under
    /// `parent` (created; removed again on drop). With `log_prefix`, member `name`'s
    /// stderr goes to `{log_prefix}-{name}.log`. All members are launched before any is
    /// waited for, since none is healthy before a quorum is up.
    pub fn start(
        which: Impl,
        binary: &Path,
        n: usize,
        timing: Timing,
        parent: &Path,
        log_prefix: Option<&Path>,
    ) -> Result<Cluster> {
        let dir = parent.join(format!("{}-{}", which.name(), std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            // One member keeps etcd's default name, as the single-member runs always did.
            let name = if n <= 1 { "default".to_string() } else { format!("m{i}") };
            nodes.push(Node {
                client_port: free_port()?,
                peer_port: free_port()?,
                metrics_port: free_port()?,
                data_dir: dir.join(&name),
                log: log_prefix.map(|p| PathBuf::from(format!("{}-{name}.log", p.display()))),
                child: None,
                name,
            });
        }
        let initial_cluster =
            nodes.iter().map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port)).collect::<Vec<_>>().join(",");
        for log in nodes.iter().filter_map(|m| m.log.as_ref()) {
            // Launches append (a restarted member's log follows its first life); a new
            // cluster starts its logs afresh.
            let _ = std::fs::remove_file(log);
        }
        let mut c = Cluster { which, binary: binary.to_path_buf(), timing, initial_cluster, dir, nodes };
        for i in 0..c.nodes.len() {
            c.launch(i)?;
        }
        for i in 0..c.nodes.len() {
            c.wait_healthy(i, Duration::from_secs(30))?;
        }
        Ok(c)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Member `i`'s client URL.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Every member's client URL, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.endpoint(i)).collect()
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    /// Sends SIGKILL to member `i` and returns the instant the signal was sent (just
    /// after the `kill` system call returned), then reaps the process.
    pub fn kill(&mut self, i: usize) -> Result<Instant> {
        let mut c = self.nodes[i].child.take().with_context(|| format!("{} is not running", self.nodes[i].name))?;
        c.kill().with_context(|| format!("killing {}", self.nodes[i].name))?;
        let at = Instant::now();
        let _ = c.wait();
        Ok(at)
    }

    /// Starts member `i` again on the same ports and data (same flags, as etcd's docs
    /// say to restart a member) and waits until it reports healthy.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.launch(i)?;
        self.wait_healthy(i, Duration::from_secs(30))
    }

    fn launch(&mut self, i: usize) -> Result<()> {
        let t = self.timing;
        let m = &self.nodes[i];
        let client = format!("http://127.0.0.1:{}", m.client_port);
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .arg("--listen-client-urls")
            .arg(&client)
            .arg("--advertise-client-urls")
            .arg(&client)
            .arg("--listen-peer-urls")
            .arg(&peer)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer)
            .arg("--initial-cluster")
            .arg(&self.initial_cluster)
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--initial-cluster-token")
            .arg("bench")
            .arg("--heartbeat-interval")
            .arg(t.heartbeat_ms.to_string())
            .arg("--election-timeout")
            .arg(t.election_ms.to_string())
            .arg("--snapshot-count")
            .arg(t.snapshot_count.to_string())
            .arg("--listen-metrics-urls")
            .arg(format!("http://127.0.0.1:{}", m.metrics_port))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match &m.log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                cmd.stderr(f);
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().with_context(|| format!("spawning {}", self.binary.display()))?;
        self.nodes[i].child = Some(child);
        Ok(())
    }

    fn wait_healthy(&mut self, i: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let which = self.which.name();
        let m = &mut self.nodes[i];
        let health = format!("127.0.0.1:{}", m.metrics_port);
        loop {
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("{which} member {} exited during start-up: {status}", m.name);
            }
            if http_get(&health, "/health").is_some_and(|b| b.contains("\"health\":\"true\"")) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("{which} member {} not healthy after {timeout:?}", m.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.nodes {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
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
