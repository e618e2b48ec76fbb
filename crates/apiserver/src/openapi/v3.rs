//! OpenAPI 3.0 documents, one per group-version, as served under `/openapi/v3/`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::paths::{self, Operation, Param, PathSpec, response_content_types};
use super::schema::{closure, drop_unknown_refs, ref_to, walk_mut};
use super::{Gvk, KindEntry, OpenApiModel};

/// `info.version` of every document.
pub(crate) const INFO_VERSION: &str = "v1.33.0";

/// The key of a group-version in the `/openapi/v3` root: `api/v1` or `apis/{group}/{version}`.
pub(crate) fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Kinds of one group-version, their paths, and the component names those need.
pub(crate) struct Selection<'a> {
    pub(crate) paths: Vec<PathSpec>,
    pub(crate) schemas: BTreeSet<String>,
    pub(crate) kinds: Vec<&'a KindEntry>,
}

/// Paths and reachable components of the kinds `filter` keeps.
pub(crate) fn select<'a>(
    model: &'a OpenApiModel,
    filter: &dyn Fn(&KindEntry) -> bool,
) -> Selection<'a> {
    let kinds: Vec<&KindEntry> = model.kinds().iter().filter(|k| filter(k)).collect();
    let mut specs = Vec::new();
    for entry in &kinds {
        specs.extend(paths::paths_for(entry));
    }
    let mut roots: Vec<String> = paths::referenced_schemas(&specs)
        .map(str::to_owned)
        .collect();
    for entry in &kinds {
        roots.push(entry.kind.schema_name.clone());
        roots.push(entry.list_schema.clone());
    }
    Selection {
        schemas: closure(model.schemas(), roots),
        paths: specs,
        kinds,
    }
}

/// The document of one group-version; `None` when it serves no kind.
pub(crate) fn document(model: &OpenApiModel, group: &str, version: &str) -> Option<Value> {
    let selection = select(model, &|k| {
        k.kind.group == group && k.kind.version == version
    });
    if selection.kinds.is_empty() {
        return None;
    }

    let mut paths: BTreeMap<&str, Value> = BTreeMap::new();
    for spec in &selection.paths {
        paths.insert(&spec.path, render_path(spec));
    }
    let mut schemas = Map::new();
    for name in &selection.schemas {
        let Some(schema) = model.schemas().get(name) else {
            continue;
        };
        let mut schema = schema.clone();
        drop_unknown_refs(&mut schema, &|n| selection.schemas.contains(n));
        wrap_ref_siblings(&mut schema);
        tag_gvks(&mut schema, model.gvk_tags(name));
        schemas.insert(name.clone(), schema);
    }

    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// Sets `x-kubernetes-group-version-kind` to the list of `tags`, if any.
pub(crate) fn tag_gvks(schema: &mut Value, tags: Option<&BTreeSet<Gvk>>) {
    let (Value::Object(map), Some(tags)) = (schema, tags) else {
        return;
    };
    if tags.is_empty() {
        return;
    }
    map.insert(
        "x-kubernetes-group-version-kind".into(),
        Value::Array(tags.iter().map(Gvk::to_json).collect()),
    );
}

/// OpenAPI 3.0 ignores the siblings of a `$ref`; as upstream does, a ref with a description
/// (or anything else) becomes `{"allOf": [{"$ref": ..}], "description": ..}`.
fn wrap_ref_siblings(schema: &mut Value) {
    walk_mut(schema, &mut |map| {
        if map.len() < 2 {
            return;
        }
        let Some(reference) = map.remove("$ref") else {
            return;
        };
        let rest = std::mem::take(map);
        map.insert("allOf".into(), json!([{ "$ref": reference }]));
        map.extend(rest);
    });
}

fn ref_schema(name: &str) -> Value {
    json!({ "$ref": ref_to(name) })
}

fn render_param(param: &Param) -> Value {
    let mut map = Map::new();
    map.insert("name".into(), json!(param.name));
    map.insert(
        "in".into(),
        json!(if param.in_path { "path" } else { "query" }),
    );
    map.insert("description".into(), json!(param.description));
    if param.in_path {
        map.insert("required".into(), json!(true));
    }
    map.insert(
        "schema".into(),
        json!({"type": param.ty.as_str(), "uniqueItems": true}),
    );
    Value::Object(map)
}

fn render_operation(op: &Operation) -> Value {
    let mut map = Map::new();
    map.insert("tags".into(), json!([op.tag]));
    map.insert("description".into(), json!(op.description));
    map.insert("operationId".into(), json!(op.operation_id));
    if !op.query.is_empty() {
        map.insert(
            "parameters".into(),
            Value::Array(op.query.iter().map(render_param).collect()),
        );
    }
    if let Some(body) = &op.body {
        let content: Map<String, Value> = body
            .content_types
            .iter()
            .map(|ct| {
                (
                    (*ct).to_owned(),
                    json!({"schema": ref_schema(&body.schema)}),
                )
            })
            .collect();
        map.insert(
            "requestBody".into(),
            json!({"content": content, "required": body.required}),
        );
    }
    let mut responses = Map::new();
    for response in &op.responses {
        let mut rendered = Map::new();
        rendered.insert("description".into(), json!(response.description));
        if let Some(schema) = &response.schema {
            let content: Map<String, Value> = response_content_types(&op.gvk)
                .iter()
                .map(|ct| ((*ct).to_owned(), json!({"schema": ref_schema(schema)})))
                .collect();
            rendered.insert("content".into(), Value::Object(content));
        }
        responses.insert(response.code.to_owned(), Value::Object(rendered));
    }
    map.insert("responses".into(), Value::Object(responses));
    map.insert("x-kubernetes-action".into(), json!(op.action));
    map.insert("x-kubernetes-group-version-kind".into(), op.gvk.to_json());
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
