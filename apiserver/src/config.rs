//! Configuration: kube-apiserver's flag names, validated before any port is bound.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use component_base::LogArgs;

#[derive(Clone, Debug, Parser)]
#[command(name = "apiserver", about = "The Kubernetes API server, on the etcd v3 API.")]
pub struct Config {
    /// etcd servers to connect to (scheme://ip:port), comma separated.
    #[arg(long = "etcd-servers", value_delimiter = ',', required = true)]
    pub etcd_servers: Vec<String>,
    /// SSL Certificate Authority file used to secure etcd communication.
    #[arg(long = "etcd-cafile")]
    pub etcd_cafile: Option<PathBuf>,
    /// SSL certification file used to secure etcd communication.
    #[arg(long = "etcd-certfile")]
    pub etcd_certfile: Option<PathBuf>,
    /// SSL key file used to secure etcd communication.
    #[arg(long = "etcd-keyfile")]
    pub etcd_keyfile: Option<PathBuf>,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long = "secure-port", default_value_t = 6443)]
    pub secure_port: u16,
    /// File containing the default x509 certificate for HTTPS (CA cert, if any,
    /// concatenated after the server cert). Without it a self-signed certificate is
    /// generated in memory.
    #[arg(long = "tls-cert-file")]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long = "tls-private-key-file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// If set, any request presenting a client certificate signed by one of the
    /// authorities in this file is authenticated with an identity corresponding to the
    /// CommonName of the client certificate (and its Organizations as groups).
    #[arg(long = "client-ca-file")]
    pub client_ca_file: Option<PathBuf>,
    /// If set, the file that will be used to secure the secure port of the API server
    /// via token authentication (CSV: token,user,uid,"group1,group2").
    #[arg(long = "token-auth-file")]
    pub token_auth_file: Option<PathBuf>,
    /// Enables anonymous requests to the secure port of the API server. Requests that
    /// are not rejected by another authentication method are treated as anonymous
    /// requests (user system:anonymous, group system:unauthenticated).
    #[arg(long = "anonymous-auth", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub anonymous_auth: bool,
    /// Identifier of the service account token issuer (the `iss` claim). The first is
    /// used to issue tokens; all are accepted.
    #[arg(long = "service-account-issuer", value_delimiter = ',')]
    pub service_account_issuer: Vec<String>,
    /// PEM-encoded public keys (or certificates) used to verify service account tokens.
    #[arg(long = "service-account-key-file")]
    pub service_account_key_file: Vec<PathBuf>,
    /// Path to the file that contains the current private key of the service account
    /// token issuer (PKCS#8 EC P-256 or RSA).
    #[arg(long = "service-account-signing-key-file")]
    pub service_account_signing_key_file: Option<PathBuf>,
    /// Identifiers of the API. Tokens without one of these audiences are rejected;
    /// defaults to the first --service-account-issuer.
    #[arg(long = "api-audiences", value_delimiter = ',')]
    pub api_audiences: Vec<String>,
    /// Ordered list of plug-ins to do authorization on secure port (AlwaysAllow,
    /// AlwaysDeny, RBAC, Node). Defaults to AlwaysAllow.
    #[arg(long = "authorization-mode", value_delimiter = ',', default_value = "AlwaysAllow")]
    pub authorization_mode: Vec<String>,
    /// A CIDR notation IP range from which to assign service cluster IPs.
    #[arg(long = "service-cluster-ip-range", value_delimiter = ',', default_value = "10.0.0.0/24")]
    pub service_cluster_ip_range: Vec<String>,
    /// A port range to reserve for services with NodePort visibility (inclusive at both ends).
    #[arg(long = "service-node-port-range", default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// The IP address on which to advertise the apiserver to members of the cluster.
    #[arg(long = "advertise-address")]
    pub advertise_address: Option<IpAddr>,
    /// Admission plugins that should be enabled in addition to default enabled ones
    /// (upstream's names, comma separated).
    #[arg(long = "enable-admission-plugins", value_delimiter = ',')]
    pub enable_admission_plugins: Vec<String>,
    /// Admission plugins that should be disabled although they are in the default
    /// enabled plugins list.
    #[arg(long = "disable-admission-plugins", value_delimiter = ',')]
    pub disable_admission_plugins: Vec<String>,
    /// File with admission control configuration (an AdmissionConfiguration).
    #[arg(long = "admission-control-config-file")]
    pub admission_control_config_file: Option<PathBuf>,
    /// Turns on aggregator routing requests to endpoints IP rather than cluster IP (here:
    /// admission webhooks that name a Service).
    #[arg(long = "enable-aggregator-routing", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_aggregator_routing: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--etcd-servers must be specified")]
    NoEtcd,
    #[error("--etcd-servers: {0:?} is not a URL of the form http://host:port or https://host:port")]
    EtcdUrl(String),
    #[error("--etcd-servers: {0:?} uses https, which needs --etcd-cafile")]
    EtcdTlsNeedsCa(String),
    #[error("--etcd-servers: {0:?} uses http while --etcd-cafile is set")]
    EtcdPlainWithTls(String),
    #[error("--etcd-certfile and --etcd-keyfile must be given together")]
    EtcdClientPair,
    #[error("--tls-cert-file and --tls-private-key-file must be given together")]
    TlsPair,
    #[error("{0}")]
    AuthorizationMode(String),
    #[error("service-account-issuer is a required flag when service-account-signing-key-file is set")]
    IssuerRequired,
    #[error("--service-cluster-ip-range: {0}")]
    ServiceRange(String),
    #[error("--service-node-port-range: {0}")]
    NodePortRange(String),
    #[error("{0}")]
    Admission(String),
}

