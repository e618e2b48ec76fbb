//! Which objects each controller owns: an index from an owner's uid to the keys of the objects
//! whose controlling ownerReference names it, kept current from the change stream (the in-server
//! counterpart of an informer index on `metadata.ownerReferences`).
//!
//! The simulated deployment and replicaset controllers look up their ReplicaSets and Pods here
//! instead of listing (and decoding) the whole namespace on every reconcile, which made
//! convergence quadratic in the number of workloads per namespace.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The uid of `object`'s controlling owner, if it has one.
pub(crate) fn controller_uid(object: &Value) -> Option<String> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
        .map(str::to_string)
}

/// The name of the `kind` controlling the stored object `json`, if one does. A change stream
/// carries every write: the bytes are searched for the kind before anything is parsed.
pub(crate) fn controller_named(json: &[u8], kind: &str) -> Option<String> {
    let needle = format!("\"kind\":\"{kind}\"");
    if !json.windows(needle.len()).any(|w| w == needle.as_bytes()) {
        return None;
    }
    let v: Value = serde_json::from_slice(json).ok()?;
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind").and_then(Value::as_str) == Some(kind)
        })
        .and_then(|r| r.get("name")?.as_str())
        .map(str::to_string)
}

/// A namespace and a name.
pub(crate) type Key = (String, String);

/// Owner uid → owned keys, for one resource.
#[derive(Debug, Default)]
pub(crate) struct OwnedIndex {
    by_owner: HashMap<String, BTreeSet<Key>>,
    owner_of: HashMap<Key, String>,
}

impl OwnedIndex {
    /// Records that `key` is now controlled by `owner` (None: by nobody).
    pub(crate) fn set(&mut self, key: Key, owner: Option<String>) {
        if self.owner_of.get(&key) == owner.as_ref() {
            return;
        }
        self.remove(&key);
        if let Some(owner) = owner {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .insert(key.clone());
            self.owner_of.insert(key, owner);
        }
    }

    /// Forgets `key` (it was deleted).
    pub(crate) fn remove(&mut self, key: &Key) {
        if let Some(owner) = self.owner_of.remove(key)
            && let Some(keys) = self.by_owner.get_mut(&owner)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
    }

    /// Follows one change of `key`: deleted (`gone`), or now `object`.
    pub(crate) fn update(&mut self, key: &Key, gone: bool, object: &Value) {
        if gone {
            self.remove(key);
        } else {
            self.set(key.clone(), controller_uid(object));
        }
    }

    /// The keys `owner` controls, in key order.
    pub(crate) fn owned_by(&self, owner: &str) -> Vec<Key> {
        self.by_owner
            .get(owner)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        ("default".into(), name.into())
    }

    #[test]
    fn follows_adoption_orphaning_and_deletion() {
        let mut index = OwnedIndex::default();
        index.set(key("a"), Some("rs-1".into()));
        index.set(key("b"), Some("rs-1".into()));
        index.set(key("c"), None);
        assert_eq!(index.owned_by("rs-1"), [key("a"), key("b")]);
        // Adopted by another owner.
        index.set(key("b"), Some("rs-2".into()));
        assert_eq!(index.owned_by("rs-1"), [key("a")]);
        assert_eq!(index.owned_by("rs-2"), [key("b")]);
        // Orphaned, then deleted.
        index.set(key("a"), None);
        assert!(index.owned_by("rs-1").is_empty());
        index.remove(&key("b"));
        assert!(index.owned_by("rs-2").is_empty());
        assert!(index.by_owner.is_empty() && index.owner_of.is_empty());
    }
}
