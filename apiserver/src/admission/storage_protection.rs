//! StorageObjectInUseProtection: new PersistentVolumeClaims and PersistentVolumes carry
//! the protection finalizer, which their controllers remove once nothing uses them.

use serde_json::{Value, json};

use super::{Attributes, Operation};

pub fn mutate(a: &Attributes<'_>, obj: &mut Value) {
    if a.operation != Operation::Create {
        return;
    }
    let finalizer = match (a.resource.group, a.resource.name) {
        ("", "persistentvolumeclaims") => "kubernetes.io/pvc-protection",
        ("", "persistentvolumes") => "kubernetes.io/pv-protection",
        _ => return,
    };
    let list = &mut obj["metadata"]["finalizers"];
    if !list.is_array() {
        *list = json!([]);
    }
    if let Some(list) = list.as_array_mut()
        && !list.iter().any(|f| f == finalizer)
    {
        list.push(json!(finalizer));
    }
}
