//! TaintNodesByCondition: a new node starts with the `not-ready` NoSchedule taint, which
//! the node lifecycle controller removes once the node reports Ready.

use serde_json::{Value, json};

use super::{Attributes, Operation};

pub fn mutate(a: &Attributes<'_>, obj: &mut Value) {
    if a.operation != Operation::Create || !a.is("", "nodes") {
        return;
    }
    let taint = json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"});
    let taints = &mut obj["spec"]["taints"];
    if !taints.is_array() {
        *taints = json!([]);
    }
    if let Some(list) = taints.as_array_mut()
        && !list.iter().any(|t| t["key"] == taint["key"] && t["effect"] == taint["effect"])
    {
        list.push(taint);
    }
}
