//! What upstream's CSR registry and certificate admission plugins take from the
//! requester: a new CertificateSigningRequest records who asked (`spec.username`,
//! `uid`, `groups`, `extra`, whatever the body says), approving or denying one needs
//! the `approve` verb on its signer (`signers` in certificates.k8s.io, named after the
//! signerName or `<domain>/*`), and issuing the certificate through `status` needs `sign`
//! (CertificateApproval and CertificateSigning); and no CSR for the
//! kube-apiserver-client signer may ask for the system:masters group
//! (CertificateSubjectRestriction).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Attributes, Decision, UserInfo};
use crate::registry::{Resource, Subresource};
use crate::rest::Admit;
use crate::server::State;
use crate::status::ApiError;

const GROUP: &str = "certificates.k8s.io";

fn is_csr(res: &Resource) -> bool {
    res.group == GROUP && res.name == "certificatesigningrequests"
}

/// A create body with the requester's identity in `spec` (upstream's PrepareForCreate).
pub fn with_requester(res: &Resource, user: Option<&UserInfo>, body: Bytes) -> Bytes {
    let Some(user) = user.filter(|_| is_csr(res)) else { return body };
    let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else { return body };
    if !obj["spec"].is_object() {
        return body;
    }
    let spec = &mut obj["spec"];
    for f in ["username", "uid", "groups", "extra"] {
        spec.as_object_mut().map(|m| m.shift_remove(f));
    }
    spec["username"] = json!(user.name);
    if !user.uid.is_empty() {
        spec["uid"] = json!(user.uid);
    }
    if !user.groups.is_empty() {
        spec["groups"] = json!(user.groups);
    }
    if !user.extra.is_empty() {
        spec["extra"] = json!(user.extra);
    }
    Bytes::from(serde_json::to_vec(&obj).unwrap_or_default())
}

/// `IsAuthorizedForSignerName`: the verb on the signer by name, or on `<domain>/*`.
async fn authorized_for_signer(state: &State, user: &UserInfo, verb: &str, signer: &str) -> bool {
    let domain = signer.split('/').next().unwrap_or_default();
    for name in [signer.to_string(), format!("{domain}/*")] {
        let a = Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            api_group: GROUP.into(),
            api_version: "*".into(),
            resource: "signers".into(),
            name,
            ..Default::default()
        };
        if matches!(state.auth.authorize(&state.rest.storage, &a).await, Decision::Allow(_)) {
            return true;
        }
    }
    false
}

/// The admission hook for writes to a CSR's `approval` or `status` subresource.
pub fn admit(state: &Arc<State>, user: Option<&UserInfo>, res: &'static Resource, sub: Subresource) -> Option<Admit> {
    if !is_csr(res) || !matches!(sub, Subresource::Approval | Subresource::Status) {
        return None;
    }
    let user = user?.clone();
    let state = state.clone();
    Some(Admit(Arc::new(move |obj: Value| {
        let state = state.clone();
        let user = user.clone();
        Box::pin(async move {
            let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let signer = obj["spec"]["signerName"].as_str().unwrap_or_default().to_string();
            let verb = if sub == Subresource::Approval {
                "approve"
            } else {
                // Only issuing (or changing) the certificate needs `sign`.
                let old = state.rest.get(res, None, &name).await.unwrap_or(Value::Null);
                let cert = |o: &Value| o["status"]["certificate"].as_str().unwrap_or_default().to_string();
                if cert(&obj).is_empty() || cert(&obj) == cert(&old) {
                    return Ok(());
                }
                "sign"
            };
            if authorized_for_signer(&state, &user, verb, &signer).await {
                return Ok(());
            }
            Err(ApiError::forbidden_resource(
                GROUP,
                res.name,
                &name,
                &format!("user not permitted to {verb} requests with signerName {signer:?}"),
            ))
        })
    })))
}

/// The Organizations of a CSR's subject (the `request` field: base64 of a PEM
/// `CERTIFICATE REQUEST`); empty when it does not parse (validation reports that).
fn csr_organizations(request_b64: &str) -> Vec<String> {
    use base64::Engine;
    use rustls_pki_types::pem::PemObject;
    let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(request_b64) else { return Vec::new() };
    let Ok(der) = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(&pem) else { return Vec::new() };
    // CertificationRequest ::= SEQUENCE { CertificationRequestInfo ::= SEQUENCE { version, subject, ... } }
    let subject = super::x509::tlv(der.as_ref())
        .and_then(|(_, csr, _)| super::x509::tlv(csr))
        .and_then(|(_, info, _)| super::x509::tlv(info))
        .map(|(_, _, after_version)| after_version);
    match subject.and_then(super::x509::name_fields) {
        Some((_, orgs)) => orgs,
        None => Vec::new(),
    }
}

/// CertificateSubjectRestriction on create.
pub fn admit_create(res: &'static Resource) -> Option<Admit> {
    if !is_csr(res) {
        return None;
    }
    Some(Admit(Arc::new(move |obj: Value| {
        Box::pin(async move {
            let signer = obj["spec"]["signerName"].as_str().unwrap_or_default();
            if signer != "kubernetes.io/kube-apiserver-client" {
                return Ok(());
            }
            let orgs = csr_organizations(obj["spec"]["request"].as_str().unwrap_or_default());
            if orgs.iter().any(|o| o == super::SYSTEM_PRIVILEGED_GROUP) {
                return Err(ApiError::forbidden_resource(
                    GROUP,
                    res.name,
                    obj["metadata"]["name"].as_str().unwrap_or_default(),
                    "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed",
                ));
            }
            Ok(())
        })
    })))
}
