//! What the controllers that keep one object in every namespace share (the `default`
//! ServiceAccount, the root CA ConfigMap): which namespaces a step of the change stream asks
//! them to look at again.

use super::changes::Change;
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest};
use std::collections::BTreeSet;

/// The namespaces to look at after `change`, for a controller that keeps the object `name` of
/// `kept` in each: every namespace after a resync; otherwise each namespace that changed and
/// each whose object `name` changed.
pub(crate) async fn touched(
    rest: &Rest,
    change: Change,
    namespaces: &ResourceType,
    kept: &ResourceType,
    name: &str,
) -> BTreeSet<String> {
    match change {
        Change::Resync { .. } => match rest.list(namespaces, None, &ListOptions::default()).await {
            Ok(list) => list
                .items
                .iter()
                .map(|o| super::str_at(&o.value(), "/metadata/name").to_string())
                .collect(),
            Err(_) => BTreeSet::new(),
        },
        Change::Events(events) => events
            .iter()
            .filter_map(|e| {
                if e.key.resource == namespaces.storage_key {
                    Some(e.key.name.clone())
                } else if e.key.resource == kept.storage_key && e.key.name == name {
                    Some(e.key.namespace.clone())
                } else {
                    None
                }
            })
            .collect(),
    }
}
