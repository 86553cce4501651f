//! End-to-end tooling that drives real processes over the network: nothing here links
//! the `store` library, so every measurement goes through the same wire (etcd v3 gRPC)
//! for the store and for a real etcd.
//!
//! - [`load`]: workloads speaking the etcd v3 API (the `etcd-load` binary).
//! - [`member`]: starts a `store` or `etcd` cluster of one or more members on loopback
//!   ephemeral ports, with the same etcd flags for both; kills and restarts members.
//! - [`probe`]: who leads (Maintenance.Status), does a put succeed, have members caught up.
//! - [`failover`]: time from SIGKILL of the leader to the first acknowledged write.
//! - [`stats`]: latency summaries.
//!
//! The `bench` binary runs each workload against a fresh etcd and a fresh store, one
//! after the other, as single members and as 3-member clusters, measures both failovers,
//! and prints (and writes to `docs/benchmarks.md`) the ratios.

pub mod bench;
pub mod failover;
pub mod load;
pub mod member;
pub mod probe;
pub mod stats;
