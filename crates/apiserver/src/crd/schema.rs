//! A CRD version's structural schema, compiled once: pruning of unknown fields and validation of
//! custom resources against it, with kube-apiserver's messages.

use crate::status::FieldCause;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A compiled schema node.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// `type`, if set.
    pub type_: Option<String>,
    /// `properties`.
    pub properties: BTreeMap<String, Schema>,
    /// `additionalProperties` as a schema (`true` becomes preserve-unknown).
    pub additional: Option<Box<Schema>>,
    /// `items`.
    pub items: Option<Box<Schema>>,
    /// `required`.
    pub required: Vec<String>,
    /// `enum`.
    pub enum_: Vec<Value>,
    /// `nullable`.
    pub nullable: bool,
    /// `x-kubernetes-preserve-unknown-fields`.
    pub preserve_unknown: bool,
    /// `x-kubernetes-int-or-string`.
    pub int_or_string: bool,
    /// `x-kubernetes-embedded-resource`.
    pub embedded: bool,
    /// `minimum` / `maximum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `minLength` / `maxLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minItems` / `maxItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `pattern`, compiled.
    pub pattern: Option<(String, regex::Regex)>,
    /// `default`.
    pub default: Option<Value>,
}

impl Schema {
    /// Compiles an `openAPIV3Schema`; `None` (no schema) preserves everything.
    pub fn compile(raw: Option<&Value>) -> Schema {
        match raw {
            None => Schema {
                preserve_unknown: true,
                ..Schema::default()
            },
            Some(v) => compile_node(v),
        }
    }

    /// Removes fields the schema does not declare, returning their paths. The root's
    /// `apiVersion`, `kind` and `metadata` are always kept.
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let mut removed = Vec::new();
        if let Value::Object(map) = obj {
            prune_object(self, map, "", &mut removed, true);
        }
        removed
    }

    /// Applies `default`s to absent fields (objects are walked recursively).
    pub fn apply_defaults(&self, obj: &mut Value) {
        if let Value::Object(map) = obj {
            for (name, prop) in &self.properties {
                if !map.contains_key(name)
                    && let Some(d) = &prop.default
                {
                    map.insert(name.clone(), d.clone());
                }
                if let Some(child) = map.get_mut(name) {
                    prop.apply_defaults(child);
                }
            }
            if let Some(add) = &self.additional {
                for (_, child) in map.iter_mut() {
                    add.apply_defaults(child);
                }
            }
        } else if let (Value::Array(items), Some(schema)) = (obj, &self.items) {
            for item in items {
                schema.apply_defaults(item);
            }
        }
    }

    /// Validates `obj` (the whole custom resource; metadata is validated elsewhere).
    pub fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = Vec::new();
        validate_node(self, obj, "", &mut causes, true);
        causes
    }
}

fn compile_node(v: &Value) -> Schema {
    let get_f = |k: &str| v.get(k).and_then(Value::as_f64);
    let get_u = |k: &str| v.get(k).and_then(Value::as_u64);
    let mut s = Schema {
        type_: v.get("type").and_then(Value::as_str).map(str::to_string),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        enum_: v
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        nullable: v.get("nullable").and_then(Value::as_bool).unwrap_or(false),
        preserve_unknown: v
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        int_or_string: v
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        embedded: v
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        minimum: get_f("minimum"),
        maximum: get_f("maximum"),
        min_length: get_u("minLength"),
        max_length: get_u("maxLength"),
        min_items: get_u("minItems"),
        max_items: get_u("maxItems"),
        pattern: v
            .get("pattern")
            .and_then(Value::as_str)
            .and_then(|p| regex::Regex::new(p).ok().map(|r| (p.to_string(), r))),
        default: v.get("default").cloned(),
        ..Schema::default()
    };
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        s.properties = props
            .iter()
            .map(|(k, p)| (k.clone(), compile_node(p)))
            .collect();
    }
    match v.get("additionalProperties") {
        Some(Value::Bool(true)) => {
            s.additional = Some(Box::new(Schema {
                preserve_unknown: true,
                ..Schema::default()
            }))
        }
        Some(p @ Value::Object(_)) => s.additional = Some(Box::new(compile_node(p))),
        _ => {}
    }
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        s.items = Some(Box::new(compile_node(items)));
    }
    s
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn prune_object(
    s: &Schema,
    map: &mut Map<String, Value>,
    path: &str,
    removed: &mut Vec<String>,
    root: bool,
) {
    if s.preserve_unknown && s.properties.is_empty() && s.additional.is_none() {
        return;
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if (root || s.embedded) && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_schema = s.properties.get(&key).or(s.additional.as_deref());
        match child_schema {
            Some(child) => {
                if let Some(value) = map.get_mut(&key) {
                    prune_value(child, value, &join(path, &key), removed);
                }
            }
            None if s.preserve_unknown => {}
            None => {
                map.remove(&key);
                removed.push(join(path, &key));
            }
        }
    }
}

