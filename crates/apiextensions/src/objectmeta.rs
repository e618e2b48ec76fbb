//! Embedded resources (`x-kubernetes-embedded-resource`, upstream `schema/objectmeta`): their
//! `apiVersion` and `kind` must be strings, their `metadata` is decoded as an `ObjectMeta`
//! (unknown fields pruned and reported) when the object is decoded, and validated — apiVersion
//! and kind required and well formed, metadata under ObjectMeta's rules with path-segment names —
//! when the custom resource is.
//!
//! What `ObjectMeta` is and which rules it has belong to the server (upstream: apimachinery's
//! `metav1` and `api/validation`); this file walks the schema to the embedded resources and asks
//! the user's [`ObjectMetaRules`] for those two steps.

use super::field::{self, Bad};
use super::{Additional, Node};
use crate::FieldCause;
use serde_json::{Map, Value};

/// How `ObjectMeta` is decoded and validated: what the server, which owns `ObjectMeta`, lends the
/// schema machinery for the metadata of embedded resources.
pub trait ObjectMetaRules: std::fmt::Debug + Send + Sync {
    /// Decodes `meta` as an `ObjectMeta` and encodes it again: the normalised metadata and the
    /// paths (relative to `metadata`) of the fields `ObjectMeta` does not have, or the decoding
    /// error's text.
    fn decode(&self, meta: &Value) -> Result<(Value, Vec<String>), String>;

    /// The errors of the `metadata` of an embedded resource, at `path`, under `ObjectMeta`'s
    /// rules for custom resources (names are path segments; a missing name is not an error).
    fn validate(&self, meta: &Map<String, Value>, path: &str) -> Vec<FieldCause>;
}

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
pub fn coerce(
    obj: &mut Value,
    root: &Node,
    rules: &dyn ObjectMetaRules,
) -> Result<Vec<String>, FieldCause> {
    let mut unknown = Vec::new();
    walk_coerce(obj, root, "", true, rules, &mut unknown)?;
    unknown.sort();
    Ok(unknown)
}

fn walk_coerce(
    x: &mut Value,
    s: &Node,
    path: &str,
    is_root: bool,
    rules: &dyn ObjectMetaRules,
    unknown: &mut Vec<String>,
) -> Result<(), FieldCause> {
    match x {
        Value::Object(map) => {
            if s.embedded && !is_root {
                coerce_embedded(map, path, rules, unknown)?;
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    walk_coerce(v, prop, &field::child(path, k), false, rules, unknown)?;
                } else if let Some(Additional::Schema(add)) = &s.additional {
                    walk_coerce(v, add, &field::key(path, k), false, rules, unknown)?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter_mut().enumerate() {
                    walk_coerce(
                        v,
                        item_schema,
                        &field::index(path, i),
                        false,
                        rules,
                        unknown,
                    )?;
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
    rules: &dyn ObjectMetaRules,
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
    let (normalised, unknown_here) = rules
        .decode(meta)
        .map_err(|e| field::invalid(&mpath, Bad::Json(meta), &e))?;
    for u in unknown_here {
        unknown.push(format!("{mpath}.{u}"));
    }
    map.insert("metadata".into(), normalised);
    Ok(())
}

/// The errors of every embedded resource in `obj` (the root is not one: its metadata is
/// validated by the generic path).
pub fn validate(obj: &Value, root: &Node, rules: &dyn ObjectMetaRules) -> Vec<FieldCause> {
    let mut out = Vec::new();
    walk_validate(obj, root, "", true, rules, &mut out);
    out
}

fn walk_validate(
    x: &Value,
    s: &Node,
    path: &str,
    is_root: bool,
    rules: &dyn ObjectMetaRules,
    out: &mut Vec<FieldCause>,
) {
    match x {
        Value::Object(map) => {
            if s.embedded && !is_root {
                out.extend(validate_embedded(x, path, rules));
            }
            for (k, v) in map {
                if let Some(prop) = s.property(k) {
                    walk_validate(v, prop, &field::child(path, k), false, rules, out);
                } else if let Some(Additional::Schema(add)) = &s.additional {
                    walk_validate(v, add, &field::key(path, k), false, rules, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, v) in items.iter().enumerate() {
                    walk_validate(v, item_schema, &field::index(path, i), false, rules, out);
                }
            }
        }
        _ => {}
    }
}

/// `validateEmbeddedResource`: the type and object meta of one embedded resource at `path`.
pub fn validate_embedded(x: &Value, path: &str, rules: &dyn ObjectMetaRules) -> Vec<FieldCause> {
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
                Some(meta) => out.extend(rules.validate(meta, &p)),
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

/// Test rules: metadata is kept as given and has no errors.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Unchecked;

#[cfg(test)]
impl ObjectMetaRules for Unchecked {
    fn decode(&self, meta: &Value) -> Result<(Value, Vec<String>), String> {
        Ok((meta.clone(), Vec::new()))
    }

    fn validate(&self, _: &Map<String, Value>, _: &str) -> Vec<FieldCause> {
        Vec::new()
    }
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

    /// Rules that drop and report `bogus` and refuse a name, so the walk's paths show.
    #[derive(Debug)]
    struct NoBogus;

    impl ObjectMetaRules for NoBogus {
        fn decode(&self, meta: &Value) -> Result<(Value, Vec<String>), String> {
            let mut m = meta.clone();
            let dropped = m.as_object_mut().and_then(|m| m.remove("bogus"));
            Ok((
                m,
                dropped.map(|_| "bogus".to_string()).into_iter().collect(),
            ))
        }

        fn validate(&self, meta: &Map<String, Value>, path: &str) -> Vec<FieldCause> {
            let name = meta.get("name").map(Bad::Json).unwrap_or(Bad::Null);
            vec![field::invalid(&field::child(path, "name"), name, "refused")]
        }
    }

    #[test]
    fn embedded_resources() {
        let s = schema();
        let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "bogus": 1}}}});
        assert_eq!(
            coerce(&mut obj, &s, &NoBogus).expect("coerces"),
            vec!["spec.template.metadata.bogus"]
        );
        assert_eq!(obj["spec"]["template"]["metadata"], json!({"name": "p"}));
        assert_eq!(
            validate(&obj, &s, &NoBogus)[0].message,
            r#"spec.template.metadata.name: Invalid value: "p": refused"#
        );
        assert!(validate(&obj, &s, &Unchecked).is_empty());

        let mut bad_kind = json!({"spec": {"template": {"apiVersion": "v1", "kind": 5}}});
        assert_eq!(
            coerce(&mut bad_kind, &s, &Unchecked)
                .expect_err("kind")
                .message,
            "spec.template.kind: Invalid value: 5: must be a string"
        );

        let invalid = json!({"spec": {"template": {"apiVersion": "a/b/c", "kind": "My_Kind",
            "metadata": "x"}}});
        let msgs: Vec<String> = validate(&invalid, &s, &Unchecked)
            .into_iter()
            .map(|c| c.message)
            .collect();
        assert_eq!(
            msgs[0],
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#
        );
        assert!(msgs[1].starts_with(r#"spec.template.kind: Invalid value: "My_Kind": may have mixed case, but should otherwise match: a DNS-1035 label"#));
        assert_eq!(
            msgs[2],
            r#"spec.template.metadata: Invalid value: "x": json: cannot unmarshal string into Go value of type v1.ObjectMeta"#
        );
    }
}
