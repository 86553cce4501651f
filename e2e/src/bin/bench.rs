//! `bench`: runs each `etcd-load` workload against a fresh real etcd and a fresh
//! `store` (one at a time, never concurrently), as single members and as 3-member
//! clusters, measures each one's failover time after a SIGKILL of the leader, prints
//! the comparison tables and, with `--out`, writes them into `docs/benchmarks.md`
//! between the bench markers.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use e2e::bench::{Runs, splice, table};
use e2e::failover::{self, FailoverLoad};
use e2e::member::{Cluster, Impl, Timing};
use e2e::probe;
use serde_json::Value;
use tokio::runtime::Runtime;

#[derive(Parser, Debug)]
#[command(name = "bench", about = "store vs etcd, same workloads, same run")]
struct Cli {
    /// The `store` binary (default: next to this binary, else target/release/store).
    #[arg(long, env = "STORE_BIN")]
    store_bin: Option<PathBuf>,
    #[arg(long, env = "ETCD_BIN", default_value = "/usr/bin/etcd")]
    etcd_bin: PathBuf,
    /// The `etcd-load` binary (default: next to this binary).
    #[arg(long, env = "ETCD_LOAD_BIN")]
    load_bin: Option<PathBuf>,
    /// Markdown file to write the results into (between the bench markers).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the members' data directories go (default: the system temp directory).
    #[arg(long, env = "BENCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep each member's stderr in this directory.
    #[arg(long, env = "BENCH_LOG_DIR")]
    log_dir: Option<PathBuf>,
    /// Rounds per workload; each cell is the median. Rounds alternate who goes first.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3)]
    rounds: usize,
    /// Only these workloads (comma-separated names, e.g. put-latency,watch-fanout).
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    #[arg(long, env = "BENCH_SEQ_PUTS", default_value_t = 2_000)]
    seq_puts: u64,
    #[arg(long, env = "BENCH_PUTS", default_value_t = 20_000)]
    puts: u64,
    #[arg(long, env = "BENCH_RANGES", default_value_t = 20_000)]
    ranges: u64,
    #[arg(long, env = "BENCH_CLIENTS", default_value_t = 100)]
    clients: usize,
    #[arg(long, env = "BENCH_CONNS", default_value_t = 10)]
    conns: usize,
    #[arg(long, env = "BENCH_VAL_SIZE", default_value_t = 256)]
    val_size: usize,
    #[arg(long, env = "BENCH_WATCHERS", default_value_t = 1_000)]
    watchers: usize,
    #[arg(long, env = "BENCH_WATCH_STREAMS", default_value_t = 10)]
    watch_streams: usize,
    #[arg(long, env = "BENCH_WATCH_EVENTS", default_value_t = 200)]
    watch_events: u64,
    /// Writer puts per second in the watch fan-out.
    #[arg(long, env = "BENCH_WATCH_RATE", default_value_t = 100.0)]
    watch_rate: f64,
    /// Cluster sizes to run the workloads on, comma-separated: "1", "3", or "both"
    /// (= 1,3). The failover is measured on every size of 3 or more.
    #[arg(long, env = "BENCH_MEMBERS", default_value = "both")]
    members: String,
    /// Leader kills per implementation; the failover cells are the median and the max.
    #[arg(long, env = "BENCH_FAILOVER_ROUNDS", default_value_t = 5)]
    failover_rounds: usize,
    /// Writers kept putting during the failover, each round-robin through every member.
    #[arg(long, env = "BENCH_FAILOVER_WRITERS", default_value_t = 3)]
    failover_writers: usize,
    /// Puts per second of each failover writer.
    #[arg(long, env = "BENCH_FAILOVER_RATE", default_value_t = 100.0)]
    failover_rate: f64,
    /// `--heartbeat-interval` of every member, store and etcd (etcd's default).
    #[arg(long, env = "BENCH_HEARTBEAT_MS", default_value_t = 100)]
    heartbeat_ms: u64,
    /// `--election-timeout` of every member, store and etcd (etcd's default).
    #[arg(long, env = "BENCH_ELECTION_MS", default_value_t = 1000)]
    election_ms: u64,
}

impl Cli {
    fn timing(&self) -> Timing {
        Timing { heartbeat_ms: self.heartbeat_ms, election_ms: self.election_ms, ..Timing::default() }
    }

