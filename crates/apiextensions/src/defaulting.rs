//! Defaulting (upstream `schema/defaulting`): `default`s fill absent fields — and `null`s of
//! non-nullable fields — on create, on update and whenever a stored object is read; `null`s of
//! non-nullable fields without a default are dropped when decoding. A CRD is only accepted if
//! every default is itself valid: pruned, valid metadata, valid against its schema and its CEL
//! rules (`validate_defaults`).

use super::field::{self, Bad};
use super::objectmeta::{self, ObjectMetaRules};
use super::{Additional, Node, cel, pruning, validation};
use crate::FieldCause;
use serde_json::Value;

fn non_nullable_null(x: &Value, s: Option<&Node>) -> bool {
    x.is_null() && s.is_some_and(|s| !s.nullable)
}

/// Applies the defaults of `s` to `x`.
pub fn apply(x: &mut Value, s: &Node) {
    if !s.has_defaults {
        return;
    }
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(d) = &prop.default else { continue };
                match map.get(k) {
                    None => {
                        map.insert(k.clone(), d.clone());
                    }
                    Some(v) if non_nullable_null(v, Some(prop)) => {
                        map.insert(k.clone(), d.clone());
                    }
                    _ => {}
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.property(k) {
                    apply(v, prop);
                } else if let Some(Additional::Schema(add)) = &s.additional {
                    if non_nullable_null(v, Some(add))
                        && let Some(d) = &add.default
                    {
                        *v = d.clone();
                    }
                    apply(v, add);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for v in items.iter_mut() {
                    if non_nullable_null(v, Some(item_schema))
                        && let Some(d) = &item_schema.default
                    {
                        *v = d.clone();
                    }
                    apply(v, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// Drops `null`s of non-nullable fields that have no default (upstream does this after pruning,
/// so that defaulting can fill them and validation does not see them).
pub fn prune_non_nullable_nulls(x: &mut Value, s: Option<&Node>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let schema = s.and_then(|s| s.field_schema(k));
                if v.is_null() && schema.is_some_and(|s| !s.nullable && s.default.is_none()) {
                    return false;
                }
                prune_non_nullable_nulls(v, schema);
                true
            });
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for v in items.iter_mut() {
                prune_non_nullable_nulls(v, item_schema);
            }
        }
        _ => {}
    }
}

/// Checks every default under `node` (the CRD's `openAPIV3Schema`, at `path`); the metadata of
/// embedded resources' defaults is checked by `meta`.
pub fn validate_defaults(node: &Node, path: &str, meta: &dyn ObjectMetaRules) -> Vec<FieldCause> {
    let mut out = Vec::new();
    walk(node, path, false, meta, &mut out);
    out
}

fn walk(
    s: &Node,
    path: &str,
    inside_meta: bool,
    rules: &dyn ObjectMetaRules,
    out: &mut Vec<FieldCause>,
) {
    let inside_meta = inside_meta && !s.embedded;
    if let Some(d) = &s.default {
        let dpath = field::child(path, "default");
        if inside_meta {
            // A default inside metadata only has to fit the field's own schema here; the
            // metadata rules apply to the object it ends up in.
            out.extend(validation::validate(s, d, None, &dpath));
        } else {
            let mut pruned = d.clone();
            let mut prune_root = s.clone();
            prune_root.resource_root = s.embedded;
            pruning::prune(&mut pruned, &prune_root);
            if &pruned != d {
                out.push(field::invalid(
                    &dpath,
                    Bad::Json(d),
                    "must not have unknown fields",
                ));
            }
            let meta = if s.embedded {
                objectmeta::validate_embedded(d, &dpath, rules)
            } else {
                Vec::new()
            };
            if !meta.is_empty() {
                out.extend(meta);
            } else {
                let errs = validation::validate(s, d, None, &dpath);
                if !errs.is_empty() {
                    out.extend(errs);
                } else if s.has_rules {
                    let errs = cel::validate_at(s, d, Some(d), &dpath, cel::RUNTIME_COST_BUDGET);
                    if errs.is_empty() {
                        out.extend(cel::validate_at(
                            s,
                            d,
                            None,
                            &dpath,
                            cel::RUNTIME_COST_BUDGET,
                        ));
                    } else {
                        out.extend(errs);
                    }
                }
            }
        }
    }
    if let Some(items) = &s.items {
        walk(items, &field::child(path, "items"), inside_meta, rules, out);
    }
    for (k, p) in &s.properties {
        let sub_meta = inside_meta
            || (s.resource_root && matches!(k.as_str(), "metadata" | "apiVersion" | "kind"));
        walk(
            p,
            &field::key(&field::child(path, "properties"), k),
            sub_meta,
            rules,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile_node;
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_nulls() {
        let s = compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
                "action": {"type": "string", "default": "label"},
                "n": {"type": "integer", "default": 1},
                "opt": {"type": "string"},
                "nul": {"type": "string", "nullable": true},
                "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}}},
                "m": {"type": "object", "additionalProperties": {"type": "string", "default": "v"}}
            }}}}),
            true,
        );
        let mut obj = json!({"spec": {"n": null, "opt": null, "nul": null, "list": [{}, {"x": "y"}], "m": {"a": null}}});
        prune_non_nullable_nulls(&mut obj, Some(&s));
        apply(&mut obj, &s);
        assert_eq!(
            obj,
            json!({"spec": {"n": 1, "nul": null, "list": [{"x": "d"}, {"x": "y"}], "m": {"a": "v"}, "action": "label"}})
        );
        let mut empty = json!({});
        apply(&mut empty, &s);
        assert_eq!(empty, json!({"spec": {"action": "label", "n": 1}}));
    }

    #[test]
    fn defaults_must_validate() {
        let s = compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "replicas": {"type": "integer", "maximum": 10, "default": 20},
                "obj": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}},
                "ok": {"type": "string", "enum": ["a"], "default": "a"}
            }}}}),
            true,
        );
        let msgs: Vec<String> = validate_defaults(
            &s,
            "spec.versions[0].schema.openAPIV3Schema",
            &objectmeta::Unchecked,
        )
        .into_iter()
        .map(|c| c.message)
        .collect();
        assert_eq!(
            msgs,
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: 20:  in body should be less than or equal to 10",
                r#"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[obj].default: Invalid value: {"a":"x","b":1}: must not have unknown fields"#,
            ]
        );
    }
}
