//! Field paths and field sets, as server-side apply tracks ownership.
//!
//! A [`Path`] names one field of an object: struct and map fields by name, items of
//! associative lists by their keys (`k:{"name":"nginx"}`) or, for sets, by value (`v:"a"`), and
//! (rarely) items of other lists by index. A [`Set`] is a set of paths, serialized as the
//! `FieldsV1` of a `managedFields` entry the way upstream structured-merge-diff encodes it:
//! nested objects keyed by `f:`, `k:`, `v:` and `i:` elements, with `.` marking a node that is
//! itself a member when it also has children.
//!
//! What a path means depends on the type of the object: [`Schema`] describes, for built-in
//! types (from their k8s-openapi schema plus upstream's list and map markers) and for custom
//! resources (from the CRD schema), which lists are atomic, sets or maps keyed by which fields,
//! and which structs and maps are atomic. [`typed`] has the operations server-side apply builds
//! on: the field set of a value, merging an applied configuration into a live object,
//! comparing two objects and removing fields.

mod managers;
pub mod markers;
mod schema;
mod set;
pub mod typed;

pub use managers::{Entry, ManagedFields, Operation, Scope, strip_system};
pub use schema::{Atom, DEDUCED, ListKind, ListType, MapType, Schema, TypeRef};
pub use set::Set;

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// One step of a path.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of a struct or a key of a map (`f:name`).
    Field(String),
    /// An item of an associative list, by its key fields sorted by name (`k:{"name":"a"}`).
    Key(Vec<(String, Value)>),
    /// An item of a set, by value (`v:"a"`).
    Value(Value),
    /// An item of a list, by index (`i:0`).
    Index(usize),
}

impl PathElement {
    /// A field element.
    pub fn field(name: impl Into<String>) -> Self {
        PathElement::Field(name.into())
    }

    /// A key element; the fields are sorted by name.
    pub fn key(mut fields: Vec<(String, Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The element as a `FieldsV1` key (`f:data`, `k:{"name":"a"}`, `v:"x"`, `i:0`).
    pub fn serialize(&self) -> String {
        match self {
            PathElement::Field(name) => {
                let mut out = String::with_capacity(name.len() + 2);
                out.push_str("f:");
                out.push_str(name);
                out
            }
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json(&Value::String(name.clone()), &mut out);
                    out.push(':');
                    write_json(value, &mut out);
                }
                out.push('}');
                out
            }
            PathElement::Value(v) => {
                let mut out = String::from("v:");
                write_json(v, &mut out);
                out
            }
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key. `Ok(None)` for element types this server does not know (they
    /// are skipped, as upstream skips them).
    pub fn parse(s: &str) -> Result<Option<Self>, String> {
        if s.len() < 2 {
            return Err(format!("key must be 2 characters long: {s:?}"));
        }
        let (kind, rest) = s.split_at(2);
        let Some(kind) = kind.strip_suffix(':') else {
            return Err(format!("missing colon: {s}"));
        };
        match kind {
            "f" => Ok(Some(PathElement::Field(rest.to_string()))),
            "v" => serde_json::from_str(rest)
                .map(|v| Some(PathElement::Value(v)))
                .map_err(|e| format!("{s}: {e}")),
            "k" => {
                let Value::Object(map) =
                    serde_json::from_str::<Value>(rest).map_err(|e| format!("{s}: {e}"))?
                else {
                    return Err(format!("{s}: a key must be a JSON object"));
                };
                Ok(Some(PathElement::key(map.into_iter().collect())))
            }
            "i" => rest
                .parse::<usize>()
                .map(|i| Some(PathElement::Index(i)))
                .map_err(|e| format!("{s}: {e}")),
            _ => Ok(None),
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Upstream's order: fields, then keys, then values, then indices.
impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// As upstream prints path elements: `.name`, `[name="a",port=80]`, `[="x"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", value_string(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(v) => write!(f, "[={}]", value_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the root of an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names, e.g. `Path::fields(&["data", "key"])`.
    pub fn fields(names: &[&str]) -> Self {
        Path(names.iter().map(|n| PathElement::field(*n)).collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// A total order on values, as upstream orders them: numbers (compared numerically), strings,
/// booleans, lists, maps, null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                fx.partial_cmp(&fy).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = compare_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let c = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// A value as upstream prints it in paths: strings quoted, everything else as is.
fn value_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value_string).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", value_string(v)))
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// A string quoted as Go's `%q` quotes it (for the printable ASCII most keys are made of).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// JSON as Go's encoding/json writes it (HTML characters and U+2028/9 escaped), which is what
/// `k:` and `v:` path elements contain.
fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(&Value::String(k.clone()), out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn path_elements_serialize_parse_and_print_like_upstream() {
        let key = PathElement::key(vec![
            ("protocol".into(), json!("TCP")),
            ("containerPort".into(), json!(80)),
        ]);
        assert_eq!(
            key.serialize(),
            r#"k:{"containerPort":80,"protocol":"TCP"}"#
        );
        assert_eq!(key.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        assert_eq!(
            PathElement::parse(&key.serialize()).expect("parses"),
            Some(key.clone())
        );
        let v = PathElement::Value(json!("a<b"));
        assert_eq!(v.serialize(), r#"v:"a\u003cb""#);
        assert_eq!(PathElement::parse(&v.serialize()).expect("v"), Some(v));
        assert_eq!(PathElement::Index(3).serialize(), "i:3");
        assert_eq!(
            PathElement::parse("i:3").expect("i"),
            Some(PathElement::Index(3))
        );
        assert_eq!(PathElement::parse("x:whatever").expect("unknown"), None);
        assert!(PathElement::parse("f").is_err());
        assert!(PathElement::parse("fx").is_err());
        assert!(PathElement::parse("k:[1]").is_err());
        let path = Path(vec![
            PathElement::field("spec"),
            PathElement::field("containers"),
            PathElement::key(vec![("name".into(), json!("nginx"))]),
            PathElement::field("image"),
        ]);
        assert_eq!(path.to_string(), r#".spec.containers[name="nginx"].image"#);
        assert_eq!(
            Path(vec![
                PathElement::field("finalizers"),
                PathElement::Value(json!("x"))
            ])
            .to_string(),
            r#".finalizers[="x"]"#
        );
    }

    #[test]
    fn elements_order_fields_keys_values_indices() {
        let mut v = [
            PathElement::Index(0),
            PathElement::Value(json!("b")),
            PathElement::Value(json!(1)),
            PathElement::key(vec![("name".into(), json!("b"))]),
            PathElement::key(vec![("name".into(), json!("a"))]),
            PathElement::field("z"),
            PathElement::field("a"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(PathElement::serialize).collect();
        assert_eq!(
            s,
            vec![
                "f:a",
                "f:z",
                r#"k:{"name":"a"}"#,
                r#"k:{"name":"b"}"#,
                "v:1",
                r#"v:"b""#,
                "i:0"
            ]
        );
        // Ints and floats compare numerically.
        assert_eq!(compare_values(&json!(2), &json!(10.5)), Ordering::Less);
    }
}