    /// The cluster sizes of `--members`, ascending, without repeats.
    fn sizes(&self) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for part in self.members.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "both" => out.extend([1, 3]),
                n => match n.parse::<usize>() {
                    Ok(n) if n >= 1 => out.push(n),
                    _ => bail!("BENCH_MEMBERS: want 1, 3, both or a comma-separated list of sizes, not {n:?}"),
                },
            }
        }
        out.sort_unstable();
        out.dedup();
        if out.is_empty() {
            bail!("BENCH_MEMBERS selects no cluster size");
        }
        Ok(out)
    }

    fn selected(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// One workload: its name (as `etcd-load` reports it), a description of its shape,
/// the `etcd-load` arguments after `--endpoints`, and whether its connections are
/// spread over every member (`true`) or all go to the leader.
struct Plan {
    name: &'static str,
    shape: String,
    args: Vec<String>,
    spread: bool,
}

/// The workloads for a cluster of `n` members. With several members, writes go to
/// the leader's client URL; reads and watches are spread over every member (the
/// watch fan-out's writer still puts through the leader).
fn plans(c: &Cli, n: usize) -> Vec<Plan> {
    let common = |extra: &[String]| -> Vec<String> {
        let mut v = vec![
            format!("--conns={}", c.conns),
            format!("--clients={}", c.clients),
            format!("--val-size={}", c.val_size),
        ];
        v.extend_from_slice(extra);
        v
    };
    let cc = format!("{} clients / {} conns", c.clients, c.conns);
    let (to_leader, spread) =
        if n > 1 { (" → leader".to_string(), format!(" spread over all {n} members")) } else { Default::default() };
    let writer = if n > 1 { "1 writer → leader" } else { "1 writer" };
    vec![
        Plan {
            name: "put-latency",
            shape: format!("1 client{to_leader}, {} puts", c.seq_puts),
            args: common(&["put-latency".into(), format!("--total={}", c.seq_puts)]),
            spread: false,
        },
        Plan {
            name: "put-throughput",
            shape: format!("{cc}{to_leader}, {} puts", c.puts),
            args: common(&["put-throughput".into(), format!("--total={}", c.puts)]),
            spread: false,
        },
        Plan {
            name: "range-linearizable",
            shape: format!("{cc}{spread}, {} ranges", c.ranges),
            args: common(&["range".into(), "--consistency=l".into(), format!("--total={}", c.ranges)]),
            spread: true,
        },
        Plan {
            name: "range-serializable",
            shape: format!("{cc}{spread}, {} ranges", c.ranges),
            args: common(&["range".into(), "--consistency=s".into(), format!("--total={}", c.ranges)]),
            spread: true,
        },
        Plan {
            name: "watch-fanout",
            shape: format!(
                "{} watchers / {} streams{spread}, {writer}, {} events at {}/s",
                c.watchers, c.watch_streams, c.watch_events, c.watch_rate
            ),
            args: {
                let mut v = vec![
                    format!("--conns={}", c.conns.min(c.watch_streams)),
                    format!("--val-size={}", c.val_size),
                    "watch-fanout".into(),
                ];
                v.push(format!("--watchers={}", c.watchers));
                v.push(format!("--streams={}", c.watch_streams));
                v.push(format!("--events={}", c.watch_events));
                v.push(format!("--rate={}", c.watch_rate));
                v
            },
            spread: true,
        },
    ]
}

/// The failover measurement's name in `BENCH_ONLY` and in the table.
const FAILOVER: &str = "failover";

fn sibling(name: &str) -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.parent()?.join(name);
    p.exists().then_some(p)
}

fn first_line(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// What every run needs besides its own parameters.
struct Env<'a> {
    cli: &'a Cli,
    rt: &'a Runtime,
    store: &'a Path,
    load: &'a Path,
}

impl Env<'_> {
    fn binary(&self, which: Impl) -> &Path {
        match which {
            Impl::Store => self.store,
            Impl::Etcd => &self.cli.etcd_bin,
        }
    }

    /// Starts a fresh `n`-member cluster and waits until it is healthy: a leader is
    /// elected and a put through it is acknowledged. Returns it with the leader's index.
    fn start(&self, which: Impl, n: usize, log_name: &str) -> Result<(Cluster, usize)> {
        let parent = self.cli.data_dir.clone().unwrap_or_else(std::env::temp_dir).join("store-bench");
        if let Some(d) = &self.cli.log_dir {
            std::fs::create_dir_all(d)?;
        }
        let log = self.cli.log_dir.as_ref().map(|d| d.join(log_name));
        let cluster = Cluster::start(which, self.binary(which), n, self.cli.timing(), &parent, log.as_deref())
            .with_context(|| format!("starting {n} {} member(s)", which.name()))?;
        let leader = self
            .rt
            .block_on(probe::ready(&cluster.endpoints(), Duration::from_secs(30)))
            .with_context(|| format!("waiting for the {} cluster to accept a put", which.name()))?;
        Ok((cluster, leader))
    }
}

