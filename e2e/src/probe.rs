//! Small questions asked of a running cluster over the etcd v3 API, identically for the
//! store and for etcd: who leads (Maintenance.Status on every endpoint, as
//! `etcdctl endpoint status` does), does a put succeed, have the members converged.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use proto::etcdserverpb::kv_client::KvClient;
use proto::etcdserverpb::maintenance_client::MaintenanceClient;
use proto::etcdserverpb::{PutRequest, StatusRequest};
use tonic::transport::{Channel, Endpoint};

/// What one member says about itself in a Maintenance.Status answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub member_id: u64,
    /// The member it believes leads (0: none).
    pub leader: u64,
    pub revision: i64,
    pub raft_term: u64,
}

impl Status {
    pub fn is_leader(&self) -> bool {
        self.leader != 0 && self.leader == self.member_id
    }
}

/// A channel that connects on first use, failing fast when nothing listens.
pub fn lazy_channel(endpoint: &str) -> Result<Channel> {
    Ok(Endpoint::from_shared(endpoint.to_string())
        .with_context(|| format!("bad endpoint {endpoint}"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_millis(500))
        .connect_lazy())
}

/// Maintenance.Status of the member at `endpoint` (1 s deadline).
pub async fn status(endpoint: &str) -> Result<Status> {
    let mut c = MaintenanceClient::new(lazy_channel(endpoint)?);
    let mut req = tonic::Request::new(StatusRequest {});
    req.set_timeout(Duration::from_secs(1));
    let s = tokio::time::timeout(Duration::from_secs(1), c.status(req))
        .await
        .with_context(|| format!("status of {endpoint} timed out"))?
        .with_context(|| format!("status of {endpoint}"))?
        .into_inner();
    let header = s.header.with_context(|| format!("status of {endpoint} has no header"))?;
    Ok(Status { member_id: header.member_id, leader: s.leader, revision: header.revision, raft_term: s.raft_term })
}

/// The index in `endpoints` of the member that reports itself leader, asking each in
/// turn until one does (or `timeout` passes).
pub async fn leader(endpoints: &[String], timeout: Duration) -> Result<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        for (i, ep) in endpoints.iter().enumerate() {
            if status(ep).await.is_ok_and(|s| s.is_leader()) {
                return Ok(i);
            }
        }
        if Instant::now() >= deadline {
            bail!("no member of {endpoints:?} reports itself leader after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Puts `key` through `endpoint` until one put is acknowledged (or `timeout` passes).
pub async fn put_until_ok(endpoint: &str, key: &str, timeout: Duration) -> Result<()> {
    let mut kv = KvClient::new(lazy_channel(endpoint)?);
    let deadline = Instant::now() + timeout;
    loop {
        let mut req = tonic::Request::new(PutRequest { key: key.into(), value: b"ok".to_vec(), ..Default::default() });
        req.set_timeout(Duration::from_secs(1));
        let err = match tokio::time::timeout(Duration::from_secs(1), kv.put(req)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_string(),
        };
        if Instant::now() >= deadline {
            bail!("no put acknowledged by {endpoint} within {timeout:?} (last: {err})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until a leader is elected and a put through it is acknowledged; returns the
/// leader's index in `endpoints`. This is "the cluster is healthy" before measuring.
pub async fn ready(endpoints: &[String], timeout: Duration) -> Result<usize> {
    let deadline = Instant::now() + timeout;
    let l = leader(endpoints, timeout).await?;
    put_until_ok(&endpoints[l], "bench/ready", deadline.saturating_duration_since(Instant::now())).await?;
    Ok(l)
}

/// Waits until every member answers Status, all name the same leader, and all are at
/// the same revision (with no writes going on: every member has caught up).
pub async fn converged(endpoints: &[String], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut seen = Vec::with_capacity(endpoints.len());
        for ep in endpoints {
            seen.push(status(ep).await.ok());
        }
        let all: Vec<Status> = seen.iter().flatten().copied().collect();
        if !all.is_empty()
            && all.len() == endpoints.len()
            && all[0].leader != 0
            && all.iter().all(|s| s.leader == all[0].leader && s.revision == all[0].revision)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("members did not converge within {timeout:?}: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
