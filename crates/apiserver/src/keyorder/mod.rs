//! The order of keys in objects as kube-apiserver serializes them.
//!
//! kube-apiserver encodes built-in objects from Go structs, so their fields come in the structs'
//! order (`kind`, `apiVersion`, `metadata`, `spec`, `status`; `metadata.name` before
//! `metadata.namespace` ...), and Go maps (`labels`, `data`, ...) with their keys sorted. Custom
//! resources are `map[string]interface{}` all the way down: every object's keys sorted. Clients
//! may depend on it (kube-rs reports a decode error's column).
//!
//! Objects are put in this order once, when they are written, and stored that way, so a read
//! stays a copy of the stored bytes. Ordering an object already in order moves nothing.

mod go_order;

use crate::fieldpath::{Atom, Schema, TypeRef};
use serde_json::{Map, Value};

/// The Go struct order of definition `name`'s fields, if it is a known built-in struct.
pub fn struct_order(name: &str) -> Option<&'static [&'static str]> {
    go_order::GO_ORDER
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| go_order::GO_ORDER[i].1)
}

/// Puts a built-in object's keys in kube-apiserver's order: struct fields in Go order (fields
/// the type does not declare after them, as they were), map keys sorted.
pub fn builtin(value: &mut Value, schema: &Schema) {
    walk(value, schema, schema.root());
}

fn walk(value: &mut Value, schema: &Schema, tr: TypeRef) {
    match (value, schema.atom(tr)) {
        (Value::Object(map), Atom::Map(m)) => {
            if let Some(order) = m.order {
                in_struct_order(map, order);
            } else if m.fields.is_empty() && m.elem.is_some() {
                sort_keys(map);
            }
            for (key, child) in map.iter_mut() {
                if let Some(sub) = m.fields.get(key).copied().or(m.elem) {
                    walk(child, schema, sub);
                }
            }
        }
        (Value::Array(items), Atom::List(l)) => {
            for item in items {
                walk(item, schema, l.elem);
            }
        }
        _ => {}
    }
}

/// Sorts every object's keys, at every depth (a custom resource).
pub fn sorted(value: &mut Value) {
    match value {
        Value::Object(map) => {
            sort_keys(map);
            map.values_mut().for_each(sorted);
        }
        Value::Array(items) => items.iter_mut().for_each(sorted),
        _ => {}
    }
}

fn sort_keys(map: &mut Map<String, Value>) {
    let in_order = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a <= b);
    if !in_order {
        map.sort_keys();
    }
}

/// Orders `map`'s keys by their place in `order`; keys not in it keep their order, after.
fn in_struct_order(map: &mut Map<String, Value>, order: &[&str]) {
    let rank = |key: &str| order.iter().position(|o| *o == key).unwrap_or(order.len());
    let mut last = 0;
    let in_order = map.keys().all(|k| {
        let r = rank(k);
        let ok = r >= last;
        last = r;
        ok
    });
    if in_order {
        return;
    }
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    // Stable: unknown keys keep their relative order.
    entries.sort_by_key(|(k, _)| rank(k));
    *map = entries.into_iter().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_table_is_sorted_and_has_the_served_kinds() {
        let names: Vec<&str> = go_order::GO_ORDER.iter().map(|(n, _)| *n).collect();
        let mut sorted_names = names.clone();
        sorted_names.sort_unstable();
        assert_eq!(names, sorted_names);
        assert_eq!(
            struct_order("io.k8s.api.core.v1.ConfigMap"),
            Some(
                &[
                    "kind",
                    "apiVersion",
                    "metadata",
                    "immutable",
                    "data",
                    "binaryData"
                ][..]
            )
        );
    }

    #[test]
    fn builtins_come_in_go_struct_order_with_maps_sorted() {
        let schema = Schema::builtin::<ConfigMap>();
        let mut cm = json!({
            "apiVersion": "v1", "data": {"b": "2", "a": "1"}, "kind": "ConfigMap",
            "metadata": {"uid": "u", "namespace": "ns", "name": "n", "labels": {"z": "", "y": ""},
                         "resourceVersion": "1", "creationTimestamp": "t"},
            "immutable": true,
        });
        builtin(&mut cm, &schema);
        assert_eq!(
            keys(&cm),
            ["kind", "apiVersion", "metadata", "immutable", "data"]
        );
        assert_eq!(
            keys(&cm["metadata"]),
            [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "labels"
            ]
        );
        assert_eq!(keys(&cm["data"]), ["a", "b"]);
        assert_eq!(keys(&cm["metadata"]["labels"]), ["y", "z"]);

        let schema = Schema::builtin::<Deployment>();
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "args": ["x"]}]}},
                     "selector": {}, "replicas": 1},
            "status": {}});
        builtin(&mut d, &schema);
        assert_eq!(keys(&d["spec"]), ["replicas", "selector", "template"]);
        assert_eq!(
            keys(&d["spec"]["template"]["spec"]["containers"][0]),
            ["name", "image", "args"]
        );
    }

    #[test]
    fn custom_resources_are_sorted_throughout() {
        let mut v =
            json!({"spec": {"b": [{"y": 1, "x": 2}], "a": 1}, "kind": "Foo", "apiVersion": "x/v1"});
        sorted(&mut v);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"apiVersion":"x/v1","kind":"Foo","spec":{"a":1,"b":[{"x":2,"y":1}]}}"#
        );
    }
}