/// Adds `"members": n` to a result line, so raw lines of both sections can be told apart.
fn tag(mut v: Value, n: usize) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("members".into(), n.into());
    }
    v
}

/// Starts a fresh cluster of `n` members, runs one workload against it, stops it.
fn run_one(env: &Env, which: Impl, n: usize, plan: &Plan, round: usize) -> Result<Value> {
    let (cluster, leader) = env.start(which, n, &format!("{}-{n}m-{}-r{round}", plan.name, which.name()))?;
    // The leader first: single-connection clients (and writers) use the first endpoint.
    let mut endpoints = vec![cluster.endpoint(leader)];
    if plan.spread {
        endpoints.extend((0..cluster.len()).filter(|&i| i != leader).map(|i| cluster.endpoint(i)));
    }
    eprintln!(
        "bench: {} round {} on {} x{n} (leader {} pid {:?}, load to {})",
        plan.name,
        round + 1,
        which.name(),
        cluster.name(leader),
        cluster.pid(leader),
        endpoints.join(",")
    );
    let out = Command::new(env.load)
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(&plan.args)
        .output()
        .with_context(|| format!("running {}", env.load.display()))?;
    drop(cluster);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "etcd-load {} against {} x{n} failed ({}): {}",
            plan.name,
            which.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let line = stdout.lines().last().context("etcd-load printed nothing")?;
    let v: Value = serde_json::from_str(line).with_context(|| format!("parsing {line}"))?;
    eprintln!("bench:   {line}");
    if v.get("errors").and_then(Value::as_u64).unwrap_or(0) > 0 {
        eprintln!("bench:   WARNING: {} reported errors on {} x{n}", plan.name, which.name());
    }
    Ok(tag(v, n))
}

/// Every selected workload on clusters of `n` members, rounds alternating who goes first.
fn run_workloads(env: &Env, n: usize) -> Result<Vec<Runs>> {
    let mut all = Vec::new();
    for plan in plans(env.cli, n) {
        if !env.cli.selected(plan.name) {
            continue;
        }
        let mut runs = Runs { workload: plan.name.into(), shape: plan.shape.clone(), ..Default::default() };
        for round in 0..env.cli.rounds.max(1) {
            // Alternate who goes first, so neither always gets the cooler machine.
            let order = if round % 2 == 0 { [Impl::Etcd, Impl::Store] } else { [Impl::Store, Impl::Etcd] };
            for which in order {
                let v = run_one(env, which, n, &plan, round)?;
                match which {
                    Impl::Store => runs.store.push(v),
                    Impl::Etcd => runs.etcd.push(v),
                }
            }
        }
        all.push(runs);
    }
    Ok(all)
}

/// The failover rounds of one implementation on one `n`-member cluster.
fn run_failover_of(env: &Env, which: Impl, n: usize, load: &FailoverLoad) -> Result<Vec<Value>> {
    let (mut cluster, _) = env.start(which, n, &format!("{FAILOVER}-{n}m-{}", which.name()))?;
    let mut out = Vec::new();
    for round in 0..env.cli.failover_rounds.max(1) {
        let v = env
            .rt
            .block_on(failover::round(&mut cluster, load))
            .with_context(|| format!("{FAILOVER} round {} on {} x{n}", round + 1, which.name()))?;
        eprintln!("bench: {FAILOVER} round {} on {} x{n}: {v}", round + 1, which.name());
        out.push(tag(v, n));
    }
    Ok(out)
}

