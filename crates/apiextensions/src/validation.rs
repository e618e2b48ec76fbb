//! Validation of custom resources against the schema, with kube-openapi's semantics and messages.
//!
//! This mirrors `k8s.io/kube-openapi/pkg/validation/validate` as apiextensions-apiserver uses it:
//! each node runs, in order, the type, allOf/anyOf/oneOf/not, string, format, number, array, enum
//! and object checks; messages name the field by its kube-openapi path (`spec.items[0].name`),
//! and are turned into field errors exactly as `kubeOpenAPIResultToFieldErrors` does (required →
//! `Required value`, enum → `Unsupported value`, maxLength → `Too long`, maxItems/maxProperties →
//! `Too many`, types → `Invalid value: "<type>"`, everything else → `Invalid value`).
//! Errors that are not kube-openapi validation errors (allOf/anyOf/oneOf/not, number ranges) get
//! the path of the validated document itself, `<nil>` for a whole custom resource.

use super::field::{self, Bad, go_float, go_json, go_quote};
use super::formats::Format;
use super::{Additional, Node, ratcheting};
use crate::FieldCause;
use serde_json::Value;
use std::collections::HashSet;

/// Validates `value` (with its correlated `old`, on update) against `node`. Field paths are
/// prefixed by `prefix` (`""`: a whole custom resource; `"status"` for `/status`).
pub fn validate(node: &Node, value: &Value, old: Option<&Value>, prefix: &str) -> Vec<FieldCause> {
    let mut w = Walk {
        prefix,
        out: Vec::new(),
        count: 0,
    };
    w.node(node, value, &Name::Root, old);
    let mut seen = HashSet::new();
    w.out.retain(|c| seen.insert(c.message.clone()));
    w.out
}

/// A JSON number as Go's JSON decoder hands it to the validator.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num_of(v: &Value) -> Option<Num> {
    let n = v.as_number()?;
    Some(match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(0.0)),
    })
}

/// swag's `IsFloat64AJSONInteger`.
fn is_json_integer(f: f64) -> bool {
    f.is_finite() && f.abs() <= 9_007_199_254_740_991.0 && f.fract() == 0.0
}

/// The JSON type (and Go "format") of a decoded value, as kube-openapi names it.
fn schema_info(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("null", ""),
    }
}

fn format_name(f: Option<Format>) -> &'static str {
    match f {
        Some(Format::Int32) => "int32",
        Some(Format::Int64) => "int64",
        Some(Format::Float) => "float",
        Some(Format::Double) => "double",
        _ => "",
    }
}

/// `IsValueValidAgainstRange`: whether a number (a value or a bound) fits the node's type and
/// numeric format, as Go decides by re-parsing its decimal rendering.
fn in_range(type_name: &str, format: Option<Format>, n: Num) -> bool {
    let integral = |f: f64| f.is_finite() && f.fract() == 0.0;
    match (type_name, format, n) {
        ("integer", Some(Format::Int32), Num::Int(i)) => i32::try_from(i).is_ok(),
        ("integer", Some(Format::Int32), Num::Float(f)) => {
            integral(f) && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX)
        }
        ("integer", _, Num::Int(_)) => true,
        ("integer", _, Num::Float(f)) => {
            integral(f) && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
        }
        ("number", Some(Format::Float), n) => {
            let f = match n {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
            };
            f.is_finite() && f.abs() <= f64::from(f32::MAX)
        }
        _ => true,
    }
}

/// Enum membership with Go's conversion rules (a number matches an enum number of the other
/// numeric type after conversion, as `reflect.Value.Convert` does).
fn enum_matches(data: &Value, e: &Value) -> bool {
    if data == e {
        return true;
    }
    match (num_of(data), e) {
        (Some(Num::Float(f)), Value::Number(en)) if en.is_i64() => {
            en.as_i64() == Some(f.trunc() as i64)
        }
        (Some(Num::Int(i)), Value::Number(en)) => en.as_f64() == Some(i as f64),
        (Some(Num::Int(i)), Value::String(s)) => u32::try_from(i)
            .ok()
            .and_then(char::from_u32)
            .is_some_and(|c| s.chars().eq(std::iter::once(c))),
        _ => false,
    }
}

