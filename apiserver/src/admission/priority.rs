//! Priority: a pod's `priorityClassName` resolves to its `priority` and
//! `preemptionPolicy` (the global default class, or 0, when it names none); at most one
//! PriorityClass is the global default.

use serde_json::{Value, json};

use super::{Attributes, Operation, list};
use crate::rest::Rest;
use crate::status::ApiError;

/// The lowest-valued class marked `globalDefault` (upstream's `getDefaultPriorityClass`).
fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| c["globalDefault"].as_bool() == Some(true))
        .min_by_key(|c| c["value"].as_i64().unwrap_or_default())
}

pub async fn mutate(rest: &Rest, a: &Attributes<'_>, obj: &mut Value) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.is("", "pods") {
        return Ok(());
    }
    let classes = list(rest, "priorityclasses.scheduling.k8s.io", None).await?;
    let spec = &mut obj["spec"];
    let (priority, policy) = match spec["priorityClassName"].as_str().filter(|n| !n.is_empty()) {
        None => match default_class(&classes) {
            Some(pc) => {
                spec["priorityClassName"] = pc["metadata"]["name"].clone();
                (pc["value"].as_i64().unwrap_or_default(), pc["preemptionPolicy"].clone())
            }
            None => (0, json!("PreemptLowerPriority")),
        },
        Some(name) => match classes.iter().find(|c| c["metadata"]["name"] == name) {
            Some(pc) => (pc["value"].as_i64().unwrap_or_default(), pc["preemptionPolicy"].clone()),
            None => return Err(a.forbidden(&format!("no PriorityClass with name {name} was found"))),
        },
    };
    if let Some(given) = spec["priority"].as_i64()
        && given != priority
    {
        return Err(a.forbidden(&format!(
            "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
        )));
    }
    spec["priority"] = json!(priority);
    if let Some(policy) = policy.as_str() {
        if let Some(given) = spec["preemptionPolicy"].as_str()
            && given != policy
        {
            return Err(a.forbidden(&format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
        spec["preemptionPolicy"] = json!(policy);
    }
    Ok(())
}

/// Only one PriorityClass may be the global default.
pub async fn validate(rest: &Rest, a: &Attributes<'_>, obj: &Value) -> Result<(), ApiError> {
    if !a.is("scheduling.k8s.io", "priorityclasses.scheduling.k8s.io") || obj["globalDefault"].as_bool() != Some(true) {
        return Ok(());
    }
    if a.old.is_some_and(|o| o["globalDefault"].as_bool() == Some(true)) {
        return Ok(());
    }
    let classes = list(rest, "priorityclasses.scheduling.k8s.io", None).await?;
    let other = classes
        .iter()
        .filter(|c| c["metadata"]["name"] != obj["metadata"]["name"])
        .find(|c| c["globalDefault"].as_bool() == Some(true));
    match other {
        Some(dpc) => Err(a.forbidden(&format!(
            "PriorityClass {} is marked as default. Only one default can exist",
            dpc["metadata"]["name"].as_str().unwrap_or_default()
        ))),
        None => Ok(()),
    }
}
