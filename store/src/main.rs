//! The `store` daemon: parse etcd's flags, validate before binding, serve until
//! SIGINT/SIGTERM, then shut down cleanly (a second signal exits at once).

use std::process::ExitCode;

use clap::Parser;
use component_base::Shutdown;
use store::server::{self, Config};

fn main() -> ExitCode {
    let cfg = Config::parse();
    component_base::init_tracing(&cfg.log);
    component_base::tls::install_default_provider();
    if let Err(e) = cfg.validate() {
        eprintln!("store: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("store: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let shutdown = Shutdown::new();
        shutdown.listen_for_signals();
        let running = match server::start(cfg, &shutdown).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "store failed to start");
                return ExitCode::FAILURE;
            }
        };
        shutdown.cancelled().await;
        tracing::info!("stopping");
        running.stop(&shutdown).await;
        ExitCode::SUCCESS
    })
}
