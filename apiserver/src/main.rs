//! The `apiserver` daemon: parse kube-apiserver's flags, validate before binding, serve
//! until SIGINT/SIGTERM, then shut down cleanly (a second signal exits at once).

use std::process::ExitCode;

use apiserver::Config;
use clap::Parser;
use component_base::Shutdown;

fn main() -> ExitCode {
    let cfg = Config::parse();
    component_base::init_tracing(&cfg.log);
    component_base::tls::install_default_provider();
    if let Err(e) = cfg.validate() {
        eprintln!("apiserver: invalid configuration: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("apiserver: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let shutdown = Shutdown::new();
        shutdown.listen_for_signals();
        let running = match apiserver::start(cfg, &shutdown).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "apiserver failed to start");
                return ExitCode::FAILURE;
            }
        };
        shutdown.cancelled().await;
        tracing::info!("stopping");
        running.stop(&shutdown).await;
        ExitCode::SUCCESS
    })
}
