//! A type checker for rules, standing in for cel-go's (the `cel` crate only parses): it types
//! `self`/`oldSelf` from the schema and reports what kube-apiserver rejects at CRD time —
//! undeclared references, undefined fields, mismatched operator operands, rules that do not
//! evaluate to a bool, list-extension functions kube-apiserver 1.33 does not declare, and message
//! construction —
//! in cel-go's wording and `ERROR: <input>:line:col:` format. Anything it cannot type is `dyn`
//! and accepted, so a rule is not rejected here that cel-go accepts (except constructing cel-go's
//! `google.protobuf.*` wrapper messages, which the interpreter cannot evaluate).

use super::super::{Additional, Node};
use super::authz;
use super::macros;
use super::values::escape;
use kube_cel::cel::common::ast::{Expr, LiteralValue};
use kube_cel::cel::parser::Expression;
use std::collections::HashMap;

/// The type of an expression, as far as it is known.
#[derive(Debug, Clone)]
pub enum Ty<'a> {
    /// Unknown: anything goes.
    Dyn,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `uint`.
    Uint,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `null_type`.
    Null,
    /// `google.protobuf.Duration`.
    Duration,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `list(T)`.
    List(Box<Ty<'a>>),
    /// `map(string, V)`.
    Map(Box<Ty<'a>>),
    /// An object typed by a schema node.
    Object(&'a Node),
    /// The metadata of a resource root as rules see it (`name`, `generateName`).
    Meta,
    /// `optional(T)`.
    Optional(Box<Ty<'a>>),
    /// An object type declared with named fields (admission's `kubernetes.AdmissionRequest`,
    /// a policy's `kubernetes.variables`): selecting another field is `undefined field`.
    Record(std::sync::Arc<Record<'a>>),
}

/// The declaration of a [`Ty::Record`].
#[derive(Debug)]
pub struct Record<'a> {
    /// cel-go's name for the type (`kubernetes.AdmissionRequest`).
    pub name: &'static str,
    /// The fields and their types.
    pub fields: Vec<(String, Ty<'a>)>,
}

impl<'a> Ty<'a> {
    /// A record type named `name` with `fields`.
    pub fn record(name: &'static str, fields: Vec<(String, Ty<'a>)>) -> Ty<'a> {
        Ty::Record(std::sync::Arc::new(Record { name, fields }))
    }
}

impl Ty<'_> {
    /// cel-go's name for the type.
    pub fn name(&self) -> String {
        match self {
            Ty::Dyn => "dyn".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Uint => "uint".into(),
            Ty::Double => "double".into(),
            Ty::String => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Null => "null_type".into(),
            Ty::Duration => "google.protobuf.Duration".into(),
            Ty::Timestamp => "google.protobuf.Timestamp".into(),
            Ty::List(t) => format!("list({})", t.name()),
            Ty::Map(v) => format!("map(string, {})", v.name()),
            Ty::Object(_) | Ty::Meta => "object".into(),
            Ty::Optional(t) => format!("optional_type({})", t.name()),
            Ty::Record(r) => r.name.into(),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    fn is_scalar(&self) -> bool {
        matches!(
            self,
            Ty::Bool
                | Ty::Int
                | Ty::Uint
                | Ty::Double
                | Ty::String
                | Ty::Bytes
                | Ty::Duration
                | Ty::Timestamp
        )
    }
}

/// The type CEL gives values of schema `s`.
pub fn schema_ty(s: &Node) -> Ty<'_> {
    if s.int_or_string {
        return Ty::Dyn;
    }
    match s.type_.as_str() {
        "object" => {
            if !s.properties.is_empty() || s.resource_root {
                Ty::Object(s)
            } else {
                match &s.additional {
                    Some(Additional::Schema(a)) => Ty::Map(Box::new(schema_ty(a))),
                    _ if s.preserve_unknown => Ty::Dyn,
                    Some(Additional::Allows(true)) => Ty::Map(Box::new(Ty::Dyn)),
                    _ => Ty::Object(s),
                }
            }
        }
        "array" => Ty::List(Box::new(s.items.as_deref().map_or(Ty::Dyn, schema_ty))),
        // As apiserver's `SchemaDeclType`: the format as written decides.
        "string" => match s.format.as_str() {
            "date-time" | "date" => Ty::Timestamp,
            "duration" => Ty::Duration,
            "byte" => Ty::Bytes,
            _ => Ty::String,
        },
        "integer" => Ty::Int,
        "number" => Ty::Double,
        "boolean" => Ty::Bool,
        _ => Ty::Dyn,
    }
}

/// A type error found in a rule.
#[derive(Debug, Clone)]
pub struct Issue {
    /// The message.
    pub msg: String,
    /// Where: the byte offset in the source, if known.
    pub offset: Option<usize>,
}

/// Namespaces of the Kubernetes CEL libraries' functions (`math.ceil(x)` parses as a call on `math`).
const NAMESPACES: &[&str] = &[
    "math",
    "optional",
    "sets",
    "strings",
    "base64",
    "format",
    "jsonpatch",
    "ip",
];

/// Functions the `cel` crate's libraries provide that kube-apiserver's CRD environment (as of
/// the version this server reports, 1.33) does not declare: cel-go's `ext.Lists` (`slice`,
/// `flatten`, `distinct`, `sort`, `sortBy`, `reverse`, `lists.range`) is enabled from 1.34 for
/// stored rules and from 1.35 for new ones; `reverse` of strings is `ext.Strings` version 3
/// (kube-apiserver enables version 2).
const UNDECLARED_MEMBER_FUNCTIONS: &[&str] = &[
    "slice", "flatten", "distinct", "sort", "sortBy", "reverse", "range",
];

/// Which environment an expression is checked in: the libraries kube-apiserver declares differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// A CRD's `x-kubernetes-validations`: no `authorizer` library.
    CustomResource,
    /// Admission expressions (policies, `matchConditions`): with the `authorizer` library.
    Admission,
}

struct Checker<'a, 's> {
    src: &'s str,
    library: Library,
    vars: Vec<HashMap<String, Ty<'a>>>,
    issues: Vec<Issue>,
    /// Integer literals compared for equality with doubles (cel-go's equality is heterogeneous,
    /// the `cel` crate's is not: they are made doubles).
    promote: Vec<u64>,
}

/// Checks `expr` in `library`'s environment with the given variables; returns the expression's
/// type and the issues.
pub fn check<'a>(
    expr: &mut Expression,
    src: &str,
    vars: HashMap<String, Ty<'a>>,
    library: Library,
) -> (Ty<'a>, Vec<Issue>) {
    let mut c = Checker {
        src,
        library,
        vars: vec![vars],
        issues: Vec::new(),
        promote: Vec::new(),
    };
    let t = c.expr(expr);
    if !c.promote.is_empty() {
        promote_literals(expr, &c.promote);
    }
    (t, c.issues)
}

