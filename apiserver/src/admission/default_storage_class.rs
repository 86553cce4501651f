//! DefaultStorageClass: a claim that names no class gets the default StorageClass (the
//! newest of those annotated `storageclass.kubernetes.io/is-default-class: "true"`).

use serde_json::{Value, json};

use super::{Attributes, Operation, list};
use crate::rest::Rest;
use crate::status::ApiError;

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

pub async fn mutate(rest: &Rest, a: &Attributes<'_>, obj: &mut Value) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.is("", "persistentvolumeclaims") {
        return Ok(());
    }
    if obj["spec"].get("storageClassName").is_some_and(|v| !v.is_null()) {
        return Ok(());
    }
    let classes = list(rest, "storageclasses.storage.k8s.io", None).await?;
    let is_default = |c: &Value| {
        let ann = &c["metadata"]["annotations"];
        ann[DEFAULT_ANNOTATION] == "true" || ann[BETA_DEFAULT_ANNOTATION] == "true"
    };
    // The newest default wins; equal ages go to the first name.
    let chosen = classes.iter().filter(|c| is_default(c)).max_by(|x, y| {
        let age = |c: &Value| c["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string();
        let name = |c: &Value| c["metadata"]["name"].as_str().unwrap_or_default().to_string();
        age(x).cmp(&age(y)).then_with(|| name(y).cmp(&name(x)))
    });
    if let Some(sc) = chosen {
        obj["spec"]["storageClassName"] = json!(sc["metadata"]["name"].clone());
    }
    Ok(())
}