fn prune_value(s: &Schema, value: &mut Value, path: &str, removed: &mut Vec<String>) {
    match value {
        Value::Object(map) => prune_object(s, map, path, removed, false),
        Value::Array(items) => {
            if let Some(item_schema) = &s.items {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(item_schema, item, &format!("{path}[{i}]"), removed);
                }
            }
        }
        _ => {}
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

fn validate_node(s: &Schema, v: &Value, path: &str, causes: &mut Vec<FieldCause>, root: bool) {
    if v.is_null() {
        if !s.nullable && s.type_.is_some() && !root {
            causes.push(FieldCause::type_invalid(
                path,
                v,
                s.type_.as_deref().unwrap_or("object"),
            ));
        }
        return;
    }
    if s.int_or_string {
        if !(v.is_string() || type_matches("integer", v)) {
            causes.push(FieldCause::type_invalid(path, v, "integer,string"));
        }
    } else if let Some(t) = &s.type_
        && !type_matches(t, v)
    {
        causes.push(FieldCause::type_invalid(path, v, t));
        return;
    }
    if !s.enum_.is_empty() && !s.enum_.contains(v) {
        let supported: Vec<String> = s
            .enum_
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect();
        causes.push(FieldCause::not_supported(path, v, &supported));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.minimum
            && n < min
        {
            causes.push(FieldCause::invalid(
                path,
                v,
                format!(
                    "{path} in body should be greater than or equal to {}",
                    fmt_num(min)
                ),
            ));
        }
        if let Some(max) = s.maximum
            && n > max
        {
            causes.push(FieldCause::invalid(
                path,
                v,
                format!(
                    "{path} in body should be less than or equal to {}",
                    fmt_num(max)
                ),
            ));
        }
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if let Some(min) = s.min_length
            && len < min
        {
            causes.push(FieldCause::invalid(
                path,
                v,
                format!("{path} in body should be at least {min} chars long"),
            ));
        }
        if let Some(max) = s.max_length
            && len > max
        {
            causes.push(FieldCause {
                reason: "FieldValueTooLong",
                field: path.to_string(),
                message: format!("{path}: Too long: may not be more than {max} bytes"),
            });
        }
        if let Some((raw, re)) = &s.pattern
            && !re.is_match(text)
        {
            causes.push(FieldCause::invalid(
                path,
                v,
                format!("{path} in body should match '{raw}'"),
            ));
        }
    }
    match v {
        Value::Object(map) => {
            for req in &s.required {
                if !map.contains_key(req) {
                    causes.push(FieldCause::required(join(path, req), ""));
                }
            }
            for (key, child) in map {
                if (root || s.embedded)
                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata")
                {
                    continue;
                }
                if let Some(cs) = s.properties.get(key).or(s.additional.as_deref()) {
                    validate_node(cs, child, &join(path, key), causes, false);
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(min) = s.min_items
                && n < min
            {
                causes.push(FieldCause::invalid(
                    path,
                    v,
                    format!("{path} in body should have at least {min} items"),
                ));
            }
            if let Some(max) = s.max_items
                && n > max
            {
                causes.push(FieldCause {
                    reason: "FieldValueTooMany",
                    field: path.to_string(),
                    message: format!("{path}: Too many: {n}: must have at most {max} items"),
                });
            }
            if let Some(item_schema) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    validate_node(item_schema, item, &format!("{path}[{i}]"), causes, false);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn foo_schema() -> Schema {
        Schema::compile(Some(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["deploymentName"],
                    "properties": {
                        "deploymentName": {"type": "string"},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "action": {"type": "string", "enum": ["label", "kill", "annotate"]}
                    }
                },
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }
        })))
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let s = foo_schema();
        let mut obj = json!({"apiVersion": "x/v1", "kind": "Foo", "metadata": {"name": "a"},
            "spec": {"deploymentName": "d", "bogus": true}, "status": {"anything": 1}, "top": 1});
        assert_eq!(
            s.prune(&mut obj),
            vec!["spec.bogus".to_string(), "top".to_string()]
        );
        s.apply_defaults(&mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["status"]["anything"], 1);
        assert!(s.validate(&obj).is_empty());

        let bad = json!({"spec": {"replicas": 11, "action": "explode"}});
        let msgs: Vec<String> = s.validate(&bad).into_iter().map(|c| c.message).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.deploymentName: Required value".to_string(),
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10".to_string(),
                "spec.action: Unsupported value: \"explode\": supported values: \"label\", \"kill\", \"annotate\"".to_string(),
            ]
        );
        let wrong = json!({"spec": {"deploymentName": 5}});
        assert_eq!(
            s.validate(&wrong)[0].message,
            "spec.deploymentName: Invalid value: \"integer\": spec.deploymentName in body must be of type string: \"integer\""
        );
    }
}
