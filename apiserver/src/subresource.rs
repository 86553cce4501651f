//! The generic subresources: `status` (only `.status` changes), `scale` (an
//! `autoscaling/v1` `Scale` view of `.spec.replicas`) and `pods/binding` (assigns a node).

use serde_json::{Value, json};

use crate::registry::{self, Resource, Subresource};
use crate::rest::{self, Rest, Target, WriteContext};
use crate::status::{ApiError, FieldError};

/// The `Scale` of an object (a custom resource's from its CRD's scale paths).
fn scale_of(resource: &Resource, obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut m = serde_json::Map::new();
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    let (spec, status, selector) = match resource.custom.and_then(|c| c.scale.as_ref()) {
        Some(p) => {
            let at = |path: &str| crate::schema::json_path(obj, path);
            let selector = p.label_selector.as_deref().and_then(at).and_then(Value::as_str).unwrap_or_default();
            (at(&p.spec_replicas), at(&p.status_replicas), selector.to_string())
        }
        // A LabelSelector, or a plain map for ReplicationControllers: selector_string reads both.
        None => (
            obj["spec"].get("replicas"),
            obj["status"].get("replicas"),
            registry::selector_string(&obj["spec"]["selector"]),
        ),
    };
    let replicas = |v: Option<&Value>| v.and_then(Value::as_i64).unwrap_or(0);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": replicas(spec)},
        "status": {"replicas": replicas(status), "selector": selector},
    })
}

/// Sets the value at a simple `.a.b.c` path, making the objects on the way.
fn set_path(obj: &mut Value, path: &str, value: Value) {
    let mut v = obj;
    for key in path.trim_start_matches('.').split('.') {
        if !v.is_object() {
            *v = json!({});
        }
        v = &mut v[key];
    }
    *v = value;
}

/// A subresource write rebuilds the object from the stored one: the request's
/// resourceVersion (if any) is its precondition, otherwise there is none.
fn carry_precondition(request: &Value, obj: &mut Value) {
    match request["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() => obj["metadata"]["resourceVersion"] = json!(rv),
        _ => {
            obj["metadata"].as_object_mut().map(|m| m.shift_remove("resourceVersion"));
        }
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}")))
}

impl Rest {
    pub async fn get_subresource(
        &self,
        resource: &Resource,
        sub: Subresource,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let obj = self.get(resource, ns, name).await?;
        match sub {
            Subresource::Scale => Ok(scale_of(resource, &obj)),
            _ => Ok(obj),
        }
    }

