//! rustls helpers: load PEM certificates and keys, build server and client configs with
//! optional client-certificate verification. Uses the `ring` provider only; call
//! [`install_default_provider`] once at start.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading certificates from {path}: {source}")]
    Certs { path: String, source: rustls_pki_types::pem::Error },
    #[error("reading private key from {path}: {source}")]
    Key { path: String, source: rustls_pki_types::pem::Error },
    #[error("no certificate in {0}")]
    NoCert(String),
    #[error("building TLS config: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("building client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Installs the ring crypto provider as the process default (idempotent).
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let p = path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certs { path: p.clone(), source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(p));
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Key { path: path.display().to_string(), source })
}

pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(path)? {
        roots.add(c)?;
    }
    Ok(roots)
}

/// A server config; with `client_ca` set, clients must present a certificate signed by it.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        Some(ca) => {
            builder.with_client_cert_verifier(WebPkiClientVerifier::builder(Arc::new(load_roots(ca)?)).build()?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder.with_single_cert(load_certs(cert)?, load_key(key)?)?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A client config trusting `ca`, presenting `identity` (cert, key) when given.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let builder = rustls::ClientConfig::builder().with_root_certificates(load_roots(ca)?);
    let mut cfg = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(load_certs(cert)?, load_key(key)?)?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}
