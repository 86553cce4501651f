//! admissionregistration.k8s.io/v1: MutatingWebhookConfigurations and
//! ValidatingWebhookConfigurations (the admission webhooks' configuration, read by
//! `admission::webhook`), with upstream's defaulting (`SetDefaults_*Webhook`, `_Rule`,
//! `_ServiceReference`) and validation (`ValidateMutatingWebhookConfiguration` and friends).
//! ValidatingAdmissionPolicies (CEL) are not served, and neither are `matchConditions`:
//! a webhook that has them is refused (see [`validate_webhook`]).

use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use serde_json::{Value, json};

use super::{AGE_COLUMN, BASE, Column, Group, GroupVersion, NAME_COLUMN, NameRule, Resource, age, typed};
use crate::status::FieldError;

const WEBHOOKS_COLUMN: Column =
    Column::new("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration");

fn cells(o: &Value) -> Vec<Value> {
    let n = o["webhooks"].as_array().map_or(0, Vec::len);
    vec![o["metadata"]["name"].clone(), json!(n), json!(age(o))]
}

pub static GROUP: Group = Group {
    name: "admissionregistration.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: "admissionregistration.k8s.io",
                name: "mutatingwebhookconfigurations",
                singular: "mutatingwebhookconfiguration",
                kind: "MutatingWebhookConfiguration",
                namespaced: false,
                categories: &["api-extensions"],
                etcd_prefix: "mutatingwebhookconfigurations",
                name_rule: NameRule::DnsSubdomain,
                decode: typed::<MutatingWebhookConfiguration>,
                validate: |o| validate_configuration(o, true),
                prepare_for_create: |o| default_configuration(o, true),
                prepare_for_update: |o, _| default_configuration(o, true),
                columns: &[NAME_COLUMN, WEBHOOKS_COLUMN, AGE_COLUMN],
                cells,
                ..BASE
            },
            Resource {
                group: "admissionregistration.k8s.io",
                name: "validatingwebhookconfigurations",
                singular: "validatingwebhookconfiguration",
                kind: "ValidatingWebhookConfiguration",
                namespaced: false,
                categories: &["api-extensions"],
                etcd_prefix: "validatingwebhookconfigurations",
                name_rule: NameRule::DnsSubdomain,
                decode: typed::<ValidatingWebhookConfiguration>,
                validate: |o| validate_configuration(o, false),
                prepare_for_create: |o| default_configuration(o, false),
                prepare_for_update: |o, _| default_configuration(o, false),
                columns: &[NAME_COLUMN, WEBHOOKS_COLUMN, AGE_COLUMN],
                cells,
                ..BASE
            },
        ],
    }],
};

fn default(obj: &mut Value, field: &str, value: Value) {
    if let Some(m) = obj.as_object_mut()
        && m.get(field).is_none_or(Value::is_null)
    {
        m.insert(field.into(), value);
    }
}

/// Upstream's v1 defaults for every webhook of a configuration.
pub fn default_configuration(o: &mut Value, mutating: bool) {
    for hook in o.get_mut("webhooks").and_then(Value::as_array_mut).into_iter().flatten() {
        default(hook, "failurePolicy", json!("Fail"));
        default(hook, "matchPolicy", json!("Equivalent"));
        default(hook, "namespaceSelector", json!({}));
        default(hook, "objectSelector", json!({}));
        default(hook, "timeoutSeconds", json!(10));
        if mutating {
            default(hook, "reinvocationPolicy", json!("Never"));
        }
        for rule in hook.get_mut("rules").and_then(Value::as_array_mut).into_iter().flatten() {
            default(rule, "scope", json!("*"));
        }
        if let Some(svc) = hook.get_mut("clientConfig").and_then(|c| c.get_mut("service"))
            && svc.is_object()
        {
            default(svc, "port", json!(443));
        }
    }
}

const SIDE_EFFECTS: &[&str] = &["None", "NoneOnDryRun"];
const REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().map(|s| s.as_str().unwrap_or_default()).collect()
}

/// Go's `%#v` of a `[]string` (upstream prints list values that way in `Invalid value`).
fn go_strings(v: &[&str]) -> String {
    format!("[]string{{{}}}", v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))
}

