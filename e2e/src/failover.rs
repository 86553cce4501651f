//! Failover time of a replicated cluster, measured the same way for the store and for
//! etcd: under a light write load through every member, SIGKILL the leader and take
//! the time from the kill to the first acknowledged put that was *sent after* the kill.
//! Such a put can only go through a survivor and can only be committed under a new
//! leader, so nothing committed by the old leader is mistaken for recovery.
//!
//! The writers are paced (open loop): each sends its next put on a timer, without
//! waiting for the previous answer, so a put stuck on a member that still believes in
//! the dead leader does not hold back the next one. The measurement's resolution is the
//! interval between puts reaching the survivors (5 ms with the defaults).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use proto::etcdserverpb::PutRequest;
use proto::etcdserverpb::kv_client::KvClient;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::member::Cluster;
use crate::probe;

/// The write load kept up while the leader is killed.
#[derive(Clone, Copy, Debug)]
pub struct FailoverLoad {
    /// Concurrent writers; each puts round-robin through every member.
    pub writers: usize,
    /// Puts per second of each writer.
    pub rate: f64,
    pub val_size: usize,
    /// How long the load runs before the kill.
    pub warmup: Duration,
    /// Deadline of each put (a put past it counts as failed).
    pub request_timeout: Duration,
}

/// One put: through which member, when it was sent and answered, and whether it was
/// acknowledged.
#[derive(Clone, Copy, Debug)]
struct Record {
    member: usize,
    sent: Instant,
    done: Instant,
    ok: bool,
}

type Records = Arc<Mutex<Vec<Record>>>;

fn snapshot(records: &Records) -> Vec<Record> {
    records.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// The paced writers of one round.
struct Writers {
    tasks: JoinSet<()>,
    records: Records,
    stop: Arc<AtomicBool>,
}

impl Writers {
    fn start(endpoints: &[String], load: &FailoverLoad) -> Result<Writers> {
        let records: Records = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_secs_f64(1.0 / load.rate.max(0.1));
        let value = Arc::new(vec![b'v'; load.val_size]);
        let mut tasks = JoinSet::new();
        for w in 0..load.writers.max(1) {
            // Each writer has its own connection to every member.
            let clients =
                endpoints.iter().map(|e| Ok(KvClient::new(probe::lazy_channel(e)?))).collect::<Result<Vec<_>>>()?;
            let (records, stop, value) = (records.clone(), stop.clone(), value.clone());
            let timeout = load.request_timeout;
            tasks.spawn(async move {
                let mut inflight = JoinSet::new();
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut k = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let member = (w + k as usize) % clients.len();
                    let mut kv = clients[member].clone();
                    let key = format!("bench/failover/{w}/{k:010}").into_bytes();
                    k += 1;
                    let (records, value) = (records.clone(), value.clone());
                    inflight.spawn(async move {
                        let sent = Instant::now();
                        let mut req =
                            tonic::Request::new(PutRequest { key, value: value.to_vec(), ..Default::default() });
                        req.set_timeout(timeout);
                        let ok = matches!(tokio::time::timeout(timeout, kv.put(req)).await, Ok(Ok(_)));
                        let done = Instant::now();
                        records.lock().unwrap_or_else(PoisonError::into_inner).push(Record { member, sent, done, ok });
                    });
                    while inflight.try_join_next().is_some() {}
                }
                // Dropping `inflight` abandons the puts still waiting for an answer.
            });
        }
        Ok(Writers { tasks, records, stop })
    }

    /// Stops the writers and returns every record.
    async fn stop(mut self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        snapshot(&self.records)
    }
}

/// The first acknowledged put sent at or after `t0`.
fn first_ack_after(records: &[Record], t0: Instant) -> Option<Record> {
    records.iter().filter(|r| r.ok && r.sent >= t0).min_by_key(|r| r.done).copied()
}

/// One failover round on a running cluster of at least 3 members: wait until the
/// members agree, start the writers, kill the leader, measure, stop the writers, then
/// restart the killed member and wait until it has caught up. Returns one JSON line.
pub async fn round(cluster: &mut Cluster, load: &FailoverLoad) -> Result<Value> {
    let endpoints = cluster.endpoints();
    probe::converged(&endpoints, Duration::from_secs(60)).await?;
    let writers = Writers::start(&endpoints, load)?;
    tokio::time::sleep(load.warmup).await;
    let leader = match probe::leader(&endpoints, Duration::from_secs(10)).await {
        Ok(l) => l,
        Err(e) => {
            writers.stop().await;
            return Err(e);
        }
    };
    let before = snapshot(&writers.records);
    if let Some(m) = (0..endpoints.len()).find(|&m| !before.iter().any(|r| r.ok && r.member == m)) {
        writers.stop().await;
        bail!("no put acknowledged through {} before the kill", cluster.name(m));
    }
    let killed = cluster.kill(leader)?;
    let deadline = killed + Duration::from_secs(30);
    while first_ack_after(&snapshot(&writers.records), killed).is_none() {
        if Instant::now() >= deadline {
            writers.stop().await;
            bail!("no put acknowledged within 30 s of killing the leader {}", cluster.name(leader));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A little more load after recovery; the first ack is taken from the final records,
    // so a put answered earlier but recorded later still counts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let records = writers.stop().await;
    let Some(first) = first_ack_after(&records, killed) else {
        bail!("the first acknowledged put after the kill disappeared from the records");
    };
    let survivors: Vec<usize> = (0..endpoints.len()).filter(|&i| i != leader).collect();
    let survivor_eps: Vec<String> = survivors.iter().map(|&i| endpoints[i].clone()).collect();
    let new_leader = probe::leader(&survivor_eps, Duration::from_secs(10)).await.map(|i| survivors[i]);
    let failed_during_failover = records.iter().filter(|r| !r.ok && r.sent >= killed && r.sent < first.done).count();

    // Between rounds: the killed member comes back on the same data and catches up.
    // (Blocking for the restart is fine here: the writers have stopped.)
    let rejoin = Instant::now();
    cluster.restart(leader)?;
    probe::converged(&endpoints, Duration::from_secs(60)).await?;
    Ok(json!({
        "workload": "failover",
        "failover_ms": round3((first.done - killed).as_secs_f64() * 1e3),
        "killed": cluster.name(leader),
        "new_leader": new_leader.map(|i| cluster.name(i).to_string()).ok(),
        "first_ack_via": cluster.name(first.member),
        "acked_before_kill": before.iter().filter(|r| r.ok).count(),
        "failed_during_failover": failed_during_failover,
        "writers": load.writers.max(1),
        "rate": load.rate,
        "rejoin_s": round3(rejoin.elapsed().as_secs_f64()),
    }))
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_puts_sent_after_the_kill_count() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let kill = at(100);
        let records = [
            // Sent before the kill, answered after it: committed by the old leader.
            Record { member: 1, sent: at(99), done: at(101), ok: true },
            // Sent after the kill but failed.
            Record { member: 1, sent: at(110), done: at(120), ok: false },
            Record { member: 2, sent: at(150), done: at(1400), ok: true },
            Record { member: 1, sent: at(200), done: at(1300), ok: true },
        ];
        let first = first_ack_after(&records, kill).unwrap();
        assert_eq!((first.member, first.done), (1, at(1300)));
        assert!(first_ack_after(&records[..2], kill).is_none());
    }
}
