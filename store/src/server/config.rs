//! The `store` command line: etcd's flag names and defaults, validated before any port
//! is bound.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use url::Url;

pub const DEFAULT_QUOTA_BYTES: i64 = 2 * 1024 * 1024 * 1024;
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1024 * 1024 * 3 / 2;
/// gRPC's receive limit is etcd's request limit plus this much framing allowance.
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

#[derive(Clone, Debug, Parser)]
#[command(name = "store", version, about = "An etcd v3 compatible key-value store")]
pub struct Config {
    /// Human-readable name for this member.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Path to the data directory.
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic (comma-separated).
    #[arg(long = "listen-client-urls", default_value = "http://localhost:2379", value_delimiter = ',')]
    pub listen_client_urls: Vec<Url>,
    /// Client URLs of this member advertised to the cluster (comma-separated).
    #[arg(long = "advertise-client-urls", default_value = "http://localhost:2379", value_delimiter = ',')]
    pub advertise_client_urls: Vec<Url>,
    /// URLs to listen on for peer traffic (comma-separated).
    #[arg(long = "listen-peer-urls", default_value = "http://localhost:2380", value_delimiter = ',')]
    pub listen_peer_urls: Vec<Url>,
    /// This member's peer URLs advertised to the rest of the cluster.
    #[arg(long = "initial-advertise-peer-urls", default_value = "http://localhost:2380", value_delimiter = ',')]
    pub initial_advertise_peer_urls: Vec<Url>,
    /// Initial cluster configuration for bootstrapping: name=peerURL,...
    #[arg(long = "initial-cluster")]
    pub initial_cluster: Option<String>,
    /// Initial cluster state ('new' or 'existing').
    #[arg(long = "initial-cluster-state", default_value = "new")]
    pub initial_cluster_state: String,
    /// Initial cluster token for the cluster during bootstrap.
    #[arg(long = "initial-cluster-token", default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    /// URLs to serve /metrics and /health on (comma-separated).
    #[arg(long = "listen-metrics-urls", value_delimiter = ',', default_value = "http://localhost:2381")]
    pub listen_metrics_urls: Vec<Url>,
    /// Time (in milliseconds) of a heartbeat interval.
    #[arg(long = "heartbeat-interval", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout.
    #[arg(long = "election-timeout", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Number of committed transactions to trigger a snapshot to disk.
    #[arg(long = "snapshot-count", default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB).
    #[arg(long = "quota-backend-bytes", default_value_t = 0)]
    pub quota_backend_bytes: i64,
    /// Maximum client request size in bytes the server will accept.
    #[arg(long = "max-request-bytes", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Maximum number of operations permitted in a transaction.
    #[arg(long = "max-txn-ops", default_value_t = 128)]
    pub max_txn_ops: usize,
    /// Duration of periodic watch progress notifications.
    #[arg(long = "experimental-watch-progress-notify-interval", default_value = "10m", value_parser = parse_duration)]
    pub watch_progress_notify_interval: Duration,
    /// Path to the client server TLS cert file.
    #[arg(long = "cert-file")]
    pub cert_file: Option<PathBuf>,
    /// Path to the client server TLS key file.
    #[arg(long = "key-file")]
    pub key_file: Option<PathBuf>,
    /// Path to the client server TLS trusted CA cert file.
    #[arg(long = "trusted-ca-file")]
    pub trusted_ca_file: Option<PathBuf>,
    /// Enable client cert authentication.
    #[arg(long = "client-cert-auth", default_value_t = false)]
    pub client_cert_auth: bool,
    /// Path to the peer server TLS cert file.
    #[arg(long = "peer-cert-file")]
    pub peer_cert_file: Option<PathBuf>,
    /// Path to the peer server TLS key file.
    #[arg(long = "peer-key-file")]
    pub peer_key_file: Option<PathBuf>,
    /// Path to the peer server TLS trusted CA file.
    #[arg(long = "peer-trusted-ca-file")]
    pub peer_trusted_ca_file: Option<PathBuf>,
    /// Enable peer client cert authentication.
    #[arg(long = "peer-client-cert-auth", default_value_t = false)]
    pub peer_client_cert_auth: bool,
    #[command(flatten)]
    pub log: component_base::LogArgs,
}

/// Parses Go-style durations: "10m", "5s", "250ms", "1h".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--initial-cluster has an invalid entry {0:?} (want name=url)")]
    BadInitialCluster(String),
    #[error("--initial-cluster must include {name}={url} (this member's --initial-advertise-peer-urls)")]
    SelfNotInCluster { name: String, url: String },
    #[error("--initial-cluster-state must be 'new' or 'existing', not {0:?}")]
    BadClusterState(String),
    #[error("--election-timeout[{election}ms] should be at least as 5 times as --heartbeat-interval[{heartbeat}ms]")]
    BadElection { election: u64, heartbeat: u64 },
    #[error("unsupported URL scheme in {0} (want http or https)")]
    BadScheme(Url),
    #[error("{0} uses https but --cert-file and --key-file are not both set")]
    TlsWithoutCert(Url),
    #[error("{0} uses https but --peer-cert-file, --peer-key-file and --peer-trusted-ca-file are not all set")]
    PeerTlsWithoutCert(Url),
    #[error("--client-cert-auth needs --trusted-ca-file (and --peer-client-cert-auth --peer-trusted-ca-file)")]
    ClientAuthWithoutCa,
    #[error("URL {0} has no host or port")]
    NoHostPort(Url),
}

