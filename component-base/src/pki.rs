//! A cluster's PKI on disk, generated with rcgen on first use and reused afterwards: a
//! CA, a serving certificate for the apiserver, client certificates (CN = user, O =
//! groups) and a key pair for signing service-account tokens. Keys are ECDSA P-256
//! (rcgen's ring backend cannot generate RSA keys). Also writes kubeconfig files that
//! embed the CA and a client certificate.
//!
//! Layout (kubeadm's names): `ca.{crt,key}`, `apiserver.{crt,key}`, `admin.{crt,key}`,
//! `sa.key` (PKCS#8) and `sa.pub` (SubjectPublicKeyInfo). Existing files are never
//! rewritten; a leaf is issued again only when its files are missing (and all of them
//! when the CA is).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{step}: {source}")]
    Io {
        step: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{step}: {source}")]
    Cert {
        step: String,
        #[source]
        source: rcgen::Error,
    },
}

fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> PkiError {
    let step = step.into();
    move |source| PkiError::Io { step, source }
}

fn cert(step: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let step = step.into();
    move |source| PkiError::Cert { step, source }
}

/// What the cluster's certificates must name.
#[derive(Clone, Debug)]
pub struct PkiOptions {
    /// The first IP of the service CIDR (the `kubernetes` service's ClusterIP).
    pub service_ip: IpAddr,
    /// The address the apiserver advertises.
    pub advertise_address: Option<IpAddr>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
}

/// The files of a cluster PKI directory.
#[derive(Clone, Debug)]
pub struct ClusterPki {
    pub dir: PathBuf,
}

const CA_CN: &str = "kubernetes";
/// Certificates are valid for this long (days), the CA ten times as long.
const LEAF_DAYS: i64 = 365;

impl ClusterPki {
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Creates what is missing under `dir` and returns the PKI.
    pub fn ensure(dir: &Path, opts: &PkiOptions) -> Result<ClusterPki, PkiError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let pki = ClusterPki { dir: dir.to_path_buf() };
        let (ca_crt, ca_key) = (pki.path("ca.crt"), pki.path("ca.key"));
        let fresh_ca = !(ca_crt.exists() && ca_key.exists());
        let ca_key_pair = if fresh_ca {
            let key = KeyPair::generate().map_err(cert("generating the CA key"))?;
            let cert = ca_params().self_signed(&key).map_err(cert("self-signing the CA"))?;
            write_private(&ca_key, &key.serialize_pem())?;
            write(&ca_crt, &cert.pem())?;
            key
        } else {
            let pem = std::fs::read_to_string(&ca_key).map_err(io(format!("reading {}", ca_key.display())))?;
            KeyPair::from_pem(&pem).map_err(cert(format!("parsing {}", ca_key.display())))?
        };
        // The issuer is rebuilt from the same subject and key, so what it signs chains
        // to the CA certificate on disk (same issuer name, same key identifier).
        let issuer = Issuer::new(ca_params(), ca_key_pair);

        let mut sans: Vec<String> = vec![
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            format!("kubernetes.default.svc.{}", opts.cluster_domain),
            "localhost".into(),
            "127.0.0.1".into(),
            opts.service_ip.to_string(),
        ];
        if let Some(a) = opts.advertise_address
            && !sans.contains(&a.to_string())
        {
            sans.push(a.to_string());
        }
        // The SANs the serving certificate was issued for are kept beside it, so a
        // changed advertise address or service range issues it again.
        let sans_file = pki.path("apiserver.sans");
        let wanted = sans.join("\n");
        let stale = std::fs::read_to_string(&sans_file).map_or(true, |had| had != wanted);
        issue(
            &pki,
            fresh_ca || stale,
            "apiserver",
            "kube-apiserver",
            &[],
            &sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        )?;
        write(&sans_file, &wanted)?;
        issue(
            &pki,
            fresh_ca,
            "admin",
            "kubernetes-admin",
            &["system:masters"],
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        )?;

        let (sa_key, sa_pub) = (pki.path("sa.key"), pki.path("sa.pub"));
        if !(sa_key.exists() && sa_pub.exists()) {
            let key = KeyPair::generate().map_err(cert("generating the service-account key"))?;
            write_private(&sa_key, &key.serialize_pem())?;
            write(&sa_pub, &key.public_key_pem())?;
        }
        Ok(pki)
    }

    /// Issues (or reuses) a client certificate `<file>.{crt,key}` for `user` in `groups`
    /// (rcgen keeps one value per subject attribute: only the last group is written).
    pub fn ensure_client(&self, file: &str, user: &str, groups: &[&str]) -> Result<(), PkiError> {
        let pem = std::fs::read_to_string(self.path("ca.key")).map_err(io("reading ca.key"))?;
        let key = KeyPair::from_pem(&pem).map_err(cert("parsing ca.key"))?;
        let issuer = Issuer::new(ca_params(), key);
        issue(self, false, file, user, groups, &[], ExtendedKeyUsagePurpose::ClientAuth, &issuer)
    }

    /// A kubeconfig for `server` embedding the CA and the client certificate `<user_file>.{crt,key}`.
    pub fn kubeconfig(&self, server: &str, user_file: &str, user: &str) -> Result<String, PkiError> {
        let b64 = |f: &str| -> Result<String, PkiError> {
            let p = self.path(f);
            let bytes = std::fs::read(&p).map_err(io(format!("reading {}", p.display())))?;
            Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
        };
        Ok(format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {crt}\n    client-key-data: {key}\ncontexts:\n- name: {user}@local\n  context:\n    cluster: local\n    user: {user}\ncurrent-context: {user}@local\n",
            ca = b64("ca.crt")?,
            crt = b64(&format!("{user_file}.crt"))?,
            key = b64(&format!("{user_file}.key"))?,
        ))
    }
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, CA_CN);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut p, LEAF_DAYS * 10);
    p
}

