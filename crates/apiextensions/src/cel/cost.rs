//! CEL cost, estimated the way cel-go's checker estimates it (apiserver `cel/library/cost.go`):
//! every identifier and selection costs 1, string operations cost a tenth of the characters
//! traversed, comprehensions cost their body times the size of what they iterate. Sizes come
//! from the schema (`maxItems`, `maxLength`, `maxProperties`, else what fits in a request) when a
//! CRD is validated, and from the object itself when a rule runs — a rule whose cost on the
//! actual object exceeds the per-call limit is stopped, as cel-go's runtime cost limit does.

use super::super::{Additional, Node};
use super::values::unescape;
use kube_cel::cel::common::ast::{EntryExpr, Expr, LiteralValue};
use kube_cel::cel::parser::Expression;
use serde_json::Value;

/// kube-apiserver's request size limit, which bounds everything unbounded in a schema.
pub const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;

/// The smallest JSON a value of schema `s` serializes to (bounds how many fit in a request).
pub fn min_serialized_size(s: Option<&Node>) -> u64 {
    match s {
        Some(s) if s.int_or_string => 1,
        Some(s) => match s.type_.as_str() {
            "string" => 2,
            "boolean" => 4,
            "object" | "array" => 2,
            _ => 1,
        },
        None => 1,
    }
}

/// How many values of schema `s` a request can hold (cel-go's `maxCardinality`).
pub fn max_cardinality(s: Option<&Node>) -> u64 {
    MAX_REQUEST_SIZE_BYTES / (min_serialized_size(s) + 1)
}

/// What a cost estimate knows about the values an expression may denote.
pub trait Shape: Clone + Sized {
    /// The shape of field `field` (a CEL, i.e. escaped, name).
    fn select(&self, field: &str) -> Self;
    /// The shape of the elements (list items, map values).
    fn elems(&self) -> Self;
    /// The shape of map keys.
    fn keys(&self) -> Self;
    /// The shape a comprehension variable iterating over this takes: list items or map keys.
    fn iter_var(&self) -> Self;
    /// The largest size (characters, items, entries).
    fn size(&self) -> u64;
    /// A value of size `n` and unknown content.
    fn sized(n: u64) -> Self;
}

/// Shapes from a schema (CRD-time estimates).
#[derive(Debug, Clone, Copy)]
pub enum SchemaShape<'a> {
    /// A schema node.
    Node(&'a Node),
    /// A known size.
    Sized(u64),
    /// Nothing known: bounded by the request size.
    Unknown,
}

impl Shape for SchemaShape<'_> {
    fn select(&self, field: &str) -> Self {
        match self {
            SchemaShape::Node(n) => {
                let raw = unescape(field);
                match n.field_schema(&raw) {
                    Some(p) => SchemaShape::Node(p),
                    None => SchemaShape::Unknown,
                }
            }
            _ => SchemaShape::Unknown,
        }
    }

    fn elems(&self) -> Self {
        match self {
            SchemaShape::Node(n) => match (&n.items, &n.additional) {
                (Some(i), _) => SchemaShape::Node(i),
                (None, Some(Additional::Schema(a))) => SchemaShape::Node(a),
                _ => SchemaShape::Unknown,
            },
            _ => SchemaShape::Unknown,
        }
    }

    fn keys(&self) -> Self {
        SchemaShape::Unknown
    }

    fn iter_var(&self) -> Self {
        match self {
            SchemaShape::Node(n) if n.type_ == "object" => self.keys(),
            _ => self.elems(),
        }
    }

    fn size(&self) -> u64 {
        match self {
            SchemaShape::Node(n) => match n.type_.as_str() {
                "string" => n
                    .max_length
                    .map_or(MAX_REQUEST_SIZE_BYTES - 2, |m| m.max(0) as u64),
                "array" => n.max_items.map_or_else(
                    || (MAX_REQUEST_SIZE_BYTES - 2) / (min_serialized_size(n.items.as_deref()) + 1),
                    |m| m.max(0) as u64,
                ),
                "object" if n.properties.is_empty() => n.max_properties.map_or_else(
                    || {
                        (MAX_REQUEST_SIZE_BYTES - 2)
                            / (min_serialized_size(n.additional_schema()) + 4)
                    },
                    |m| m.max(0) as u64,
                ),
                "object" => n.properties.len() as u64,
                _ if n.int_or_string => n
                    .max_length
                    .map_or(MAX_REQUEST_SIZE_BYTES - 2, |m| m.max(0) as u64),
                _ => 0,
            },
            SchemaShape::Sized(n) => *n,
            SchemaShape::Unknown => MAX_REQUEST_SIZE_BYTES,
        }
    }

    fn sized(n: u64) -> Self {
        SchemaShape::Sized(n)
    }
}

