//! The review APIs and TokenRequest: authentication.k8s.io/v1 SelfSubjectReview and
//! TokenReview; authorization.k8s.io/v1 SelfSubjectAccessReview, SubjectAccessReview,
//! LocalSubjectAccessReview and SelfSubjectRulesReview (create-only, nothing stored,
//! 201 Created like upstream); and core/v1 `serviceaccounts/<name>/token`, which issues
//! a bound token signed with `--service-account-signing-key-file`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Attributes, Auth, Decision, Mode, UserInfo};
use crate::status::{ApiError, FieldError};
use crate::storage::Storage;

pub const AUTHENTICATION: &str = "authentication.k8s.io";
pub const AUTHORIZATION: &str = "authorization.k8s.io";

/// The resources of the two review groups: (group, plural, kind, namespaced).
pub const RESOURCES: &[(&str, &str, &str, bool)] = &[
    (AUTHENTICATION, "selfsubjectreviews", "SelfSubjectReview", false),
    (AUTHENTICATION, "tokenreviews", "TokenReview", false),
    (AUTHORIZATION, "localsubjectaccessreviews", "LocalSubjectAccessReview", true),
    (AUTHORIZATION, "selfsubjectaccessreviews", "SelfSubjectAccessReview", false),
    (AUTHORIZATION, "selfsubjectrulesreviews", "SelfSubjectRulesReview", false),
    (AUTHORIZATION, "subjectaccessreviews", "SubjectAccessReview", false),
];

use crate::protobuf::{Field, Kind, OBJECT_META};

// Protobuf schemas (field numbers of upstream's generated.proto): kubectl's typed
// clients send these kinds as protobuf.
const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Kind::Str),
    (2, "verb", Kind::Str),
    (3, "group", Kind::Str),
    (4, "version", Kind::Str),
    (5, "resource", Kind::Str),
    (6, "subresource", Kind::Str),
    (7, "name", Kind::Str),
];
const NON_RESOURCE_ATTRIBUTES: &[Field] = &[(1, "path", Kind::Str), (2, "verb", Kind::Str)];
const SSAR_SPEC: &[Field] = &[
    (1, "resourceAttributes", Kind::Msg(RESOURCE_ATTRIBUTES)),
    (2, "nonResourceAttributes", Kind::Msg(NON_RESOURCE_ATTRIBUTES)),
];
/// (`extra`, a map of messages, is not decoded from protobuf.)
const SAR_SPEC: &[Field] = &[
    (1, "resourceAttributes", Kind::Msg(RESOURCE_ATTRIBUTES)),
    (2, "nonResourceAttributes", Kind::Msg(NON_RESOURCE_ATTRIBUTES)),
    (3, "user", Kind::Str),
    (4, "groups", Kind::RepStr),
    (6, "uid", Kind::Str),
];
const SSRR_SPEC: &[Field] = &[(1, "namespace", Kind::Str)];
const TOKEN_REVIEW_SPEC: &[Field] = &[(1, "token", Kind::Str), (2, "audiences", Kind::RepStr)];
const BOUND_OBJECT_REFERENCE: &[Field] =
    &[(1, "kind", Kind::Str), (2, "apiVersion", Kind::Str), (3, "name", Kind::Str), (4, "uid", Kind::Str)];
const TOKEN_REQUEST_SPEC: &[Field] = &[
    (1, "audiences", Kind::RepStr),
    (3, "boundObjectRef", Kind::Msg(BOUND_OBJECT_REFERENCE)),
    (4, "expirationSeconds", Kind::Int),
];
pub const TOKEN_REQUEST: &[Field] =
    &[(1, "metadata", Kind::Msg(OBJECT_META)), (2, "spec", Kind::Msg(TOKEN_REQUEST_SPEC))];

/// The protobuf schema of a review resource's request body.
pub fn schema(resource: &str) -> &'static [Field] {
    const fn with_spec(spec: &'static [Field]) -> [Field; 2] {
        [(1, "metadata", Kind::Msg(OBJECT_META)), (2, "spec", Kind::Msg(spec))]
    }
    static SSAR: [Field; 2] = with_spec(SSAR_SPEC);
    static SAR: [Field; 2] = with_spec(SAR_SPEC);
    static SSRR: [Field; 2] = with_spec(SSRR_SPEC);
    static TR: [Field; 2] = with_spec(TOKEN_REVIEW_SPEC);
    static META: [Field; 1] = [(1, "metadata", Kind::Msg(OBJECT_META))];
    match resource {
        "selfsubjectaccessreviews" => &SSAR,
        "subjectaccessreviews" | "localsubjectaccessreviews" => &SAR,
        "selfsubjectrulesreviews" => &SSRR,
        "tokenreviews" => &TR,
        _ => &META,
    }
}

