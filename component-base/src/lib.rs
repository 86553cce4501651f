//! Shared daemon plumbing for every component: command-line argument groups, tracing
//! initialisation, a small admin HTTP server (`/healthz`, `/livez`, `/readyz`,
//! `/metrics`), graceful shutdown (one cancellation token, tracked tasks, a second
//! signal exits at once), rustls helpers and the cluster PKI (rcgen).
//!
//! It knows nothing about any particular component: no etcd, no Kubernetes types.

pub mod admin;
pub mod h2_compat;
mod hpack_tables;
pub mod logging;
pub mod pki;
pub mod ports;
pub mod shutdown;
pub mod tls;

pub use admin::{AdminHandler, HttpResponse, serve_http};
pub use logging::{LogArgs, LogFormat, init_tracing};
pub use shutdown::Shutdown;