/// Turns the integer literals with ids in `ids` into doubles.
fn promote_literals(e: &mut Expression, ids: &[u64]) {
    use kube_cel::cel::common::ast::EntryExpr;
    if ids.contains(&e.id)
        && let Expr::Literal(LiteralValue::Int(i)) = &e.expr
    {
        let v = *i.inner() as f64;
        e.expr = Expr::Literal(LiteralValue::Double(v.into()));
        return;
    }
    match &mut e.expr {
        Expr::Select(s) => promote_literals(&mut s.operand, ids),
        Expr::Call(c) => {
            if let Some(t) = c.target.as_deref_mut() {
                promote_literals(t, ids);
            }
            for a in &mut c.args {
                promote_literals(a, ids);
            }
        }
        Expr::List(l) => {
            for x in &mut l.elements {
                promote_literals(x, ids);
            }
        }
        Expr::Map(m) => {
            for entry in &mut m.entries {
                if let EntryExpr::MapEntry(me) = &mut entry.expr {
                    promote_literals(&mut me.key, ids);
                    promote_literals(&mut me.value, ids);
                }
            }
        }
        Expr::Comprehension(c) => {
            for x in [
                &mut c.iter_range,
                &mut c.accu_init,
                &mut c.loop_cond,
                &mut c.loop_step,
                &mut c.result,
            ] {
                promote_literals(x, ids);
            }
        }
        _ => {}
    }
}

/// The byte offset of the first `.field` selection in `src` (the position cel-go reports).
fn find_select(src: &str, field: &str) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = 0;
    while let Some(pos) = src[i..].find('.') {
        let dot = i + pos;
        let mut j = dot + 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if src[j..].starts_with(field) {
            let end = j + field.len();
            if end == b.len() || !(b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                return Some(dot);
            }
        }
        i = dot + 1;
    }
    None
}