    pub async fn update_subresource(
        &self,
        resource: &Resource,
        sub: Subresource,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        match sub {
            Subresource::Status => self.update_as(resource, Target::Status, ns, name, body, ctx).await,
            Subresource::Scale => {
                let scale = parse_json(body)?;
                self.write_scale(resource, ns, name, &scale, ctx).await
            }
            Subresource::Approval => {
                // Only the conditions come from the body (csrApprovalStrategy).
                let body = parse_json(body)?;
                let mut merged = self.get(resource, ns, name).await?;
                merged["status"]["conditions"] = body["status"]["conditions"].clone();
                carry_precondition(&body, &mut merged);
                let bytes = serde_json::to_vec(&merged).unwrap_or_default();
                self.update_as(resource, Target::Status, ns, name, &bytes, ctx).await
            }
            Subresource::EphemeralContainers => {
                let body = parse_json(body)?;
                let current = self.get(resource, ns, name).await?;
                let old_list = current["spec"]["ephemeralContainers"].as_array().cloned().unwrap_or_default();
                let mut new_list = body["spec"]["ephemeralContainers"].as_array().cloned().unwrap_or_default();
                for c in &mut new_list {
                    registry::podspec::default_container(c);
                }
                // Ephemeral containers are only ever added (ValidatePodEphemeralContainersUpdate).
                for old in &old_list {
                    let n = old["name"].as_str().unwrap_or_default();
                    if new_list.iter().find(|c| c["name"] == old["name"]) != Some(old) {
                        let err = FieldError::forbidden(
                            "spec.ephemeralContainers",
                            &format!("existing ephemeral containers {n:?} may not be changed"),
                        );
                        return Err(ApiError::invalid("Pod", name, &[err]));
                    }
                }
                let names: Vec<&Value> = ["containers", "initContainers"]
                    .iter()
                    .flat_map(|l| current["spec"][*l].as_array().into_iter().flatten())
                    .map(|c| &c["name"])
                    .collect();
                for (i, c) in new_list.iter().enumerate() {
                    if names.contains(&&c["name"]) {
                        let err = FieldError::duplicate(&format!("spec.ephemeralContainers[{i}].name"), &c["name"]);
                        return Err(ApiError::invalid("Pod", name, &[err]));
                    }
                }
                let mut merged = current.clone();
                merged["spec"]["ephemeralContainers"] = json!(new_list);
                let attrs = crate::admission::Attributes {
                    resource,
                    operation: crate::admission::Operation::Update,
                    namespace: ns,
                    name: name.to_string(),
                    old: Some(&current),
                    dry_run: ctx.dry_run,
                    subresource: Some("ephemeralcontainers"),
                };
                crate::admission::validate_ephemeral_containers(self, &attrs, &merged, ctx).await?;
                carry_precondition(&body, &mut merged);
                let bytes = serde_json::to_vec(&merged).unwrap_or_default();
                self.update_as(resource, Target::System, ns, name, &bytes, ctx).await
            }
            Subresource::Finalize => {
                // Only spec.finalizers come from the body (namespaceFinalizeStrategy); a
                // Terminating namespace left without finalizers goes.
                let body = parse_json(body)?;
                let mut merged = self.get(resource, ns, name).await?;
                merged["spec"]["finalizers"] = match &body["spec"]["finalizers"] {
                    Value::Null => json!([]),
                    f => f.clone(),
                };
                carry_precondition(&body, &mut merged);
                let bytes = serde_json::to_vec(&merged).unwrap_or_default();
                self.update_as(resource, Target::System, ns, name, &bytes, ctx).await
            }
            Subresource::Binding | Subresource::Eviction => Err(ApiError::method_not_allowed()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn patch_subresource(
        &self,
        resource: &Resource,
        sub: Subresource,
        ns: Option<&str>,
        name: &str,
        media: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        match sub {
            Subresource::Status => self.patch_as(resource, Target::Status, ns, name, media, body, ctx).await,
            Subresource::Approval | Subresource::EphemeralContainers | Subresource::Finalize => {
                let patch: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                let current = self.get(resource, ns, name).await?;
                let patched = match media {
                    "application/strategic-merge-patch+json" => {
                        crate::patch::strategic_merge_patch(&current, &patch, crate::openapi::patch_table(resource))
                            .map_err(ApiError::bad_request)?
                    }
                    "application/json-patch+json" => crate::patch::json_patch(&current, &patch).map_err(|e| {
                        ApiError::unprocessable(format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ))
                    })?,
                    _ => {
                        let mut t = current.clone();
                        crate::patch::merge_patch(&mut t, &patch);
                        t
                    }
                };
                let bytes = serde_json::to_vec(&patched).unwrap_or_default();
                self.update_subresource(resource, sub, ns, name, &bytes, ctx).await
            }
            Subresource::Scale => {
                let patch: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
                if resource.custom.is_some() && media == "application/strategic-merge-patch+json" {
                    return Err(rest::custom_patch_media_type());
                }
                let current = scale_of(resource, &self.get(resource, ns, name).await?);
                // A Scale has no merging lists: strategic merge is a merge patch.
                let mut patched = crate::rest::patched(&current, media, &patch, &[])?;
                if patch["metadata"]["resourceVersion"].is_null() {
                    patched["metadata"].as_object_mut().map(|m| m.shift_remove("resourceVersion"));
                }
                self.write_scale(resource, ns, name, &patched, ctx).await
            }
            Subresource::Binding | Subresource::Eviction => Err(ApiError::method_not_allowed()),
        }
    }

    /// Sets `.spec.replicas` from a `Scale` (guarded by its resourceVersion when given).
    async fn write_scale(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        scale: &Value,
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        let replicas = &scale["spec"]["replicas"];
        let n = match replicas {
            Value::Null => 0,
            v => v.as_i64().ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal {v} into Go struct field ScaleSpec.spec.replicas of type int32"
                ))
            })?,
        };
        if n < 0 {
            let err = FieldError::invalid_value("spec.replicas", replicas, "must be greater than or equal to 0");
            return Err(ApiError::invalid("Scale.autoscaling", name, &[err]));
        }
        let mut obj = self.get(resource, ns, name).await?;
        // Admission webhooks see the Scale, and may change its replicas.
        let old_scale = scale_of(resource, &obj);
        let mut new_scale = old_scale.clone();
        new_scale["spec"]["replicas"] = json!(n);
        let attrs = crate::admission::Attributes {
            resource,
            operation: crate::admission::Operation::Update,
            namespace: ns,
            name: name.to_string(),
            old: Some(&old_scale),
            dry_run: ctx.dry_run,
            subresource: Some("scale"),
        };
        let decode = registry::typed::<k8s_openapi::api::autoscaling::v1::Scale>;
        crate::admission::subresource_webhooks(self, &attrs, &mut new_scale, decode, ctx).await?;
        let n = new_scale["spec"]["replicas"].as_i64().unwrap_or(n);
        carry_precondition(scale, &mut obj);
        match resource.custom.and_then(|c| c.scale.as_ref()) {
            Some(p) => set_path(&mut obj, &p.spec_replicas, json!(n)),
            None => obj["spec"]["replicas"] = json!(n),
        }
        let body = serde_json::to_vec(&obj).unwrap_or_default();
        let updated = self.update_as(resource, Target::Main, ns, name, &body, ctx).await?;
        Ok(scale_of(resource, &updated))
    }

    /// The admission webhooks of a CREATE of `pods/binding` or `pods/eviction`, which see
    /// the Binding or Eviction.
    async fn subresource_admission(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        sub: &'static str,
        obj: &mut Value,
        ctx: &mut WriteContext,
    ) -> Result<(), ApiError> {
        let attrs = crate::admission::Attributes {
            resource,
            operation: crate::admission::Operation::Create,
            namespace: ns,
            name: name.to_string(),
            old: None,
            dry_run: ctx.dry_run,
            subresource: Some(sub),
        };
        let decode = match sub {
            "binding" => registry::typed::<k8s_openapi::api::core::v1::Binding>,
            _ => registry::typed::<k8s_openapi::api::policy::v1::Eviction>,
        };
        crate::admission::subresource_webhooks(self, &attrs, obj, decode, ctx).await
    }

    /// `pods/binding`: sets `spec.nodeName` of a pod that has none.
    pub async fn bind(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        let mut binding = parse_json(body)?;
        self.subresource_admission(resource, ns, name, "binding", &mut binding, ctx).await?;
        let node = binding["target"]["name"].as_str().unwrap_or_default().to_string();
        if binding["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!("name in URL does not match name in Binding object: {name}")));
        }
        if node.is_empty() {
            let err = FieldError::required("target.name", "");
            return Err(ApiError::invalid("Binding", name, &[err]));
        }
        let mut pod = self.get(resource, ns, name).await?;
        if is_deleting(&pod) {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host"
                ),
                details: Some(json!({"name": name, "kind": "pods/binding"})),
            });
        }
        if let Some(cur) = pod["spec"]["nodeName"].as_str().filter(|s| !s.is_empty()) {
            return Err(ApiError {
                code: 409,
                reason: "Conflict",
                message: format!(
                    "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{cur}\""
                ),
                details: Some(json!({"name": name, "kind": "pods/binding"})),
            });
        }
        pod["spec"]["nodeName"] = json!(node);
        if let Some(ann) = binding["metadata"]["annotations"].as_object() {
            for (k, v) in ann {
                pod["metadata"]["annotations"][k] = v.clone();
            }
        }
        // The PodScheduled condition, as the binding REST storage adds it.
        let now = json!(rest::now_rfc3339());
        let mut conds: Vec<Value> = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conds.retain(|c| c["type"] != "PodScheduled");
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        pod["status"]["conditions"] = json!(conds);
        let body = serde_json::to_vec(&pod).unwrap_or_default();
        self.update_as(resource, Target::System, ns, name, &body, ctx).await?;
        Ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
    }
}

