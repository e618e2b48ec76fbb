//! DefaultStorageClass (kube-apiserver's admission plugin of that name): a PersistentVolumeClaim
//! created without `spec.storageClassName` (and without the beta class annotation) gets the
//! default StorageClass — the one annotated `storageclass.kubernetes.io/is-default-class: "true"`,
//! the newest if several are. An empty class name (`""`) means "no class" and is kept.

use super::{Operation, Plugin, Request};
use crate::registry::storage::storageclasses::DEFAULT_CLASS;
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::{Value, json};

/// The beta annotation that named a claim's class before `spec.storageClassName`.
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// The beta annotation that marked the default class.
const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultStorageClass;

impl Plugin for DefaultStorageClass {
    fn name(&self) -> &'static str {
        "DefaultStorageClass"
    }

    fn admit(&self, rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let rt = request.rt;
        if request.operation != Operation::Create
            || !rt.group.is_empty()
            || &*rt.plural != "persistentvolumeclaims"
        {
            return Ok(());
        }
        let named = obj
            .pointer("/spec/storageClassName")
            .is_some_and(|c| !c.is_null())
            || obj
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    BETA_CLASS.replace('/', "~1")
                ))
                .is_some();
        if named {
            return Ok(());
        }
        if let Some(class) = default_class(rest)
            && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert("storageClassName".into(), json!(class));
        }
        Ok(())
    }
}

/// The name of the default StorageClass: the newest of those marked default (the first by name
/// among equally new ones, as upstream breaks ties).
pub(crate) fn default_class(rest: &Rest) -> Option<String> {
    let classes = rest
        .catalog
        .snapshot()
        .find("storage.k8s.io", "v1", "storageclasses")?;
    let marked = |v: &Value, key: &str| {
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            == Some("true")
    };
    rest.store
        .current(&classes.storage_key)
        .iter()
        .map(|o| o.value())
        .filter(|c| marked(c, DEFAULT_CLASS) || marked(c, BETA_DEFAULT_CLASS))
        // The newest; among classes created in the same second, the first by name.
        .max_by(|a, b| {
            let time = |v: &Value| {
                v.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let name = |v: &Value| {
                v.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            time(a).cmp(&time(b)).then_with(|| name(b).cmp(&name(a)))
        })
        .and_then(|c| {
            c.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(String::from)
        })
}
