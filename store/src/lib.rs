//! `store`: a single-binary, etcd v3 wire-compatible key-value store.
//!
//! Data path: gRPC / JSON gateway (`server`) → proposals → Raft (`raft`: one thread,
//! the log made durable in a write-ahead log before anything depends on it) → committed
//! entries applied by `apply::StateMachine` (one batch per entry, carrying its log
//! index) → `mvcc` (revisions, index, history) → `backend` (sled, flushed in the
//! background). Reads go straight to `mvcc` at the published revision. Watches are fed
//! after each apply (`watch`). Membership and snapshots: `membership`.

pub mod apply;
pub mod backend;
pub mod bolt;
pub mod lease;
pub mod membership;
pub mod mvcc;
pub mod raft;
pub mod server;
pub mod wal;
pub mod watch;
