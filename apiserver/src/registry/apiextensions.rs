//! apiextensions.k8s.io: CustomResourceDefinitions, with upstream's defaulting and
//! validation, and the status its in-process controllers compute (accepted names,
//! `NamesAccepted`, `Established`, `Terminating`). Serving the custom resources a CRD
//! defines is `registry::custom`; the controllers that drive it are `crate::crdcontroller`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use super::*;
use crate::status::FieldError;

/// The finalizer that holds a deleted CRD until its custom objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub static GROUP: Group = Group {
    name: "apiextensions.k8s.io",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[Resource {
            group: "apiextensions.k8s.io",
            version: "v1",
            name: "customresourcedefinitions",
            singular: "customresourcedefinition",
            kind: "CustomResourceDefinition",
            namespaced: false,
            short_names: &["crd", "crds"],
            categories: &["api-extensions"],
            subresources: &[Subresource::Status],
            etcd_prefix: "apiextensions.k8s.io/customresourcedefinitions",
            generation: true,
            decode,
            validate,
            validate_update,
            prepare_for_create,
            prepare_for_update,
            prepare_for_delete: Some(prepare_for_delete),
            columns: &[NAME_COLUMN, Column { name: "Created At", ty: "date", ..AGE_COLUMN }],
            cells: |o| vec![o["metadata"]["name"].clone(), o["metadata"]["creationTimestamp"].clone()],
            ..BASE
        }],
    }],
};

/// Typed decoding, then `SetDefaults_CustomResourceDefinition` (v1).
fn decode(v: &Value) -> Result<Value, String> {
    let mut crd = typed::<CustomResourceDefinition>(v)?;
    for version in crd["spec"]["versions"].as_array_mut().into_iter().flatten() {
        go_numbers(&mut version["schema"]["openAPIV3Schema"]);
    }
    set_defaults(&mut crd);
    Ok(crd)
}

/// k8s-openapi holds `maximum`, `minimum` and `multipleOf` as f64 (`10.0`); Go writes a
/// whole float64 without a fraction (`10`), so they are stored and shown that way.
fn go_numbers(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if matches!(k.as_str(), "maximum" | "minimum" | "multipleOf")
                    && let Some(f) = v.as_f64()
                    && f.fract() == 0.0
                    && f.abs() < 9.0e15
                {
                    *v = json!(f as i64);
                } else if !matches!(k.as_str(), "default" | "enum" | "example") {
                    go_numbers(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_numbers),
        _ => {}
    }
}

fn set_defaults(crd: &mut Value) {
    let spec = &mut crd["spec"];
    if let Some(kind) = spec["names"]["kind"].as_str().filter(|k| !k.is_empty()).map(str::to_string) {
        if spec["names"]["listKind"].as_str().is_none_or(str::is_empty) {
            spec["names"]["listKind"] = json!(format!("{kind}List"));
        }
        if spec["names"]["singular"].as_str().is_none_or(str::is_empty) {
            spec["names"]["singular"] = json!(kind.to_ascii_lowercase());
        }
    }
    if !spec["conversion"].is_object() {
        spec["conversion"] = json!({"strategy": "None"});
    }
    if spec["conversion"]["strategy"] == "Webhook"
        && let Some(svc) = spec["conversion"]["webhook"]["clientConfig"]["service"].as_object_mut()
    {
        svc.entry("port").or_insert(json!(443));
    }
}

fn prepare_for_create(crd: &mut Value) {
    let storage: Vec<Value> = storage_version(crd).into_iter().map(|v| json!(v)).collect();
    crd["status"] = json!({"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": storage});
}

fn prepare_for_update(crd: &mut Value, _old: &Value) {
    // The storage version joins status.storedVersions (the storage-version migration
    // leaves the list to users).
    if let Some(v) = storage_version(crd) {
        let stored = &mut crd["status"]["storedVersions"];
        if !stored.is_array() {
            *stored = json!([]);
        }
        if let Some(list) = stored.as_array_mut()
            && !list.iter().any(|s| s == v.as_str())
        {
            list.push(json!(v));
        }
    }
}

