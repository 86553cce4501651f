//! Authentication, impersonation and authorization of every request, in upstream's
//! order: authenticate (x509 client certificate, then bearer tokens from
//! `--token-auth-file` and service-account JWTs; anonymous when nothing was presented),
//! impersonate (`Impersonate-*` headers, each checked with the `impersonate` verb), then
//! authorize (`--authorization-mode`: the system:masters group first, then the modes in
//! order; the first Allow or Deny wins). Failures are upstream's 401 and 403 `Status`es.
//!
//! The authenticated user travels with the request as an extension ([`RequestUser`]).
//!
//! Not done yet: the front-proxy
//! request-header authenticator, OIDC and webhook authenticators and authorizers, and
//! the Node authorizer's field-selector restrictions (AuthorizeNodeWithSelectors).

pub mod bootstrap;
pub mod certificates;
pub mod escalation;
pub mod node;
pub mod rbac;
pub mod review;
pub mod serviceaccount;
pub mod tokenfile;
pub mod x509;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use http::HeaderMap;
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};

use crate::config::Config;
use crate::status::ApiError;
use crate::storage::Storage;

pub const ANONYMOUS: &str = "system:anonymous";
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
pub const SYSTEM_PRIVILEGED_GROUP: &str = "system:masters";

/// Who made a request (upstream's `user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> UserInfo {
        UserInfo { name: ANONYMOUS.into(), groups: vec![ALL_UNAUTHENTICATED.into()], ..Default::default() }
    }

    /// authentication.k8s.io/v1 `UserInfo` (empty fields omitted, as upstream).
    pub fn to_json(&self) -> Value {
        let mut v = json!({"username": self.name});
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        if !self.groups.is_empty() {
            v["groups"] = json!(self.groups);
        }
        if !self.extra.is_empty() {
            v["extra"] = json!(self.extra);
        }
        v
    }

    /// Upstream's `AuthenticatedGroupAdder`: every authenticated user is in
    /// system:authenticated.
    fn with_authenticated_group(mut self) -> UserInfo {
        let skip =
            self.name == ANONYMOUS || self.groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED);
        if !skip {
            self.groups.push(ALL_AUTHENTICATED.into());
        }
        self
    }
}

/// A random version-4 UUID.
pub fn new_uid() -> String {
    crate::rest::new_uid()
}

/// What a request does, for the authorizers (upstream's `authorizer.Attributes`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    pub resource_request: bool,
    pub path: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

