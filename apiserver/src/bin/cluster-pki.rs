//! `cluster-pki`: creates a local cluster's PKI on first start and reuses it afterwards
//! (CA, apiserver serving certificate, admin client certificate, service-account key
//! pair; see `component_base::pki`), and writes an admin kubeconfig embedding the CA and
//! the admin certificate. Used by `make run` (scripts/run-local.sh).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use component_base::pki::{ClusterPki, PkiOptions};

#[derive(Parser)]
#[command(name = "cluster-pki", about = "Create (or reuse) a local cluster's PKI and admin kubeconfig.")]
struct Args {
    /// Directory holding the PKI files.
    #[arg(long)]
    dir: PathBuf,
    /// The service CIDR; its first IP is the `kubernetes` service's address.
    #[arg(long = "service-cluster-ip-range", default_value = "10.0.0.0/24")]
    service_cluster_ip_range: String,
    /// The apiserver's advertise address (added to the serving certificate).
    #[arg(long = "advertise-address")]
    advertise_address: Option<IpAddr>,
    #[arg(long = "cluster-domain", default_value = "cluster.local")]
    cluster_domain: String,
    /// Where to write the admin kubeconfig (with --server).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The apiserver URL written into the kubeconfig.
    #[arg(long, default_value = "https://127.0.0.1:6443")]
    server: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let first = match apiserver::config::parse_cidr(&args.service_cluster_ip_range) {
        Ok((ip, _)) => apiserver::config::first_service_ip(ip),
        Err(e) => {
            eprintln!("cluster-pki: --service-cluster-ip-range: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = PkiOptions {
        service_ip: first,
        advertise_address: args.advertise_address,
        cluster_domain: args.cluster_domain,
    };
    let pki = match ClusterPki::ensure(&args.dir, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cluster-pki: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = args.kubeconfig {
        let written = pki.kubeconfig(&args.server, "admin", "kubernetes-admin").and_then(|text| {
            std::fs::write(&path, text).map_err(|e| component_base::pki::PkiError::Io {
                step: format!("writing {}", path.display()),
                source: e,
            })
        });
        if let Err(e) = written {
            eprintln!("cluster-pki: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