/// Shapes from actual values (runtime costs): every value the expression may denote.
#[derive(Debug, Clone)]
pub struct ValueShape<'v> {
    values: Vec<&'v Value>,
    sized: Option<u64>,
}

impl<'v> ValueShape<'v> {
    /// The shape of one value.
    pub fn of(v: &'v Value) -> Self {
        ValueShape {
            values: vec![v],
            sized: None,
        }
    }
}

fn value_size(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.chars().count() as u64,
        Value::Array(a) => a.len() as u64,
        Value::Object(m) => m.len() as u64,
        _ => 0,
    }
}

impl Shape for ValueShape<'_> {
    fn select(&self, field: &str) -> Self {
        let raw = unescape(field);
        ValueShape {
            values: self
                .values
                .iter()
                .filter_map(|v| v.get(raw.as_ref()))
                .collect(),
            sized: None,
        }
    }

    fn elems(&self) -> Self {
        let mut values = Vec::new();
        for v in &self.values {
            match v {
                Value::Array(a) => values.extend(a.iter()),
                Value::Object(m) => values.extend(m.values()),
                _ => {}
            }
        }
        ValueShape {
            values,
            sized: None,
        }
    }

    fn keys(&self) -> Self {
        let n = self
            .values
            .iter()
            .filter_map(|v| v.as_object())
            .flat_map(|m| m.keys())
            .map(|k| k.chars().count() as u64)
            .max()
            .unwrap_or(0);
        ValueShape::sized(n)
    }

    fn iter_var(&self) -> Self {
        if self.values.iter().any(|v| v.is_object()) {
            self.keys()
        } else {
            self.elems()
        }
    }

    fn size(&self) -> u64 {
        self.sized
            .unwrap_or_else(|| self.values.iter().map(|v| value_size(v)).max().unwrap_or(0))
    }

    fn sized(n: u64) -> Self {
        ValueShape {
            values: Vec::new(),
            sized: Some(n),
        }
    }
}

fn tenth(n: u64) -> u64 {
    n.div_ceil(10)
}

