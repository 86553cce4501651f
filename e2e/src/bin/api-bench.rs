//! The apiserver benchmark (`make bench` runs it after the store benchmark): a release
//! `apiserver` on a release `store`, driven with kube-rs. Measures creates/s and gets/s
//! at 100 requests in flight (p50/p99), apiserver RSS per 1,000 pods, LIST of all
//! pods (10,000 by default; latency and RSS), and how long 1,000 concurrent watchers
//! take to receive one event. Prints a markdown table and, with `--out`, replaces the
//! section between `<!-- apiserver-bench:start -->` and `<!-- apiserver-bench:end -->`.
//! There is no kube-apiserver here to compare against: the yardstick is upstream's SLO
//! (mutating API calls p99 ≤ 1 s).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use e2e::member::{Cluster, Impl, Timing};
use e2e::stats::{Summary, summarize};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    store_bin: PathBuf,
    #[arg(long)]
    apiserver_bin: PathBuf,
    /// Objects created in the create workload.
    #[arg(long, env = "API_BENCH_CREATES", default_value_t = 5000)]
    creates: usize,
    /// Gets in the get workload.
    #[arg(long, env = "API_BENCH_GETS", default_value_t = 20000)]
    gets: usize,
    /// Pods created before the LIST.
    #[arg(long, env = "API_BENCH_PODS", default_value_t = 10000)]
    pods: usize,
    #[arg(long, env = "API_BENCH_WATCHERS", default_value_t = 1000)]
    watchers: usize,
    #[arg(long, default_value_t = 100)]
    inflight: usize,
    /// A markdown file whose apiserver-bench section is replaced with the results.
    #[arg(long)]
    out: Option<PathBuf>,
}