impl Rest {
    /// `pods/eviction`: deletes the pod (with the eviction's DeleteOptions) unless the one
    /// PodDisruptionBudget selecting it allows no disruption now; an allowed eviction
    /// takes one from the budget's `disruptionsAllowed`, as upstream does.
    pub async fn evict(
        &self,
        resource: &Resource,
        ns: Option<&str>,
        name: &str,
        body: &[u8],
        ctx: &mut WriteContext,
    ) -> Result<Value, ApiError> {
        let mut eviction = parse_json(body)?;
        if eviction["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!("name in URL does not match name in Eviction object: {name}")));
        }
        self.subresource_admission(resource, ns, name, "eviction", &mut eviction, ctx).await?;
        let pod = self.get(resource, ns, name).await?;
        let delete_body = serde_json::to_vec(&eviction["deleteOptions"]).unwrap_or_default();
        let delete_body = if eviction["deleteOptions"].is_object() { delete_body } else { Vec::new() };
        let success =
            || json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
        // Finished or already deleting pods are not guarded by budgets.
        let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        if finished || is_deleting(&pod) {
            self.delete(resource, ns, name, &delete_body, ctx).await?;
            return Ok(success());
        }
        let pdbs = registry::lookup("policy", "v1", "poddisruptionbudgets").expect("registered");
        let list = self.list(pdbs, ns, &rest::ListOptions::default()).await?;
        let labels = &pod["metadata"]["labels"];
        let matching: Vec<Value> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                let sel = &p["spec"]["selector"];
                sel.is_object() && registry::podspec::selector_matches(sel, labels)
            })
            .cloned()
            .collect();
        if matching.len() > 1 {
            return Err(ApiError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        if let Some(pdb) = matching.first() {
            let allowed = pdb["status"]["disruptionsAllowed"].as_i64().unwrap_or(0);
            let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or_default().to_string();
            if allowed <= 0 {
                let desired = pdb["status"]["desiredHealthy"].as_i64().unwrap_or(0);
                let current = pdb["status"]["currentHealthy"].as_i64().unwrap_or(0);
                return Err(ApiError {
                    code: 429,
                    reason: "TooManyRequests",
                    message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                    details: Some(json!({"causes": [{
                        "reason": "DisruptionBudget",
                        "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"),
                    }]})),
                });
            }
            let mut updated = pdb.clone();
            updated["metadata"]["namespace"] = json!(ns.unwrap_or_default());
            updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
            updated["status"]["disruptedPods"][name] = json!(rest::now_rfc3339());
            let body = serde_json::to_vec(&updated).unwrap_or_default();
            if !ctx.dry_run {
                self.update_as(pdbs, Target::Status, ns, &pdb_name, &body, &mut WriteContext::default()).await?;
            }
        }
        self.delete(resource, ns, name, &delete_body, ctx).await?;
        Ok(success())
    }
}

fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}
