//! `etcd-load`: a load generator speaking the etcd v3 gRPC API. Runs one workload
//! against one endpoint, or spread over the members of one cluster, and prints one JSON
//! line with the result.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use e2e::load::{self, FanoutSize, LoopSize};

#[derive(Parser, Debug)]
#[command(name = "etcd-load", about = "etcd v3 API load generator (one JSON line per run)")]
struct Cli {
    /// Client URL(s) of the member(s) under test, comma-separated. Connections are
    /// spread over them round-robin; single-connection clients (the sequential put
    /// client, the watch fan-out's writer) use the first.
    #[arg(long, alias = "endpoint", global = true, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// HTTP/2 connections the clients (or watch streams) are spread over.
    #[arg(long, global = true, default_value_t = 10)]
    conns: usize,
    /// Concurrent clients (closed loop: each sends its next request on an answer).
    #[arg(long, global = true, default_value_t = 100)]
    clients: usize,
    /// Value size in bytes.
    #[arg(long, global = true, default_value_t = 256)]
    val_size: usize,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand, Debug)]
enum Workload {
    /// One client, `total` sequential puts: p50/p99/mean latency.
    PutLatency {
        #[arg(long, default_value_t = 2_000)]
        total: u64,
        #[arg(long, default_value_t = 50)]
        warmup: u64,
    },
    /// `clients` clients over `conns` connections, `total` puts: ops/s, p50/p99.
    PutThroughput {
        #[arg(long, default_value_t = 20_000)]
        total: u64,
        #[arg(long, default_value_t = 1_000)]
        warmup: u64,
    },
    /// `clients` clients over `conns` connections, `total` single-key ranges: ops/s.
    Range {
        #[arg(long, value_enum, default_value_t = Consistency::L)]
        consistency: Consistency,
        #[arg(long, default_value_t = 20_000)]
        total: u64,
        #[arg(long, default_value_t = 1_000)]
        warmup: u64,
    },
    /// `watchers` watchers on one prefix over `streams` streams, one writer putting
    /// `events` keys at `rate`/s: delivery delay p50/p99/max.
    WatchFanout {
        #[arg(long, default_value_t = 1_000)]
        watchers: usize,
        #[arg(long, default_value_t = 10)]
        streams: usize,
        #[arg(long, default_value_t = 200)]
        events: u64,
        /// Writer puts per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
    },
}

/// etcd's `--consistency` of `etcdctl get` / `benchmark range`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Consistency {
    /// Linearizable (a read index round before answering).
    L,
    /// Serializable (answered from the local state).
    S,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("etcd-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ep = cli.endpoints.as_slice();
    let result = rt.block_on(async {
        match cli.workload {
            Workload::PutLatency { total, warmup } => load::put_latency(ep, total, warmup, cli.val_size).await,
            Workload::PutThroughput { total, warmup } => {
                let size = LoopSize { total, warmup, clients: cli.clients, conns: cli.conns };
                load::put_throughput(ep, size, cli.val_size).await
            }
            Workload::Range { consistency, total, warmup } => {
                let size = LoopSize { total, warmup, clients: cli.clients, conns: cli.conns };
                let serializable = matches!(consistency, Consistency::S);
                load::range(ep, size, serializable, cli.val_size).await
            }
            Workload::WatchFanout { watchers, streams, events, rate } => {
                let size = FanoutSize { watchers, streams, conns: cli.conns, events, rate, val_size: cli.val_size };
                load::watch_fanout(ep, size).await
            }
        }
    });
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("etcd-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}