impl Config {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)))
    }

    pub fn quota_bytes(&self) -> i64 {
        match self.quota_backend_bytes {
            0 => DEFAULT_QUOTA_BYTES,
            q if q < 0 => i64::MAX,
            q => q,
        }
    }

    /// etcd's minimum lease TTL: 1.5 election timeouts, rounded up to whole seconds.
    pub fn min_lease_ttl(&self) -> i64 {
        let ticks = (self.election_timeout / self.heartbeat_interval.max(1)).max(1);
        let ms = (3 * ticks / 2) * self.heartbeat_interval;
        ms.div_ceil(1000) as i64
    }

    /// The `--initial-cluster` members as (name, peer URLs).
    pub fn initial_members(&self) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
        let spec = match &self.initial_cluster {
            Some(s) => s.clone(),
            None => format!(
                "{}={}",
                self.name,
                self.initial_advertise_peer_urls.iter().map(trim).collect::<Vec<_>>().join(",")
            ),
        };
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (name, url) = part.split_once('=').ok_or_else(|| ConfigError::BadInitialCluster(part.into()))?;
            let u = Url::parse(url).map_err(|_| ConfigError::BadInitialCluster(part.into()))?;
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, urls)) => urls.push(trim(&u)),
                None => out.push((name.to_string(), vec![trim(&u)])),
            }
        }
        Ok(out)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.initial_cluster_state != "new" && self.initial_cluster_state != "existing" {
            return Err(ConfigError::BadClusterState(self.initial_cluster_state.clone()));
        }
        if self.election_timeout < 5 * self.heartbeat_interval {
            return Err(ConfigError::BadElection {
                election: self.election_timeout,
                heartbeat: self.heartbeat_interval,
            });
        }
        let members = self.initial_members()?;
        let mine: Vec<String> = self.initial_advertise_peer_urls.iter().map(trim).collect();
        if !members.iter().any(|(n, urls)| *n == self.name && mine.iter().all(|u| urls.contains(u))) {
            return Err(ConfigError::SelfNotInCluster { name: self.name.clone(), url: mine.join(",") });
        }
        for u in self.listen_client_urls.iter().chain(&self.listen_metrics_urls) {
            match u.scheme() {
                "http" => {}
                "https" if self.cert_file.is_some() && self.key_file.is_some() => {}
                "https" => return Err(ConfigError::TlsWithoutCert(u.clone())),
                _ => return Err(ConfigError::BadScheme(u.clone())),
            }
            if u.host_str().is_none() || u.port_or_known_default().is_none() {
                return Err(ConfigError::NoHostPort(u.clone()));
            }
        }
        if self.client_cert_auth && self.trusted_ca_file.is_none() {
            return Err(ConfigError::ClientAuthWithoutCa);
        }
        let peer_tls = self.peer_cert_file.is_some() && self.peer_key_file.is_some();
        for u in self.listen_peer_urls.iter().chain(&self.initial_advertise_peer_urls) {
            match u.scheme() {
                "http" => {}
                "https" if peer_tls && self.peer_trusted_ca_file.is_some() => {}
                "https" => return Err(ConfigError::PeerTlsWithoutCert(u.clone())),
                _ => return Err(ConfigError::BadScheme(u.clone())),
            }
        }
        if self.peer_client_cert_auth && self.peer_trusted_ca_file.is_none() {
            return Err(ConfigError::ClientAuthWithoutCa);
        }
        Ok(())
    }
}

/// A URL as etcd prints it: no trailing slash.
pub fn trim(u: &Url) -> String {
    u.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Config {
        let mut v = vec!["store"];
        v.extend_from_slice(args);
        Config::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_follow_etcd() {
        let c = cfg(&[]);
        assert_eq!(c.listen_client_urls[0].port(), Some(2379));
        assert_eq!(c.listen_peer_urls[0].port(), Some(2380));
        assert_eq!(c.listen_metrics_urls[0].port(), Some(2381));
        assert_eq!(c.min_lease_ttl(), 2);
        assert_eq!(c.quota_bytes(), DEFAULT_QUOTA_BYTES);
        assert_eq!(c.data_dir(), PathBuf::from("default.etcd"));
        c.validate().unwrap();
    }

    #[test]
    fn bad_configs_are_rejected_before_start() {
        assert!(cfg(&["--initial-cluster-state", "old"]).validate().is_err());
        assert!(cfg(&["--heartbeat-interval", "500"]).validate().is_err());
        assert!(cfg(&["--initial-cluster", "other=http://localhost:2380"]).validate().is_err());
        assert!(cfg(&["--listen-client-urls", "https://127.0.0.1:1"]).validate().is_err());
        assert!(cfg(&["--listen-client-urls", "unix://x"]).validate().is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5x").is_err());
    }
}
