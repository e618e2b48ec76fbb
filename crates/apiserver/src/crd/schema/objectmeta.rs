//! Embedded resources (`x-kubernetes-embedded-resource`, upstream `schema/objectmeta`): their
//! `apiVersion` and `kind` must be strings, their `metadata` is decoded as an `ObjectMeta`
//! (unknown fields pruned and reported) when the object is decoded, and validated — apiVersion
//! and kind required and well formed, metadata under ObjectMeta's rules with path-segment names —
//! when the custom resource is.

use super::field::{self, Bad};
use super::{Additional, Node};
use crate::status::FieldCause;
use crate::validation::{NameRule, dns1123_label_problems, validate_object_meta};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// `IsDNS1035Label`.
pub fn dns1035_label_problems(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 characters".to_string());
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.last().is_some_and(u8::is_ascii_alphanumeric);
    if !ok {
        out.push(DNS1035_LABEL_MSG.to_string());
    }
    out
}

/// Normalises the metadata of every embedded resource in `obj` (not the root's: the strategy
/// does that). Returns the unknown metadata fields dropped, or the first field that cannot be
/// decoded.
pub fn coerce(obj: &mut Value, root: &Node) -> Result<Vec<String>, FieldCause> {
    let mut unknown = Vec::new();
    walk_coerce(obj, root, "", true, &mut unknown)?;
    unknown.sort();
    Ok(unknown)
}

