//! Custom resource schemas and `<Kind>List` schemas, shaped as the upstream apiextensions server
//! publishes them.

use serde_json::{Map, Value, json};

use super::schema::{ref_to, walk_mut};
use super::{CommonText, OpenApiKind, names};

/// Shapes a CRD version's `openAPIV3Schema` for publishing.
///
/// Returns the schema in neutral form and whether its root preserves unknown fields (published
/// in swagger 2.0 as a bare object).
pub(crate) fn build(schema: Option<&Value>, text: &CommonText) -> (Value, bool) {
    let mut root = match schema {
        Some(Value::Object(map)) => map.clone(),
        _ => {
            let mut map = Map::new();
            map.insert("type".into(), json!("object"));
            map.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            map
        }
    };
    // CRD schemas cannot carry refs; drop any so that documents never dangle.
    let mut as_value = Value::Object(std::mem::take(&mut root));
    walk_mut(&mut as_value, &mut |map| {
        map.remove("$ref");
    });
    if let Value::Object(map) = as_value {
        root = map;
    }
    if !root.contains_key("type") {
        root.insert("type".into(), json!("object"));
    }
    let preserves_unknown = is_true(&root, "x-kubernetes-preserve-unknown-fields");

    set_type_meta(&mut root, text, false);
    for_embedded(&mut root, text);
    (Value::Object(root), preserves_unknown)
}

/// The `<Kind>List` schema upstream publishes next to a kind.
pub(crate) fn list_schema(kind: &OpenApiKind, text: &CommonText) -> Value {
    let (description, items, metadata) = super::list_text::for_kind(kind, text);
    let mut properties = Map::new();
    properties.insert("apiVersion".into(), string_property(&text.api_version));
    properties.insert(
        "items".into(),
        json!({
            "description": items,
            "type": "array",
            "items": {"$ref": ref_to(&kind.schema_name)},
        }),
    );
    properties.insert("kind".into(), string_property(&text.kind));
    properties.insert(
        "metadata".into(),
        json!({"$ref": ref_to(names::LIST_META), "description": metadata}),
    );
    json!({
        "description": description,
        "type": "object",
        "properties": properties,
        "required": ["items"],
    })
}

fn string_property(description: &str) -> Value {
    json!({"description": description, "type": "string"})
}

fn is_true(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool) == Some(true)
}

/// Puts `apiVersion`, `kind` and a `metadata` ref to `ObjectMeta` first in `properties`,
/// replacing whatever the CRD declared for them. With `require` (embedded resources), also lists
/// `apiVersion` and `kind` as required.
fn set_type_meta(map: &mut Map<String, Value>, text: &CommonText, require: bool) {
    let mut properties = Map::new();
    properties.insert("apiVersion".into(), string_property(&text.api_version));
    properties.insert("kind".into(), string_property(&text.kind));
    properties.insert(
        "metadata".into(),
        json!({"$ref": ref_to(names::OBJECT_META), "description": text.object_metadata}),
    );
    if let Some(Value::Object(existing)) = map.remove("properties") {
        for (name, schema) in existing {
            if !properties.contains_key(&name) {
                properties.insert(name, schema);
            }
        }
    }
    map.insert("properties".into(), Value::Object(properties));
    if require {
        let mut required = match map.remove("required") {
            Some(Value::Array(required)) => required,
            _ => Vec::new(),
        };
        for field in ["kind", "apiVersion"] {
            if !required.iter().any(|r| r.as_str() == Some(field)) {
                required.push(json!(field));
            }
        }
        map.insert("required".into(), Value::Array(required));
    }
}

/// Gives every nested `x-kubernetes-embedded-resource` object its type meta properties, as
/// upstream does (walking `properties`, `items` and `additionalProperties`).
fn for_embedded(map: &mut Map<String, Value>, text: &CommonText) {
    let mut visit = |child: &mut Value| {
        if let Value::Object(child) = child {
            for_embedded(child, text);
            if is_true(child, "x-kubernetes-embedded-resource") {
                set_type_meta(child, text, true);
            }
        }
    };
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        properties.values_mut().for_each(&mut visit);
    }
    if let Some(items) = map.get_mut("items") {
        visit(items);
    }
    if let Some(additional) = map.get_mut("additionalProperties") {
        visit(additional);
    }
}