const KNOWN_AUTHZ_MODES: &[&str] = &["AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"];
const SUPPORTED_AUTHZ_MODES: &[&str] = &["AlwaysAllow", "AlwaysDeny", "RBAC", "Node"];

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.etcd_servers.is_empty() {
            return Err(ConfigError::NoEtcd);
        }
        for s in &self.etcd_servers {
            let (tls, rest) = match (s.strip_prefix("http://"), s.strip_prefix("https://")) {
                (Some(rest), _) => (false, rest),
                (_, Some(rest)) => (true, rest),
                _ => return Err(ConfigError::EtcdUrl(s.clone())),
            };
            if rest.is_empty() || rest.trim_end_matches('/').contains('/') {
                return Err(ConfigError::EtcdUrl(s.clone()));
            }
            match (tls, self.etcd_cafile.is_some()) {
                (true, false) => return Err(ConfigError::EtcdTlsNeedsCa(s.clone())),
                (false, true) => return Err(ConfigError::EtcdPlainWithTls(s.clone())),
                _ => {}
            }
        }
        if self.etcd_certfile.is_some() != self.etcd_keyfile.is_some() {
            return Err(ConfigError::EtcdClientPair);
        }
        if self.tls_cert_file.is_some() != self.tls_private_key_file.is_some() {
            return Err(ConfigError::TlsPair);
        }
        // Upstream's messages for unknown and repeated modes; ABAC and Webhook are
        // known upstream but not implemented here.
        for (i, m) in self.authorization_mode.iter().enumerate() {
            if !KNOWN_AUTHZ_MODES.contains(&m.as_str()) {
                return Err(ConfigError::AuthorizationMode(format!("authorization-mode {m:?} is not a valid mode")));
            }
            if !SUPPORTED_AUTHZ_MODES.contains(&m.as_str()) {
                return Err(ConfigError::AuthorizationMode(format!(
                    "authorization-mode {m:?} is not supported by this apiserver (supported: {})",
                    SUPPORTED_AUTHZ_MODES.join(", ")
                )));
            }
            if self.authorization_mode[..i].contains(m) {
                return Err(ConfigError::AuthorizationMode(format!(
                    "authorization-mode {m:?} has mode specified more than once"
                )));
            }
        }
        if self.service_account_signing_key_file.is_some() && self.service_account_issuer.is_empty() {
            return Err(ConfigError::IssuerRequired);
        }
        if self.service_cluster_ip_range.len() > 2 {
            return Err(ConfigError::ServiceRange("at most two CIDRs (one per IP family) may be given".into()));
        }
        for r in &self.service_cluster_ip_range {
            parse_cidr(r).map_err(ConfigError::ServiceRange)?;
        }
        self.service_config()?;
        crate::admission::check_flags(&self.enable_admission_plugins, &self.disable_admission_plugins)
            .map_err(ConfigError::Admission)?;
        crate::admission::configure_from_file(self.admission_control_config_file.as_deref(), false)
            .map_err(ConfigError::Admission)?;
        Ok(())
    }

    /// The service ranges: the first IPv4 CIDR and the node-port range.
    pub fn service_config(&self) -> Result<crate::registry::core::services::ServiceConfig, ConfigError> {
        let mut cfg = crate::registry::core::services::ServiceConfig::default();
        if let Some((std::net::IpAddr::V4(ip), bits)) =
            self.service_cluster_ip_range.iter().filter_map(|r| parse_cidr(r).ok()).find(|(ip, _)| ip.is_ipv4())
        {
            if bits > 30 {
                return Err(ConfigError::ServiceRange(format!("{ip}/{bits} is too small: at least a /30 is needed")));
            }
            cfg.network = ip;
            cfg.prefix = bits;
        }
        let r = &self.service_node_port_range;
        let bad = || ConfigError::NodePortRange(format!("{r:?} is not a valid port range (e.g. 30000-32767)"));
        let (lo, hi) = r.split_once('-').ok_or_else(bad)?;
        let (lo, hi): (u16, u16) = (lo.trim().parse().map_err(|_| bad())?, hi.trim().parse().map_err(|_| bad())?);
        if lo == 0 || hi < lo {
            return Err(bad());
        }
        cfg.node_ports = (lo, hi);
        Ok(cfg)
    }
}

