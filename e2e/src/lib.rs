//! End-to-end tooling that drives real processes over the network: nothing here links
//! the `store` library, so every measurement goes through the same wire (etcd v3 gRPC)
//! for the store and for a real etcd.
//!
//! - [`load`]: workloads speaking the etcd v3 API (the `etcd-load` binary).
//! - [`member`]: starts a single `store` or `etcd` member on loopback ephemeral ports,
//!   with etcd's flags, exactly like `store/tests/common/mod.rs`.
//! - [`stats`]: latency summaries.
//!
//! The `bench` binary runs each workload against a fresh etcd and a fresh store, one
//! after the other, and prints (and writes to `docs/benchmarks.md`) the ratios.

pub mod bench;
pub mod load;
pub mod member;
pub mod stats;