/// The byte offset of the first free occurrence of identifier `name` in `src`.
fn find_ident(src: &str, name: &str) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = super::past_string_literal(b, i);
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let prev = src[..start].trim_end().as_bytes().last().copied();
            if &src[start..i] == name && prev != Some(b'.') {
                return Some(start);
            }
            continue;
        }
        i += 1;
    }
    None
}

/// The byte offset of the `(` of the first member call `.name(` in `src` (where cel-go
/// positions a call).
fn find_call(src: &str, name: &str) -> Option<usize> {
    let dot = find_select(src, name)?;
    let after = dot + 1 + src[dot + 1..].find(name)? + name.len();
    let paren = src[after..].find('(')?;
    Some(after + paren)
}

/// The byte offset of the first occurrence of operator `op`.
fn find_op(src: &str, op: &str) -> Option<usize> {
    src.find(op)
}

impl<'a> Checker<'a, '_> {
    fn lookup(&self, name: &str) -> Option<Ty<'a>> {
        self.vars.iter().rev().find_map(|s| s.get(name).cloned())
    }

    fn issue(&mut self, msg: String, offset: Option<usize>) {
        self.issues.push(Issue { msg, offset });
    }

    fn select(&mut self, operand: Ty<'a>, field: &str, test: bool) -> Ty<'a> {
        let out = match &operand {
            Ty::Dyn => Some(Ty::Dyn),
            Ty::Map(v) => Some((**v).clone()),
            Ty::Meta => match field {
                "name" | "generateName" => Some(Ty::String),
                _ => None,
            },
            Ty::Object(node) => {
                if node.resource_root && (field == "apiVersion" || field == "kind") {
                    Some(Ty::String)
                } else if node.resource_root && field == "metadata" {
                    Some(Ty::Meta)
                } else if let Some((_, p)) = node
                    .properties
                    .iter()
                    .find(|(k, _)| escape(k).as_deref() == Some(field))
                {
                    Some(schema_ty(p))
                } else if node.properties.is_empty() && node.preserve_unknown {
                    Some(Ty::Dyn)
                } else {
                    None
                }
            }
            Ty::Record(r) => r
                .fields
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, t)| t.clone()),
            Ty::Optional(inner) => {
                return Ty::Optional(Box::new(self.select((**inner).clone(), field, test)));
            }
            t if t.is_scalar() || matches!(t, Ty::List(_) | Ty::Null) => {
                self.issue(
                    format!("type '{}' does not support field selection", t.name()),
                    find_select(self.src, field),
                );
                return Ty::Dyn;
            }
            _ => Some(Ty::Dyn),
        };
        match out {
            Some(t) if test => {
                let _ = t;
                Ty::Bool
            }
            Some(t) => t,
            None => {
                self.issue(
                    format!("undefined field '{field}'"),
                    find_select(self.src, field),
                );
                Ty::Dyn
            }
        }
    }

    fn elem_of(t: &Ty<'a>) -> Ty<'a> {
        match t {
            Ty::List(e) => (**e).clone(),
            Ty::Map(_) | Ty::Object(_) | Ty::Meta | Ty::Record(_) => Ty::String,
            _ => Ty::Dyn,
        }
    }

    fn expr(&mut self, e: &Expression) -> Ty<'a> {
        match &e.expr {
            Expr::Unspecified => {
                self.issue("unsupported expression".into(), None);
                Ty::Dyn
            }
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::UInt(_) => Ty::Uint,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::Null => Ty::Null,
            },
            Expr::Ident(name) => match self.lookup(name) {
                Some(t) => t,
                None => {
                    self.issue(
                        format!("undeclared reference to '{name}' (in container '')"),
                        find_ident(self.src, name),
                    );
                    Ty::Dyn
                }
            },
            Expr::Select(s) => {
                let operand = self.expr(&s.operand);
                self.select(operand, &s.field, s.test)
            }
            Expr::List(l) => {
                let mut elem: Option<Ty<'a>> = None;
                for x in &l.elements {
                    let t = self.expr(x);
                    elem = Some(match elem {
                        None => t,
                        Some(prev) if prev.name() == t.name() => prev,
                        Some(_) => Ty::Dyn,
                    });
                }
                Ty::List(Box::new(elem.unwrap_or(Ty::Dyn)))
            }
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let kube_cel::cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        self.expr(&me.key);
                        self.expr(&me.value);
                    }
                }
                Ty::Map(Box::new(Ty::Dyn))
            }
            // Kubernetes declares no message types: `Foo{a: 1}` names an undeclared type.
            Expr::Struct(st) => {
                for entry in &st.entries {
                    if let kube_cel::cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        self.expr(&f.value);
                    }
                }
                self.issue(
                    format!(
                        "undeclared reference to '{}' (in container '')",
                        st.type_name
                    ),
                    self.src.find(st.type_name.as_str()),
                );
                Ty::Dyn
            }
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let init = self.expr(&c.accu_init);
                let mut scope = HashMap::new();
                scope.insert(c.iter_var.clone(), Self::elem_of(&range));
                if let Some(v2) = &c.iter_var2 {
                    scope.insert(v2.clone(), Ty::Dyn);
                }
                scope.insert(c.accu_var.clone(), init);
                self.vars.push(scope);
                self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                if let Some(top) = self.vars.last_mut() {
                    // map/filter/transformList accumulate lists, transformMap maps, whose
                    // element type the step decides.
                    if matches!(step, Ty::List(_) | Ty::Map(_)) {
                        top.insert(c.accu_var.clone(), step);
                    }
                }
                let result = self.expr(&c.result);
                self.vars.pop();
                result
            }
            Expr::Call(call) => self.call(call),
        }
    }

    fn call(&mut self, call: &kube_cel::cel::common::ast::CallExpr) -> Ty<'a> {
        let f = call.func_name.as_str();
        // Namespaced library functions: `math.ceil(x)` is a call of `ceil` on `math`.
        let target = match &call.target {
            Some(t) => match &t.expr {
                Expr::Ident(ns)
                    if NAMESPACES.contains(&ns.as_str()) && self.lookup(ns).is_none() =>
                {
                    None
                }
                _ => Some(self.expr(t)),
            },
            None => None,
        };
        let args: Vec<Ty<'a>> = call.args.iter().map(|a| self.expr(a)).collect();
        if call.target.is_some()
            && (UNDECLARED_MEMBER_FUNCTIONS.contains(&f)
                || self.library == Library::CustomResource && authz::FUNCTIONS.contains(&f))
        {
            self.issue(
                format!("undeclared reference to '{f}' (in container '')"),
                find_call(self.src, f),
            );
            return Ty::Dyn;
        }
        let binary = |name: &str| -> Option<&'static str> {
            Some(match name {
                "_==_" => "==",
                "_!=_" => "!=",
                "_<_" => "<",
                "_<=_" => "<=",
                "_>_" => ">",
                "_>=_" => ">=",
                "_+_" => "+",
                "_-_" => "-",
                "_*_" => "*",
                "_/_" => "/",
                "_%_" => "%",
                _ => return None,
            })
        };
        if let Some(op) = binary(f)
            && let [a, b] = args.as_slice()
        {
            if matches!(op, "==" | "!=") {
                for (lit, other) in [(&call.args[0], b), (&call.args[1], a)] {
                    if matches!(other, Ty::Double)
                        && matches!(lit.expr, Expr::Literal(LiteralValue::Int(_)))
                    {
                        self.promote.push(lit.id);
                    }
                }
            }
            return self.binary(f, op, a, b);
        }
        match f {
            "_&&_" | "_||_" | "!_" | "@not_strictly_false" | "@in" => Ty::Bool,
            "-_" => args.first().cloned().unwrap_or(Ty::Dyn),
            "_?_:_" => match (args.get(1), args.get(2)) {
                (Some(a), Some(b)) if a.name() == b.name() => a.clone(),
                _ => Ty::Dyn,
            },
            "_[_]" => match args.as_slice() {
                [Ty::List(e), _] => (**e).clone(),
                [Ty::Map(v), _] => (**v).clone(),
                [Ty::Optional(_), _] => Ty::Dyn,
                _ => Ty::Dyn,
            },
            "_?._" | "_[?_]" => Ty::Optional(Box::new(Ty::Dyn)),
            macros::KEYS => match args.first() {
                Some(Ty::List(_)) => Ty::List(Box::new(Ty::Int)),
                Some(Ty::Map(_) | Ty::Object(_) | Ty::Meta | Ty::Record(_)) => {
                    Ty::List(Box::new(Ty::String))
                }
                Some(t) if t.is_scalar() || matches!(t, Ty::Null | Ty::Optional(_)) => {
                    self.issue(
                        format!(
                            "expression of type '{}' cannot be range of a comprehension (must be list, map, or dynamic)",
                            t.name()
                        ),
                        None,
                    );
                    Ty::List(Box::new(Ty::Dyn))
                }
                _ => Ty::List(Box::new(Ty::Dyn)),
            },
            macros::MAP_INSERT => match args.as_slice() {
                [_, _, value] => Ty::Map(Box::new(value.clone())),
                [_, Ty::Map(v)] => Ty::Map(v.clone()),
                _ => Ty::Map(Box::new(Ty::Dyn)),
            },
            "size" => Ty::Int,
            "matches" | "startsWith" | "endsWith" | "contains" | "hasValue" | "exists" | "all"
            | "exists_one" => Ty::Bool,
            "string" | "lowerAscii" | "upperAscii" | "trim" | "replace" | "substring"
            | "charAt" | "join" | "format" | "quote" | "getScheme" | "getHost" | "getHostname"
            | "getPort" | "getEscapedPath" | "find" => Ty::String,
            "int" | "indexOf" | "lastIndexOf" | "major" | "minor" | "patch" | "compareTo"
            | "asInteger" | "sign" | "family" | "prefixLength" => Ty::Int,
            "uint" => Ty::Uint,
            "double" | "asApproximateFloat" => Ty::Double,
            "bytes" => Ty::Bytes,
            "duration" => Ty::Duration,
            "timestamp" => Ty::Timestamp,
            "split" | "findAll" => Ty::List(Box::new(Ty::String)),
            "value" | "orValue" => match target {
                Some(Ty::Optional(inner)) => *inner,
                _ => Ty::Dyn,
            },
            "of" | "none" | "ofNonZeroValue" | "or" | "first" | "last" => {
                Ty::Optional(Box::new(Ty::Dyn))
            }
            f if f.starts_with("is") => Ty::Bool,
            _ => Ty::Dyn,
        }
    }

    fn binary(&mut self, f: &str, op: &str, a: &Ty<'a>, b: &Ty<'a>) -> Ty<'a> {
        let comparison = matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=");
        let compatible = !a.is_scalar()
            || !b.is_scalar()
            || a.name() == b.name()
            || match op {
                // Numbers compare across types (and equality is decided at runtime).
                "==" | "!=" | "<" | "<=" | ">" | ">=" => a.is_numeric() && b.is_numeric(),
                "+" => matches!(
                    (a, b),
                    (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp)
                ),
                "-" => matches!((a, b), (Ty::Timestamp, Ty::Duration)),
                _ => false,
            };
        if !compatible {
            self.issue(
                format!(
                    "found no matching overload for '{f}' applied to '({}, {})'",
                    a.name(),
                    b.name()
                ),
                find_op(self.src, op),
            );
            return if comparison { Ty::Bool } else { Ty::Dyn };
        }
        if comparison {
            return Ty::Bool;
        }
        match (a, b) {
            (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => Ty::Timestamp,
            (Ty::Timestamp, Ty::Timestamp) => Ty::Duration,
            (Ty::List(x), Ty::List(y)) if matches!(**x, Ty::Dyn) => Ty::List(y.clone()),
            (Ty::List(x), Ty::List(_)) => Ty::List(x.clone()),
            (x, y) if x.name() == y.name() && x.is_scalar() => x.clone(),
            _ => Ty::Dyn,
        }
    }
}

/// Renders issues as cel-go's `Issues.String()`.
pub fn render(src: &str, issues: &[(String, Option<usize>)]) -> String {
    let mut parts = Vec::new();
    for (msg, offset) in issues {
        match offset {
            Some(off) => {
                let before = &src[..(*off).min(src.len())];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let col = src[line_start..(*off).min(src.len())].chars().count();
                let text = src[line_start..].lines().next().unwrap_or("");
                parts.push(format!(
                    "ERROR: <input>:{line}:{}: {msg}\n | {text}\n | {}^",
                    col + 1,
                    ".".repeat(col)
                ));
            }
            None => parts.push(format!("ERROR: <input>:-1:0: {msg}")),
        }
    }
    parts.join("\n")
}