impl Attributes {
    /// Upstream's `RequestInfoFactory`: resource requests are `/api/<v>/...` and
    /// `/apis/<group>/<v>/...`; everything else is a non-resource request whose verb is
    /// the lower-cased HTTP method.
    pub fn from_request(user: UserInfo, method: &http::Method, path: &str, query: Option<&str>) -> Attributes {
        let mut a = Attributes {
            user,
            verb: method.as_str().to_ascii_lowercase(),
            path: path.to_string(),
            ..Default::default()
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let rest: &[&str] = match parts.as_slice() {
            ["api", v, rest @ ..] => {
                a.api_version = (*v).into();
                rest
            }
            ["apis", g, v, rest @ ..] => {
                a.api_group = (*g).into();
                a.api_version = (*v).into();
                rest
            }
            _ => return a,
        };
        if rest.is_empty() {
            a.api_group.clear();
            a.api_version.clear();
            return a;
        }
        a.resource_request = true;
        a.verb = match *method {
            http::Method::POST => "create",
            http::Method::GET | http::Method::HEAD => "get",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE => "delete",
            _ => "",
        }
        .into();
        let mut rest = rest;
        if rest.first() == Some(&"watch") {
            a.verb = "watch".into();
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces")
            && let Some(ns) = rest.get(1)
        {
            a.namespace = (*ns).into();
            if rest.len() > 2 && !["status", "finalize"].contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        if let Some(r) = rest.first() {
            a.resource = (*r).into();
        }
        if let Some(n) = rest.get(1) {
            a.name = (*n).into();
        }
        if let Some(s) = rest.get(2) {
            a.subresource = (*s).into();
        }
        if a.name.is_empty() && a.verb == "get" {
            let pairs = crate::rest::form_pairs(query);
            let watch = pairs.iter().any(|(k, v)| k == "watch" && (v == "true" || v == "1" || v.is_empty()));
            a.verb = if watch { "watch" } else { "list" }.into();
        }
        if a.name.is_empty() && a.verb == "delete" {
            a.verb = "deletecollection".into();
        }
        if a.name.is_empty() && (a.verb == "list" || a.verb == "watch") {
            for (k, v) in crate::rest::form_pairs(query) {
                if k == "fieldSelector"
                    && let Some(name) = v.strip_prefix("metadata.name=")
                    && !name.contains(',')
                {
                    a.name = name.trim_start_matches('=').to_string();
                }
            }
        }
        a
    }

    /// The resource with its subresource (`pods/log`).
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// An authorizer's answer (upstream's `authorizer.Decision` and reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny(String),
    NoOpinion(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    AlwaysAllow,
    AlwaysDeny,
    Rbac,
    Node,
}

/// The result of a connection's client certificate, computed once per connection.
#[derive(Clone, Debug, Default)]
pub struct ConnIdentity {
    pub cert: Option<Result<UserInfo, String>>,
}

/// The request's authenticated (and possibly impersonated) user, as a request extension.
#[derive(Clone, Debug)]
pub struct RequestUser(pub UserInfo);

pub struct Auth {
    x509: Option<x509::X509Authenticator>,
    tokens: HashMap<String, UserInfo>,
    pub sa_keys: Vec<serviceaccount::PublicKey>,
    pub sa_issuers: Vec<String>,
    pub api_audiences: Vec<String>,
    pub signer: Option<serviceaccount::Signer>,
    anonymous: bool,
    pub modes: Vec<Mode>,
    /// RBAC objects mirrored by watches (fed by `lib::start` when RBAC is enabled).
    pub rbac_cache: Arc<rbac::Cache>,
}

impl Auth {
    /// Everything allowed, nobody authenticated but anonymous (for tests of other parts).
    pub fn always_allow() -> Auth {
        Auth {
            x509: None,
            tokens: HashMap::new(),
            sa_keys: Vec::new(),
            sa_issuers: Vec::new(),
            api_audiences: Vec::new(),
            signer: None,
            anonymous: true,
            modes: vec![Mode::AlwaysAllow],
            rbac_cache: Arc::default(),
        }
    }

    pub fn from_config(cfg: &Config) -> anyhow::Result<Auth> {
        let x509 = cfg.client_ca_file.as_deref().map(x509::X509Authenticator::from_ca_file).transpose()?;
        let tokens = match &cfg.token_auth_file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("--token-auth-file {}: {e}", p.display()))?;
                tokenfile::parse(&p.display().to_string(), &text).map_err(anyhow::Error::msg)?
            }
            None => HashMap::new(),
        };
        let signer = cfg
            .service_account_signing_key_file
            .as_deref()
            .map(serviceaccount::Signer::load)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let mut sa_keys = Vec::new();
        for f in &cfg.service_account_key_file {
            sa_keys.extend(serviceaccount::load_public_keys(f).map_err(anyhow::Error::msg)?);
        }
        if sa_keys.is_empty()
            && let Some(s) = &signer
        {
            // Upstream defaults --service-account-key-file to the signing key.
            sa_keys.push(s.public_key());
        }
        let api_audiences =
            if cfg.api_audiences.is_empty() { cfg.service_account_issuer.clone() } else { cfg.api_audiences.clone() };
        let modes = cfg
            .authorization_mode
            .iter()
            .map(|m| match m.as_str() {
                "AlwaysAllow" => Ok(Mode::AlwaysAllow),
                "AlwaysDeny" => Ok(Mode::AlwaysDeny),
                "RBAC" => Ok(Mode::Rbac),
                "Node" => Ok(Mode::Node),
                other => Err(anyhow::anyhow!("authorization-mode {other:?} is not supported")),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Auth {
            x509,
            tokens,
            sa_keys,
            sa_issuers: cfg.service_account_issuer.clone(),
            api_audiences,
            signer,
            anonymous: cfg.anonymous_auth,
            modes,
            rbac_cache: Arc::default(),
        })
    }

    pub fn tls_verifier(&self) -> Option<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
        self.x509.as_ref().map(|x| x.tls_verifier())
    }

    pub fn rbac_enabled(&self) -> bool {
        self.modes.contains(&Mode::Rbac)
    }

    /// The identity of a connection's client certificate.
    pub fn connection_identity(&self, certs: Option<&[CertificateDer<'static>]>) -> ConnIdentity {
        ConnIdentity { cert: self.x509.as_ref().and_then(|x| x.authenticate(certs)) }
    }

    /// Authenticates a bearer token (token file, then service-account JWTs). `Ok(None)`
    /// when no authenticator recognises it, an error when one refuses it.
    pub async fn authenticate_token(
        &self,
        storage: &Storage,
        token: &str,
        audiences: &[String],
    ) -> Result<Option<UserInfo>, String> {
        if let Some(u) = self.tokens.get(token) {
            return Ok(Some(u.clone()));
        }
        if self.sa_keys.is_empty() {
            return Ok(None);
        }
        let audiences = if audiences.is_empty() { &self.api_audiences } else { audiences };
        let claims = match serviceaccount::verify(
            token,
            &self.sa_keys,
            &self.sa_issuers,
            audiences,
            crate::registry::unix_now(),
        ) {
            Ok(c) => c,
            Err(serviceaccount::TokenError::NotOurs) => return Ok(None),
            Err(serviceaccount::TokenError::Invalid(e)) => return Err(e),
        };
        if claims["iss"] == serviceaccount::LEGACY_ISSUER {
            return self.legacy_token(storage, token, &claims).await.map(Some);
        }
        let k = &claims["kubernetes.io"];
        let (Some(ns), Some(name)) = (k["namespace"].as_str(), k["serviceaccount"]["name"].as_str()) else {
            return Err("service account token is missing the kubernetes.io claim".into());
        };
        let uid = k["serviceaccount"]["uid"].as_str().unwrap_or_default();
        // Bound tokens die with their service account.
        let key = format!("/registry/serviceaccounts/{ns}/{name}");
        match storage.get(key.as_bytes()).await {
            Ok(Some(kv)) => {
                let sa: Value = serde_json::from_slice(&kv.value).unwrap_or_default();
                if sa["metadata"]["uid"].as_str() != Some(uid) {
                    return Err(format!("service account UID ({uid}) does not match claim"));
                }
                if sa["metadata"]["deletionTimestamp"].is_string() {
                    return Err(format!("service account {ns}/{name} has been deleted"));
                }
            }
            Ok(None) => return Err(format!("service account {ns}/{name} has been deleted")),
            Err(e) => return Err(format!("looking up service account {ns}/{name}: {e}")),
        }
        let mut extra = BTreeMap::new();
        if let Some(jti) = claims["jti"].as_str() {
            extra.insert("authentication.kubernetes.io/credential-id".to_string(), vec![format!("JTI={jti}")]);
        }
        // A token bound to an object dies with it (or with its replacement's new uid).
        for (kind, key) in [
            ("pod", format!("/registry/pods/{ns}/")),
            ("secret", format!("/registry/secrets/{ns}/")),
            ("node", "/registry/minions/".to_string()),
        ] {
            let (Some(obj_name), Some(obj_uid)) = (k[kind]["name"].as_str(), k[kind]["uid"].as_str()) else {
                continue;
            };
            let current = match storage.get(format!("{key}{obj_name}").as_bytes()).await {
                Ok(Some(kv)) => serde_json::from_slice::<Value>(&kv.value).unwrap_or_default(),
                Ok(None) => return Err(format!("{kind} {obj_name:?} not found")),
                Err(e) => return Err(format!("looking up {kind} {obj_name:?}: {e}")),
            };
            if current["metadata"]["uid"].as_str() != Some(obj_uid) {
                return Err(format!("{kind} ({ns}/{obj_name}) with UID {obj_uid} has been deleted or recreated"));
            }
            if kind != "secret" {
                extra.insert(format!("authentication.kubernetes.io/{kind}-name"), vec![obj_name.into()]);
                extra.insert(format!("authentication.kubernetes.io/{kind}-uid"), vec![obj_uid.into()]);
            }
        }
        Ok(Some(UserInfo {
            name: format!("system:serviceaccount:{ns}:{name}"),
            uid: uid.into(),
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
            extra,
        }))
    }

    /// A legacy token: valid while its `kubernetes.io/service-account-token` secret holds
    /// it and the service account it names (with that uid) exists.
    async fn legacy_token(&self, storage: &Storage, token: &str, claims: &Value) -> Result<UserInfo, String> {
        let claim = |k: &str| claims[format!("kubernetes.io/serviceaccount/{k}")].as_str().unwrap_or("").to_string();
        let (ns, secret, name, uid) =
            (claim("namespace"), claim("secret.name"), claim("service-account.name"), claim("service-account.uid"));
        if ns.is_empty() || secret.is_empty() || name.is_empty() {
            return Err("token is missing the service account claims".into());
        }
        let get = |key: String| async move {
            match storage.get(key.as_bytes()).await {
                Ok(Some(kv)) => Ok(Some(serde_json::from_slice::<Value>(&kv.value).unwrap_or_default())),
                Ok(None) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        };
        let Some(s) = get(format!("/registry/secrets/{ns}/{secret}")).await? else {
            return Err(format!("secret {ns}/{secret} not found"));
        };
        use base64::Engine;
        let stored = s["data"]["token"].as_str().and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok());
        if stored.as_deref() != Some(token.as_bytes()) {
            return Err(format!("token does not match secret {ns}/{secret}"));
        }
        if s["metadata"]["labels"]["kubernetes.io/legacy-token-invalid-since"].is_string() {
            return Err(format!("the token in secret {ns}/{secret} is invalidated"));
        }
        let Some(sa) = get(format!("/registry/serviceaccounts/{ns}/{name}")).await? else {
            return Err(format!("service account {ns}/{name} has been deleted"));
        };
        if !uid.is_empty() && sa["metadata"]["uid"].as_str() != Some(uid.as_str()) {
            return Err(format!("service account UID ({uid}) does not match claim"));
        }
        Ok(UserInfo {
            name: format!("system:serviceaccount:{ns}:{name}"),
            uid,
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")],
            ..Default::default()
        })
    }

    /// Upstream's authenticator chain; `Err` is a 401.
    pub async fn authenticate(
        &self,
        storage: &Storage,
        headers: &HeaderMap,
        conn: &ConnIdentity,
    ) -> Result<UserInfo, ApiError> {
        let mut errors = Vec::new();
        match &conn.cert {
            Some(Ok(u)) => return Ok(u.clone().with_authenticated_group()),
            Some(Err(e)) => errors.push(e.clone()),
            None => {}
        }
        // Like upstream, bearer tokens are looked at only when a token authenticator is
        // configured; otherwise the header is ignored.
        let token_auth = !self.tokens.is_empty() || !self.sa_keys.is_empty();
        if token_auth && let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let mut parts = auth.trim().splitn(2, ' ');
            if parts.next().is_some_and(|s| s.eq_ignore_ascii_case("bearer")) {
                let token = parts.next().unwrap_or("").trim();
                if !token.is_empty() {
                    match self.authenticate_token(storage, token, &[]).await {
                        Ok(Some(u)) => return Ok(u.with_authenticated_group()),
                        Ok(None) => errors.push("invalid bearer token".into()),
                        Err(e) => errors.push(format!("invalid bearer token, {e}")),
                    }
                }
            }
        }
        if !errors.is_empty() || !self.anonymous {
            tracing::debug!(errors = ?errors, "unable to authenticate the request");
            return Err(ApiError::unauthorized());
        }
        Ok(UserInfo::anonymous())
    }

    /// The authorizer chain.
    pub async fn authorize(&self, storage: &Storage, a: &Attributes) -> Decision {
        if a.user.groups.iter().any(|g| g == SYSTEM_PRIVILEGED_GROUP) {
            return Decision::Allow(String::new());
        }
        let mut reasons = Vec::new();
        for mode in &self.modes {
            let d = match mode {
                Mode::AlwaysAllow => Decision::Allow(String::new()),
                // Upstream's AlwaysDeny has no opinion (later modes may still allow), with a reason.
                Mode::AlwaysDeny => Decision::NoOpinion("Everything is forbidden.".into()),
                Mode::Rbac => rbac::authorize(storage, &self.rbac_cache, a).await,
                Mode::Node => node::authorize(storage, a).await,
            };
            match d {
                Decision::NoOpinion(r) => {
                    if !r.is_empty() {
                        reasons.push(r);
                    }
                }
                allow_or_deny => return allow_or_deny,
            }
        }
        Decision::NoOpinion(reasons.join("\n"))
    }

    /// `Impersonate-*` headers: each requested attribute is authorized with the
    /// `impersonate` verb for the requester; the result is the impersonated user.
    pub async fn impersonate(
        &self,
        storage: &Storage,
        requester: UserInfo,
        headers: &HeaderMap,
    ) -> Result<UserInfo, ApiError> {
        let user = headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string);
        let groups: Vec<String> =
            headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).map(String::from).collect();
        let uid = headers.get("impersonate-uid").and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in headers {
            if let Some(key) = k.as_str().strip_prefix("impersonate-extra-")
                && let Ok(v) = v.to_str()
            {
                let key = crate::rest::form_pairs(Some(key)).pop().map(|(k, _)| k).unwrap_or_default();
                extra.entry(key.to_ascii_lowercase()).or_default().push(v.to_string());
            }
        }
        let Some(name) = user else {
            if !groups.is_empty() || !extra.is_empty() || uid.is_some() {
                // Upstream prints its request structs here; the gist is the same.
                let requested: Vec<String> = groups.iter().map(|g| format!("{{Group  {g}  }}")).collect();
                return Err(ApiError::internal(format!(
                    "requested [{}] without impersonating a user",
                    requested.join(" ")
                )));
            }
            return Ok(requester);
        };
        let check = |resource: &str, group: &str, ns: &str, sub: &str, obj: &str| Attributes {
            user: requester.clone(),
            verb: "impersonate".into(),
            resource_request: true,
            api_group: group.into(),
            namespace: ns.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: obj.into(),
            ..Default::default()
        };
        let mut wanted = Vec::new();
        let mut out = UserInfo { name: name.clone(), groups: groups.clone(), ..Default::default() };
        if let Some(sa) = name.strip_prefix("system:serviceaccount:")
            && let Some((ns, sa)) = sa.split_once(':')
        {
            wanted.push(check("serviceaccounts", "", ns, "", sa));
            if groups.is_empty() {
                out.groups = vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{ns}")];
            }
        } else {
            wanted.push(check("users", "", "", "", &name));
        }
        for g in &groups {
            wanted.push(check("groups", "", "", "", g));
        }
        for (k, vs) in &extra {
            for v in vs {
                wanted.push(check("userextras", "authentication.k8s.io", "", k, v));
            }
        }
        if let Some(u) = &uid {
            wanted.push(check("uids", "authentication.k8s.io", "", "", u));
            out.uid = u.clone();
        }
        for attrs in wanted {
            match self.authorize(storage, &attrs).await {
                Decision::Allow(_) => {}
                Decision::Deny(r) | Decision::NoOpinion(r) => return Err(ApiError::forbidden(&attrs, &r)),
            }
        }
        out.extra = extra;
        if name != ANONYMOUS && !out.groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED) {
            out.groups.push(ALL_AUTHENTICATED.into());
        }
        Ok(out)
    }
}

