//! Swagger 2.0 (`/openapi/v2`), the document kubectl 1.27/1.28 download as protobuf.
//!
//! kubectl parses every definition with kube-openapi's `proto` package before using any, and one
//! definition it rejects fails `kubectl create`/`apply`. That parser is strict where JSON schema is
//! not: a `$ref` may carry no `type` or `properties`, an array must have exactly one `items`
//! schema, a type must be a single one of the six swagger types. [`to_v2`] simplifies schemas
//! until they fit, as upstream does when it publishes custom resources in v2 (no `oneOf`,
//! `anyOf`, `not`; nullable and unknown-field-preserving nodes lose their structure).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::paths::{Operation, PATCH_CONTENT_TYPES, Param, PathSpec, response_content_types};
use super::schema::{COMPONENTS_PREFIX, DEFINITIONS_PREFIX, drop_unknown_refs};
use super::v3::{INFO_VERSION, select, tag_gvks};
use super::{Gvk, OpenApiModel};

/// The whole swagger 2.0 document.
pub(crate) fn document(model: &OpenApiModel) -> Value {
    let selection = select(model, &|_| true);

    let mut paths: BTreeMap<&str, Value> = BTreeMap::new();
    for spec in &selection.paths {
        paths.insert(&spec.path, render_path(spec));
    }
    let mut definitions = Map::new();
    for name in &selection.schemas {
        let Some(schema) = model.schemas().get(name) else {
            continue;
        };
        let mut schema = if model.is_v2_bare(name) {
            json!({"type": "object"})
        } else {
            let mut neutral = schema.clone();
            drop_unknown_refs(&mut neutral, &|n| selection.schemas.contains(n));
            to_v2(&neutral)
        };
        tag_gvks(&mut schema, model.gvk_tags(name));
        definitions.insert(name.clone(), schema);
    }

    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

const SWAGGER_TYPES: [&str; 6] = ["object", "array", "string", "number", "integer", "boolean"];

/// Keywords copied as they are (when of the right JSON type).
const STRING_KEYS: [&str; 4] = ["description", "format", "title", "pattern"];
const NUMBER_KEYS: [&str; 3] = ["multipleOf", "maximum", "minimum"];
const INTEGER_KEYS: [&str; 6] = [
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
];
const BOOL_KEYS: [&str; 4] = [
    "exclusiveMaximum",
    "exclusiveMinimum",
    "uniqueItems",
    "readOnly",
];
const DATA_KEYS: [&str; 2] = ["default", "example"];

fn is_true(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool) == Some(true)
}

/// The one swagger type of a schema, if it has exactly one (`null` ignored).
fn single_type(map: &Map<String, Value>) -> Option<&str> {
    let candidates: Vec<&str> = match map.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut kept = candidates.into_iter().filter(|t| *t != "null");
    match (kept.next(), kept.next()) {
        (Some(t), None) if SWAGGER_TYPES.contains(&t) => Some(t),
        _ => None,
    }
}

