//! `store`: a single-binary, etcd v3 wire-compatible key-value store.
//!
//! Data path: gRPC / JSON gateway (`server`) → proposals → the apply loop
//! (`apply::StateMachine`, one writer, group commit, flush before acknowledging) →
//! `mvcc` (revisions, index, history) → `backend` (sled). Reads go straight to `mvcc`
//! at the published (durable) revision. Watches are fed by the apply loop after each
//! flush (`watch`). The apply function is keyed by log index so a Raft log can sit in
//! front of it without changing it.

pub mod apply;
pub mod backend;
pub mod bolt;
pub mod lease;
pub mod mvcc;
pub mod raft;
pub mod server;
pub mod wal;
pub mod watch;