fn run_failover(env: &Env, n: usize) -> Result<Runs> {
    let c = env.cli;
    let load = FailoverLoad {
        writers: c.failover_writers.max(1),
        rate: c.failover_rate,
        val_size: c.val_size,
        warmup: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
    };
    let shape = format!(
        "{n} members, `--heartbeat-interval {}` / `--election-timeout {}` (ms){}; {} writers each putting {}/s \
         round-robin through every member (each put: 2 s deadline); SIGKILL of the leader → first \
         acknowledged put sent after the kill (so through a survivor); {} rounds on one cluster, the killed \
         member restarted and caught up between rounds",
        c.heartbeat_ms,
        c.election_ms,
        if c.timing() == Timing::default() { ", both defaults" } else { "" },
        load.writers,
        load.rate,
        c.failover_rounds.max(1),
    );
    let mut runs = Runs { workload: FAILOVER.into(), shape, ..Default::default() };
    runs.etcd = run_failover_of(env, Impl::Etcd, n, &load)?;
    runs.store = run_failover_of(env, Impl::Store, n, &load)?;
    Ok(runs)
}

/// One table of the generated block.
struct Section {
    title: String,
    runs: Vec<Runs>,
}

fn run(cli: &Cli) -> Result<String> {
    let store =
        cli.store_bin.clone().or_else(|| sibling("store")).unwrap_or_else(|| PathBuf::from("target/release/store"));
    let load = cli
        .load_bin
        .clone()
        .or_else(|| sibling("etcd-load"))
        .context("etcd-load not found next to bench; pass --load-bin")?;
    for (what, p) in [("store", &store), ("etcd", &cli.etcd_bin), ("etcd-load", &load)] {
        if !p.exists() {
            bail!("{what} binary {} does not exist", p.display());
        }
    }
    let sizes = cli.sizes()?;
    let known: Vec<&str> = plans(cli, 1).iter().map(|p| p.name).chain([FAILOVER]).collect();
    if let Some(bad) = cli.only.iter().find(|o| !known.contains(&o.as_str())) {
        bail!("BENCH_ONLY: unknown workload {bad:?} (known: {})", known.join(", "));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let env = Env { cli, rt: &rt, store: &store, load: &load };

    let started = std::time::Instant::now();
    let mut sections = Vec::new();
    for &n in &sizes {
        let runs = run_workloads(&env, n)?;
        if !runs.is_empty() {
            let title = if n == 1 { "1 member".to_string() } else { format!("{n} members") };
            sections.push(Section { title, runs });
        }
    }
    for &n in sizes.iter().filter(|&&n| n >= 3) {
        if cli.selected(FAILOVER) {
            let runs = run_failover(&env, n)?;
            sections.push(Section { title: format!("Failover ({n} members, leader SIGKILLed)"), runs: vec![runs] });
        }
    }
    if sections.is_empty() {
        bail!("BENCH_ONLY / BENCH_MEMBERS select nothing to run (the failover needs 3 or more members)");
    }

    let etcd_version = first_line(Command::new(&cli.etcd_bin).arg("--version"));
    let commit = first_line(Command::new("git").args(["rev-parse", "--short", "HEAD"]));
    let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let t = cli.timing();
    let mut block = format!(
        "Measured {date} on {cores} cores ({}), store at commit {commit}, {etcd_version}; \
         {} round(s) per workload (median), {} failover round(s), {:.0} s in all. \
         Every member of both runs with `--heartbeat-interval {} --election-timeout {} --snapshot-count {}`. \
         Generated by `scripts/bench.sh` (`make bench`); do not edit by hand.\n",
        cpu_model(),
        cli.rounds.max(1),
        cli.failover_rounds.max(1),
        started.elapsed().as_secs_f64(),
        t.heartbeat_ms,
        t.election_ms,
        t.snapshot_count,
    );
    for s in &sections {
        block.push_str(&format!("\n### {}\n\n", s.title));
        block.push_str(&table(&s.runs));
    }
    block.push_str("\n<details><summary>Raw results (one JSON line per run)</summary>\n\n```\n");
    for s in &sections {
        for r in &s.runs {
            for v in &r.etcd {
                block.push_str(&format!("etcd  {v}\n"));
            }
            for v in &r.store {
                block.push_str(&format!("store {v}\n"));
            }
        }
    }
    block.push_str("```\n\n</details>\n");
    Ok(block)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let block = match run(&cli) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("{block}");
    if let Some(out) = &cli.out {
        let doc = std::fs::read_to_string(out).unwrap_or_default();
        if let Err(e) = std::fs::write(out, splice(&doc, &block)) {
            eprintln!("bench: writing {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("bench: wrote {}", out.display());
    }
    ExitCode::SUCCESS
}