fn parse_body(body: &[u8], group: &str, kind: &str) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request("couldn't get version/kind; json parse error: not an object"));
    }
    let want = format!("{group}/v1");
    if let Some(av) = v["apiVersion"].as_str()
        && av != want
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({want})"
        )));
    }
    if let Some(k) = v["kind"].as_str()
        && k != kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({kind})"
        )));
    }
    Ok(v)
}

/// The response object: the request's spec, `metadata.creationTimestamp: null`, a status.
fn respond(group: &str, kind: &str, req: &Value, status: Value) -> Value {
    let mut meta = req["metadata"].as_object().cloned().unwrap_or_default();
    meta.entry("creationTimestamp").or_insert(Value::Null);
    let mut out = json!({"kind": kind, "apiVersion": format!("{group}/v1"), "metadata": meta});
    if !req["spec"].is_null() {
        out["spec"] = req["spec"].clone();
    } else {
        out["spec"] = json!({});
    }
    out["status"] = status;
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

/// Attributes of a SubjectAccessReviewSpec for `user`.
fn review_attributes(kind: &str, spec: &Value, user: UserInfo) -> Result<Attributes, ApiError> {
    let (ra, nra) = (&spec["resourceAttributes"], &spec["nonResourceAttributes"]);
    let kind_name = format!("{kind}.{AUTHORIZATION}");
    if ra.is_object() && nra.is_object() {
        let err = FieldError::invalid_value(
            "spec.nonResourceAttributes",
            nra,
            "cannot be specified in combination with resourceAttributes",
        );
        return Err(ApiError::invalid(&kind_name, "", &[err]));
    }
    if !ra.is_object() && !nra.is_object() {
        let err = FieldError::invalid_value(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        );
        return Err(ApiError::invalid(&kind_name, "", &[err]));
    }
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    if nra.is_object() {
        return Ok(Attributes { user, verb: s(&nra["verb"]), path: s(&nra["path"]), ..Default::default() });
    }
    Ok(Attributes {
        user,
        verb: s(&ra["verb"]),
        resource_request: true,
        api_group: s(&ra["group"]),
        api_version: s(&ra["version"]),
        namespace: s(&ra["namespace"]),
        resource: s(&ra["resource"]),
        subresource: s(&ra["subresource"]),
        name: s(&ra["name"]),
        ..Default::default()
    })
}

fn access_status(d: Decision) -> Value {
    match d {
        Decision::Allow(r) if r.is_empty() => json!({"allowed": true}),
        Decision::Allow(r) => json!({"allowed": true, "reason": r}),
        Decision::Deny(r) => json!({"allowed": false, "denied": true, "reason": r}),
        Decision::NoOpinion(r) if r.is_empty() => json!({"allowed": false}),
        Decision::NoOpinion(r) => json!({"allowed": false, "reason": r}),
    }
}

/// Handles a POST to one of the review resources; `None` when the path is not one.
pub async fn handle(
    auth: &Auth,
    storage: &Storage,
    user: &UserInfo,
    group: &str,
    rest: &[&str],
    body: &[u8],
) -> Option<Result<Value, ApiError>> {
    let (ns, resource) = match rest {
        [r] => (None, *r),
        ["namespaces", ns, r] => (Some(*ns), *r),
        _ => return None,
    };
    let &(_, _, kind, namespaced) = RESOURCES.iter().find(|(g, r, _, _)| *g == group && *r == resource)?;
    if namespaced != ns.is_some() {
        return None;
    }
    Some(review(auth, storage, user, group, kind, ns, body).await)
}

async fn review(
    auth: &Auth,
    storage: &Storage,
    user: &UserInfo,
    group: &str,
    kind: &str,
    ns: Option<&str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let req = parse_body(body, group, kind)?;
    let spec = &req["spec"];
    let status = match kind {
        "SelfSubjectReview" => json!({"userInfo": user.to_json()}),
        "TokenReview" => {
            let token = spec["token"].as_str().unwrap_or("");
            let audiences = strings(&spec["audiences"]);
            let wanted = if audiences.is_empty() { auth.api_audiences.clone() } else { audiences };
            match auth.authenticate_token(storage, token, &wanted).await {
                Ok(Some(u)) => {
                    let u = u.with_authenticated_group();
                    let mut s = json!({"authenticated": true, "user": u.to_json()});
                    if !wanted.is_empty() {
                        s["audiences"] = json!(wanted);
                    }
                    s
                }
                Ok(None) => json!({"user": {}}),
                Err(e) => json!({"user": {}, "error": format!("[invalid bearer token, {e}]")}),
            }
        }
        "SelfSubjectAccessReview" => {
            let a = review_attributes(kind, spec, user.clone())?;
            access_status(auth.authorize(storage, &a).await)
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let subject = UserInfo {
                name: spec["user"].as_str().unwrap_or("").into(),
                uid: spec["uid"].as_str().unwrap_or("").into(),
                groups: strings(&spec["groups"]),
                extra: spec["extra"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), strings(v)))
                    .collect::<BTreeMap<_, _>>(),
            };
            if subject.name.is_empty() && subject.groups.is_empty() {
                let err = FieldError {
                    reason: "FieldValueInvalid",
                    field: "spec.user".into(),
                    message: "spec.user: Invalid value: \"\": at least one of user or group must be specified".into(),
                };
                return Err(ApiError::invalid(&format!("{kind}.{AUTHORIZATION}"), "", &[err]));
            }
            let a = review_attributes(kind, spec, subject)?;
            if let Some(ns) = ns
                && a.namespace != ns
            {
                let err = FieldError::invalid(
                    "spec.resourceAttributes.namespace",
                    &a.namespace,
                    "must match metadata.namespace",
                );
                return Err(ApiError::invalid(&format!("{kind}.{AUTHORIZATION}"), "", &[err]));
            }
            access_status(auth.authorize(storage, &a).await)
        }
        "SelfSubjectRulesReview" => rules_review(auth, storage, user, spec["namespace"].as_str().unwrap_or("")).await,
        _ => return Err(ApiError::no_route()),
    };
    Ok(respond(group, kind, &req, status))
}

