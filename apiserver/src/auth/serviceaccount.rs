//! Service-account tokens: JWTs signed (ES256 or RS256) with
//! `--service-account-signing-key-file`, verified with `--service-account-key-file`,
//! with upstream's claims (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti` and the
//! private `kubernetes.io` claim), the key id being the base64url SHA-256 of the
//! public key's SubjectPublicKeyInfo, as upstream computes it.

use std::path::Path;

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde_json::{Value, json};
use sha2::Digest;

use super::x509::{certificate_spki, tlv};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A public key tokens are verified with.
#[derive(Clone, Debug)]
pub struct PublicKey {
    alg: &'static str,
    /// ring's form: the EC point, or the PKCS#1 RSAPublicKey.
    raw: Vec<u8>,
    pub kid: String,
}

impl PublicKey {
    /// From a SubjectPublicKeyInfo (P-256 or RSA).
    pub fn from_spki(spki: &[u8]) -> Result<PublicKey, String> {
        let (_, body, _) = tlv(spki).ok_or("malformed SubjectPublicKeyInfo")?;
        let (_, alg, rest) = tlv(body).ok_or("malformed SubjectPublicKeyInfo")?;
        let (_, bits, _) = tlv(rest).ok_or("malformed SubjectPublicKeyInfo")?;
        let (_, oid, params) = tlv(alg).ok_or("malformed AlgorithmIdentifier")?;
        let raw = bits.get(1..).ok_or("empty public key")?.to_vec();
        let kid = B64.encode(sha2::Sha256::digest(spki));
        if oid == OID_EC_PUBLIC_KEY {
            let (_, curve, _) = tlv(params).ok_or("EC key without a curve")?;
            if curve != OID_P256 {
                return Err("only P-256 EC keys are supported".into());
            }
            Ok(PublicKey { alg: "ES256", raw, kid })
        } else if oid == OID_RSA {
            Ok(PublicKey { alg: "RS256", raw, kid })
        } else {
            Err("unsupported public key algorithm".into())
        }
    }

    /// The key as a JWK (RFC 7517), as upstream's `/openid/v1/jwks` publishes it.
    pub fn jwk(&self) -> Value {
        if self.alg == "ES256" {
            // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
            let (x, y) = self.raw.get(1..).unwrap_or_default().split_at(self.raw.len().saturating_sub(1) / 2);
            return json!({"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
                "x": B64.encode(x), "y": B64.encode(y)});
        }
        let int = |v: &[u8]| {
            let mut v = v;
            while v.len() > 1 && v[0] == 0 {
                v = &v[1..];
            }
            B64.encode(v)
        };
        let parsed = tlv(&self.raw).and_then(|(_, seq, _)| {
            let (_, n, rest) = tlv(seq)?;
            let (_, e, _) = tlv(rest)?;
            Some((int(n), int(e)))
        });
        let (n, e) = parsed.unwrap_or_default();
        json!({"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256", "n": n, "e": e})
    }

    pub fn alg(&self) -> &'static str {
        self.alg
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
            _ => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        UnparsedPublicKey::new(alg, &self.raw).verify(msg, sig).is_ok()
    }
}

/// Reads every public key in a PEM file: public keys, certificates, or private keys
/// (whose public half is used), as upstream's `--service-account-key-file` accepts.
pub fn load_public_keys(path: &Path) -> Result<Vec<PublicKey>, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut keys = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(&data) {
        let (kind, der) = item.map_err(|e| format!("{}: {e}", path.display()))?;
        let key = match kind {
            SectionKind::PublicKey => PublicKey::from_spki(&der),
            SectionKind::Certificate => {
                certificate_spki(&der).ok_or_else(|| "malformed certificate".to_string()).and_then(PublicKey::from_spki)
            }
            SectionKind::PrivateKey | SectionKind::RsaPrivateKey => {
                Signer::from_der(kind, &der).map(|s| PublicKey::from_spki(&s.spki).expect("our own SPKI parses"))
            }
            _ => continue,
        };
        keys.push(key.map_err(|e| format!("{}: {e}", path.display()))?);
    }
    if keys.is_empty() {
        return Err(format!("{}: no public keys found", path.display()));
    }
    Ok(keys)
}

