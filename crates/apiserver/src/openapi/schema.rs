//! Schema-aware traversal of JSON schemas.
//!
//! Walks only keywords whose values are schemas, never `default`, `enum`, `example` or extension
//! values, which are data and may legitimately contain a `$ref` key.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Ref prefix of the neutral form and of OpenAPI v3 documents.
pub(crate) const COMPONENTS_PREFIX: &str = "#/components/schemas/";
/// Ref prefix of swagger 2.0 documents.
pub(crate) const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// Keywords holding one schema (`items` may also hold an array of schemas).
const SINGLE: [&str; 9] = [
    "items",
    "additionalProperties",
    "additionalItems",
    "not",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "if",
];
/// Keywords holding an array of schemas.
const ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords holding a map of name to schema.
const MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "dependentSchemas",
    "definitions",
    "$defs",
];
/// `then`/`else` hold one schema too (kept apart to keep `SINGLE` readable).
const CONDITIONAL: [&str; 2] = ["then", "else"];

/// Calls `f` on each direct subschema of `schema`.
pub(crate) fn for_each_subschema_mut(
    schema: &mut Map<String, Value>,
    f: &mut dyn FnMut(&mut Value),
) {
    for key in SINGLE.iter().chain(CONDITIONAL.iter()) {
        match schema.get_mut(*key) {
            Some(Value::Array(items)) if *key == "items" => items.iter_mut().for_each(&mut *f),
            Some(v @ Value::Object(_)) => f(v),
            _ => {}
        }
    }
    for key in ARRAYS {
        if let Some(Value::Array(items)) = schema.get_mut(key) {
            items.iter_mut().for_each(&mut *f);
        }
    }
    for key in MAPS {
        if let Some(Value::Object(entries)) = schema.get_mut(key) {
            entries.values_mut().for_each(&mut *f);
        }
    }
}

/// Calls `f` on each direct subschema of `schema`.
pub(crate) fn for_each_subschema(schema: &Map<String, Value>, f: &mut dyn FnMut(&Value)) {
    for key in SINGLE.iter().chain(CONDITIONAL.iter()) {
        match schema.get(*key) {
            Some(Value::Array(items)) if *key == "items" => items.iter().for_each(&mut *f),
            Some(v @ Value::Object(_)) => f(v),
            _ => {}
        }
    }
    for key in ARRAYS {
        if let Some(Value::Array(items)) = schema.get(key) {
            items.iter().for_each(&mut *f);
        }
    }
    for key in MAPS {
        if let Some(Value::Object(entries)) = schema.get(key) {
            entries.values().for_each(&mut *f);
        }
    }
}

/// Calls `f` on `schema` and, depth first, on every schema nested in it.
pub(crate) fn walk_mut(schema: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    if let Value::Object(map) = schema {
        f(map);
        for_each_subschema_mut(map, &mut |child| walk_mut(child, f));
    }
}

/// Calls `f` on `schema` and on every schema nested in it.
pub(crate) fn walk(schema: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
    if let Value::Object(map) = schema {
        f(map);
        for_each_subschema(map, &mut |child| walk(child, f));
    }
}

/// The component name a `$ref` with `prefix` points at.
pub(crate) fn ref_name<'a>(map: &'a Map<String, Value>, prefix: &str) -> Option<&'a str> {
    map.get("$ref")?.as_str()?.strip_prefix(prefix)
}

/// Adds the names of all components `schema` refers to (neutral prefix) to `out`.
pub(crate) fn collect_refs(schema: &Value, out: &mut BTreeSet<String>) {
    walk(schema, &mut |map| {
        if let Some(name) = ref_name(map, COMPONENTS_PREFIX) {
            out.insert(name.to_owned());
        }
    });
}

/// Removes every `$ref` that does not point at one of `known` (neutral prefix), so that a
/// document never carries a dangling reference.
pub(crate) fn drop_unknown_refs(schema: &mut Value, known: &dyn Fn(&str) -> bool) {
    walk_mut(schema, &mut |map| {
        let keep = match map.get("$ref") {
            None => true,
            Some(Value::String(r)) => r.strip_prefix(COMPONENTS_PREFIX).is_some_and(known),
            Some(_) => false,
        };
        if !keep {
            map.remove("$ref");
        }
    });
}

/// `roots` and every component reachable from them through refs, limited to components that
/// exist in `schemas`.
pub(crate) fn closure(
    schemas: &BTreeMap<String, Value>,
    roots: impl IntoIterator<Item = String>,
) -> BTreeSet<String> {
    let mut done = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if done.contains(&name) {
            continue;
        }
        let Some(schema) = schemas.get(&name) else {
            continue;
        };
        let mut refs = BTreeSet::new();
        collect_refs(schema, &mut refs);
        done.insert(name);
        pending.extend(refs.into_iter().filter(|r| !done.contains(r)));
    }
    done
}

/// A `$ref` schema pointing at component `name` (neutral prefix).
pub(crate) fn ref_to(name: &str) -> Value {
    Value::String(format!("{COMPONENTS_PREFIX}{name}"))
}

/// Decodes a JSON-pointer reference token in URI-fragment form (`~1`, `~0`, `%XX`).
pub(crate) fn decode_pointer_token(token: &str) -> String {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(&b) = bytes.get(i) else { break };
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out)
        .replace("~1", "/")
        .replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_schemas_but_not_data() {
        let schema = json!({
            "properties": {"a": {"$ref": "#/components/schemas/A"}},
            "items": [{"$ref": "#/components/schemas/B"}],
            "default": {"$ref": "#/components/schemas/NotARef"},
            "allOf": [{"additionalProperties": {"$ref": "#/components/schemas/C"}}],
        });
        let mut refs = BTreeSet::new();
        collect_refs(&schema, &mut refs);
        let refs: Vec<_> = refs.into_iter().collect();
        assert_eq!(refs, ["A", "B", "C"]);
    }

    #[test]
    fn drops_unknown_refs_only() {
        let mut schema = json!({
            "properties": {
                "a": {"$ref": "#/components/schemas/A", "description": "x"},
                "b": {"$ref": "#/definitions/B"},
            }
        });
        drop_unknown_refs(&mut schema, &|n| n == "A");
        assert_eq!(
            schema,
            json!({"properties": {"a": {"$ref": "#/components/schemas/A", "description": "x"}, "b": {}}})
        );
    }

    #[test]
    fn decodes_pointer_tokens() {
        assert_eq!(decode_pointer_token("a~1b~0c%20d"), "a/b~c d");
        assert_eq!(
            decode_pointer_token("io.k8s.api.core.v1.Pod"),
            "io.k8s.api.core.v1.Pod"
        );
        assert_eq!(decode_pointer_token("bad%2"), "bad%2");
        assert_eq!(decode_pointer_token("%"), "%");
    }
}