#[allow(clippy::too_many_arguments)]
fn issue(
    pki: &ClusterPki,
    force: bool,
    file: &str,
    cn: &str,
    orgs: &[&str],
    sans: &[String],
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<(), PkiError> {
    let (crt, key_path) = (pki.path(&format!("{file}.crt")), pki.path(&format!("{file}.key")));
    if !force && crt.exists() && key_path.exists() {
        return Ok(());
    }
    let mut p = CertificateParams::new(sans.to_vec()).map_err(cert(format!("{file}: subject alternative names")))?;
    p.distinguished_name = DistinguishedName::new();
    for o in orgs {
        p.distinguished_name.push(DnType::OrganizationName, *o);
    }
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![usage];
    set_validity(&mut p, LEAF_DAYS);
    let key = KeyPair::generate().map_err(cert(format!("{file}: generating the key")))?;
    let c = p.signed_by(&key, issuer).map_err(cert(format!("{file}: signing")))?;
    write_private(&key_path, &key.serialize_pem())?;
    write(&crt, &c.pem())?;
    Ok(())
}

/// Valid from the start of yesterday (clock skew) until `days` from now (whole days:
/// rcgen's date helper works in days).
fn set_validity(p: &mut CertificateParams, days: i64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let at = |unix: i64| {
        let (y, m, d) = civil_from_days(unix.div_euclid(86400));
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    p.not_before = at(now - 86400);
    p.not_after = at(now + days * 86400);
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn write(path: &Path, text: &str) -> Result<(), PkiError> {
    std::fs::write(path, text).map_err(io(format!("writing {}", path.display())))
}

fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    f.write_all(text.as_bytes()).map_err(io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let opts = PkiOptions {
            service_ip: "10.0.0.1".parse().unwrap(),
            advertise_address: Some("192.0.2.7".parse().unwrap()),
            cluster_domain: "cluster.local".into(),
        };
        let pki = ClusterPki::ensure(dir.path(), &opts).unwrap();
        let files =
            ["ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key", "sa.pub"];
        let before: Vec<String> = files.iter().map(|f| std::fs::read_to_string(pki.path(f)).unwrap()).collect();
        ClusterPki::ensure(dir.path(), &opts).unwrap();
        let after: Vec<String> = files.iter().map(|f| std::fs::read_to_string(pki.path(f)).unwrap()).collect();
        assert_eq!(before, after, "a second start must reuse every file");
        // Another advertise address: a new serving certificate, the rest kept.
        let moved = PkiOptions { advertise_address: Some("192.0.2.8".parse().unwrap()), ..opts.clone() };
        ClusterPki::ensure(dir.path(), &moved).unwrap();
        assert_ne!(std::fs::read_to_string(pki.path("apiserver.crt")).unwrap(), before[2]);
        assert_eq!(std::fs::read_to_string(pki.path("admin.crt")).unwrap(), before[4]);
        // A missing leaf is issued again by the same CA; the chain verifies.
        std::fs::remove_file(pki.path("admin.crt")).unwrap();
        ClusterPki::ensure(dir.path(), &opts).unwrap();
        assert_ne!(std::fs::read_to_string(pki.path("admin.key")).unwrap(), before[5]);
        crate::tls::install_default_provider();
        let roots = std::sync::Arc::new(crate::tls::load_roots(&pki.path("ca.crt")).unwrap());
        let verifier = rustls::server::WebPkiClientVerifier::builder(roots).build().unwrap();
        let leaf = crate::tls::load_certs(&pki.path("admin.crt")).unwrap();
        verifier.verify_client_cert(&leaf[0], &[], rustls_pki_types::UnixTime::now()).expect("admin chains to the CA");
        let kc = pki.kubeconfig("https://127.0.0.1:6443", "admin", "kubernetes-admin").unwrap();
        assert!(kc.contains("certificate-authority-data: ") && kc.contains("client-key-data: "), "{kc}");
        assert!(!kc.contains("insecure"), "{kc}");
    }
}
