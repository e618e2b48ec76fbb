//! `x-kubernetes-list-type` (upstream `schema/listtype`): items of a `set` list must be unique,
//! items of a `map` list must be objects with unique `x-kubernetes-list-map-keys`. Duplicates
//! are reported at the later index, once per duplicated value. On update, a list that already
//! had duplicates does not block the update (upstream only checks when the old object is clean).

use super::field::{self, Bad, go_json};
use super::{Additional, Node};
use crate::FieldCause;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The list-type errors of `obj` (a custom resource).
pub fn validate(root: &Node, obj: &Value) -> Vec<FieldCause> {
    let mut out = Vec::new();
    if let Value::Object(map) = obj {
        object(root, map, "", &mut out);
    }
    out
}

/// On update, only an old object without list-type errors makes the new one's count.
pub fn validate_update(root: &Node, new: &Value, old: Option<&Value>) -> Vec<FieldCause> {
    if let Some(old) = old
        && !validate(root, old).is_empty()
    {
        return Vec::new();
    }
    validate(root, new)
}

fn object(s: &Node, map: &Map<String, Value>, path: &str, out: &mut Vec<FieldCause>) {
    if !s.has_list_types {
        return;
    }
    if let Some(Additional::Schema(add)) = &s.additional {
        for (k, v) in map {
            value(add, v, &field::key(path, k), out);
        }
    }
    for (k, v) in map {
        if let Some(prop) = s.property(k) {
            value(prop, v, &field::child(path, k), out);
        }
    }
}

fn value(s: &Node, v: &Value, path: &str, out: &mut Vec<FieldCause>) {
    match v {
        Value::Array(items) => array(s, items, path, out),
        Value::Object(map) => object(s, map, path, out),
        _ => {}
    }
}

fn array(s: &Node, items: &[Value], path: &str, out: &mut Vec<FieldCause>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for i in non_unique(items) {
                out.push(field::duplicate(
                    &field::index(path, i),
                    Bad::Json(&items[i]),
                ));
            }
        }
        Some("map") => out.extend(map_list(s, items, path)),
        _ => {}
    }
    if let Some(item_schema) = &s.items
        && item_schema.has_list_types
    {
        for (i, item) in items.iter().enumerate() {
            value(item_schema, item, &field::index(path, i), out);
        }
    }
}

/// A key that tells apart what Go's `map[interface{}]` and JSON-marshalled compounds tell apart.
fn identity(v: &Value) -> String {
    let tag = match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => "i",
        Value::Number(_) => "f",
        Value::String(_) => "s",
        Value::Bool(_) => "b",
        Value::Null => "n",
        Value::Array(_) | Value::Object(_) => "c",
    };
    format!("{tag}{}", go_json(v))
}

/// Indices of the second occurrence of each duplicated value.
fn non_unique(items: &[Value]) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let n = seen.entry(identity(x)).or_insert(0);
        *n += 1;
        if *n == 2 {
            out.push(i);
        }
    }
    out
}

fn map_list(s: &Node, items: &[Value], path: &str) -> Vec<FieldCause> {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            return vec![field::invalid(
                &field::index(path, i),
                Bad::Json(x),
                "must be an object for an array of list-type map",
            )];
        }
    }
    if items.len() <= 1 {
        return Vec::new();
    }
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Some(obj) = x.as_object() {
                for k in &s.list_map_keys {
                    if let Some(v) = obj.get(k) {
                        key.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    non_unique(&keys)
        .into_iter()
        .map(|i| field::duplicate(&field::index(path, i), Bad::Json(&keys[i])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::compile_node;
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_and_maps() {
        let s = compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "nums": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "number"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}},
                "named": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "atomic": {"type": "array", "items": {"type": "string"}}
            }}}}),
            true,
        );
        let obj = json!({"spec": {
            "tags": ["a", "b", "a", "a", "b"],
            "nums": [1, 1.0],
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}],
            "named": [{"name": "x"}, {"name": "x"}, {}, {}],
            "atomic": ["a", "a"]
        }});
        let msgs: Vec<String> = validate(&s, &obj).into_iter().map(|c| c.message).collect();
        assert_eq!(
            msgs,
            vec![
                r#"spec.tags[2]: Duplicate value: "a""#,
                r#"spec.tags[4]: Duplicate value: "b""#,
                r#"spec.ports[2]: Duplicate value: {"port":80,"protocol":"TCP"}"#,
                r#"spec.named[1]: Duplicate value: {"name":"x"}"#,
                r#"spec.named[3]: Duplicate value: {}"#,
            ]
        );
        let bad = json!({"spec": {"named": ["x", {}]}});
        assert_eq!(
            validate(&s, &bad)[0].message,
            r#"spec.named[0]: Invalid value: "x": must be an object for an array of list-type map"#
        );
        // An old object that already had duplicates does not block the update.
        assert!(validate_update(&s, &obj, Some(&obj)).is_empty());
    }
}