struct ApiServer {
    child: Child,
    url: String,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn client(url: &str) -> Result<Client> {
    let mut cfg = Config::new(url.parse()?);
    cfg.accept_invalid_certs = true;
    cfg.read_timeout = Some(Duration::from_secs(300));
    Ok(Client::try_from(cfg)?)
}

/// Runs `total` calls of `op(i)` with `inflight` in flight; returns (elapsed, latencies).
async fn closed_loop<F, Fut>(total: usize, inflight: usize, op: F) -> Result<(Duration, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..inflight {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                op(i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok((start.elapsed(), all))
}

async fn namespace(c: &Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(c.clone()).create(&PostParams::default(), &ns).await?;
    // Pods need the namespace's default service account (ServiceAccount admission);
    // no controller-manager runs here to create it.
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
    Api::<ServiceAccount>::namespaced(c.clone(), name).create(&PostParams::default(), &sa).await?;
    Ok(())
}

fn row(workload: &str, metric: &str, value: String) -> String {
    format!("| {workload} | {metric} | {value} |")
}

fn latency_rows(workload: &str, elapsed: Duration, s: &Summary) -> Vec<String> {
    vec![
        row(workload, "throughput (ops/s)", format!("{:.0}", s.count as f64 / elapsed.as_secs_f64())),
        row(workload, "latency p50 (ms)", format!("{:.2}", s.p50_ms)),
        row(workload, "latency p99 (ms)", format!("{:.2}", s.p99_ms)),
    ]
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = std::env::temp_dir().join(format!("api-bench-{}", std::process::id()));
    let store = Cluster::start(Impl::Store, &cli.store_bin, 1, Timing::default(), &tmp, None)?;
    let port = free_port()?;
    let child = Command::new(&cli.apiserver_bin)
        .args(["--etcd-servers", &store.endpoint(0), "--bind-address", "127.0.0.1", "--secure-port"])
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", cli.apiserver_bin.display()))?;
    let api = ApiServer { child, url: format!("https://127.0.0.1:{port}") };
    let pid = api.child.id();
    let c = client(&api.url)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Api::<Namespace>::all(c.clone()).get("default").await.is_err() {
        if Instant::now() > deadline {
            bail!("the apiserver did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    let rss_idle = rss_mib(pid);
    let mut rows = Vec::new();

    // Creates and gets of configmaps, 100 in flight.
    namespace(&c, "bench").await?;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "bench");
    let api_cms = cms.clone();
    let (elapsed, mut lat) = closed_loop(cli.creates, cli.inflight, move |i| {
        let cms = api_cms.clone();
        async move {
            let cm: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": "v".repeat(64)}}),
            )?;
            cms.create(&PostParams::default(), &cm).await?;
            Ok(())
        }
    })
    .await?;
    let creates = summarize(&mut lat);
    rows.extend(latency_rows("create configmap", elapsed, &creates));
    let api_cms = cms.clone();
    let n = cli.creates;
    let (elapsed, mut lat) = closed_loop(cli.gets, cli.inflight, move |i| {
        let cms = api_cms.clone();
        async move {
            cms.get(&format!("cm-{}", (i * 7919) % n)).await?;
            Ok(())
        }
    })
    .await?;
    rows.extend(latency_rows("get configmap", elapsed, &summarize(&mut lat)));

    // Pods: RSS per 1,000, then LIST of all of them.
    namespace(&c, "pods").await?;
    let pods: Api<Pod> = Api::namespaced(c.clone(), "pods");
    let rss_before = rss_mib(pid);
    let api_pods = pods.clone();
    let (elapsed, mut lat) = closed_loop(cli.pods, cli.inflight, move |i| {
        let pods = api_pods.clone();
        async move {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("pod-{i}"), "labels": {"app": "bench", "shard": format!("{}", i % 10)}},
                "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
            }))?;
            pods.create(&PostParams::default(), &pod).await?;
            Ok(())
        }
    })
    .await?;
    rows.extend(latency_rows("create pod", elapsed, &summarize(&mut lat)));
    let rss_after = rss_mib(pid);
    let mut list_lat = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let listed = pods.list(&ListParams::default()).await?;
        list_lat.push(t.elapsed());
        if listed.items.len() != cli.pods {
            bail!("listed {} pods, created {}", listed.items.len(), cli.pods);
        }
    }
    let list = summarize(&mut list_lat);
    let rss_list = rss_mib(pid);
    rows.push(row(&format!("LIST {} pods", cli.pods), "latency p50 of 5 (ms)", format!("{:.0}", list.p50_ms)));
    rows.push(row(&format!("LIST {} pods", cli.pods), "latency max of 5 (ms)", format!("{:.0}", list.max_ms)));
    rows.push(row("apiserver RSS", "idle after start (MiB)", format!("{rss_idle:.0}")));
    rows.push(row(
        "apiserver RSS",
        "per 1,000 pods created (MiB)",
        format!("{:.1}", (rss_after - rss_before) / (cli.pods as f64 / 1000.0)),
    ));
    rows.push(row("apiserver RSS", &format!("after the {} pod LISTs (MiB)", cli.pods), format!("{rss_list:.0}")));

    // Watchers: each of `watchers` watches receives one event; delay from the create.
    namespace(&c, "watch").await?;
    let rv = Api::<ConfigMap>::namespaced(c.clone(), "watch")
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Instant>(cli.watchers);
    let clients: Vec<Client> = (0..cli.watchers.div_ceil(100)).map(|_| client(&api.url)).collect::<Result<_>>()?;
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    for i in 0..cli.watchers {
        let api: Api<ConfigMap> = Api::namespaced(clients[i / 100].clone(), "watch");
        let (tx, rv, ready) = (tx.clone(), rv.clone(), ready.clone());
        tokio::spawn(async move {
            let Ok(stream) = api.watch(&WatchParams::default().timeout(120), &rv).await else { return };
            ready.add_permits(1);
            let mut stream = std::pin::pin!(stream);
            while let Some(ev) = stream.next().await {
                if let Ok(WatchEvent::Added(_)) = ev {
                    let _ = tx.send(Instant::now()).await;
                    return;
                }
            }
        });
    }
    drop(tx);
    let _all = tokio::time::timeout(Duration::from_secs(60), ready.acquire_many(cli.watchers as u32))
        .await
        .context("watchers did not start within 60 s")??;
    // Let every watch reach the server's cache before the event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = Instant::now();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "ping"}}))?;
    Api::<ConfigMap>::namespaced(c.clone(), "watch").create(&PostParams::default(), &cm).await?;
    let mut delays = Vec::with_capacity(cli.watchers);
    while let Ok(Some(at)) = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
        delays.push(at.duration_since(sent));
    }
    if delays.len() != cli.watchers {
        bail!("{} of {} watchers received the event", delays.len(), cli.watchers);
    }
    let w = summarize(&mut delays);
    let wname = format!("{} watchers, one event", cli.watchers);
    rows.push(row(&wname, "delivery delay p50 (ms)", format!("{:.1}", w.p50_ms)));
    rows.push(row(&wname, "delivery delay p99 (ms)", format!("{:.1}", w.p99_ms)));
    rows.push(row(&wname, "delivery delay max (ms)", format!("{:.1}", w.max_ms)));

    let mut text = format!(
        "Measured {} on {} cores, commit {}; one release `apiserver` on a one-member release `store`, driven by kube-rs \
         over HTTPS ({} requests in flight); {:.0} s in all. Upstream's SLO for mutating calls is p99 ≤ 1 s.\n\n\
         | Workload | Metric | apiserver |\n|---|---|--:|\n",
        utc_now(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        git_commit(),
        cli.inflight,
        started.elapsed().as_secs_f64(),
    );
    for r in &rows {
        text.push_str(r);
        text.push('\n');
    }
    print!("{text}");
    if let Some(out) = &cli.out {
        let doc = std::fs::read_to_string(out).unwrap_or_default();
        let (start, end) = ("<!-- apiserver-bench:start -->", "<!-- apiserver-bench:end -->");
        let section = format!("{start}\n{text}{end}");
        let new = match (doc.find(start), doc.find(end)) {
            (Some(a), Some(b)) if a < b => format!("{}{section}{}", &doc[..a], &doc[b + end.len()..]),
            _ => format!("{doc}\n## apiserver\n\n{section}\n"),
        };
        std::fs::write(out, new).with_context(|| format!("writing {}", out.display()))?;
    }
    drop(api);
    drop(store);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