/// Estimates the cost of `e` with `vars` (`self`, `oldSelf`, comprehension variables) shaped as
/// given; returns the cost and the shape of the result.
pub fn estimate<S: Shape>(e: &Expression, vars: &mut Vec<(String, S)>) -> (u64, S) {
    match &e.expr {
        Expr::Unspecified | Expr::Struct(_) => (1, S::sized(0)),
        Expr::Literal(l) => {
            let n = match l {
                LiteralValue::String(s) => s.to_string().chars().count() as u64,
                LiteralValue::Bytes(b) => b.len() as u64,
                _ => 0,
            };
            (0, S::sized(n))
        }
        Expr::Ident(name) => {
            let shape = vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| S::sized(0));
            (1, shape)
        }
        Expr::Select(s) => {
            let (c, shape) = estimate(&s.operand, vars);
            (c.saturating_add(1), shape.select(&s.field))
        }
        Expr::List(l) => {
            let mut c: u64 = 10;
            for x in &l.elements {
                c = c.saturating_add(estimate(x, vars).0);
            }
            (c, S::sized(l.elements.len() as u64))
        }
        Expr::Map(m) => {
            let mut c: u64 = 30;
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    c = c
                        .saturating_add(estimate(&me.key, vars).0)
                        .saturating_add(estimate(&me.value, vars).0);
                }
            }
            (c, S::sized(m.entries.len() as u64))
        }
        Expr::Comprehension(comp) => {
            let (c_range, range) = estimate(&comp.iter_range, vars);
            let (c_init, init) = estimate(&comp.accu_init, vars);
            let n = range.size();
            let iter_shape = range.iter_var();
            vars.push((comp.iter_var.clone(), iter_shape));
            vars.push((comp.accu_var.clone(), init));
            let (c_cond, _) = estimate(&comp.loop_cond, vars);
            let (c_step, _) = estimate(&comp.loop_step, vars);
            let (c_result, _) = estimate(&comp.result, vars);
            vars.pop();
            vars.pop();
            let body = n.saturating_mul(c_cond.saturating_add(c_step));
            let cost = c_range
                .saturating_add(c_init)
                .saturating_add(body)
                .saturating_add(c_result);
            (cost, S::sized(n))
        }
        Expr::Call(call) => {
            let (c_target, target) = match &call.target {
                Some(t) => {
                    let (c, s) = estimate(t, vars);
                    (c, Some(s))
                }
                None => (0, None),
            };
            let mut c = c_target;
            let mut shapes = Vec::with_capacity(call.args.len());
            let mut arg_costs = Vec::with_capacity(call.args.len());
            for a in &call.args {
                let (ca, sa) = estimate(a, vars);
                arg_costs.push(ca);
                shapes.push(sa);
            }
            if call.func_name == "_?_:_" && arg_costs.len() == 3 {
                c = c
                    .saturating_add(arg_costs[0])
                    .saturating_add(arg_costs[1].max(arg_costs[2]));
                return (c, shapes[1].clone());
            }
            for ca in &arg_costs {
                c = c.saturating_add(*ca);
            }
            let size = |i: usize| shapes.get(i).map_or(0, Shape::size);
            let tsize = target.as_ref().map_or(0, Shape::size);
            let (call_cost, result) = match call.func_name.as_str() {
                "_==_" | "_!=_" => (1 + tenth(size(0).min(size(1))), S::sized(0)),
                "_<_" | "_<=_" | "_>_" | "_>=_" => (1 + tenth(size(0).min(size(1))), S::sized(0)),
                "_+_" => (
                    1 + size(0).saturating_add(size(1)),
                    S::sized(size(0).saturating_add(size(1))),
                ),
                "@in" => (1 + size(1), S::sized(0)),
                "_&&_" | "_||_" | "!_" | "@not_strictly_false" => (0, S::sized(0)),
                "_[_]" => (1, shapes.first().map_or_else(|| S::sized(0), Shape::elems)),
                "size" => (1, S::sized(0)),
                // Iterating the keys of a target has the target's cardinality.
                super::macros::KEYS => (1, shapes.first().cloned().unwrap_or_else(|| S::sized(0))),
                "matches" => {
                    let (s, re) = match &target {
                        Some(t) => (t.size(), size(0)),
                        None => (size(0), size(1)),
                    };
                    (
                        tenth(s).max(1).saturating_mul(re.div_ceil(4).max(1)),
                        S::sized(0),
                    )
                }
                "startsWith" | "endsWith" => (1 + tenth(size(0)), S::sized(0)),
                "contains" => (1 + tenth(tsize.saturating_mul(size(0))), S::sized(0)),
                "lowerAscii" | "upperAscii" | "trim" | "replace" | "split" | "substring"
                | "charAt" | "indexOf" | "lastIndexOf" | "format" | "join" | "reverse" | "find"
                | "findAll" => (1 + tenth(tsize), S::sized(tsize)),
                "sum" | "min" | "max" | "sort" | "isSorted" | "distinct" | "flatten" | "slice" => {
                    (1 + tsize.max(size(0)), S::sized(tsize.max(size(0))))
                }
                _ => (1, S::sized(0)),
            };
            (c.saturating_add(call_cost), result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::compile_node;
    use super::*;
    use kube_cel::cel::parser::Parser;
    use serde_json::json;

    fn static_cost(schema: Value, rule: &str) -> u64 {
        let node = compile_node(&schema, false);
        let expr = Parser::new().parse(rule).expect("parses");
        let mut vars = vec![("self".to_string(), SchemaShape::Node(&node))];
        estimate(&expr, &mut vars).0
    }

    #[test]
    fn bounded_is_cheap_unbounded_is_not() {
        let bounded =
            json!({"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10}});
        let unbounded = json!({"type": "array", "items": {"type": "string"}});
        let rule = "self.all(x, self.exists(y, x == y))";
        assert!(static_cost(bounded, rule) < 1_000);
        assert!(static_cost(unbounded, rule) > 1_000_000_000);
        assert!(static_cost(json!({"type": "integer"}), "self >= 1 && self <= 10") < 10);
    }

    #[test]
    fn runtime_uses_actual_sizes() {
        let expr = Parser::new()
            .parse("self.all(x, self.exists(y, x == y))")
            .expect("parses");
        let v = json!(["a", "b", "c"]);
        let mut vars = vec![("self".to_string(), ValueShape::of(&v))];
        assert!(estimate(&expr, &mut vars).0 < 100);
    }
}