/// The swagger 2.0 form of a neutral schema that kube-openapi's parser accepts.
pub(crate) fn to_v2(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        // `true`/`false` schemas: any value.
        return json!({});
    };
    let mut out = Map::new();

    // A reference, possibly wrapped in a single-element allOf.
    let direct = map.get("$ref").and_then(Value::as_str);
    let wrapped = match map.get("allOf") {
        Some(Value::Array(all)) if all.len() == 1 && !map.contains_key("properties") => all
            .first()
            .and_then(|s| s.get("$ref"))
            .and_then(Value::as_str),
        _ => None,
    };
    if let Some(reference) = direct.or(wrapped) {
        let target = reference
            .strip_prefix(COMPONENTS_PREFIX)
            .map(|name| format!("{DEFINITIONS_PREFIX}{name}"));
        if let Some(target) = target {
            out.insert("$ref".into(), json!(target));
            if let Some(Value::String(d)) = map.get("description") {
                out.insert("description".into(), json!(d));
            }
            copy_extensions(map, &mut out);
            return Value::Object(out);
        }
    }

    for key in STRING_KEYS {
        if let Some(v @ Value::String(_)) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for key in NUMBER_KEYS {
        if let Some(v @ Value::Number(_)) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for key in INTEGER_KEYS {
        if let Some(v) = map.get(key).filter(|v| v.is_i64() || v.is_u64()) {
            out.insert(key.into(), v.clone());
        }
    }
    for key in BOOL_KEYS {
        if let Some(v @ Value::Bool(_)) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    for key in DATA_KEYS {
        if let Some(v) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        out.insert("enum".into(), Value::Array(values.clone()));
    }
    if let Some(Value::String(d)) = map.get("discriminator") {
        out.insert("discriminator".into(), json!(d));
    }

    let nullable = is_true(map, "nullable");
    let preserves_unknown = is_true(map, "x-kubernetes-preserve-unknown-fields");
    // Upstream: nullable nodes lose their type, and both kinds lose items and properties,
    // which kubectl would otherwise enforce.
    let structured = !nullable && !preserves_unknown;
    let mut ty = if nullable { None } else { single_type(map) };

    if ty == Some("array") {
        let items = match map.get("items") {
            Some(items @ Value::Object(_)) if structured => Some(to_v2(items)),
            _ => None,
        };
        match items {
            Some(items) => {
                out.insert("items".into(), items);
            }
            // An array without one item schema is rejected: publish it untyped.
            None => ty = None,
        }
    }

    if structured && let Some(Value::Object(properties)) = map.get("properties") {
        let mut converted = Map::new();
        let mut nullable_fields = Vec::new();
        for (name, property) in properties {
            if property.get("nullable").and_then(Value::as_bool) == Some(true) {
                nullable_fields.push(name.as_str());
            }
            converted.insert(name.clone(), to_v2(property));
        }
        out.insert("properties".into(), Value::Object(converted));
        if let Some(Value::Array(required)) = map.get("required") {
            let kept: Vec<Value> = required
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| !nullable_fields.contains(&r)))
                .cloned()
                .collect();
            if !kept.is_empty() {
                out.insert("required".into(), Value::Array(kept));
            }
        }
    } else if let Some(Value::Array(required)) = map.get("required")
        && structured
    {
        let kept: Vec<Value> = required.iter().filter(|r| r.is_string()).cloned().collect();
        if !kept.is_empty() {
            out.insert("required".into(), Value::Array(kept));
        }
    }

    match map.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            out.insert("additionalProperties".into(), json!(b));
        }
        Some(additional @ Value::Object(_)) if structured => {
            out.insert("additionalProperties".into(), to_v2(additional));
        }
        _ => {}
    }

    // A typed object with properties or a map; other types must not carry properties.
    if let Some(t) = ty
        && t != "object"
    {
        out.remove("properties");
        out.remove("additionalProperties");
    }
    if ty != Some("array") {
        out.remove("items");
    }
    if let Some(t) = ty {
        out.insert("type".into(), json!(t));
    }
    copy_extensions(map, &mut out);
    Value::Object(out)
}

fn copy_extensions(from: &Map<String, Value>, to: &mut Map<String, Value>) {
    for (key, value) in from {
        if key.starts_with("x-") {
            to.insert(key.clone(), value.clone());
        }
    }
}

fn definition_ref(name: &str) -> Value {
    json!({ "$ref": format!("{DEFINITIONS_PREFIX}{name}") })
}

fn render_param(param: &Param) -> Value {
    let mut map = Map::new();
    map.insert("uniqueItems".into(), json!(true));
    map.insert("type".into(), json!(param.ty.as_str()));
    map.insert("description".into(), json!(param.description));
    map.insert("name".into(), json!(param.name));
    map.insert(
        "in".into(),
        json!(if param.in_path { "path" } else { "query" }),
    );
    if param.in_path {
        map.insert("required".into(), json!(true));
    }
    Value::Object(map)
}

fn render_operation(op: &Operation) -> Value {
    let mut map = Map::new();
    map.insert("tags".into(), json!([op.tag]));
    map.insert("description".into(), json!(op.description));
    map.insert("operationId".into(), json!(op.operation_id));
    if let Some(body) = &op.body {
        map.insert("consumes".into(), json!(body.content_types));
    } else if op.method == "patch" {
        map.insert("consumes".into(), json!(PATCH_CONTENT_TYPES));
    }
    map.insert("produces".into(), json!(response_content_types(&op.gvk)));
    map.insert("schemes".into(), json!(["https"]));
    let mut parameters = Vec::new();
    if let Some(body) = &op.body {
        parameters.push(json!({
            "name": "body",
            "in": "body",
            "required": body.required,
            "schema": definition_ref(&body.schema),
        }));
    }
    parameters.extend(op.query.iter().map(render_param));
    if !parameters.is_empty() {
        map.insert("parameters".into(), Value::Array(parameters));
    }
    let mut responses = Map::new();
    for response in &op.responses {
        let mut rendered = Map::new();
        rendered.insert("description".into(), json!(response.description));
        if let Some(schema) = &response.schema {
            rendered.insert("schema".into(), definition_ref(schema));
        }
        responses.insert(response.code.to_owned(), Value::Object(rendered));
    }
    map.insert("responses".into(), Value::Object(responses));
    map.insert("x-kubernetes-action".into(), json!(op.action));
    map.insert(
        "x-kubernetes-group-version-kind".into(),
        Gvk::to_json(&op.gvk),
    );
    Value::Object(map)
}

fn render_path(spec: &PathSpec) -> Value {
    let mut map = Map::new();
    for op in &spec.operations {
        map.insert(op.method.to_owned(), render_operation(op));
    }
    map.insert(
        "parameters".into(),
        Value::Array(spec.params.iter().map(render_param).collect()),
    );
    Value::Object(map)
}
