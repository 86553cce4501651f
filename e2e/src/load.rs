//! Workloads speaking the etcd v3 gRPC API through the generated tonic clients. Each
//! returns one JSON object (printed as one line by `etcd-load`).
//!
//! Every `Channel` made by [`connect`] is one HTTP/2 connection; clients sharing a
//! channel multiplex their requests on it, as etcd's Go clients do. A workload given
//! several endpoints (the members of one cluster) spreads its connections over them
//! round-robin; whatever uses a single connection (the sequential put client, the
//! watch fan-out's writer, seeding) uses the first endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use proto::etcdserverpb::kv_client::KvClient;
use proto::etcdserverpb::watch_client::WatchClient;
use proto::etcdserverpb::watch_request::RequestUnion;
use proto::etcdserverpb::{PutRequest, RangeRequest, WatchCreateRequest, WatchRequest};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tonic::transport::{Channel, Endpoint};

use crate::stats::{Summary, summarize};

/// Opens one HTTP/2 connection to `endpoint` (e.g. `http://127.0.0.1:2379`).
pub async fn connect(endpoint: &str) -> Result<Channel> {
    Endpoint::from_shared(endpoint.to_string())
        .with_context(|| format!("bad endpoint {endpoint}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))
}

/// `conns` independent connections, the `i`-th to `endpoints[i % endpoints.len()]`.
pub async fn connect_many(endpoints: &[String], conns: usize) -> Result<Vec<Channel>> {
    if endpoints.is_empty() {
        bail!("no endpoint given");
    }
    let mut out = Vec::with_capacity(conns);
    for i in 0..conns.max(1) {
        out.push(connect(&endpoints[i % endpoints.len()]).await?);
    }
    Ok(out)
}

/// The first of `endpoints`: the one single-connection clients use.
pub fn first(endpoints: &[String]) -> Result<&str> {
    endpoints.first().map(String::as_str).context("no endpoint given")
}

/// The key of the `i`-th put of a run: distinct, sequential, fixed width.
fn seq_key(prefix: &str, i: u64) -> Vec<u8> {
    format!("{prefix}{i:010}").into_bytes()
}

fn latency_json(s: &Summary) -> Value {
    json!({
        "mean_ms": round3(s.mean_ms),
        "p50_ms": round3(s.p50_ms),
        "p99_ms": round3(s.p99_ms),
        "max_ms": round3(s.max_ms),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

/// One client, `total` puts one after the other (after `warmup` unmeasured ones).
pub async fn put_latency(endpoints: &[String], total: u64, warmup: u64, val_size: usize) -> Result<Value> {
    let mut kv = KvClient::new(connect(first(endpoints)?).await?);
    let value = vec![b'v'; val_size];
    for i in 0..warmup {
        let req = PutRequest { key: seq_key("bench/warm/", i), value: value.clone(), ..Default::default() };
        kv.put(req).await.context("warm-up put")?;
    }
    let mut lat = Vec::with_capacity(total as usize);
    let start = Instant::now();
    for i in 0..total {
        let req = PutRequest { key: seq_key("bench/lat/", i), value: value.clone(), ..Default::default() };
        let t = Instant::now();
        kv.put(req).await.context("put")?;
        lat.push(t.elapsed());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let s = summarize(&mut lat);
    Ok(merge(
        json!({
            "workload": "put-latency",
            "total": total,
            "val_size": val_size,
            "elapsed_s": round3(elapsed),
            "ops_per_s": round3(total as f64 / elapsed),
            "errors": 0,
        }),
        latency_json(&s),
    ))
}

/// What each request of a closed-loop run does.
#[derive(Clone)]
enum Op {
    Put { prefix: &'static str, value: Arc<Vec<u8>> },
    Range { key: Vec<u8>, serializable: bool },
}

impl Op {
    async fn run(&self, kv: &mut KvClient<Channel>, i: u64) -> Result<(), tonic::Status> {
        match self {
            Op::Put { prefix, value } => {
                let req = PutRequest { key: seq_key(prefix, i), value: value.to_vec(), ..Default::default() };
                kv.put(req).await.map(drop)
            }
            Op::Range { key, serializable } => {
                let req = RangeRequest { key: key.clone(), serializable: *serializable, ..Default::default() };
                let resp = kv.range(req).await?.into_inner();
                if resp.kvs.len() != 1 {
                    return Err(tonic::Status::internal(format!("range returned {} keys, want 1", resp.kvs.len())));
                }
                Ok(())
            }
        }
    }
}

struct Outcome {
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// `clients` tasks spread round-robin over `channels`, together issuing `total`
/// requests as fast as each gets its answer (closed loop).
async fn closed_loop(channels: &[Channel], clients: usize, total: u64, op: Op) -> Result<Outcome> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients.max(1) {
        let mut kv = KvClient::new(channels[c % channels.len()].clone());
        let next = next.clone();
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                match op.run(&mut kv, i).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut out = Outcome {
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(total as usize),
        errors: 0,
        first_error: None,
    };
    for t in tasks {
        let (lat, errors, first_error) = t.await.context("client task panicked")?;
        out.latencies.extend(lat);
        out.errors += errors;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

fn throughput_json(workload: &str, total: u64, clients: usize, conns: usize, mut o: Outcome) -> Value {
    let secs = o.elapsed.as_secs_f64();
    let ok = o.latencies.len() as f64;
    let s = summarize(&mut o.latencies);
    merge(
        json!({
            "workload": workload,
            "total": total,
            "clients": clients,
            "conns": conns,
            "elapsed_s": round3(secs),
            "ops_per_s": round3(ok / secs),
            "errors": o.errors,
            "first_error": o.first_error,
        }),
        latency_json(&s),
    )
}

/// Sizes of a closed-loop run.
#[derive(Clone, Copy, Debug)]
pub struct LoopSize {
    pub total: u64,
    pub warmup: u64,
    pub clients: usize,
    pub conns: usize,
}

/// `clients` clients over `conns` connections put `total` distinct keys.
pub async fn put_throughput(endpoints: &[String], size: LoopSize, val_size: usize) -> Result<Value> {
    let channels = connect_many(endpoints, size.conns).await?;
    let value = Arc::new(vec![b'v'; val_size]);
    let warm = Op::Put { prefix: "bench/warm/", value: value.clone() };
    closed_loop(&channels, size.clients, size.warmup, warm).await?;
    let op = Op::Put { prefix: "bench/put/", value };
    let o = closed_loop(&channels, size.clients, size.total, op).await?;
    Ok(merge(
        throughput_json("put-throughput", size.total, size.clients, size.conns, o),
        json!({ "val_size": val_size }),
    ))
}

/// `clients` clients over `conns` connections read one existing key `total` times,
/// linearizable (`serializable == false`, etcd's default) or serializable.
pub async fn range(endpoints: &[String], size: LoopSize, serializable: bool, val_size: usize) -> Result<Value> {
    let channels = connect_many(endpoints, size.conns).await?;
    let key = b"bench/range".to_vec();
    KvClient::new(channels[0].clone())
        .put(PutRequest { key: key.clone(), value: vec![b'v'; val_size], ..Default::default() })
        .await
        .context("seeding the range key")?;
    // A follower may apply the seed a moment later; serializable reads there must see it.
    for ch in channels.iter().take(endpoints.len()) {
        wait_visible(ch, &key).await?;
    }
    let op = Op::Range { key, serializable };
    closed_loop(&channels, size.clients, size.warmup, op.clone()).await?;
    let o = closed_loop(&channels, size.clients, size.total, op).await?;
    let name = if serializable { "range-serializable" } else { "range-linearizable" };
    Ok(throughput_json(name, size.total, size.clients, size.conns, o))
}

/// Waits (up to 10 s) until a serializable range through `ch` finds `key`.
async fn wait_visible(ch: &Channel, key: &[u8]) -> Result<()> {
    let mut kv = KvClient::new(ch.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let req = RangeRequest { key: key.to_vec(), serializable: true, ..Default::default() };
        if kv.range(req).await.is_ok_and(|r| r.into_inner().kvs.len() == 1) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the seeded key is not visible on every member after 10 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sizes of a watch fan-out run.
#[derive(Clone, Copy, Debug)]
pub struct FanoutSize {
    pub watchers: usize,
    pub streams: usize,
    pub conns: usize,
    pub events: u64,
    pub rate: f64,
    pub val_size: usize,
}

const WATCH_PREFIX: &[u8] = b"bench/watch/";
/// Width of the decimal send timestamp at the start of each watched value.
const STAMP_LEN: usize = 20;

/// The range end that makes `[prefix, end)` every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Resolves once the writer has published a deadline and it has passed.
async fn deadline_passed(mut rx: watch::Receiver<Option<Instant>>) {
    let deadline = loop {
        if let Some(d) = *rx.borrow_and_update() {
            break d;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::time::sleep_until(deadline.into()).await;
}

/// `watchers` watchers on one prefix, spread over `streams` watch streams (themselves
/// over `conns` connections); one writer puts `events` keys under the prefix at `rate`
/// puts per second, each value starting with its send time. Measures, for every
/// (event, watcher) pair, receive time − send time. The watch connections are spread
/// over `endpoints`; the writer puts through the first.
pub async fn watch_fanout(endpoints: &[String], size: FanoutSize) -> Result<Value> {
    let base = Instant::now();
    let now_ns = move || base.elapsed().as_nanos() as u64;
    let streams = size.streams.clamp(1, size.watchers.max(1));
    let channels = connect_many(endpoints, size.conns.min(streams)).await?;
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<()>>(streams);
    let (deadline_tx, deadline_rx) = watch::channel::<Option<Instant>>(None);
    let mut tasks = Vec::with_capacity(streams);
    for s in 0..streams {
        // Watchers spread as evenly as possible over the streams.
        let n = size.watchers / streams + usize::from(s < size.watchers % streams);
        let mut client = WatchClient::new(channels[s % channels.len()].clone());
        let ready_tx = ready_tx.clone();
        let deadline_rx = deadline_rx.clone();
        let expected = n as u64 * size.events;
        tasks.push(tokio::spawn(async move {
            let (req_tx, req_rx) = mpsc::channel::<WatchRequest>(n.max(1));
            let setup = async {
                // Queue the create requests before opening the stream: tonic waits for
                // the response headers, and grpc-go (etcd) sends them only with the
                // first response, which needs a request first.
                for _ in 0..n {
                    let create = WatchCreateRequest {
                        key: WATCH_PREFIX.to_vec(),
                        range_end: prefix_end(WATCH_PREFIX),
                        ..Default::default()
                    };
                    let req = WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) };
                    req_tx.send(req).await.context("watch request stream closed")?;
                }
                let mut resp = client
                    .watch(tokio_stream::wrappers::ReceiverStream::new(req_rx))
                    .await
                    .context("opening a watch stream")?
                    .into_inner();
                let mut created = 0;
                while created < n {
                    let r = resp.message().await?.context("watch stream ended during set-up")?;
                    if r.canceled {
                        bail!("watch canceled during set-up: {}", r.cancel_reason);
                    }
                    if r.created {
                        created += 1;
                    }
                }
                Ok(resp)
            };
            let mut resp = match setup.await {
                Ok(r) => {
                    let _ = ready_tx.send(Ok(())).await;
                    r
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e)).await;
                    return (Vec::new(), 0u64, expected);
                }
            };
            drop(ready_tx);
            let mut delays = Vec::with_capacity(expected as usize);
            let mut got = 0u64;
            let deadline = deadline_passed(deadline_rx);
            tokio::pin!(deadline);
            while got < expected {
                tokio::select! {
                    _ = &mut deadline => break,
                    m = resp.message() => {
                        let Ok(Some(r)) = m else { break };
                        let now = now_ns();
                        for ev in r.events {
                            let stamp = ev
                                .kv
                                .as_ref()
                                .and_then(|kv| kv.value.get(..STAMP_LEN))
                                .and_then(|b| std::str::from_utf8(b).ok())
                                .and_then(|s| s.parse::<u64>().ok());
                            if let Some(sent) = stamp {
                                delays.push(Duration::from_nanos(now.saturating_sub(sent)));
                                got += 1;
                            }
                        }
                    }
                }
            }
            // Keep the request side open until we are done reading.
            drop(req_tx);
            (delays, got, expected)
        }));
    }
    drop(ready_tx);
    let all_ready = async {
        for _ in 0..streams {
            ready_rx.recv().await.context("a watch stream task ended before set-up")??;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(60), all_ready).await.context("watchers not created within 60 s")??;
    let setup_s = base.elapsed().as_secs_f64();

    // The writer: one client, paced puts, each value led by its send time.
    let mut kv = KvClient::new(connect(first(endpoints)?).await?);
    let mut put_lat = Vec::with_capacity(size.events as usize);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / size.rate.max(0.001)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let write_start = Instant::now();
    for i in 0..size.events {
        tick.tick().await;
        let mut value = format!("{:0width$}", now_ns(), width = STAMP_LEN).into_bytes();
        value.resize(size.val_size.max(STAMP_LEN), b'v');
        let mut key = WATCH_PREFIX.to_vec();
        key.extend_from_slice(format!("{i:010}").as_bytes());
        let t = Instant::now();
        kv.put(PutRequest { key, value, ..Default::default() }).await.context("writer put")?;
        put_lat.push(t.elapsed());
    }
    let write_s = write_start.elapsed().as_secs_f64();
    let _ = deadline_tx.send(Some(Instant::now() + Duration::from_secs(30)));

    let mut delays = Vec::with_capacity(size.watchers * size.events as usize);
    let (mut delivered, mut expected) = (0u64, 0u64);
    for t in tasks {
        let (d, got, exp) = t.await.context("watch task panicked")?;
        delays.extend(d);
        delivered += got;
        expected += exp;
    }
    let drain_s = base.elapsed().as_secs_f64() - setup_s - write_s;
    let s = summarize(&mut delays);
    let puts = summarize(&mut put_lat);
    Ok(merge(
        json!({
            "workload": "watch-fanout",
            "watchers": size.watchers,
            "streams": streams,
            "conns": channels.len(),
            "events": size.events,
            "rate": size.rate,
            "expected": expected,
            "delivered": delivered,
            "errors": expected - delivered.min(expected),
            "setup_s": round3(setup_s),
            "write_s": round3(write_s),
            "drain_s": round3(drain_s),
            "put_p50_ms": round3(puts.p50_ms),
            "put_p99_ms": round3(puts.p99_ms),
        }),
        latency_json(&s),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"a/"), b"a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }

    #[test]
    fn keys_are_fixed_width_and_ordered() {
        assert_eq!(seq_key("p/", 42), b"p/0000000042".to_vec());
        assert!(seq_key("p/", 9) < seq_key("p/", 10));
    }
}
