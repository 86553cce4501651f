//! Tracing initialisation: `--log-format plain|json`, level from `RUST_LOG` or `-v`.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Plain,
    Json,
}

/// The logging flags every daemon takes.
#[derive(Clone, Debug, Args)]
pub struct LogArgs {
    /// Log output format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,
    /// Verbosity: -v debug, -vv trace. `RUST_LOG` wins when set.
    #[arg(short = 'v', action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// Installs the global subscriber. Logs go to stderr.
pub fn init_tracing(args: &LogArgs) {
    let default = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match args.log_format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second initialisation (tests starting several daemons in one process) is fine.
    let _ = result;
}
