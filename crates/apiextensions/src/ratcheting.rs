//! Ratcheting: on update, a part of the object that did not change does not fail validation, even
//! if a tightened schema would now reject it (upstream `CRDValidationRatcheting`, GA).
//!
//! New and old values are *correlated* as apiserver's `CorrelatedObject` does: object fields by
//! key (present on both sides and known to the schema), list items only in
//! `x-kubernetes-list-type: map` lists (by their map keys); nothing else has an old counterpart.
//! Errors found at a node whose value equals its correlated old value are dropped.

use super::Node;
use serde_json::Value;

/// The old value correlated with field `k` of the new object, if any.
pub fn key<'a>(node: &Node, old: Option<&'a Value>, k: &str) -> Option<&'a Value> {
    let old = old?.as_object()?.get(k)?;
    node.field_schema(k).map(|_| old)
}

/// The old list item correlated with `item` (only in map lists, by the map keys).
pub fn item<'a>(node: &Node, old: Option<&'a Value>, item: &Value) -> Option<&'a Value> {
    if node.list_type.as_deref() != Some("map") || node.list_map_keys.is_empty() {
        return None;
    }
    let item = item.as_object()?;
    old?.as_array()?.iter().find(|o| {
        o.as_object().is_some_and(|o| {
            node.list_map_keys
                .iter()
                .all(|k| o.get(k.as_str()) == item.get(k.as_str()))
        })
    })
}

/// Whether errors found at a node with value `new` and correlated old value `old` are ratcheted.
pub fn unchanged(new: &Value, old: Option<&Value>) -> bool {
    old.is_some_and(|o| o == new)
}
