//! The JSON merge patch (RFC 7386) that turns one object into another: what
//! controller-runtime's `client.MergeFrom` computes.
//!
//! Objects are compared key by key (a removed key becomes `null`); anything else that differs,
//! arrays included, is replaced whole, as merge patches do.

use serde_json::{Map, Value};

/// The merge patch from `before` to `after`; `None` when they are equal.
pub(crate) fn merge_patch(before: &Value, after: &Value) -> Option<Value> {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut patch = Map::new();
            for (key, old) in b {
                match a.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new) => {
                        if let Some(p) = merge_patch(old, new) {
                            patch.insert(key.clone(), p);
                        }
                    }
                }
            }
            for (key, new) in a {
                if !b.contains_key(key) {
                    patch.insert(key.clone(), new.clone());
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ if before == after => None,
        _ => Some(after.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_objects_key_by_key_and_replaces_the_rest() {
        let before = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "gone": true});
        let after = json!({"a": 1, "b": {"c": 5, "d": 3}, "e": [1], "new": "x"});
        assert_eq!(
            merge_patch(&before, &after),
            Some(json!({"b": {"c": 5}, "e": [1], "gone": null, "new": "x"}))
        );
        assert_eq!(merge_patch(&before, &before), None);
    }
}