enum SigningKey {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// Signs tokens with `--service-account-signing-key-file`.
pub struct Signer {
    key: SigningKey,
    spki: Vec<u8>,
    pub kid: String,
}

impl Signer {
    pub fn load(path: &Path) -> Result<Signer, String> {
        let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(&data) {
            let (kind, der) = item.map_err(|e| format!("{}: {e}", path.display()))?;
            if matches!(kind, SectionKind::PrivateKey | SectionKind::RsaPrivateKey) {
                return Signer::from_der(kind, &der).map_err(|e| format!("{}: {e}", path.display()));
            }
        }
        Err(format!("{}: no PKCS#8 (\"PRIVATE KEY\") or PKCS#1 (\"RSA PRIVATE KEY\") key found", path.display()))
    }

    fn from_der(kind: SectionKind, der: &[u8]) -> Result<Signer, String> {
        let rng = SystemRandom::new();
        let key = if kind == SectionKind::RsaPrivateKey {
            SigningKey::Rsa(RsaKeyPair::from_der(der).map_err(|e| format!("RSA key: {e}"))?)
        } else if let Ok(k) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng) {
            SigningKey::Ec(k)
        } else {
            SigningKey::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| format!("not a P-256 or RSA PKCS#8 key: {e}"))?)
        };
        let spki = match &key {
            SigningKey::Ec(k) => {
                let alg = der_seq(&[der_tlv(0x06, OID_EC_PUBLIC_KEY), der_tlv(0x06, OID_P256)].concat());
                der_seq(&[alg, bit_string(k.public_key().as_ref())].concat())
            }
            SigningKey::Rsa(k) => {
                let alg = der_seq(&[der_tlv(0x06, OID_RSA), vec![0x05, 0x00]].concat());
                der_seq(&[alg, bit_string(k.public().as_ref())].concat())
            }
        };
        let kid = B64.encode(sha2::Sha256::digest(&spki));
        Ok(Signer { key, spki, kid })
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_spki(&self.spki).expect("our own SPKI parses")
    }

    /// A compact JWS of `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let alg = match self.key {
            SigningKey::Ec(_) => "ES256",
            SigningKey::Rsa(_) => "RS256",
        };
        let header = json!({"alg": alg, "kid": self.kid});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let rng = SystemRandom::new();
        let sig = match &self.key {
            SigningKey::Ec(k) => k.sign(&rng, input.as_bytes()).map_err(|e| e.to_string())?.as_ref().to_vec(),
            SigningKey::Rsa(k) => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out).map_err(|e| e.to_string())?;
                out
            }
        };
        Ok(format!("{input}.{}", B64.encode(sig)))
    }
}

fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..0x80 => vec![n as u8],
        0x80..0x100 => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    [vec![tag], der_len(content.len()), content.to_vec()].concat()
}

fn der_seq(content: &[u8]) -> Vec<u8> {
    der_tlv(0x30, content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    der_tlv(0x03, &[&[0u8][..], bytes].concat())
}

/// The issuer of legacy, secret-based service-account tokens (always accepted, like
/// upstream, as long as their secret exists).
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// Why a token was refused (logged; the client sees upstream's 401).
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, or not one of ours: other authenticators may still claim it.
    NotOurs,
    Invalid(String),
}