fn walk_coerce(
    x: &mut Value,
    s: &Node,
    path: &str,
    is_root: bool,
    unknown: &mut Vec<String>,
) -> Result<(), FieldCause> {
    match x {
        Value::Object(map) => {
            if s.embedded && !is_root {
                coerce_embedded(map, path, unknown)?;
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    walk_coerce(v, prop, &field::child(path, k), false, unknown)?;
                } else if let Some(Additional::Schema(add)) = &s.additional {
                    walk_coerce(v, add, &field::key(path, k), false, unknown)?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter_mut().enumerate() {
                    walk_coerce(v, item_schema, &field::index(path, i), false, unknown)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn coerce_embedded(
    map: &mut Map<String, Value>,
    path: &str,
    unknown: &mut Vec<String>,
) -> Result<(), FieldCause> {
    for k in ["apiVersion", "kind"] {
        if let Some(v) = map.get(k)
            && !v.is_string()
        {
            return Err(field::invalid(
                &field::child(path, k),
                Bad::Json(v),
                "must be a string",
            ));
        }
    }
    let Some(meta) = map.get("metadata") else {
        return Ok(());
    };
    let mpath = field::child(path, "metadata");
    let typed: ObjectMeta = serde_json::from_value(meta.clone())
        .map_err(|e| field::invalid(&mpath, Bad::Json(meta), &e.to_string()))?;
    let normalised = serde_json::to_value(&typed)
        .map_err(|e| field::invalid(&mpath, Bad::Json(meta), &e.to_string()))?;
    for u in crate::strategy::unknown_fields(meta, &normalised) {
        unknown.push(format!("{mpath}.{u}"));
    }
    map.insert("metadata".into(), normalised);
    Ok(())
}

/// The errors of every embedded resource in `obj` (the root is not one: its metadata is
/// validated by the generic path).
pub fn validate(obj: &Value, root: &Node) -> Vec<FieldCause> {
    let mut out = Vec::new();
    walk_validate(obj, root, "", true, &mut out);
    out
}

fn walk_validate(x: &Value, s: &Node, path: &str, is_root: bool, out: &mut Vec<FieldCause>) {
    match x {
        Value::Object(map) => {
            if s.embedded && !is_root {
                out.extend(validate_embedded(x, path));
            }
            for (k, v) in map {
                if let Some(prop) = s.property(k) {
                    walk_validate(v, prop, &field::child(path, k), false, out);
                } else if let Some(Additional::Schema(add)) = &s.additional {
                    walk_validate(v, add, &field::key(path, k), false, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    walk_validate(v, item_schema, &field::index(path, i), false, out);
                }
            }
        }
        _ => {}
    }
}

/// `validateEmbeddedResource`: the type and object meta of one embedded resource at `path`.
pub fn validate_embedded(x: &Value, path: &str) -> Vec<FieldCause> {
    let mut out = Vec::new();
    let Some(map) = x.as_object() else {
        return out;
    };
    for k in ["apiVersion", "kind"] {
        if !map.contains_key(k) {
            out.push(field::required(&field::child(path, k), ""));
        }
    }
    for (k, v) in map {
        let p = field::child(path, k);
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => out.push(field::invalid(&p, Bad::Json(v), "must be a string")),
                Some("") => out.push(field::invalid(&p, Bad::Str(""), "must not be empty")),
                Some(av) if av.matches('/').count() > 1 => out.push(field::invalid(
                    &p,
                    Bad::Str(av),
                    &format!("unexpected GroupVersion string: {av}"),
                )),
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => out.push(field::invalid(&p, Bad::Json(v), "must be a string")),
                Some("") => out.push(field::invalid(&p, Bad::Str(""), "must not be empty")),
                Some(kind) => {
                    let problems = dns1035_label_problems(&kind.to_lowercase());
                    if !problems.is_empty() {
                        out.push(field::invalid(
                            &p,
                            Bad::Str(kind),
                            &format!(
                                "may have mixed case, but should otherwise match: {}",
                                problems.join(",")
                            ),
                        ));
                    }
                }
            },
            "metadata" => match v.as_object() {
                None => out.push(field::invalid(
                    &p,
                    Bad::Json(v),
                    &format!(
                        "json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
                        go_json_kind(v)
                    ),
                )),
                Some(meta) => out.extend(validate_meta(meta, &p)),
            },
            _ => {}
        }
    }
    out
}

fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        _ => "object",
    }
}

fn validate_meta(meta: &Map<String, Value>, path: &str) -> Vec<FieldCause> {
    let mut m = meta.clone();
    if m.get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        m.insert("name".into(), Value::String("fakename".into()));
    }
    let mut out: Vec<FieldCause> = validate_object_meta(&Value::Object(m), NameRule::PathSegment)
        .into_iter()
        .map(|c| reprefix(c, path))
        .collect();
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
        && !ns.is_empty()
    {
        for p in dns1123_label_problems(ns) {
            out.push(field::invalid(
                &field::child(path, "namespace"),
                Bad::Str(ns),
                &p,
            ));
        }
    }
    out
}

/// Moves a `metadata.…` cause of the generic metadata rules under `path` (`spec.template.metadata`).
fn reprefix(mut c: FieldCause, path: &str) -> FieldCause {
    if let Some(rest) = c.field.strip_prefix("metadata") {
        let field = format!("{path}{rest}");
        if let Some(msg) = c.message.strip_prefix(&c.field) {
            c.message = format!("{field}{msg}");
        }
        c.field = field;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::compile_node;
    use super::*;
    use serde_json::json;

    fn schema() -> Node {
        compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "x-kubernetes-preserve-unknown-fields": true}
            }}}}),
            true,
        )
    }

    #[test]
    fn embedded_resources() {
        let s = schema();
        let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "bogus": 1}}}});
        assert_eq!(
            coerce(&mut obj, &s).expect("coerces"),
            vec!["spec.template.metadata.bogus"]
        );
        assert_eq!(
            obj["spec"]["template"]["metadata"],
            json!({"name": "p", "labels": {"a": "b"}})
        );
        assert!(validate(&obj, &s).is_empty());

        let mut bad_kind = json!({"spec": {"template": {"apiVersion": "v1", "kind": 5}}});
        assert_eq!(
            coerce(&mut bad_kind, &s).expect_err("kind").message,
            "spec.template.kind: Invalid value: 5: must be a string"
        );

        let invalid = json!({"spec": {"template": {"kind": "My_Kind",
            "metadata": {"name": "a/b", "labels": {"-x": "y"}}}}});
        let msgs: Vec<String> = validate(&invalid, &s)
            .into_iter()
            .map(|c| c.message)
            .collect();
        assert_eq!(msgs[0], "spec.template.apiVersion: Required value");
        assert!(msgs[1].starts_with(r#"spec.template.kind: Invalid value: "My_Kind": may have mixed case, but should otherwise match: a DNS-1035 label"#));
        assert_eq!(
            msgs[2],
            r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#
        );
        assert!(msgs[3].starts_with(
            r#"spec.template.metadata.labels: Invalid value: "-x": name part must consist"#
        ));
    }
}