fn invalid_list(field: &str, v: &[&str], detail: &str) -> FieldError {
    FieldError {
        reason: "FieldValueInvalid",
        field: field.into(),
        message: format!("{field}: Invalid value: {}: {detail}", go_strings(v)),
    }
}

/// `ValidateMutatingWebhookConfiguration` / `ValidateValidatingWebhookConfiguration`.
/// Creates and updates are held to the same rules: upstream's update leniency (side
/// effects or review versions an old object already had stay allowed) is not kept, so a
/// configuration stored before v1 must be fixed when it is next updated.
pub fn validate_configuration(o: &Value, mutating: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, hook) in o["webhooks"].as_array().into_iter().flatten().enumerate() {
        let path = format!("webhooks[{i}]");
        errs.extend(validate_webhook(hook, &path, mutating));
        errs.extend(validate_review_versions(
            &hook["admissionReviewVersions"],
            &format!("{path}.admissionReviewVersions"),
        ));
        let name = hook["name"].as_str().unwrap_or_default();
        if !name.is_empty() && !seen.insert(name) {
            errs.push(FieldError::duplicate(&format!("{path}.name"), &json!(name)));
        }
    }
    errs
}

fn validate_review_versions(v: &Value, path: &str) -> Vec<FieldError> {
    let versions = strings(v);
    let mut errs = Vec::new();
    if versions.is_empty() {
        errs.push(FieldError::required(path, &format!("must specify one of {}", REVIEW_VERSIONS.join(", "))));
        return errs;
    }
    let mut seen = std::collections::HashSet::new();
    for (i, version) in versions.iter().enumerate() {
        if !seen.insert(*version) {
            errs.push(FieldError::invalid(&format!("{path}[{i}]"), version, "duplicate version"));
            continue;
        }
        for m in super::dns1035_label(version) {
            errs.push(FieldError::invalid(&format!("{path}[{i}]"), version, &m));
        }
    }
    if !versions.iter().any(|v| REVIEW_VERSIONS.contains(v)) {
        errs.push(invalid_list(
            path,
            &versions,
            &format!("must include at least one of {}", REVIEW_VERSIONS.join(", ")),
        ));
    }
    errs
}

/// One webhook: `validateMutatingWebhook` / `validateValidatingWebhook`.
fn validate_webhook(hook: &Value, path: &str, mutating: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = hook["name"].as_str().unwrap_or_default();
    errs.extend(fully_qualified_name(&format!("{path}.name"), name));
    for (i, rule) in hook["rules"].as_array().into_iter().flatten().enumerate() {
        errs.extend(validate_rule(rule, &format!("{path}.rules[{i}]")));
    }
    let one_of = |errs: &mut Vec<FieldError>, field: &str, supported: &[&str]| {
        if let Some(v) = hook[field].as_str()
            && !supported.contains(&v)
        {
            errs.push(FieldError::not_supported(&format!("{path}.{field}"), v, supported));
        }
    };
    one_of(&mut errs, "failurePolicy", &["Fail", "Ignore"]);
    one_of(&mut errs, "matchPolicy", &["Equivalent", "Exact"]);
    let side_effects = SIDE_EFFECTS;
    match hook["sideEffects"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required(
            &format!("{path}.sideEffects"),
            &format!("must specify one of {}", side_effects.join(", ")),
        )),
        s if !side_effects.contains(&s) => {
            errs.push(FieldError::not_supported(&format!("{path}.sideEffects"), s, side_effects))
        }
        _ => {}
    }
    if let Some(t) = hook["timeoutSeconds"].as_i64()
        && !(1..=30).contains(&t)
    {
        errs.push(FieldError::invalid_value(
            &format!("{path}.timeoutSeconds"),
            &json!(t),
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    for sel in ["namespaceSelector", "objectSelector"] {
        errs.extend(validate_label_selector(&hook[sel], &format!("{path}.{sel}")));
    }
    if mutating {
        one_of(&mut errs, "reinvocationPolicy", &["IfNeeded", "Never"]);
    }
    let cc = &hook["clientConfig"];
    let cc_path = format!("{path}.clientConfig");
    match (cc["url"].as_str(), cc["service"].is_object()) {
        (Some(url), false) => errs.extend(validate_url(&format!("{cc_path}.url"), url)),
        (None, true) => errs.extend(validate_service(&format!("{cc_path}.service"), &cc["service"])),
        _ => errs.push(FieldError::required(&cc_path, "exactly one of url or service is required")),
    }
    if hook["matchConditions"].as_array().is_some_and(|c| !c.is_empty()) {
        // Deliberate departure: CEL is not evaluated here, and a webhook called when its
        // conditions say it should not be could deny what it was meant to leave alone.
        errs.push(FieldError::forbidden(
            &format!("{path}.matchConditions"),
            "match conditions (CEL) are not supported by this API server",
        ));
    }
    errs
}

/// `utilvalidation.IsFullyQualifiedName`.
fn fully_qualified_name(path: &str, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let errs = super::dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, name, &errs.join(","))];
    }
    if name.split('.').count() < 3 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least three segments separated by dots",
        )];
    }
    Vec::new()
}

