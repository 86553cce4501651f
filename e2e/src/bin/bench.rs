//! `bench`: runs each `etcd-load` workload against a fresh real etcd and a fresh
//! `store` (one at a time, never concurrently), prints the comparison table and, with
//! `--out`, writes it into `docs/benchmarks.md` between the bench markers.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Parser;
use e2e::bench::{Runs, splice, table};
use e2e::member::{Impl, Member};
use serde_json::Value;

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
}

/// One workload: its name (as `etcd-load` reports it), a description of its shape,
/// and the `etcd-load` arguments after `--endpoint`.
struct Plan {
    name: &'static str,
    shape: String,
    args: Vec<String>,
}

fn plans(c: &Cli) -> Vec<Plan> {
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
    vec![
        Plan {
            name: "put-latency",
            shape: format!("1 client, {} puts", c.seq_puts),
            args: common(&["put-latency".into(), format!("--total={}", c.seq_puts)]),
        },
        Plan {
            name: "put-throughput",
            shape: format!("{cc}, {} puts", c.puts),
            args: common(&["put-throughput".into(), format!("--total={}", c.puts)]),
        },
        Plan {
            name: "range-linearizable",
            shape: format!("{cc}, {} ranges", c.ranges),
            args: common(&["range".into(), "--consistency=l".into(), format!("--total={}", c.ranges)]),
        },
        Plan {
            name: "range-serializable",
            shape: format!("{cc}, {} ranges", c.ranges),
            args: common(&["range".into(), "--consistency=s".into(), format!("--total={}", c.ranges)]),
        },
        Plan {
            name: "watch-fanout",
            shape: format!(
                "{} watchers / {} streams, 1 writer, {} events at {}/s",
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
        },
    ]
}

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

/// Starts a fresh member, runs one workload against it, stops it.
fn run_one(cli: &Cli, which: Impl, bin: &Path, load: &Path, plan: &Plan, round: usize) -> Result<Value> {
    let parent = cli.data_dir.clone().unwrap_or_else(std::env::temp_dir).join("store-bench");
    let log = cli.log_dir.as_ref().map(|d| d.join(format!("{}-{}-{round}.log", plan.name, which.name())));
    if let Some(d) = &cli.log_dir {
        std::fs::create_dir_all(d)?;
    }
    let member =
        Member::start(which, bin, &parent, log.as_deref()).with_context(|| format!("starting {}", which.name()))?;
    eprintln!(
        "bench: {} round {} on {} (pid {:?}, {})",
        plan.name,
        round + 1,
        which.name(),
        member.pid(),
        member.endpoint()
    );
    let out = Command::new(load)
        .arg(format!("--endpoint={}", member.endpoint()))
        .args(&plan.args)
        .output()
        .with_context(|| format!("running {}", load.display()))?;
    drop(member);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "etcd-load {} against {} failed ({}): {}",
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
        eprintln!("bench:   WARNING: {} reported errors on {}", plan.name, which.name());
    }
    Ok(v)
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
    let started = std::time::Instant::now();
    let mut all = Vec::new();
    for plan in plans(cli) {
        if !cli.only.is_empty() && !cli.only.iter().any(|o| o == plan.name) {
            continue;
        }
        let mut runs = Runs { workload: plan.name.into(), shape: plan.shape.clone(), ..Default::default() };
        for round in 0..cli.rounds.max(1) {
            // Alternate who goes first, so neither always gets the cooler machine.
            let order = if round % 2 == 0 { [Impl::Etcd, Impl::Store] } else { [Impl::Store, Impl::Etcd] };
            for which in order {
                let bin = match which {
                    Impl::Store => &store,
                    Impl::Etcd => &cli.etcd_bin,
                };
                let v = run_one(cli, which, bin, &load, &plan, round)?;
                match which {
                    Impl::Store => runs.store.push(v),
                    Impl::Etcd => runs.etcd.push(v),
                }
            }
        }
        all.push(runs);
    }
    let etcd_version = first_line(Command::new(&cli.etcd_bin).arg("--version"));
    let commit = first_line(Command::new("git").args(["rev-parse", "--short", "HEAD"]));
    let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut block = format!(
        "Measured {date} on {cores} cores ({}), store at commit {commit}, {etcd_version}; \
         {} round(s) per workload (median), {:.0} s in all. \
         Generated by `scripts/bench.sh` (`make bench`); do not edit by hand.\n\n",
        cpu_model(),
        cli.rounds.max(1),
        started.elapsed().as_secs_f64(),
    );
    block.push_str(&table(&all));
    block.push_str("\n<details><summary>Raw results (one JSON line per run)</summary>\n\n```\n");
    for r in &all {
        for v in &r.etcd {
            block.push_str(&format!("etcd  {v}\n"));
        }
        for v in &r.store {
            block.push_str(&format!("store {v}\n"));
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
