//! The unit of storage: an object's serialized JSON and its resourceVersion.

use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// Where an object lives: its resource (group and plural, version-independent), namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `group/plural`, e.g. `apps/deployments`, `/configmaps` for the core group.
    pub resource: Arc<str>,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjectKey {
    /// A key for `resource` (see [`ObjectKey::resource`]).
    pub fn new(resource: Arc<str>, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            resource,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key as one string: `resource/namespace/name` (the durable medium's key).
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.resource, self.namespace, self.name)
    }

    /// The inverse of [`ObjectKey::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let (resource, namespace, name) = ObjectKey::split(s)?;
        Some(ObjectKey::new(Arc::from(resource), namespace, name))
    }

    /// An encoded key's parts (resource, namespace, name), borrowed.
    pub fn split(s: &str) -> Option<(&str, &str, &str)> {
        let (rest, name) = s.rsplit_once('/')?;
        let (resource, namespace) = rest.rsplit_once('/')?;
        Some((resource, namespace, name))
    }
}

/// A stored object: its JSON, exactly as served (resourceVersion already stamped in), and that
/// resourceVersion. Shared (`Arc`) between the index, the event history and every reader.
///
/// Its labels are parsed the first time a label selector asks for them and kept (as
/// kube-apiserver's watch cache keeps each object's labels beside it): a state never changes,
/// so a selector over a large collection parses each object once, not once per LIST.
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// The resourceVersion of the write that produced this state.
    pub resource_version: u64,
    /// The serialized object.
    pub json: Bytes,
    labels: OnceLock<BTreeMap<String, String>>,
}

impl PartialEq for StoredObject {
    fn eq(&self, other: &Self) -> bool {
        self.resource_version == other.resource_version && self.json == other.json
    }
}

impl Eq for StoredObject {}

#[derive(serde::Deserialize, Default)]
struct MetaOnly {
    #[serde(default)]
    metadata: LabelsOnly,
}

#[derive(serde::Deserialize, Default)]
struct LabelsOnly {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl StoredObject {
    /// Serializes `value` after stamping `resource_version` into its metadata.
    pub fn from_value(mut value: Value, resource_version: u64) -> Self {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                Value::String(resource_version.to_string()),
            );
        }
        let json = serde_json::to_vec(&value).unwrap_or_default();
        // Exactly sized: the serializer's buffer grows by doubling, and `Bytes` would keep all
        // of it for as long as the object is stored (up to twice its size).
        StoredObject::new(resource_version, Bytes::from(json.into_boxed_slice()))
    }

    /// The object as a JSON value.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// A stored state of `json` at `resource_version` (the JSON must carry it already).
    pub fn new(resource_version: u64, json: Bytes) -> Self {
        StoredObject {
            resource_version,
            json,
            labels: OnceLock::new(),
        }
    }

    /// Only the labels (parsed without building the whole object, once per state).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.labels.get_or_init(|| {
            serde_json::from_slice::<MetaOnly>(&self.json)
                .ok()
                .and_then(|m| m.metadata.labels)
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let key = ObjectKey::new(Arc::from("apps/deployments"), "ns", "web");
        assert_eq!(ObjectKey::decode(&key.encode()), Some(key));
        let core = ObjectKey::new(Arc::from("/namespaces"), "", "default");
        assert_eq!(ObjectKey::decode(&core.encode()), Some(core));
    }

    #[test]
    fn stamps_resource_version() {
        let obj = StoredObject::from_value(
            serde_json::json!({"metadata": {"name": "a", "labels": {"x": "y"}}}),
            7,
        );
        assert_eq!(obj.value()["metadata"]["resourceVersion"], "7");
        assert_eq!(obj.labels().get("x").map(String::as_str), Some("y"));
    }
}
