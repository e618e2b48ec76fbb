//! Pruning: fields a structural schema does not specify are dropped when an object is decoded
//! (upstream `schema/pruning`), except under `x-kubernetes-preserve-unknown-fields`. The paths of
//! what was dropped feed `fieldValidation` (Strict rejects, Warn warns).
//!
//! As upstream: `apiVersion`, `kind` and `metadata` of the root and of embedded resources are
//! kept (their contents are normalised elsewhere); `additionalProperties: true` keeps the keys
//! but prunes everything below them; a preserve-unknown node still prunes inside the fields it
//! does specify.

use super::{Additional, Node};
use serde_json::Value;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes `obj` (a custom resource) against its root schema; returns the dropped paths, sorted.
pub fn prune(obj: &mut Value, root: &Node) -> Vec<String> {
    let mut removed = Vec::new();
    prune_value(obj, Some(root), "", &mut removed);
    removed.sort();
    removed
}

fn key_path(parent: &str, k: &str) -> String {
    if parent.is_empty() {
        k.to_string()
    } else {
        format!("{parent}.{k}")
    }
}

/// The schema for a key that is not a property: the additionalProperties schema, or none (which
/// prunes everything below) when additionalProperties is a boolean.
fn additional(s: &Node) -> Option<Option<&Node>> {
    match &s.additional {
        Some(Additional::Schema(a)) => Some(Some(a)),
        Some(Additional::Allows(_)) => Some(None),
        None => None,
    }
}

fn prune_value(x: &mut Value, s: Option<&Node>, path: &str, removed: &mut Vec<String>) {
    if let Some(s) = s
        && s.preserve_unknown
    {
        skip_prune(x, s, path, removed);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    removed.push(key_path(path, k));
                }
                map.clear();
                return;
            };
            map.retain(|k, v| {
                if s.resource_root && META_FIELDS.contains(&k.as_str()) {
                    return true;
                }
                if let Some(prop) = s.property(k) {
                    prune_value(v, Some(prop), &key_path(path, k), removed);
                    true
                } else if let Some(add) = additional(s) {
                    prune_value(v, add, &key_path(path, k), removed);
                    true
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                        removed.push(key_path(path, k));
                    }
                    false
                }
            });
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                prune_value(v, item_schema, &format!("{path}[{i}]"), removed);
            }
        }
        _ => {}
    }
}

fn skip_prune(x: &mut Value, s: &Node, path: &str, removed: &mut Vec<String>) {
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if s.resource_root && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = s.property(k) {
                    prune_value(v, Some(prop), &key_path(path, k), removed);
                } else if let Some(add) = additional(s) {
                    prune_value(v, add, &key_path(path, k), removed);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    skip_prune(v, item_schema, &format!("{path}[{i}]"), removed);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile_node;
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_like_upstream() {
        let s = compile_node(
            &json!({"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "known": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                             "properties": {"typed": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                    "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                    "loose": {"type": "object", "additionalProperties": true},
                    "embedded": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}
                }}
            }}),
            true,
        );
        let mut obj = json!({
            "apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n"},
            "spec": {
                "known": "k", "unknown": 1,
                "list": [{"a": 1, "b": 2}],
                "free": {"anything": {"deep": 1}, "typed": {"x": "1", "y": 2}},
                "map": {"k1": {"v": "x", "w": 1}},
                "loose": {"k": {"deep": 1}, "s": "kept"},
                "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "status": {}}
            },
            "status": {"x": 1}
        });
        let removed = prune(&mut obj, &s);
        assert_eq!(
            removed,
            vec![
                "spec.embedded.status",
                "spec.free.typed.y",
                "spec.list[0].b",
                "spec.loose.k.deep",
                "spec.map.k1.w",
                "spec.unknown",
                "status",
            ]
        );
        assert_eq!(obj["spec"]["free"]["anything"]["deep"], 1);
        assert_eq!(obj["spec"]["loose"]["s"], "kept");
        assert_eq!(obj["spec"]["loose"]["k"], json!({}));
        assert_eq!(obj["spec"]["embedded"]["metadata"]["name"], "p");
        assert_eq!(obj["metadata"]["name"], "n");
    }
}