/// The whole filter chain for one request: authenticate, impersonate, authorize.
pub async fn filter(
    auth: &Auth,
    storage: &Storage,
    method: &http::Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    conn: &ConnIdentity,
) -> Result<UserInfo, ApiError> {
    let user = auth.authenticate(storage, headers, conn).await?;
    let user = auth.impersonate(storage, user, headers).await?;
    let attrs = Attributes::from_request(user, method, path, query);
    match auth.authorize(storage, &attrs).await {
        Decision::Allow(_) => Ok(attrs.user),
        Decision::Deny(r) | Decision::NoOpinion(r) => Err(ApiError::forbidden(&attrs, &r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: &str, path: &str, query: Option<&str>) -> Attributes {
        Attributes::from_request(UserInfo::default(), &method.parse().unwrap(), path, query)
    }

    #[test]
    fn request_info_like_upstream() {
        let a = attrs("GET", "/api/v1/namespaces/default/pods", None);
        assert_eq!((a.verb.as_str(), a.namespace.as_str(), a.resource.as_str()), ("list", "default", "pods"));
        assert!(a.resource_request);
        let a = attrs("GET", "/api/v1/namespaces/default/pods", Some("watch=true"));
        assert_eq!(a.verb, "watch");
        let a = attrs("GET", "/api/v1/pods", Some("fieldSelector=metadata.name%3Dx&watch=1"));
        assert_eq!((a.verb.as_str(), a.name.as_str(), a.namespace.as_str()), ("watch", "x", ""));
        let a = attrs("POST", "/api/v1/namespaces/ns1/serviceaccounts/sa/token", None);
        assert_eq!((a.verb.as_str(), a.resource.as_str(), a.name.as_str()), ("create", "serviceaccounts", "sa"));
        assert_eq!(a.subresource, "token");
        let a = attrs("GET", "/api/v1/namespaces/ns1", None);
        assert_eq!((a.resource.as_str(), a.name.as_str(), a.namespace.as_str()), ("namespaces", "ns1", "ns1"));
        let a = attrs("PUT", "/api/v1/namespaces/ns1/finalize", None);
        assert_eq!(
            (a.resource.as_str(), a.subresource.as_str(), a.verb.as_str()),
            ("namespaces", "finalize", "update")
        );
        let a = attrs("DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/x/roles", None);
        assert_eq!(
            (a.verb.as_str(), a.api_group.as_str(), a.resource.as_str()),
            ("deletecollection", "rbac.authorization.k8s.io", "roles")
        );
        let a = attrs("GET", "/apis/apps/v1", None);
        assert!(!a.resource_request);
        assert_eq!((a.verb.as_str(), a.path.as_str()), ("get", "/apis/apps/v1"));
        let a = attrs("POST", "/healthz", None);
        assert_eq!(a.verb, "post");
        let a = attrs("GET", "/api/v1/watch/namespaces/a/configmaps", None);
        assert_eq!((a.verb.as_str(), a.namespace.as_str(), a.resource.as_str()), ("watch", "a", "configmaps"));
    }

    #[tokio::test]
    async fn authorizer_chain_like_upstream() {
        // Nothing listens here: the modes under test never reach the store.
        let storage = Storage::connect(&["http://127.0.0.1:1".into()], None).unwrap();
        let mut auth = Auth::always_allow();
        auth.modes = vec![Mode::AlwaysDeny];
        let user = UserInfo { name: "u".into(), ..Default::default() };
        let a = Attributes { user: user.clone(), verb: "get".into(), path: "/x".into(), ..Default::default() };
        assert_eq!(auth.authorize(&storage, &a).await, Decision::NoOpinion("Everything is forbidden.".into()));
        auth.modes = vec![Mode::AlwaysDeny, Mode::AlwaysAllow];
        assert!(matches!(auth.authorize(&storage, &a).await, Decision::Allow(_)), "AlwaysDeny has no opinion");
        auth.modes = vec![Mode::AlwaysDeny];
        let admin = Attributes { user: UserInfo { groups: vec![SYSTEM_PRIVILEGED_GROUP.into()], ..user }, ..a.clone() };
        assert!(matches!(auth.authorize(&storage, &admin).await, Decision::Allow(_)), "system:masters first");
        // Node mode: no opinion on anyone but kubelets.
        auth.modes = vec![Mode::Node];
        assert_eq!(auth.authorize(&storage, &a).await, Decision::NoOpinion(String::new()));
    }

    #[test]
    fn authenticated_group() {
        let u = UserInfo { name: "a".into(), groups: vec!["g".into()], ..Default::default() };
        assert_eq!(u.with_authenticated_group().groups, ["g", "system:authenticated"]);
        assert_eq!(UserInfo::anonymous().with_authenticated_group().groups, ["system:unauthenticated"]);
    }
}