/// `validateRuleWithOperations` (subresources allowed).
fn validate_rule(rule: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ops = strings(&rule["operations"]);
    if ops.is_empty() {
        errs.push(FieldError::required(&format!("{path}.operations"), ""));
    }
    if ops.len() > 1 && ops.contains(&"*") {
        errs.push(invalid_list(
            &format!("{path}.operations"),
            &ops,
            "if '*' is present, must not specify other operations",
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        const OPS: &[&str] = &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
        if !OPS.contains(op) {
            errs.push(FieldError::not_supported(&format!("{path}.operations[{i}]"), op, OPS));
        }
    }
    let groups = strings(&rule["apiGroups"]);
    if groups.is_empty() {
        errs.push(FieldError::required(&format!("{path}.apiGroups"), ""));
    }
    if groups.len() > 1 && groups.contains(&"*") {
        errs.push(invalid_list(
            &format!("{path}.apiGroups"),
            &groups,
            "if '*' is present, must not specify other API groups",
        ));
    }
    let versions = strings(&rule["apiVersions"]);
    if versions.is_empty() {
        errs.push(FieldError::required(&format!("{path}.apiVersions"), ""));
    }
    if versions.len() > 1 && versions.contains(&"*") {
        errs.push(invalid_list(
            &format!("{path}.apiVersions"),
            &versions,
            "if '*' is present, must not specify other API versions",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v.is_empty() {
            errs.push(FieldError::required(&format!("{path}.apiVersions[{i}]"), ""));
        }
    }
    errs.extend(validate_resources(&strings(&rule["resources"]), &format!("{path}.resources")));
    if let Some(scope) = rule["scope"].as_str() {
        const SCOPES: &[&str] = &["*", "Cluster", "Namespaced"];
        if !SCOPES.contains(&scope) {
            errs.push(FieldError::not_supported(&format!("{path}.scope"), scope, SCOPES));
        }
    }
    errs
}

/// `validateResources`: `x`, `x/y`, `x/*`, `*/y`, `*` and `*/*`, without overlaps.
fn validate_resources(resources: &[&str], path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if resources.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    let mut wildcard_sub = std::collections::HashSet::new();
    let mut wildcard_res = std::collections::HashSet::new();
    let (mut double, mut single, mut plain) = (false, false, false);
    for (i, rs) in resources.iter().enumerate() {
        if rs.is_empty() {
            errs.push(FieldError::required(&format!("{path}[{i}]"), ""));
            continue;
        }
        double |= *rs == "*/*";
        single |= *rs == "*";
        let Some((res, sub)) = rs.split_once('/') else {
            plain = *rs != "*";
            continue;
        };
        if wildcard_sub.contains(res) {
            errs.push(FieldError::invalid(
                &format!("{path}[{i}]"),
                rs,
                &format!("if '{res}/*' is present, must not specify {rs}"),
            ));
        }
        if wildcard_res.contains(sub) {
            errs.push(FieldError::invalid(
                &format!("{path}[{i}]"),
                rs,
                &format!("if '*/{sub}' is present, must not specify {rs}"),
            ));
        }
        if sub == "*" {
            wildcard_sub.insert(res);
        }
        if res == "*" {
            wildcard_res.insert(sub);
        }
    }
    if resources.len() > 1 && double {
        errs.push(invalid_list(path, resources, "if '*/*' is present, must not specify other resources"));
    }
    if single && plain {
        errs.push(invalid_list(
            path,
            resources,
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
    errs
}

/// `ValidateLabelSelector` (matchLabels and matchExpressions).
pub fn validate_label_selector(sel: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in sel["matchLabels"].as_object().into_iter().flatten() {
        for m in super::qualified_name(k) {
            errs.push(FieldError::invalid(&format!("{path}.matchLabels"), k, &m));
        }
        let v = v.as_str().unwrap_or_default();
        for m in super::label_value(v) {
            errs.push(FieldError::invalid(&format!("{path}.matchLabels"), v, &m));
        }
    }
    for (i, e) in sel["matchExpressions"].as_array().into_iter().flatten().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let has_values = e["values"].as_array().is_some_and(|v| !v.is_empty());
        match e["operator"].as_str().unwrap_or_default() {
            "In" | "NotIn" if !has_values => errs.push(FieldError::required(
                &format!("{p}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => errs.push(FieldError::forbidden(
                &format!("{p}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(FieldError::not_supported(
                &format!("{p}.operator"),
                op,
                &["In", "NotIn", "Exists", "DoesNotExist"],
            )),
        }
        let key = e["key"].as_str().unwrap_or_default();
        for m in super::qualified_name(key) {
            errs.push(FieldError::invalid(&format!("{p}.key"), key, &m));
        }
    }
    errs
}

/// `webhook.ValidateWebhookURL` with https forced.
fn validate_url(path: &str, raw: &str) -> Vec<FieldError> {
    const FORM: &str = "; desired format: https://host[/path]";
    let mut errs = Vec::new();
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("", raw),
    };
    if scheme != "https" {
        errs.push(FieldError::invalid(path, scheme, &format!("'https' is the only allowed URL scheme{FORM}")));
    }
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let authority = if scheme.is_empty() { "" } else { before_query.split('/').next().unwrap_or_default() };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        errs.push(FieldError::invalid(path, host, &format!("host must be specified{FORM}")));
    }
    if let Some(u) = user {
        // url.Userinfo.String() hides the password.
        let shown = match u.split_once(':') {
            Some((name, _)) => format!("{name}:xxxxx"),
            None => u.to_string(),
        };
        errs.push(FieldError::invalid(path, &shown, "user information is not permitted in the URL"));
    }
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        errs.push(FieldError::invalid(path, f, "fragments are not permitted in the URL"));
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        errs.push(FieldError::invalid(path, q, "query parameters are not permitted in the URL"));
    }
    errs
}

/// `webhook.ValidateWebhookService`.
fn validate_service(path: &str, svc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if svc["name"].as_str().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&format!("{path}.name"), "service name is required"));
    }
    if svc["namespace"].as_str().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&format!("{path}.namespace"), "service namespace is required"));
    }
    let port = svc["port"].as_i64().unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid_value(
            &format!("{path}.port"),
            &json!(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let Some(url_path) = svc["path"].as_str() else { return errs };
    if url_path.is_empty() || url_path == "/" {
        return errs;
    }
    let p = format!("{path}.path");
    if url_path == "//" {
        errs.push(FieldError::invalid(&p, url_path, "segment[0] may not be empty"));
        return errs;
    }
    if !url_path.starts_with('/') {
        errs.push(FieldError::invalid(&p, url_path, "must start with a '/'"));
    }
    let check = url_path.get(1..).unwrap_or_default();
    let check = check.strip_suffix('/').unwrap_or(check);
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(&p, url_path, &format!("segment[{i}] may not be empty")));
            continue;
        }
        for m in super::dns1123_subdomain(step) {
            errs.push(FieldError::invalid(&p, url_path, &format!("segment[{i}]: {m}")));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> Value {
        json!({
            "name": "deny.example.com",
            "clientConfig": {"url": "https://127.0.0.1:8443/validate"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        })
    }

    fn messages(o: &Value, mutating: bool) -> Vec<String> {
        validate_configuration(o, mutating).into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn defaults_follow_upstream() {
        let mut o = json!({"webhooks": [hook(), {"clientConfig": {"service": {"name": "s", "namespace": "n"}}}]});
        default_configuration(&mut o, true);
        let h = &o["webhooks"][0];
        assert_eq!(h["failurePolicy"], "Fail");
        assert_eq!(h["matchPolicy"], "Equivalent");
        assert_eq!(h["namespaceSelector"], json!({}));
        assert_eq!(h["objectSelector"], json!({}));
        assert_eq!(h["timeoutSeconds"], 10);
        assert_eq!(h["reinvocationPolicy"], "Never");
        assert_eq!(h["rules"][0]["scope"], "*");
        assert_eq!(o["webhooks"][1]["clientConfig"]["service"]["port"], 443);
        let mut v = json!({"webhooks": [hook()]});
        default_configuration(&mut v, false);
        assert!(v["webhooks"][0].get("reinvocationPolicy").is_none());
    }

    #[test]
    fn validation_messages_follow_upstream() {
        assert!(messages(&json!({"webhooks": [hook()]}), false).is_empty());
        let mut h = hook();
        h["name"] = json!("deny");
        h["sideEffects"] = json!("Some");
        h["admissionReviewVersions"] = json!(["v2"]);
        h["timeoutSeconds"] = json!(31);
        h["clientConfig"] = json!({"url": "http://u:p@host/x?a=b#f"});
        let got = messages(&json!({"webhooks": [h]}), false);
        let want = [
            r#"webhooks[0].name: Invalid value: "deny": should be a domain with at least three segments separated by dots"#,
            r#"webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun""#,
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
            r#"webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "u:xxxxx": user information is not permitted in the URL"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "f": fragments are not permitted in the URL"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "a=b": query parameters are not permitted in the URL"#,
            r#"webhooks[0].admissionReviewVersions: Invalid value: []string{"v2"}: must include at least one of v1, v1beta1"#,
        ];
        assert_eq!(got, want);
        let mut h = hook();
        h.as_object_mut().unwrap().remove("sideEffects");
        h["admissionReviewVersions"] = json!([]);
        h["clientConfig"] = json!({});
        h["rules"] = json!([{"operations": ["*", "CREATE"], "apiGroups": [], "apiVersions": ["v1"], "resources": ["*/*", "pods"], "scope": "Any"}]);
        let got = messages(&json!({"webhooks": [h.clone(), hook(), hook()]}), true);
        assert_eq!(
            got,
            [
                r#"webhooks[0].rules[0].operations: Invalid value: []string{"*", "CREATE"}: if '*' is present, must not specify other operations"#,
                "webhooks[0].rules[0].apiGroups: Required value",
                r#"webhooks[0].rules[0].resources: Invalid value: []string{"*/*", "pods"}: if '*/*' is present, must not specify other resources"#,
                r#"webhooks[0].rules[0].scope: Unsupported value: "Any": supported values: "*", "Cluster", "Namespaced""#,
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
                "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
                r#"webhooks[1].name: Duplicate value: "deny.example.com""#,
                r#"webhooks[2].name: Duplicate value: "deny.example.com""#,
            ]
        );
    }

    #[test]
    fn services_and_selectors() {
        let mut h = hook();
        h["clientConfig"] = json!({"service": {"name": "", "namespace": "n", "port": 0, "path": "/a//B"}});
        h["objectSelector"] =
            json!({"matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Is"}]});
        let got = messages(&json!({"webhooks": [h]}), false);
        assert_eq!(
            got[0],
            "webhooks[0].objectSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            got[1],
            r#"webhooks[0].objectSelector.matchExpressions[1].operator: Unsupported value: "Is": supported values: "In", "NotIn", "Exists", "DoesNotExist""#
        );
        assert_eq!(got[2], "webhooks[0].clientConfig.service.name: Required value: service name is required");
        assert_eq!(
            got[3],
            "webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            got[4],
            r#"webhooks[0].clientConfig.service.path: Invalid value: "/a//B": segment[1] may not be empty"#
        );
        assert!(got[5].starts_with(
            r#"webhooks[0].clientConfig.service.path: Invalid value: "/a//B": segment[2]: a lowercase RFC 1123"#
        ));
    }
}