/// The first DELETE: the cleanup finalizer, and `Terminating` (upstream's CRD REST Delete).
fn prepare_for_delete(crd: &mut Value) {
    let finalizers = &mut crd["metadata"]["finalizers"];
    if !finalizers.is_array() {
        *finalizers = json!([]);
    }
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f == CLEANUP_FINALIZER)
    {
        list.push(json!(CLEANUP_FINALIZER));
    }
    set_condition(
        crd,
        "Terminating",
        "True",
        "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
    );
}

fn storage_version(crd: &Value) -> Option<String> {
    crd["spec"]["versions"].as_array()?.iter().find(|v| v["storage"] == true)?["name"].as_str().map(str::to_string)
}

/// Sets a status condition, keeping its transition time when the status stays.
pub fn set_condition(crd: &mut Value, ty: &str, status: &str, reason: &str, message: &str) {
    let now = crate::rest::now_rfc3339();
    if !crd["status"]["conditions"].is_array() {
        crd["status"]["conditions"] = json!([]);
    }
    let list = crd["status"]["conditions"].as_array_mut().expect("an array");
    match list.iter_mut().find(|c| c["type"] == ty) {
        Some(c) => {
            if c["status"] != status {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
        }
        None => list.push(json!({
            "type": ty, "status": status, "lastTransitionTime": now, "reason": reason, "message": message,
        })),
    }
}

fn dns1035_joined(s: &str) -> Option<String> {
    let errs = dns1035_label(s);
    if errs.is_empty() { None } else { Some(errs.join(",")) }
}

/// `ValidateCustomResourceDefinitionNames` (of `spec.names` or `status.acceptedNames`).
fn validate_names(names: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let s = |f: &str| names[f].as_str().unwrap_or_default().to_string();
    for f in ["plural", "singular"] {
        let v = s(f);
        if let Some(m) = dns1035_joined(&v).filter(|_| !v.is_empty()) {
            errs.push(FieldError::invalid(&format!("{path}.{f}"), &v, &m));
        }
    }
    for f in ["kind", "listKind"] {
        let v = s(f);
        if let Some(m) = dns1035_joined(&v.to_ascii_lowercase()).filter(|_| !v.is_empty()) {
            errs.push(FieldError::invalid(
                &format!("{path}.{f}"),
                &v,
                &format!("may have mixed case, but should otherwise match: {m}"),
            ));
        }
    }
    for (i, n) in names["shortNames"].as_array().into_iter().flatten().enumerate() {
        let n = n.as_str().unwrap_or_default();
        if let Some(m) = dns1035_joined(n) {
            errs.push(FieldError::invalid(&format!("{path}.shortNames[{i}]"), n, &m));
        }
    }
    if !s("kind").is_empty() && s("kind") == s("listKind") {
        errs.push(FieldError::invalid(
            &format!("{path}.listKind"),
            &s("listKind"),
            "kind and listKind may not be the same",
        ));
    }
    for (i, n) in names["categories"].as_array().into_iter().flatten().enumerate() {
        let n = n.as_str().unwrap_or_default();
        if let Some(m) = dns1035_joined(n) {
            errs.push(FieldError::invalid(&format!("{path}.categories[{i}]"), n, &m));
        }
    }
}

/// `validateSimpleJSONPath`.
fn simple_json_path(path: &str, field: &str, errs: &mut Vec<FieldError>) -> bool {
    if path.is_empty() {
        errs.push(FieldError::invalid(field, path, "must not be empty"));
        return false;
    }
    if !path.starts_with('.') {
        errs.push(FieldError::invalid(field, path, "must be a simple json path starting with ."));
        return false;
    }
    true
}

fn validate_subresources(subs: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(scale) = subs["scale"].as_object() else { return };
    for (key, under, msg) in [
        ("specReplicasPath", &[".spec."][..], "should be a json path under .spec"),
        ("statusReplicasPath", &[".status."][..], "should be a json path under .status"),
    ] {
        let field = format!("{path}.scale.{key}");
        match scale.get(key).and_then(Value::as_str) {
            None | Some("") => errs.push(FieldError::required(&field, "")),
            Some(p) => {
                if simple_json_path(p, &field, errs) && !under.iter().any(|u| p.starts_with(u)) {
                    errs.push(FieldError::invalid(&field, p, msg));
                }
            }
        }
    }
    if let Some(p) = scale.get("labelSelectorPath").and_then(Value::as_str).filter(|p| !p.is_empty()) {
        let field = format!("{path}.scale.labelSelectorPath");
        if simple_json_path(p, &field, errs) && !p.starts_with(".spec.") && !p.starts_with(".status.") {
            errs.push(FieldError::invalid(&field, p, "should be a json path under either .spec or .status"));
        }
    }
}

fn validate_column(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    const TYPES: &str = "boolean,date,integer,number,string";
    const FORMATS: &str = "byte,date,date-time,double,float,int32,int64,password";
    if c["name"].as_str().is_none_or(str::is_empty) {
        errs.push(FieldError::required(&format!("{path}.name"), ""));
    }
    match c["type"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required(&format!("{path}.type"), &format!("must be one of {TYPES}"))),
        t if !TYPES.split(',').any(|x| x == t) => {
            errs.push(FieldError::invalid(&format!("{path}.type"), t, &format!("must be one of {TYPES}")))
        }
        _ => {}
    }
    if let Some(f) = c["format"].as_str().filter(|f| !f.is_empty())
        && !FORMATS.split(',').any(|x| x == f)
    {
        errs.push(FieldError::invalid(&format!("{path}.format"), f, &format!("must be one of {FORMATS}")));
    }
    match c["jsonPath"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required(&format!("{path}.JSONPath"), "")),
        p => {
            simple_json_path(p, &format!("{path}.JSONPath"), errs);
        }
    }
}

