//! StorageObjectInUseProtection (kube-apiserver's admission plugin of that name): every new
//! PersistentVolumeClaim gets the `kubernetes.io/pvc-protection` finalizer and every new
//! PersistentVolume `kubernetes.io/pv-protection`, so neither goes while in use (the protection
//! controllers in `controllers/volumes.rs` remove them once it is not).

use super::{Operation, Plugin, Request};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::{Value, json};

/// The finalizer that keeps a claim while a pod uses it.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// The finalizer that keeps a volume while it is bound.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct StorageObjectInUseProtection;

impl Plugin for StorageObjectInUseProtection {
    fn name(&self) -> &'static str {
        "StorageObjectInUseProtection"
    }

    fn admit(&self, _rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let rt = request.rt;
        if request.operation != Operation::Create || !rt.group.is_empty() {
            return Ok(());
        }
        let finalizer = match &*rt.plural {
            "persistentvolumeclaims" => PVC_PROTECTION,
            "persistentvolumes" => PV_PROTECTION,
            _ => return Ok(()),
        };
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
        if finalizers.is_null() {
            *finalizers = json!([]);
        }
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f.as_str() == Some(finalizer))
        {
            list.push(json!(finalizer));
        }
        Ok(())
    }
}
