//! What the review resources share: reading what an access review asks, and writing the answer.
//! The reviews themselves (create-only, answered from RBAC and the requester's identity, never
//! stored) are rows of the registry: `registry/authorization/*` (`kubectl auth can-i`,
//! `can-i --list`) and `registry/authentication/selfsubjectreviews.rs` (`kubectl auth whoami`).

use super::attributes::{Attributes, ResourceAttributes};
use crate::status::FieldCause;
use serde_json::{Map, Value, json};

/// The string field `key` of `v`, or "".
pub(crate) fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The string list `key` of `v` (empty when absent).
pub(crate) fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The attributes an access review's spec asks about, or the causes that make it invalid.
pub(crate) fn asked(
    spec: &Value,
    non_resource_allowed: bool,
) -> Result<Attributes, Vec<FieldCause>> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(_), Some(n)) => Err(vec![FieldCause::invalid(
            "spec.nonResourceAttributes",
            n,
            "cannot be specified in combination with resourceAttributes",
        )]),
        (None, None) => Err(vec![FieldCause::invalid(
            "spec.resourceAttributes",
            &Value::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )]),
        (None, Some(n)) if !non_resource_allowed => Err(vec![FieldCause::invalid(
            "spec.nonResourceAttributes",
            n,
            "disallowed on this kind of request",
        )]),
        (None, Some(n)) => Ok(Attributes::NonResource {
            verb: text(n, "verb"),
            path: text(n, "path"),
        }),
        (Some(r), None) => Ok(Attributes::Resource(ResourceAttributes {
            verb: text(r, "verb"),
            group: text(r, "group"),
            version: text(r, "version"),
            resource: text(r, "resource"),
            subresource: text(r, "subresource"),
            namespace: text(r, "namespace"),
            name: text(r, "name"),
        })),
    }
}

/// The request object with the server's `status`, as the review is answered.
pub(crate) fn answered(mut review: Value, status: Value) -> Value {
    if let Some(o) = review.as_object_mut() {
        let meta = o
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("creationTimestamp".into(), Value::Null);
        }
        o.insert("status".into(), status);
    }
    review
}

/// An access review's status: allowed, and why.
pub(crate) fn access_status(allowed: bool, reason: String) -> Value {
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    status
}
