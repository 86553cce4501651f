//! DefaultTolerationSeconds: pods tolerate `not-ready` and `unreachable` NoExecute taints
//! for 300 s unless they say otherwise (`--default-not-ready-toleration-seconds` and
//! `--default-unreachable-toleration-seconds` keep upstream's default).

use serde_json::{Value, json};

use super::{Attributes, Operation};

const DEFAULT_SECONDS: i64 = 300;

pub fn mutate(a: &Attributes<'_>, obj: &mut Value) {
    if a.operation != Operation::Create || !a.is("", "pods") {
        return;
    }
    let tolerations = &mut obj["spec"]["tolerations"];
    if !tolerations.is_array() {
        *tolerations = json!([]);
    }
    let Some(list) = tolerations.as_array_mut() else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        // A toleration of this key with the NoExecute (or any) effect is left alone.
        let tolerated = list.iter().any(|t| {
            let effect = t["effect"].as_str().unwrap_or_default();
            let key_matches =
                t["key"] == key || (t["key"].as_str().is_none_or(str::is_empty) && t["operator"] == "Exists");
            key_matches && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_SECONDS,
            }));
        }
    }
}