/// `ValidateCustomResourceDefinition` (v1): what users hit. The schema's structural checks
/// are `crate::schema`'s.
fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = &crd["spec"];
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if let Some(d) = Some(dns1123_subdomain(group)).filter(|e| !e.is_empty()) {
        errs.push(FieldError::invalid("spec.group", group, &d.join(",")));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid("spec.group", group, "should be a domain with at least one dot"));
    }
    match spec["scope"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported("spec.scope", other, &["Cluster", "Namespaced"])),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let mut storage = 0;
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let vp = format!("spec.versions[{i}]");
        let vname = v["name"].as_str().unwrap_or_default();
        if v["storage"] == true {
            storage += 1;
        }
        if !seen.insert(vname.to_string()) {
            unique = false;
        }
        if let Some(m) = dns1035_joined(vname) {
            errs.push(FieldError::invalid(&format!("{vp}.name"), vname, &m));
        }
        let schema = &v["schema"]["openAPIV3Schema"];
        if !schema.is_object() {
            errs.push(FieldError::required(&format!("{vp}.schema.openAPIV3Schema"), ""));
        } else if let Err(e) = crate::schema::Structural::new(schema, &format!("{vp}.schema.openAPIV3Schema")) {
            errs.extend(e);
        }
        validate_subresources(&v["subresources"], &format!("{vp}.subresources"), &mut errs);
        for (j, c) in v["additionalPrinterColumns"].as_array().into_iter().flatten().enumerate() {
            validate_column(c, &format!("{vp}.additionalPrinterColumns[{j}]"), &mut errs);
        }
        for (j, f) in v["selectableFields"].as_array().into_iter().flatten().enumerate() {
            if f["jsonPath"].as_str().is_none_or(str::is_empty) {
                errs.push(FieldError::required(&format!("{vp}.selectableFields[{j}].jsonPath"), ""));
            }
        }
    }
    if !unique {
        errs.push(FieldError::invalid_value("spec.versions", &spec["versions"], "must contain unique version names"));
    }
    if storage != 1 {
        errs.push(FieldError::invalid_value(
            "spec.versions",
            &spec["versions"],
            "must have exactly one version marked as storage version",
        ));
    }
    for f in ["plural", "singular", "kind", "listKind"] {
        if spec["names"][f].as_str().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&format!("spec.names.{f}"), ""));
        }
    }
    validate_names(&spec["names"], "spec.names", &mut errs);
    // Conversion webhooks are not called by this apiserver: only None is accepted.
    match spec["conversion"]["strategy"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required("spec.conversion.strategy", "")),
        "None" => {
            if !spec["conversion"]["webhook"].is_null() {
                errs.push(FieldError::forbidden(
                    "spec.conversion.webhookClientConfig",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
        }
        other => errs.push(FieldError::not_supported("spec.conversion.strategy", other, &["None"])),
    }
    validate_names(&crd["status"]["acceptedNames"], "status.acceptedNames", &mut errs);
    errs
}

fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if crate::registry::custom::condition_true(old, "Established") {
        for (path, n, o) in [
            ("spec.scope", &new["spec"]["scope"], &old["spec"]["scope"]),
            ("spec.names.kind", &new["spec"]["names"]["kind"], &old["spec"]["names"]["kind"]),
        ] {
            if n != o {
                errs.push(immutable(path, n));
            }
        }
    }
    for (path, n, o) in [
        ("spec.group", &new["spec"]["group"], &old["spec"]["group"]),
        ("spec.names.plural", &new["spec"]["names"]["plural"], &old["spec"]["names"]["plural"]),
    ] {
        if n != o {
            errs.push(immutable(path, n));
        }
    }
    // ValidateCustomResourceDefinitionStoredVersions.
    let versions: Vec<&str> =
        new["spec"]["versions"].as_array().into_iter().flatten().filter_map(|v| v["name"].as_str()).collect();
    for (i, s) in new["status"]["storedVersions"].as_array().into_iter().flatten().enumerate() {
        let s = s.as_str().unwrap_or_default();
        if !versions.contains(&s) {
            errs.push(FieldError::invalid(
                &format!("status.storedVersions[{i}]"),
                s,
                &format!(
                    "missing from spec.versions; {s} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {s} and removes {s} from status.storedVersions"
                ),
            ));
        }
    }
    errs
}

