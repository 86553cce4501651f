//! x509 client certificates: an optional rustls client verifier that lets every
//! handshake through (so anonymous and token requests still work, and a bad certificate
//! gets upstream's 401 rather than a TLS alert), and the per-connection check against
//! `--client-ca-file` that turns a verified certificate into a user (CN = name,
//! O = groups), as upstream's x509 authenticator does. Also a minimal DER reader for
//! the subject and public keys.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

use sha2::Digest;

use super::UserInfo;

/// Wraps a webpki verifier: asks for a certificate, never requires one, and accepts
/// any chain at the handshake; [`X509Authenticator::authenticate`] verifies it later.
#[derive(Debug)]
pub struct OptionalClientAuth {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for OptionalClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    // The client still proves it holds the certificate's key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies client certificates against `--client-ca-file`.
#[derive(Clone)]
pub struct X509Authenticator {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl X509Authenticator {
    pub fn from_ca_file(path: &std::path::Path) -> anyhow::Result<X509Authenticator> {
        let roots = component_base::tls::load_roots(path)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .allow_unauthenticated()
            .build()
            .map_err(|e| anyhow::anyhow!("--client-ca-file {}: {e}", path.display()))?;
        Ok(X509Authenticator { verifier })
    }

    /// The verifier to put in the TLS server config.
    pub fn tls_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(OptionalClientAuth { inner: self.verifier.clone() })
    }

    /// `None` without a certificate; an error (401) when it does not verify.
    pub fn authenticate(&self, chain: Option<&[CertificateDer<'static>]>) -> Option<Result<UserInfo, String>> {
        let (leaf, intermediates) = chain?.split_first()?;
        if let Err(e) = self.verifier.verify_client_cert(leaf, intermediates, UnixTime::now()) {
            return Some(Err(format!("verifying certificate failed: {e}")));
        }
        let Some((cn, orgs)) = subject(leaf.as_ref()) else {
            return Some(Err("unable to parse the certificate subject".into()));
        };
        if cn.is_empty() {
            return Some(Err("certificate has no common name".into()));
        }
        // Upstream names the credential by the certificate's SHA-256 fingerprint.
        let fingerprint: String = sha2::Sha256::digest(leaf.as_ref()).iter().map(|b| format!("{b:02x}")).collect();
        let extra = std::collections::BTreeMap::from([(
            "authentication.kubernetes.io/credential-id".to_string(),
            vec![format!("X509SHA256={fingerprint}")],
        )]);
        Some(Ok(UserInfo { name: cn, groups: orgs, extra, ..Default::default() }))
    }
}

/// One DER TLV: (tag, contents, rest).
pub fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];

/// The subject's CommonName and Organizations of a DER certificate.
pub fn subject(cert: &[u8]) -> Option<(String, Vec<String>)> {
    name_fields(tbs_field(cert, 5)?)
}

/// CommonName and Organizations of a DER `Name` (the first TLV of `name`).
pub fn name_fields(name: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, mut rdns, _) = tlv(name)?;
    let (mut cn, mut orgs) = (String::new(), Vec::new());
    while !rdns.is_empty() {
        let (_, set, rest) = tlv(rdns)?;
        rdns = rest;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, atv, rest) = tlv(attrs)?;
            attrs = rest;
            let (_, oid, value) = tlv(atv)?;
            let (tag, text, _) = tlv(value)?;
            // UTF8String, PrintableString, T61String, IA5String.
            if ![0x0c, 0x13, 0x14, 0x16].contains(&tag) {
                continue;
            }
            let text = String::from_utf8_lossy(text).into_owned();
            if oid == OID_CN {
                cn = text;
            } else if oid == OID_O {
                orgs.push(text);
            }
        }
    }
    Some((cn, orgs))
}

/// The `index`-th field of a certificate's tbsCertificate (counting from the serial
/// number as 1, as if the explicit version were field 0), as a whole TLV.
fn tbs_field(cert: &[u8], index: usize) -> Option<&[u8]> {
    let (_, certificate, _) = tlv(cert)?;
    let (_, tbs, _) = tlv(certificate)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    for _ in 1..index {
        rest = tlv(rest)?.2;
    }
    let (_, _, after) = tlv(rest)?;
    Some(&rest[..rest.len() - after.len()])
}

/// The SubjectPublicKeyInfo of a DER certificate (the field after the subject).
pub fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    tbs_field(cert, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_of_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        // (rcgen keeps one value per attribute type, so one O here.)
        p.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
        p.distinguished_name.push(rcgen::DnType::CommonName, "kubernetes-admin");
        let cert = p.self_signed(&key).unwrap();
        let (cn, orgs) = subject(cert.der()).unwrap();
        assert_eq!(cn, "kubernetes-admin");
        assert_eq!(orgs, ["system:masters"]);
        let spki = certificate_spki(cert.der()).unwrap();
        use rustls_pki_types::pem::PemObject;
        let want = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(key.public_key_pem().as_bytes()).unwrap();
        assert_eq!(spki, want.as_ref());
        assert!(subject(b"\x30\x03garbage").is_none());
    }
}