/// A kube-openapi path (`spec.items[0].name`), rendered only when an error needs it.
#[derive(Clone, Copy)]
enum Name<'a> {
    /// The validated document itself (`""`).
    Root,
    /// A property: `parent.k`, or `k` at the root.
    Prop(&'a Name<'a>, &'a str),
    /// An additionalProperties key or a required field: always `parent.k`.
    Dot(&'a Name<'a>, &'a str),
    /// A list item: `parent[i]`.
    Index(&'a Name<'a>, usize),
}

impl std::fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Name::Root => Ok(()),
            Name::Prop(Name::Root, k) => f.write_str(k),
            Name::Prop(p, k) | Name::Dot(p, k) => write!(f, "{p}.{k}"),
            Name::Index(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

struct Walk<'p> {
    prefix: &'p str,
    out: Vec<FieldCause>,
    /// kube-openapi's `MatchCount`: how much of the schema a value exercised (picks the
    /// best-matching failed alternative of anyOf/oneOf).
    count: u32,
}

impl Walk<'_> {
    /// The field path of a kube-openapi error named `name`.
    fn err_path(&self, name: &Name<'_>) -> String {
        let name = name.to_string();
        let n = name.strip_prefix('.').unwrap_or(&name);
        if name.is_empty() || name == "." {
            self.prefix.to_string()
        } else {
            field::child(self.prefix, n)
        }
    }

    /// A kube-openapi error that is not a `Validation` (composites, number ranges).
    fn other(&mut self, msg: String) {
        self.out
            .push(field::invalid(self.prefix, Bad::Str(""), &msg));
    }

    fn invalid(&mut self, name: &Name<'_>, bad: Bad<'_>, msg: String) {
        let p = self.err_path(name);
        self.out.push(field::invalid(&p, bad, &msg));
    }

    fn type_error(&mut self, name: &Name<'_>, type_name: &str, found: &str) {
        let msg = format!(
            "{name} in body must be of type {type_name}: {}",
            go_quote(found)
        );
        let p = self.err_path(name);
        self.out
            .push(field::type_invalid(&p, Bad::Str(found), &msg));
    }

    fn node(&mut self, s: &Node, v: &Value, name: &Name<'_>, old: Option<&Value>) {
        let mark = self.out.len();
        self.node_checks(s, v, name, old);
        if self.out.len() > mark && ratcheting::unchanged(v, old) {
            self.out.truncate(mark);
        }
    }

    fn node_checks(&mut self, s: &Node, v: &Value, name: &Name<'_>, old: Option<&Value>) {
        if v.is_null() {
            self.type_check(s, v, name);
            self.enum_check(s, v, name);
            return;
        }
        self.type_check(s, v, name);
        self.composites(s, v, name, old);
        if let Value::String(text) = v {
            self.count += 1;
            self.string_checks(s, text, name);
            if let Some(Format::Str(f)) = s.known_format
                && !f.validates(text)
            {
                let msg = format!(
                    "{name} in body must be of type {}: {}",
                    s.format,
                    go_quote(text)
                );
                let p = self.err_path(name);
                self.out.push(field::type_invalid(&p, Bad::Str(text), &msg));
            }
        }
        if let Some(n) = num_of(v) {
            self.count += 1;
            self.number_checks(s, v, n, name);
        }
        if let Value::Array(items) = v {
            self.count += 1;
            self.array_checks(s, items, name, old);
        }
        self.enum_check(s, v, name);
        if let Value::Object(map) = v {
            self.count += 1;
            self.object_checks(s, map, name, old);
        }
        self.count += 1;
    }

    fn type_check(&mut self, s: &Node, v: &Value, name: &Name<'_>) {
        let single = [s.type_.as_str()];
        let types: &[&str] = if s.int_or_string {
            &["integer", "string"]
        } else if s.type_.is_empty() {
            &[]
        } else {
            &single
        };
        let fmt = match s.known_format {
            Some(Format::Str(_)) => s.format.as_str(),
            other => format_name(other),
        };
        if types.is_empty() && fmt.is_empty() {
            return;
        }
        self.count += 1;
        let joined = types.join(",");
        if v.is_null() {
            if !types.is_empty() && !s.nullable {
                self.type_error(name, &joined, "null");
            }
            return;
        }
        let (sch_type, sch_format) = schema_info(v);
        let has = |t: &str| types.contains(&t);
        let is_float_int =
            sch_type == "number" && v.as_f64().is_some_and(is_json_integer) && has("integer");
        let is_int_float = sch_type == "integer" && has("number");
        let is_string_or_array = matches!(v, Value::String(_) | Value::Array(_));
        let type_ok = has(sch_type) || sch_format == fmt || is_float_int || is_int_float;
        if !(is_string_or_array || fmt.is_empty() || type_ok) {
            self.type_error(name, fmt, sch_format);
            return;
        }
        let numeric = has("number") || has("integer");
        if !(numeric || fmt.is_empty()) && is_string_or_array {
            return;
        }
        if !(has(sch_type) || is_float_int || is_int_float) {
            self.type_error(name, &joined, sch_type);
        }
    }

    /// Validates `v` against a sub-schema into a separate result.
    fn branch(
        &self,
        s: &Node,
        v: &Value,
        name: &Name<'_>,
        old: Option<&Value>,
    ) -> (Vec<FieldCause>, u32) {
        let mut w = Walk {
            prefix: self.prefix,
            out: Vec::new(),
            count: 0,
        };
        w.node(s, v, name, old);
        (w.out, w.count)
    }

    fn composites(&mut self, s: &Node, v: &Value, name: &Name<'_>, old: Option<&Value>) {
        if s.any_of.is_empty() && s.one_of.is_empty() && s.all_of.is_empty() && s.not.is_none() {
            return;
        }
        self.count += 1;
        if !s.any_of.is_empty() {
            let mut best: Option<(Vec<FieldCause>, u32)> = None;
            let mut ok = false;
            for b in &s.any_of {
                let (errs, count) = self.branch(b, v, name, old);
                if errs.is_empty() {
                    ok = true;
                    self.count += count;
                    break;
                }
                if best.as_ref().is_none_or(|(_, c)| count > *c) {
                    best = Some((errs, count));
                }
            }
            if !ok {
                self.other(format!(
                    "{} must validate at least one schema (anyOf)",
                    go_quote(&name.to_string())
                ));
                if let Some((errs, count)) = best {
                    self.out.extend(errs);
                    self.count += count;
                }
            }
        }
        if !s.one_of.is_empty() {
            let mut best: Option<(Vec<FieldCause>, u32)> = None;
            let mut valid = 0;
            for b in &s.one_of {
                let (errs, count) = self.branch(b, v, name, old);
                if errs.is_empty() {
                    valid += 1;
                    best = None;
                    continue;
                }
                if valid == 0 && best.as_ref().is_none_or(|(_, c)| count > *c) {
                    best = Some((errs, count));
                }
            }
            if valid != 1 {
                let extra = if valid == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                self.other(format!(
                    "{} must validate one and only one schema (oneOf). {extra}",
                    go_quote(&name.to_string())
                ));
                if let Some((errs, _)) = best {
                    self.out.extend(errs);
                }
            }
        }
        if !s.all_of.is_empty() {
            let mut valid = 0;
            for b in &s.all_of {
                let (errs, count) = self.branch(b, v, name, old);
                if errs.is_empty() {
                    valid += 1;
                }
                self.out.extend(errs);
                self.count += count;
            }
            if valid != s.all_of.len() {
                let extra = if valid == 0 { ". None validated" } else { "" };
                self.other(format!(
                    "{} must validate all the schemas (allOf){extra}",
                    go_quote(&name.to_string())
                ));
            }
        }
        if let Some(not) = &s.not {
            let (errs, _) = self.branch(not, v, name, old);
            if errs.is_empty() {
                self.other(format!(
                    "{} must not validate the schema (not)",
                    go_quote(&name.to_string())
                ));
            }
        }
    }

    fn string_checks(&mut self, s: &Node, text: &str, name: &Name<'_>) {
        let len = text.chars().count() as i64;
        if let Some(max) = s.max_length
            && len > max
        {
            let p = self.err_path(name);
            self.out.push(field::too_long(&p, max));
            return;
        }
        if let Some(min) = s.min_length
            && len < min
        {
            self.invalid(
                name,
                Bad::Str(text),
                format!("{name} in body should be at least {min} chars long"),
            );
            return;
        }
        if let Some(p) = &s.pattern {
            match &p.regex {
                Err(e) => self.invalid(
                    name,
                    Bad::Str(text),
                    format!(
                        "{name} in body should match '{}, but pattern is invalid: {e}'",
                        p.source
                    ),
                ),
                Ok(re) if !re.is_match(text) => self.invalid(
                    name,
                    Bad::Str(text),
                    format!("{name} in body should match '{}'", p.source),
                ),
                Ok(_) => {}
            }
        }
    }

    fn number_checks(&mut self, s: &Node, v: &Value, n: Num, name: &Name<'_>) {
        let type_name = if s.int_or_string {
            ""
        } else {
            s.type_.as_str()
        };
        let fmt = match (type_name, s.known_format) {
            ("integer", Some(f @ (Format::Int32 | Format::Int64)))
            | ("number", Some(f @ (Format::Float | Format::Double))) => format_name(Some(f)),
            _ => "",
        };
        let range_error = |prefix: &str| -> String {
            if fmt.is_empty() {
                format!("{prefix} value must be of type {type_name} (default format) in {name}")
            } else {
                format!("{prefix} value must be of type {type_name} with format {fmt} in {name}")
            }
        };
        if matches!(type_name, "integer" | "number") && !in_range(type_name, s.known_format, n) {
            self.other(range_error("Checked"));
        }
        let bound_is_native = |b: f64| {
            !matches!(type_name, "integer" | "number")
                || in_range(type_name, s.known_format, Num::Float(b))
        };
        let as_f = match n {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        };
        if let Some(factor) = s.multiple_of {
            match n {
                Num::Int(i) if bound_is_native(factor) => {
                    let f = factor as i64;
                    if f <= 0 {
                        self.invalid(
                            name,
                            Bad::Int(f),
                            format!("factor MultipleOf declared for {name} must be positive: {f}"),
                        );
                    } else if i % f != 0 {
                        self.invalid(
                            name,
                            Bad::Json(v),
                            format!("{name} in body should be a multiple of {f}"),
                        );
                    }
                }
                _ => {
                    if factor <= 0.0 {
                        self.invalid(
                            name,
                            Bad::Json(&Value::from(factor)),
                            format!(
                                "factor MultipleOf declared for {name} must be positive: {}",
                                go_float(factor)
                            ),
                        );
                    } else {
                        let mult = if factor < 1.0 {
                            1.0 / factor * as_f
                        } else {
                            as_f / factor
                        };
                        if !is_json_integer(mult) {
                            self.invalid(
                                name,
                                Bad::Json(v),
                                format!(
                                    "{name} in body should be a multiple of {}",
                                    go_float(factor)
                                ),
                            );
                        }
                    }
                }
            }
        }
        if let Some(min) = s.minimum {
            let excl = s.exclusive_minimum;
            let (fails, shown) = match n {
                Num::Int(i) if bound_is_native(min) => {
                    let m = min as i64;
                    ((!excl && i < m) || (excl && i <= m), m.to_string())
                }
                _ => (
                    (!excl && as_f < min) || (excl && as_f <= min),
                    go_float(min),
                ),
            };
            if fails {
                let rel = if excl {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                self.invalid(
                    name,
                    Bad::Json(v),
                    format!("{name} in body should be {rel} {shown}"),
                );
            }
        }
        if let Some(max) = s.maximum {
            let excl = s.exclusive_maximum;
            let (fails, shown) = match n {
                Num::Int(i) if bound_is_native(max) => {
                    let m = max as i64;
                    ((!excl && i > m) || (excl && i >= m), m.to_string())
                }
                _ => (
                    (!excl && as_f > max) || (excl && as_f >= max),
                    go_float(max),
                ),
            };
            if fails {
                let rel = if excl {
                    "less than"
                } else {
                    "less than or equal to"
                };
                self.invalid(
                    name,
                    Bad::Json(v),
                    format!("{name} in body should be {rel} {shown}"),
                );
            }
        }
    }

    fn array_checks(&mut self, s: &Node, items: &[Value], name: &Name<'_>, old: Option<&Value>) {
        if let Some(item_schema) = &s.items {
            for (i, item) in items.iter().enumerate() {
                let item_old = ratcheting::item(s, old, item);
                self.node(item_schema, item, &Name::Index(name, i), item_old);
            }
        }
        let size = items.len() as i64;
        if let Some(min) = s.min_items
            && size < min
        {
            self.invalid(
                name,
                Bad::Int(size),
                format!("{name} in body should have at least {min} items"),
            );
        }
        if let Some(max) = s.max_items
            && size > max
        {
            let p = self.err_path(name);
            self.out.push(field::too_many(&p, size, max));
        }
        if s.unique_items {
            let dup = items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].contains(a));
            if dup {
                self.invalid(
                    name,
                    Bad::Str(""),
                    format!("{name} in body shouldn't contain duplicates"),
                );
            }
        }
    }

    fn enum_check(&mut self, s: &Node, v: &Value, name: &Name<'_>) {
        if s.enum_.is_empty() {
            return;
        }
        if !v.is_null() && s.enum_.iter().any(|e| enum_matches(v, e)) {
            return;
        }
        let values: Vec<String> = s
            .enum_
            .iter()
            .map(|e| match e {
                Value::String(x) => x.clone(),
                other => go_json(other),
            })
            .collect();
        let p = self.err_path(name);
        self.out
            .push(field::not_supported(&p, Bad::Json(v), &values));
    }

    fn object_checks(
        &mut self,
        s: &Node,
        map: &serde_json::Map<String, Value>,
        name: &Name<'_>,
        old: Option<&Value>,
    ) {
        let size = map.len() as i64;
        if let Some(min) = s.min_properties
            && size < min
        {
            self.invalid(
                name,
                Bad::Int(size),
                format!("{name} in body should have at least {min} properties"),
            );
        }
        if let Some(max) = s.max_properties
            && size > max
        {
            let p = self.err_path(name);
            self.out.push(field::too_many(&p, size, max));
        }
        match &s.additional {
            Some(Additional::Allows(false)) => {
                for k in map.keys() {
                    if s.property(k).is_none() {
                        self.invalid(
                            name,
                            Bad::Str(k),
                            format!("{name}.{k} in body is a forbidden property"),
                        );
                    }
                }
            }
            Some(Additional::Schema(add)) => {
                for (k, child) in map {
                    if s.property(k).is_none() {
                        let child_old = ratcheting::key(s, old, k);
                        self.node(add, child, &Name::Dot(name, k), child_old);
                    }
                }
            }
            _ => {}
        }
        let at_root = matches!(name, Name::Root);
        for (k, ps) in &s.properties {
            if let Some(child) = map.get(k) {
                let child_old = if at_root && (k == "apiVersion" || k == "kind") {
                    None
                } else {
                    ratcheting::key(s, old, k)
                };
                self.node(ps, child, &Name::Prop(name, k), child_old);
            }
        }
        for k in &s.required {
            if !map.contains_key(k) {
                let p = self.err_path(&Name::Dot(name, k));
                self.out.push(field::required(&p, ""));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile_node;
    use super::*;
    use serde_json::json;

    fn errs(schema: Value, obj: Value) -> Vec<String> {
        let node = compile_node(&schema, false);
        validate(&node, &obj, None, "")
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    fn field_schema(f: Value) -> Value {
        json!({"type": "object", "properties": {"field": f}})
    }

    #[test]
    fn types_and_nullable() {
        let s = field_schema(json!({"type": "object"}));
        for (v, t) in [
            (json!("foo"), "string"),
            (json!(42), "integer"),
            (json!(true), "boolean"),
            (json!(1.2), "number"),
            (json!([]), "array"),
            (json!(null), "null"),
        ] {
            assert_eq!(
                errs(s.clone(), json!({"field": v})),
                vec![format!(
                    r#"field: Invalid value: "{t}": field in body must be of type object: "{t}""#
                )]
            );
        }
        let nullable = field_schema(json!({"type": "object", "nullable": true}));
        assert!(errs(nullable, json!({"field": null})).is_empty());
        let untyped = field_schema(json!({"nullable": true}));
        for v in [json!(null), json!("x"), json!(1), json!([]), json!({})] {
            assert!(errs(untyped.clone(), json!({"field": v})).is_empty());
        }
    }

    #[test]
    fn int_or_string_and_any_of() {
        let s = field_schema(json!({"x-kubernetes-int-or-string": true}));
        assert!(errs(s.clone(), json!({"field": 42})).is_empty());
        assert!(errs(s.clone(), json!({"field": "foo"})).is_empty());
        assert_eq!(
            errs(s.clone(), json!({"field": 1.2})),
            vec![
                r#"field: Invalid value: "number": field in body must be of type integer,string: "number""#
            ]
        );
        assert_eq!(
            errs(s, json!({"field": null})),
            vec![
                r#"field: Invalid value: "null": field in body must be of type integer,string: "null""#
            ]
        );
        let with_any = field_schema(json!({"nullable": true, "x-kubernetes-int-or-string": true,
            "anyOf": [{"type": "integer"}, {"type": "string"}]}));
        assert!(errs(with_any.clone(), json!({"field": null})).is_empty());
        assert_eq!(
            sorted(errs(with_any.clone(), json!({"field": true}))),
            sorted(vec![
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#.to_string(),
                r#"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#.to_string(),
                r#"field: Invalid value: "boolean": field in body must be of type integer: "boolean""#.to_string(),
            ])
        );
        assert_eq!(
            sorted(errs(with_any, json!({"field": 1.2}))),
            sorted(vec![
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#.to_string(),
                r#"field: Invalid value: "number": field in body must be of type integer,string: "number""#.to_string(),
                r#"field: Invalid value: "number": field in body must be of type integer: "number""#.to_string(),
                r#"<nil>: Invalid value: "": Checked value must be of type integer (default format) in field"#.to_string(),
            ])
        );
        let all_of = field_schema(json!({"nullable": true, "x-kubernetes-int-or-string": true,
            "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}]}));
        assert_eq!(
            sorted(errs(all_of, json!({"field": {}}))),
            sorted(vec![
                r#"<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated"#.to_string(),
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#.to_string(),
                r#"field: Invalid value: "object": field in body must be of type integer,string: "object""#.to_string(),
                r#"field: Invalid value: "object": field in body must be of type integer: "object""#.to_string(),
            ])
        );
    }

    #[test]
    fn one_of_and_not() {
        let s =
            field_schema(json!({"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}));
        assert_eq!(
            errs(s, json!({"field": 5})),
            vec![
                r#"<nil>: Invalid value: "": "field" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
        let s = field_schema(json!({"type": "string", "not": {"enum": ["forbidden"]}}));
        assert_eq!(
            errs(s.clone(), json!({"field": "forbidden"})),
            vec![r#"<nil>: Invalid value: "": "field" must not validate the schema (not)"#]
        );
        assert!(errs(s, json!({"field": "ok"})).is_empty());
    }

    #[test]
    fn required_and_enum() {
        let s = json!({"type": "object", "required": ["field"], "properties": {"field": {
            "type": "object", "required": ["nested"], "properties": {"nested": {}}}}});
        assert_eq!(
            errs(s.clone(), json!({"test": "a"})),
            vec!["field: Required value"]
        );
        assert_eq!(
            errs(s, json!({"field": {}})),
            vec!["field.nested: Required value"]
        );
        let e = json!({"type": "object", "properties": {"field": {"type": "object",
            "required": ["nestedint", "nestedstring"],
            "properties": {"nestedint": {"type": "integer", "enum": [1, 2]},
                           "nestedstring": {"type": "string", "enum": ["a", "b"]}}}}});
        assert_eq!(
            sorted(errs(e.clone(), json!({"field": {}}))),
            vec![
                "field.nestedint: Required value",
                "field.nestedstring: Required value"
            ]
        );
        assert_eq!(
            sorted(errs(e, json!({"field": {"nestedint": "x", "nestedstring": true}}))),
            sorted(vec![
                r#"field.nestedint: Invalid value: "string": field.nestedint in body must be of type integer: "string""#.to_string(),
                r#"field.nestedint: Unsupported value: "x": supported values: "1", "2""#.to_string(),
                r#"field.nestedstring: Invalid value: "boolean": field.nestedstring in body must be of type string: "boolean""#.to_string(),
                r#"field.nestedstring: Unsupported value: true: supported values: "a", "b""#.to_string(),
            ])
        );
    }

    #[test]
    fn limits() {
        let s = json!({"type": "object", "properties": {
            "fieldX": {"type": "object", "maxProperties": 2, "minProperties": 1},
            "list": {"type": "array", "maxItems": 2, "minItems": 1},
            "s": {"type": "string", "maxLength": 2, "minLength": 1, "pattern": "^[a-z]+$"},
            "n": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 2},
            "x": {"type": "number", "minimum": 0.5, "exclusiveMinimum": true, "maximum": 1e6, "exclusiveMaximum": true}
        }});
        let one = |obj: Value| errs(s.clone(), obj);
        assert_eq!(
            one(json!({"fieldX": {"a": 1, "b": 2, "c": 3}})),
            vec!["fieldX: Too many: 3: must have at most 2 items"]
        );
        assert_eq!(
            one(json!({"fieldX": {}})),
            vec!["fieldX: Invalid value: 0: fieldX in body should have at least 1 properties"]
        );
        assert_eq!(
            one(json!({"list": ["a", "b", "c"]})),
            vec!["list: Too many: 3: must have at most 2 items"]
        );
        assert_eq!(
            one(json!({"list": []})),
            vec!["list: Invalid value: 0: list in body should have at least 1 items"]
        );
        assert_eq!(
            one(json!({"s": "abc"})),
            vec!["s: Too long: may not be more than 2 bytes"]
        );
        assert_eq!(
            one(json!({"s": ""})),
            vec![r#"s: Invalid value: "": s in body should be at least 1 chars long"#]
        );
        assert_eq!(
            one(json!({"s": "A"})),
            vec![r#"s: Invalid value: "A": s in body should match '^[a-z]+$'"#]
        );
        assert_eq!(
            one(json!({"n": 11})),
            vec![
                "n: Invalid value: 11: n in body should be a multiple of 2",
                "n: Invalid value: 11: n in body should be less than or equal to 10",
            ]
        );
        assert_eq!(
            one(json!({"n": 0})),
            vec!["n: Invalid value: 0: n in body should be greater than or equal to 1"]
        );
        assert_eq!(
            one(json!({"n": 2.5})),
            vec![
                r#"n: Invalid value: "number": n in body must be of type integer: "number""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer (default format) in n"#,
                "n: Invalid value: 2.5: n in body should be a multiple of 2",
            ]
        );
        assert!(one(json!({"n": 4.0})).is_empty());
        assert_eq!(
            one(json!({"x": 0.5})),
            vec!["x: Invalid value: 0.5: x in body should be greater than 0.5"]
        );
        assert_eq!(
            one(json!({"x": 1e6})),
            vec!["x: Invalid value: 1e+06: x in body should be less than 1e+06"]
        );
    }

    #[test]
    fn formats() {
        let s = json!({"type": "object", "properties": {
            "fieldX": {"type": "string", "format": "k8s-long-name"},
            "when": {"type": "string", "format": "date-time"},
            "i32": {"type": "integer", "format": "int32"},
            "f32": {"type": "number", "format": "float"},
            "i64": {"type": "integer", "format": "int64"},
            "other": {"type": "string", "format": "no-such-format"}
        }});
        assert_eq!(
            errs(s.clone(), json!({"fieldX": "a.-"})),
            vec![
                r#"fieldX: Invalid value: "a.-": fieldX in body must be of type k8s-long-name: "a.-""#
            ]
        );
        assert_eq!(
            errs(s.clone(), json!({"when": "yesterday"})),
            vec![
                r#"when: Invalid value: "yesterday": when in body must be of type date-time: "yesterday""#
            ]
        );
        assert_eq!(
            errs(s.clone(), json!({"i32": 2147483648_i64})),
            vec![
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in i32"#
            ]
        );
        assert_eq!(
            errs(s.clone(), json!({"f32": 3.5e38})),
            vec![
                r#"<nil>: Invalid value: "": Checked value must be of type number with format float in f32"#
            ]
        );
        assert_eq!(
            errs(s.clone(), json!({"i64": 1.0146e19})),
            vec![
                r#"i64: Invalid value: "float64": i64 in body must be of type int64: "float64""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int64 in i64"#,
            ]
        );
        assert!(
            errs(
                s,
                json!({"other": "anything", "i32": -2147483648_i64, "when": "2024-01-01T00:00:00Z"})
            )
            .is_empty()
        );
    }

    #[test]
    fn additional_properties_and_patterns() {
        let s = json!({"type": "object", "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
            "closed": {"type": "object", "additionalProperties": false},
            "bad": {"type": "string", "pattern": "+"},
            "digits": {"type": "string", "pattern": "^\\d+$"}
        }});
        assert_eq!(
            errs(s.clone(), json!({"labels": {"a": "abcd", "b": 1}})),
            vec![
                "labels.a: Too long: may not be more than 3 bytes",
                r#"labels.b: Invalid value: "integer": labels.b in body must be of type string: "integer""#,
            ]
        );
        assert_eq!(
            errs(s.clone(), json!({"closed": {"x": 1}})),
            vec![r#"closed: Invalid value: "x": closed.x in body is a forbidden property"#]
        );
        assert_eq!(
            errs(s.clone(), json!({"bad": "foo"})),
            vec![
                "bad: Invalid value: \"foo\": bad in body should match '+, but pattern is invalid: error parsing regexp: missing argument to repetition operator: `+`'"
            ]
        );
        // Go's \d is ASCII only.
        assert_eq!(errs(s.clone(), json!({"digits": "١٢"})).len(), 1);
        assert!(errs(s, json!({"digits": "12"})).is_empty());
    }

    #[test]
    fn ratchets_unchanged_fields() {
        let s = compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "a": {"type": "string", "maxLength": 1},
                "b": {"type": "string", "maxLength": 1},
                "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer", "maximum": 1}}}}
            }}}}),
            true,
        );
        let old = json!({"spec": {"a": "xx", "b": "y", "items": [{"name": "n", "v": 5}]}});
        // Unchanged invalid fields pass; a changed one fails.
        assert!(validate(&s, &old, Some(&old), "").is_empty());
        let new = json!({"spec": {"a": "xx", "b": "zz", "items": [{"name": "m", "v": 0}, {"name": "n", "v": 5}]}});
        let msgs: Vec<String> = validate(&s, &new, Some(&old), "")
            .into_iter()
            .map(|c| c.message)
            .collect();
        assert_eq!(msgs, vec!["spec.b: Too long: may not be more than 1 byte"]);
        // Without an old object everything counts.
        assert_eq!(validate(&s, &new, None, "").len(), 3);
    }
}
