//! NamespaceLifecycle: new content needs a namespace that exists and is not being
//! terminated.

use serde_json::json;

use super::{Attributes, Operation};
use crate::registry;
use crate::rest::{Rest, decode_stored, is_deleting, storage_error};
use crate::status::ApiError;

pub async fn admit(rest: &Rest, a: &Attributes<'_>) -> Result<(), ApiError> {
    if a.operation != Operation::Create || !a.resource.namespaced {
        return Ok(());
    }
    let ns = a.ns();
    let nsres = registry::find("namespaces").expect("namespaces are registered");
    match rest.storage.get(nsres.key(None, ns).as_bytes()).await {
        Ok(Some(kv)) => {
            if is_deleting(&decode_stored(nsres, &kv.value)?) {
                let mut e = a.forbidden(&format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ));
                e.details = Some(json!({
                    "name": a.name,
                    "kind": a.resource.name,
                    "causes": [{
                        "reason": "NamespaceTerminating",
                        "message": format!("namespace {ns} is being terminated"),
                        "field": "metadata.namespace",
                    }],
                }));
                return Err(e);
            }
            Ok(())
        }
        Ok(None) => Err(ApiError::not_found("namespaces", ns)),
        Err(e) => Err(storage_error(nsres, ns, e)),
    }
}