/// The status upstream's naming and establishing controllers give a CRD, given the other
/// CRDs (their accepted names are taken). Conditions keep their transition times.
pub fn desired_status(crd: &Value, others: &[&Value]) -> Value {
    let group = &crd["spec"]["group"];
    let mut resources = std::collections::HashSet::new();
    let mut kinds = std::collections::HashSet::new();
    for o in others.iter().filter(|o| o["spec"]["group"] == *group && o["metadata"]["name"] != crd["metadata"]["name"])
    {
        let a = &o["status"]["acceptedNames"];
        for f in ["plural", "singular"] {
            if let Some(s) = a[f].as_str().filter(|s| !s.is_empty()) {
                resources.insert(s.to_string());
            }
        }
        for s in a["shortNames"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            resources.insert(s.to_string());
        }
        for f in ["kind", "listKind"] {
            if let Some(s) = a[f].as_str().filter(|s| !s.is_empty()) {
                kinds.insert(s.to_string());
            }
        }
    }
    let requested = &crd["spec"]["names"];
    let accepted = &crd["status"]["acceptedNames"];
    let mut names = accepted.clone();
    if !names.is_object() {
        names = json!({"plural": "", "kind": ""});
    }
    let mut conflict: Option<(&str, String)> = None;
    let fresh = |req: &str, acc: &str, used: &std::collections::HashSet<String>| -> Result<(), String> {
        if req == acc || !used.contains(req) { Ok(()) } else { Err(format!("{req:?} is already in use")) }
    };
    let s = |v: &Value, f: &str| v[f].as_str().unwrap_or_default().to_string();
    for (f, reason, used) in [("plural", "PluralConflict", &resources), ("singular", "SingularConflict", &resources)] {
        match fresh(&s(requested, f), &s(accepted, f), used) {
            Ok(()) => names[f] = requested[f].clone(),
            Err(m) => conflict = Some((reason, m)),
        }
    }
    if requested["shortNames"] != accepted["shortNames"] {
        let mine: Vec<&Value> = accepted["shortNames"].as_array().into_iter().flatten().collect();
        let errs: Vec<String> = requested["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| !mine.contains(n))
            .filter_map(|n| fresh(n.as_str().unwrap_or_default(), "", &resources).err())
            .collect();
        if errs.is_empty() {
            names["shortNames"] = requested["shortNames"].clone();
            if names["shortNames"].is_null() {
                names.as_object_mut().map(|m| m.shift_remove("shortNames"));
            }
        } else {
            let msg = if errs.len() == 1 { errs[0].clone() } else { format!("[{}]", errs.join(", ")) };
            conflict = Some(("ShortNamesConflict", msg));
        }
    }
    for (f, reason) in [("kind", "KindConflict"), ("listKind", "ListKindConflict")] {
        match fresh(&s(requested, f), &s(accepted, f), &kinds) {
            Ok(()) => names[f] = requested[f].clone(),
            Err(m) => conflict = Some((reason, m)),
        }
    }
    match &requested["categories"] {
        Value::Null => {
            names.as_object_mut().map(|m| m.shift_remove("categories"));
        }
        c => names["categories"] = c.clone(),
    }
    let mut out = crd.clone();
    out["status"]["acceptedNames"] = names;
    match conflict {
        Some((reason, message)) => {
            set_condition(&mut out, "NamesAccepted", "False", reason, &message);
            if !crate::registry::custom::condition_true(crd, "Established") {
                set_condition(&mut out, "Established", "False", "NotAccepted", "not all names are accepted");
            }
        }
        None => {
            set_condition(&mut out, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
            // The establishing controller's verdict, at once (one apiserver process hosts
            // both controllers).
            set_condition(
                &mut out,
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            );
        }
    }
    out["status"].clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "scope": "Namespaced",
                "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}],
            },
        })
    }

    #[test]
    fn defaults_follow_upstream() {
        let c = decode(&crd()).unwrap();
        assert_eq!(c["spec"]["names"]["listKind"], "CronTabList");
        assert_eq!(c["spec"]["names"]["singular"], "crontab");
        assert_eq!(c["spec"]["conversion"], json!({"strategy": "None"}));
        assert!(validate(&c).is_empty(), "{:?}", validate(&c));
    }

    #[test]
    fn validation_messages() {
        let mut c = decode(&crd()).unwrap();
        c["metadata"]["name"] = json!("wrong.example.com");
        c["spec"]["versions"][0]["storage"] = json!(false);
        c["spec"]["names"]["plural"] = json!("CronTabs");
        let msgs: Vec<String> = validate(&c).into_iter().map(|e| e.message).collect();
        assert!(msgs.iter().any(|m| m.ends_with("must be spec.names.plural+\".\"+spec.group")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.starts_with("spec.versions: Invalid value: ")
                && m.ends_with("must have exactly one version marked as storage version")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("spec.names.plural: Invalid value: \"CronTabs\": a DNS-1035 label")),
            "{msgs:?}"
        );
    }

    #[test]
    fn names_conflict_within_a_group() {
        let mut a = decode(&crd()).unwrap();
        a["status"] = desired_status(&a, &[]);
        assert!(crate::registry::custom::condition_true(&a, "Established"));
        assert_eq!(a["status"]["acceptedNames"]["shortNames"], json!(["ct"]));
        let mut b = decode(&crd()).unwrap();
        b["metadata"]["name"] = json!("crons.stable.example.com");
        b["spec"]["names"]["plural"] = json!("crons");
        b["spec"]["names"]["kind"] = json!("Cron");
        b["spec"]["names"]["listKind"] = json!("CronList");
        b["spec"]["names"]["singular"] = json!("cron");
        let st = desired_status(&b, &[&a]);
        let na = st["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "NamesAccepted").unwrap();
        assert_eq!(na["status"], "False");
        assert_eq!(na["reason"], "ShortNamesConflict");
        assert_eq!(na["message"], "\"ct\" is already in use");
    }
}