/// Checks signature, issuer, audience and time; returns the claims.
pub fn verify(
    token: &str,
    keys: &[PublicKey],
    issuers: &[String],
    audiences: &[String],
    now: i64,
) -> Result<Value, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::NotOurs);
    };
    let decode = |x: &str| B64.decode(x.trim_end_matches('=')).map_err(|_| TokenError::NotOurs);
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::NotOurs)?;
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| TokenError::NotOurs)?;
    let sig = decode(s)?;
    let iss = claims["iss"].as_str().unwrap_or("");
    let legacy = iss == LEGACY_ISSUER;
    if !legacy && !issuers.iter().any(|i| i == iss) {
        return Err(TokenError::NotOurs);
    }
    let alg = header["alg"].as_str().unwrap_or("");
    let msg = &token.as_bytes()[..h.len() + 1 + p.len()];
    let kid = header["kid"].as_str();
    let verified =
        keys.iter().filter(|k| k.alg == alg && kid.is_none_or(|kid| kid == k.kid)).any(|k| k.verify(msg, &sig));
    if !verified {
        return Err(TokenError::Invalid("invalid signature".into()));
    }
    if legacy {
        // Secret-based tokens never expire and carry no audience: the secret is checked.
        return Ok(claims);
    }
    const LEEWAY: i64 = 60;
    if claims["exp"].as_i64().is_none_or(|exp| now > exp + LEEWAY) {
        return Err(TokenError::Invalid("service account token has expired".into()));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| now + LEEWAY < nbf) {
        return Err(TokenError::Invalid("service account token is not valid yet".into()));
    }
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !auds.iter().any(|a| audiences.iter().any(|want| want == a)) {
        return Err(TokenError::Invalid("token audiences is invalid for the target audiences".into()));
    }
    Ok(claims)
}

/// The claims of a bound token for a service account; `bound` is the object the token
/// is bound to, as (`pod` | `secret` | `node`, name, uid).
#[allow(clippy::too_many_arguments)]
pub fn claims(
    issuer: &str,
    audiences: &[String],
    ns: &str,
    sa: &str,
    sa_uid: &str,
    bound: Option<(&str, &str, &str)>,
    now: i64,
    ttl: i64,
) -> Value {
    let mut k8s = json!({"namespace": ns});
    if let Some((kind, name, uid)) = bound {
        k8s[kind] = json!({"name": name, "uid": uid});
    }
    k8s["serviceaccount"] = json!({"name": sa, "uid": sa_uid});
    json!({
        "aud": audiences,
        "exp": now + ttl,
        "iat": now,
        "iss": issuer,
        "jti": crate::auth::new_uid(),
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let key = rcgen::KeyPair::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sa.key");
        std::fs::write(&p, key.serialize_pem()).unwrap();
        let s = Signer::load(&p).unwrap();
        let pubp = dir.path().join("sa.pub");
        std::fs::write(&pubp, key.public_key_pem()).unwrap();
        let keys = load_public_keys(&pubp).unwrap();
        assert_eq!(keys[0].kid, s.kid, "the key id comes from the SPKI either way");
        let jwk = keys[0].jwk();
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
        assert_eq!(B64.decode(jwk["x"].as_str().unwrap()).unwrap().len(), 32);
        assert_eq!(B64.decode(jwk["y"].as_str().unwrap()).unwrap().len(), 32);
        s
    }

    #[test]
    fn sign_and_verify() {
        let s = signer();
        let keys = vec![s.public_key()];
        let iss = vec!["https://kubernetes.default.svc.cluster.local".to_string()];
        let c = claims(&iss[0], &iss, "default", "builder", "u-1", Some(("pod", "p", "p-1")), 1_000, 3600);
        assert_eq!(c["kubernetes.io"]["pod"], json!({"name": "p", "uid": "p-1"}));
        let t = s.sign(&c).unwrap();
        let got = verify(&t, &keys, &iss, &iss, 1_500).unwrap();
        assert_eq!(got["sub"], "system:serviceaccount:default:builder");
        // Expired, wrong audience, wrong issuer, tampered.
        assert!(matches!(verify(&t, &keys, &iss, &iss, 1_000 + 3600 + 61), Err(TokenError::Invalid(_))));
        assert!(matches!(verify(&t, &keys, &iss, &["other".into()], 1_500), Err(TokenError::Invalid(_))));
        assert_eq!(verify(&t, &keys, &["x".into()], &iss, 1_500), Err(TokenError::NotOurs));
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert!(verify(&bad, &keys, &iss, &iss, 1_500).is_err());
        let other = signer();
        assert!(matches!(verify(&t, &[other.public_key()], &iss, &iss, 1_500), Err(TokenError::Invalid(_))));
        assert_eq!(verify("abc", &keys, &iss, &iss, 0), Err(TokenError::NotOurs));
    }
}