/// SelfSubjectRulesReview: the rules each authorizer can list for the user.
async fn rules_review(auth: &Auth, storage: &Storage, user: &UserInfo, ns: &str) -> Value {
    let (mut resource_rules, mut non_resource_rules, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let mut incomplete = false;
    for mode in &auth.modes {
        match mode {
            Mode::AlwaysAllow => {
                resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
                non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
            }
            Mode::AlwaysDeny => {}
            Mode::Node => {
                if user.groups.iter().any(|g| g == "system:nodes") {
                    incomplete = true;
                }
            }
            Mode::Rbac => {
                let src = if auth.rbac_cache.synced() {
                    super::rbac::Source::Cache(&auth.rbac_cache)
                } else {
                    super::rbac::Source::Storage(storage)
                };
                let (applied, errs) = super::rbac::applicable(src, user, ns).await;
                errors.extend(errs);
                for rule in applied.into_iter().flat_map(|a| a.rules) {
                    if rule["resources"].as_array().is_some_and(|r| !r.is_empty()) {
                        let mut r = json!({"verbs": rule["verbs"], "apiGroups": rule["apiGroups"], "resources": rule["resources"]});
                        if rule["resourceNames"].as_array().is_some_and(|n| !n.is_empty()) {
                            r["resourceNames"] = rule["resourceNames"].clone();
                        }
                        resource_rules.push(r);
                    }
                    if rule["nonResourceURLs"].as_array().is_some_and(|u| !u.is_empty()) {
                        non_resource_rules
                            .push(json!({"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}));
                    }
                }
            }
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": incomplete || !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    status
}

/// POST `/api/v1/namespaces/<ns>/serviceaccounts/<name>/token`: a TokenRequest.
pub async fn token_request(
    auth: &Auth,
    storage: &Storage,
    ns: &str,
    name: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Some(signer) = &auth.signer else {
        return Err(ApiError::no_route());
    };
    let req = parse_body(if body.is_empty() { b"{}" } else { body }, AUTHENTICATION, "TokenRequest")?;
    let invalid = |errs: Vec<FieldError>| ApiError::invalid(&format!("TokenRequest.{AUTHENTICATION}"), name, &errs);
    let body_name = req["metadata"]["name"].as_str().unwrap_or("");
    if !body_name.is_empty() && body_name != name {
        return Err(invalid(vec![FieldError::invalid(
            "metadata.name",
            body_name,
            "must match the service account name if specified",
        )]));
    }
    let body_ns = req["metadata"]["namespace"].as_str().unwrap_or("");
    if !body_ns.is_empty() && body_ns != ns {
        return Err(invalid(vec![FieldError::invalid(
            "metadata.namespace",
            body_ns,
            "must match the service account namespace if specified",
        )]));
    }
    let ttl = req["spec"]["expirationSeconds"].as_i64().unwrap_or(3600);
    if ttl < 600 {
        return Err(invalid(vec![FieldError {
            reason: "FieldValueInvalid",
            field: "spec.expirationSeconds".into(),
            message: format!(
                "spec.expirationSeconds: Invalid value: {ttl}: may not specify a duration less than 10 minutes"
            ),
        }]));
    }
    if ttl > 1 << 32 {
        return Err(invalid(vec![FieldError {
            reason: "FieldValueInvalid",
            field: "spec.expirationSeconds".into(),
            message: format!(
                "spec.expirationSeconds: Invalid value: {ttl}: may not specify a duration larger than 2^32 seconds"
            ),
        }]));
    }
    let bound_ref = req["spec"]["boundObjectRef"].clone();
    let bound = if bound_ref.is_object() { Some(bound_object(storage, ns, name, &bound_ref).await?) } else { None };
    let key = format!("/registry/serviceaccounts/{ns}/{name}");
    let sa: Value = match storage.get(key.as_bytes()).await {
        Ok(Some(kv)) => serde_json::from_slice(&kv.value).unwrap_or_default(),
        Ok(None) => return Err(ApiError::not_found("serviceaccounts", name)),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let uid = sa["metadata"]["uid"].as_str().unwrap_or("");
    let mut audiences = strings(&req["spec"]["audiences"]);
    if audiences.is_empty() {
        audiences = auth.api_audiences.clone();
    }
    let issuer = auth.sa_issuers.first().cloned().unwrap_or_default();
    let now = crate::registry::unix_now();
    let bound_claim = bound.as_ref().map(|(k, n, u)| (k.as_str(), n.as_str(), u.as_str()));
    let claims = super::serviceaccount::claims(&issuer, &audiences, ns, name, uid, bound_claim, now, ttl);
    let token = signer.sign(&claims).map_err(ApiError::internal)?;
    let expires = k8s_openapi::jiff::Timestamp::from_second(now + ttl).map(|t| t.to_string()).unwrap_or_default();
    let mut meta = req["metadata"].as_object().cloned().unwrap_or_default();
    meta.insert("name".into(), json!(name));
    meta.insert("namespace".into(), json!(ns));
    meta.insert("creationTimestamp".into(), json!(crate::rest::now_rfc3339()));
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": format!("{AUTHENTICATION}/v1"),
        "metadata": meta,
        "spec": {"audiences": audiences, "expirationSeconds": ttl, "boundObjectRef": bound_ref},
        "status": {"token": token, "expirationTimestamp": expires},
    }))
}

/// Checks a TokenRequest's `boundObjectRef` (a Pod, Secret or Node that exists, with
/// the given uid if one is given); returns (claim key, name, uid).
async fn bound_object(storage: &Storage, ns: &str, sa: &str, r: &Value) -> Result<(String, String, String), ApiError> {
    let invalid = |e: FieldError| ApiError::invalid(&format!("TokenRequest.{AUTHENTICATION}"), sa, &[e]);
    let kind = r["kind"].as_str().unwrap_or("");
    let (claim, key, resource) = match kind {
        "Pod" => ("pod", format!("/registry/pods/{ns}/"), "pods"),
        "Secret" => ("secret", format!("/registry/secrets/{ns}/"), "secrets"),
        "Node" => ("node", "/registry/minions/".to_string(), "nodes"),
        other => {
            return Err(invalid(FieldError::not_supported(
                "spec.boundObjectRef.kind",
                other,
                &["Pod", "Secret", "Node"],
            )));
        }
    };
    let api_version = r["apiVersion"].as_str().unwrap_or("");
    if api_version != "v1" {
        return Err(invalid(FieldError::not_supported("spec.boundObjectRef.apiVersion", api_version, &["v1"])));
    }
    let name = r["name"].as_str().unwrap_or("");
    if name.is_empty() {
        return Err(invalid(FieldError::required("spec.boundObjectRef.name", "")));
    }
    let obj: Value = match storage.get(format!("{key}{name}").as_bytes()).await {
        Ok(Some(kv)) => serde_json::from_slice(&kv.value).unwrap_or_default(),
        Ok(None) => return Err(ApiError::not_found(resource, name)),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let uid = obj["metadata"]["uid"].as_str().unwrap_or("").to_string();
    if let Some(want) = r["uid"].as_str().filter(|u| !u.is_empty())
        && want != uid
    {
        return Err(ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
            details: Some(json!({"name": name, "kind": resource})),
        });
    }
    Ok((claim.to_string(), name.to_string(), uid))
}

/// Service-account issuer discovery (`/.well-known/openid-configuration` and
/// `/openid/v1/jwks`): the document and its content type.
pub fn issuer_discovery(auth: &Auth, server_address: &str, segs: &[&str]) -> (Value, &'static str) {
    if segs.first() == Some(&"openid") {
        let keys: Vec<Value> = auth.sa_keys.iter().map(|k| k.jwk()).collect();
        return (json!({"keys": keys}), "application/jwk-set+json");
    }
    let mut algs: Vec<&str> = auth.sa_keys.iter().map(|k| k.alg()).collect();
    algs.sort_unstable();
    algs.dedup();
    let doc = json!({
        "issuer": auth.sa_issuers.first().cloned().unwrap_or_default(),
        "jwks_uri": format!("https://{server_address}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    });
    (doc, "application/json")
}