/// The first usable address of a service CIDR (the `kubernetes` service's ClusterIP).
pub fn first_service_ip(network: IpAddr) -> IpAddr {
    match network {
        IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a).wrapping_add(1))),
        IpAddr::V6(a) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(a).wrapping_add(1))),
    }
}

/// Parses `ip/prefix`, as Go's `net.ParseCIDR` accepts it.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let err = || format!("invalid CIDR address: {s}");
    let (ip, bits) = s.split_once('/').ok_or_else(err)?;
    let ip: IpAddr = ip.parse().map_err(|_| err())?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let bits: u8 = bits.parse().map_err(|_| err())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err(err());
    }
    Ok((ip, bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Config {
        let mut all = vec!["apiserver", "--etcd-servers", "http://127.0.0.1:2379"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).unwrap()
    }

    #[test]
    fn defaults_follow_upstream() {
        let c = cfg(&[]);
        assert_eq!(c.secure_port, 6443);
        assert_eq!(c.bind_address.to_string(), "0.0.0.0");
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(matches!(cfg(&["--authorization-mode", "Bogus"]).validate(), Err(ConfigError::AuthorizationMode(_))));
        assert!(cfg(&["--authorization-mode", "Node,RBAC"]).validate().is_ok());
        assert_eq!(
            cfg(&["--authorization-mode", "RBAC,RBAC"]).validate(),
            Err(ConfigError::AuthorizationMode(
                r#"authorization-mode "RBAC" has mode specified more than once"#.into()
            ))
        );
        assert!(matches!(cfg(&["--authorization-mode", "ABAC"]).validate(), Err(ConfigError::AuthorizationMode(_))));
        assert_eq!(cfg(&["--service-account-signing-key-file", "/k"]).validate(), Err(ConfigError::IssuerRequired));
        assert!(!cfg(&["--anonymous-auth=false"]).anonymous_auth);
        assert!(cfg(&[]).anonymous_auth);
        assert_eq!(first_service_ip("10.0.0.0".parse().unwrap()).to_string(), "10.0.0.1");
        assert!(cfg(&["--authorization-mode", "AlwaysAllow"]).validate().is_ok());
        assert!(matches!(
            cfg(&["--service-cluster-ip-range", "10.0.0.0/33"]).validate(),
            Err(ConfigError::ServiceRange(_))
        ));
        assert!(matches!(cfg(&["--service-cluster-ip-range", "nope"]).validate(), Err(ConfigError::ServiceRange(_))));
        assert!(cfg(&["--service-cluster-ip-range", "10.96.0.0/12,fd00::/108"]).validate().is_ok());
        assert_eq!(cfg(&["--tls-cert-file", "/x"]).validate(), Err(ConfigError::TlsPair));
        assert_eq!(
            cfg(&["--enable-admission-plugins", "NodeRestriction,Foo"]).validate(),
            Err(ConfigError::Admission(r#"enable-admission-plugins plugin "Foo" is unknown"#.into()))
        );
        assert!(cfg(&["--disable-admission-plugins", "ServiceAccount,ResourceQuota"]).validate().is_ok());
        assert!(matches!(cfg(&["--service-node-port-range", "5-1"]).validate(), Err(ConfigError::NodePortRange(_))));
        let sc = cfg(&["--service-cluster-ip-range", "10.96.0.0/12", "--service-node-port-range", "31000-31010"]);
        let svc = sc.service_config().unwrap();
        assert_eq!((svc.prefix, svc.node_ports), (12, (31000, 31010)));
        let two = Config::try_parse_from(["apiserver", "--etcd-servers", "http://a:1,http://b:2"]).unwrap();
        assert_eq!(two.etcd_servers.len(), 2);
        let bad = Config::try_parse_from(["apiserver", "--etcd-servers", "a:1"]).unwrap();
        assert!(matches!(bad.validate(), Err(ConfigError::EtcdUrl(_))));
        let tls = |args: &[&str]| {
            let mut all = vec!["apiserver"];
            all.extend_from_slice(args);
            Config::try_parse_from(all).unwrap().validate()
        };
        assert!(matches!(tls(&["--etcd-servers", "https://a:1"]), Err(ConfigError::EtcdTlsNeedsCa(_))));
        assert!(matches!(
            tls(&["--etcd-servers", "http://a:1", "--etcd-cafile", "/ca"]),
            Err(ConfigError::EtcdPlainWithTls(_))
        ));
        assert!(tls(&["--etcd-servers", "https://a:1", "--etcd-cafile", "/ca"]).is_ok());
        assert_eq!(
            tls(&["--etcd-servers", "https://a:1", "--etcd-cafile", "/ca", "--etcd-certfile", "/c"]),
            Err(ConfigError::EtcdClientPair)
        );
    }
}
