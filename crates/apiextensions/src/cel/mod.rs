//! `x-kubernetes-validations`: CEL rules, compiled once per CRD version and evaluated like
//! apiextensions-apiserver's `schema/cel` validator.
//!
//! Parsing and evaluation use the `cel` crate with kube-cel's Kubernetes libraries (strings,
//! lists, sets, regex, URLs, IP/CIDR, quantities, semver, format, math, base64, jsonpatch);
//! `ip.rs` brings IP/CIDR parsing and its errors in line with kube-apiserver's library;
//! `macros.rs` expands cel-go's two-variable comprehensions, which the parser leaves as calls;
//! `check.rs` types rules against the schema (cel-go's compile errors) and `cost.rs` estimates
//! their cost (the CRD-time limits, and the per-call limit and per-object budget at runtime).
//!
//! At runtime, as upstream: rules of a node run when its value is present and not null, with
//! `self` (and `oldSelf` on update, where the old value correlates) bound; transition rules
//! (using `oldSelf`) are skipped without an old value unless `optionalOldSelf` is set; a failing
//! rule reports `message`, or `messageExpression`'s result, or `failed rule: <rule>`, at the
//! node's path (plus `fieldPath`), with the error type chosen by `reason`; failures of rules that
//! do not use `oldSelf` on unchanged values are ratcheted away.

pub mod authz;
pub mod check;
pub mod cost;
pub mod expression;
pub mod ip;
pub mod limits;
pub mod macros;
pub mod stack;
pub mod values;

use super::field::{self, Bad};
use super::{Additional, Node, ratcheting};
use crate::FieldCause;
use check::Ty;
use kube_cel::KubeCelExt;
use kube_cel::cel::common::ast::Expr;
use kube_cel::cel::parser::{Expression, Parser};
use kube_cel::cel::{Context, ExecutionError, Value as Cel};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Upstream's per-call cost limit.
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// Upstream's cost budget for all the rules of one object.
pub const RUNTIME_COST_BUDGET: i64 = 10_000_000;
/// Upstream's limit on one rule's estimated cost.
pub const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// Upstream's limit on the estimated cost of all rules of a schema.
pub const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;
/// Rules estimated to cost at most this are charged the estimate instead of being measured
/// against the object (measuring would cost more than the rule).
const CHEAP_RULE_COST: u64 = 100;
/// The `cel` parser's recursion limit, above what [`limits::check`] lets through.
const PARSER_RECURSION_DEPTH: u16 = limits::MAX_RECURSION_DEPTH as u16 + 50;
/// Upstream's limit on a messageExpression's result.
const MAX_MESSAGE_EXPRESSION_BYTES: usize = 5 * 1024;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule object as written (shown in CRD validation errors).
    pub raw: Value,
    /// `rule`.
    pub rule: String,
    /// `message`.
    pub message: String,
    /// `messageExpression`.
    pub message_expression: String,
    /// `reason`.
    pub reason: Option<String>,
    /// `fieldPath`.
    pub field_path: String,
    /// `optionalOldSelf`.
    pub optional_old_self: Option<bool>,
    /// The program (`None`: empty rule), or cel-go's compile error.
    pub program: Option<Result<Expression, String>>,
    /// The messageExpression's program, or its compile error.
    pub message_program: Option<Result<Expression, String>>,
    /// Whether the rule uses `oldSelf` (a transition rule).
    pub uses_old_self: bool,
    /// `fieldPath` as a field path (when it is valid).
    pub normalized_field_path: Option<String>,
    /// The estimated maximum cost of one evaluation (schema sizes).
    pub max_cost: u64,
    /// The estimated maximum cost of the messageExpression.
    pub message_max_cost: u64,
    /// An upper bound of the nesting of the rule and its messageExpression
    /// ([`limits::check`]): how much stack compiling and evaluating them may need.
    pub depth: usize,
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn parse(src: &str) -> Result<Expression, String> {
    Parser::new()
        .enable_optional_syntax(true)
        // `limits::check` has bounded the nesting already; the parser's own limit (96 by
        // default, and buggy when hit) must never fire before cel-go's.
        .max_recursion_depth(PARSER_RECURSION_DEPTH)
        .parse(src)
        .map_err(|errs| {
            let issues: Vec<(String, usize, usize)> = errs
                .errors
                .iter()
                .map(|e| {
                    (
                        e.msg.clone(),
                        e.pos.0.max(1) as usize,
                        e.pos.1.max(1) as usize,
                    )
                })
                .collect();
            render_issues(src, &issues)
        })
}

/// cel-go's rendering of an issue without a location (`common.NoLocation`), as its parser
/// reports a limit: `ERROR: <input>:-1:0: msg`, no source line.
fn render_unlocated(msg: &str) -> String {
    format!("ERROR: <input>:-1:0: {msg}")
}

/// cel-go's `Issues.String()`: `ERROR: <input>:line:col: msg`, the source line, a caret.
fn render_issues(src: &str, issues: &[(String, usize, usize)]) -> String {
    issues
        .iter()
        .map(|(msg, line, col)| {
            let text = src.split('\n').nth(line - 1).unwrap_or("");
            format!(
                "ERROR: <input>:{line}:{col}: {msg}\n | {text}\n | {}^",
                ".".repeat(col - 1)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

fn uses_ident(e: &Expression, name: &str) -> bool {
    match &e.expr {
        Expr::Ident(n) => n == name,
        Expr::Select(s) => uses_ident(&s.operand, name),
        Expr::Call(c) => {
            c.target.as_deref().is_some_and(|t| uses_ident(t, name))
                || c.args.iter().any(|a| uses_ident(a, name))
        }
        Expr::List(l) => l.elements.iter().any(|x| uses_ident(x, name)),
        Expr::Map(m) => m.entries.iter().any(|entry| match &entry.expr {
            kube_cel::cel::common::ast::EntryExpr::MapEntry(me) => {
                uses_ident(&me.key, name) || uses_ident(&me.value, name)
            }
            _ => false,
        }),
        Expr::Comprehension(c) => {
            uses_ident(&c.iter_range, name)
                || uses_ident(&c.accu_init, name)
                || uses_ident(&c.loop_cond, name)
                || uses_ident(&c.loop_step, name)
                || uses_ident(&c.result, name)
        }
        _ => false,
    }
}

fn variables<'a>(node: &'a Node, optional_old_self: bool) -> HashMap<String, Ty<'a>> {
    let self_ty = check::schema_ty(node);
    let old_ty = if optional_old_self {
        Ty::Optional(Box::new(self_ty.clone()))
    } else {
        self_ty.clone()
    };
    HashMap::from([
        ("self".to_string(), self_ty),
        ("oldSelf".to_string(), old_ty),
    ])
}

/// Parses and checks one expression; `want` is the type it must have.
fn compile_expr(
    src: &str,
    node: &Node,
    optional_old_self: bool,
    want: &str,
) -> Result<Expression, (bool, String)> {
    // cel-go's parser limits, before anything recurses over the expression.
    limits::check(src).map_err(|e| (true, render_unlocated(&e)))?;
    let mut expr = parse(src).map_err(|e| (true, e))?;
    macros::expand(&mut expr, src).map_err(|errs| {
        let rendered: Vec<(String, usize, usize)> = errs
            .into_iter()
            .map(|e| {
                let (line, col) = e.offset.map_or((1, 1), |o| line_col(src, o));
                (e.msg, line, col)
            })
            .collect();
        (true, render_issues(src, &rendered))
    })?;
    let (ty, issues) = check::check(
        &mut expr,
        src,
        variables(node, optional_old_self),
        check::Library::CustomResource,
    );
    if !issues.is_empty() {
        let mut rendered: Vec<(String, usize, usize)> = issues
            .into_iter()
            .map(|i| {
                let (line, col) = i.offset.map_or((1, 1), |o| line_col(src, o));
                (i.msg, line, col)
            })
            .collect();
        // cel-go lists issues in source order.
        rendered.sort_by_key(|(_, line, col)| (*line, *col));
        return Err((true, render_issues(src, &rendered)));
    }
    let ok = match want {
        "bool" => matches!(ty, Ty::Bool | Ty::Dyn),
        _ => matches!(ty, Ty::String | Ty::Dyn),
    };
    if !ok {
        return Err((false, String::new()));
    }
    Ok(expr)
}

fn estimate_max(expr: &Expression, node: &Node) -> u64 {
    let shape = cost::SchemaShape::Node(node);
    let mut vars = vec![("self".to_string(), shape), ("oldSelf".to_string(), shape)];
    cost::estimate(expr, &mut vars).0
}

fn compile_rule(raw: &Value, node: &Node) -> Rule {
    let rule = str_of(raw, "rule");
    let message_expression = str_of(raw, "messageExpression");
    let optional_old_self = raw.get("optionalOldSelf").and_then(Value::as_bool);
    let field_path = str_of(raw, "fieldPath");
    let mut r = Rule {
        raw: raw.clone(),
        message: str_of(raw, "message"),
        reason: raw
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        normalized_field_path: if field_path.is_empty() {
            None
        } else {
            valid_field_path(&field_path, node, true)
                .ok()
                .map(|(p, _)| p)
        },
        field_path,
        optional_old_self,
        program: None,
        message_program: None,
        uses_old_self: false,
        max_cost: 0,
        message_max_cost: 0,
        depth: 0,
        rule,
        message_expression,
    };
    if r.rule.trim().is_empty() {
        return r;
    }
    // Over the limits, compilation fails at once (in `compile_expr`); within them, it gets the
    // stack the nesting needs.
    r.depth = [&r.rule, &r.message_expression]
        .iter()
        .filter_map(|src| limits::check(src).ok())
        .max()
        .unwrap_or(0);
    stack::for_compile(r.depth, || compile_program(&mut r, node));
    r
}

/// Compiles the rule and messageExpression of `r` (set up by `compile_rule`).
fn compile_program(r: &mut Rule, node: &Node) {
    let optional_old_self = r.optional_old_self;
    let optional = optional_old_self == Some(true);
    r.program = Some(match compile_expr(&r.rule, node, optional, "bool") {
        Ok(expr) => {
            r.uses_old_self = uses_ident(&expr, "oldSelf");
            r.max_cost = estimate_max(&expr, node);
            Ok(expr)
        }
        Err((true, e)) => Err(format!("compilation failed: {e}")),
        Err((false, _)) => Err("cel expression must evaluate to a bool".to_string()),
    });
    if r.program.as_ref().is_some_and(|p| p.is_ok()) && !r.message_expression.is_empty() {
        r.message_program = Some(
            match compile_expr(&r.message_expression, node, optional, "string") {
                Ok(expr) => {
                    r.message_max_cost = estimate_max(&expr, node);
                    Ok(expr)
                }
                Err((true, e)) => Err(format!("messageExpression compilation failed: {e}")),
                Err((false, _)) => Err("messageExpression must evaluate to a string".to_string()),
            },
        );
    }
}

/// Compiles the `x-kubernetes-validations` of `node`.
pub fn compile_rules(raw: &[Value], node: &Node) -> Vec<Rule> {
    raw.iter().map(|r| compile_rule(r, node)).collect()
}

/// apiextensions' `ValidFieldPath`: a JSON path of field selections (`.a.b`, `['a.b']`) that
/// exists in `node`; returns it as a field path (`a.b`, `a[x]` for map keys) and its schema.
pub fn valid_field_path<'a>(
    path: &str,
    node: &'a Node,
    allow_array_notation: bool,
) -> Result<(String, &'a Node), String> {
    let mut tokens = Vec::new();
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' | b'[' | b']' => {
                tokens.push(path[i..i + 1].to_string());
                i += 1;
            }
            b'\'' => {
                let start = i;
                i += 1;
                while i < b.len() && !(b[i] == b'\'' && b[i - 1] != b'\\') {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                tokens.push(path[start..i].to_string());
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b'.' | b'[' | b']') {
                    i += 1;
                }
                tokens.push(path[start..i].to_string());
            }
        }
    }
    let mut out = String::new();
    let mut schema = node;
    let mut toks = tokens.into_iter();
    let step = |name: &str, out: &mut String, schema: &mut &'a Node| -> Result<(), String> {
        if !schema.properties.is_empty() {
            let (_, p) = schema
                .properties
                .iter()
                .find(|(k, _)| k == name)
                .ok_or("does not refer to a valid field")?;
            *out = field::child(out, name);
            *schema = p;
        } else if let Some(Additional::Schema(a)) = &schema.additional {
            *out = field::key(out, name);
            *schema = a;
        } else {
            return Err("does not refer to a valid field".into());
        }
        Ok(())
    };
    while let Some(tok) = toks.next() {
        match tok.as_str() {
            "[" => {
                if !allow_array_notation {
                    return Err("array notation is not allowed".into());
                }
                let t = toks.next().ok_or("unexpected end of JSON path")?;
                if t.len() < 2 || !t.starts_with('\'') || !t.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {t}"));
                }
                let unescaped = unescape_single_quote(&t[1..t.len() - 1])
                    .map_err(|e| format!("invalid string literal: {e}"))?;
                step(&unescaped, &mut out, &mut schema)?;
                let close = toks.next().ok_or("unexpected end of JSON path")?;
                if close != "]" {
                    return Err(format!("expected ] but got {close}"));
                }
            }
            "." => {
                let t = toks.next().ok_or("unexpected end of JSON path")?;
                step(&t, &mut out, &mut schema)?;
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        }
    }
    Ok((out, schema))
}

fn unescape_single_quote(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('v') => out.push('\u{b}'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            Some(o) => return Err(format!("invalid escape char \\{o}")),
            None => return Err("invalid escape char \\".into()),
        }
    }
    Ok(out)
}

/// The function library CRD rules and admission expressions share.
fn library() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.register_all();
    // IP and CIDR parsing and parse errors as kube-apiserver's library has them.
    ip::register(&mut ctx);
    // CEL's size() of a string counts code points (the cel crate counts bytes).
    ctx.add_function("size", size);
    // matches(), find() and findAll() with RE2 semantics and the pattern limits, compiled
    // once per pattern.
    ctx.add_function("matches", matches);
    ctx.add_function("find", find);
    ctx.add_function("findAll", find_all);
    // What the two-variable comprehensions expand to.
    ctx.add_function(macros::KEYS, macros::keys);
    ctx.add_function(macros::MAP_INSERT, macros::map_insert);
    ctx
}

thread_local! {
    /// CRD rules' function library, built once per thread (a `Context` is not `Sync`).
    static BASE: Context<'static> = library();

    /// Admission expressions' library: CRD rules' plus the `authorizer` functions (receiver
    /// functions on its values), which CRD rules do not have.
    static ADMISSION: Context<'static> = {
        let mut ctx = library();
        authz::register(&mut ctx);
        ctx
    };

    /// Compiled patterns of `matches()`, `find()` and `findAll()`.
    static PATTERNS: std::cell::RefCell<HashMap<String, Result<regex::Regex, String>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// How many compiled patterns a thread keeps: rules use a handful of literals, and each compiled
/// pattern may hold up to a few times `pattern::SIZE_LIMIT` (program) and
/// `pattern::DFA_SIZE_LIMIT` (search cache).
const MAX_CACHED_PATTERNS: usize = 32;

/// Runs `f` on the compiled `pattern` (see `super::pattern`), compiling it at most once while it
/// stays in the thread's cache.
fn with_pattern<R>(
    ftx: &kube_cel::cel::FunctionContext,
    pattern: &str,
    f: impl FnOnce(&regex::Regex) -> R,
) -> Result<R, ExecutionError> {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) && cache.len() >= MAX_CACHED_PATTERNS {
            cache.clear();
        }
        let compiled = cache
            .entry(pattern.to_string())
            .or_insert_with(|| super::pattern::compile(pattern));
        match compiled {
            Ok(re) => Ok(f(re)),
            Err(e) => Err(ftx.error(e.clone())),
        }
    })
}

fn matches(
    ftx: &kube_cel::cel::FunctionContext,
    kube_cel::cel::extractors::This(this): kube_cel::cel::extractors::This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<bool, ExecutionError> {
    with_pattern(ftx, &pattern, |re| re.is_match(&this))
}

/// `<string>.find(<string>)`: the first match, or `''`.
fn find(
    ftx: &kube_cel::cel::FunctionContext,
    kube_cel::cel::extractors::This(this): kube_cel::cel::extractors::This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<Cel, ExecutionError> {
    with_pattern(ftx, &pattern, |re| {
        Cel::String(Arc::new(
            re.find(&this).map_or("", |m| m.as_str()).to_string(),
        ))
    })
}

/// `<string>.findAll(<string> [, <int>])`: every match, or the first `n` (all when `n < 0`).
fn find_all(
    ftx: &kube_cel::cel::FunctionContext,
    kube_cel::cel::extractors::This(this): kube_cel::cel::extractors::This<Arc<String>>,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<Cel, ExecutionError> {
    let Some(Cel::String(pattern)) = args.first() else {
        return Err(ftx.error("no such overload"));
    };
    let limit = match args.get(1) {
        None => usize::MAX,
        Some(Cel::Int(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
        Some(_) => return Err(ftx.error("no such overload")),
    };
    with_pattern(ftx, pattern, |re| {
        Cel::List(Arc::new(
            re.find_iter(&this)
                .take(limit)
                .map(|m| Cel::String(Arc::new(m.as_str().to_string())))
                .collect(),
        ))
    })
}

fn size(
    kube_cel::cel::extractors::This(this): kube_cel::cel::extractors::This<Cel>,
) -> Result<i64, ExecutionError> {
    Ok(match this {
        Cel::String(s) => s.chars().count() as i64,
        Cel::Bytes(b) => b.len() as i64,
        Cel::List(l) => l.len() as i64,
        Cel::Map(m) => m.map.len() as i64,
        other => {
            return Err(ExecutionError::function_error(
                "size",
                format!("cannot determine the size of {other:?}"),
            ));
        }
    })
}

/// Evaluates a compiled program. The checker rejects what the interpreter cannot evaluate
/// (message construction, unset expressions), but a panic in the interpreter or a library
/// function must still never take a request (or the server) down: it is an evaluation error.
fn evaluate(program: &Expression, activation: &Context<'_>) -> Result<Cel, ExecutionError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Cel::resolve(program, activation)
    }))
    .unwrap_or_else(|_| {
        Err(ExecutionError::function_error(
            "eval",
            "internal error evaluating the expression",
        ))
    })
}

/// cel-go's wording of a runtime error.
fn runtime_error(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        ExecutionError::NoSuchOverload
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::UnsupportedUnaryOperator(..)
        | ExecutionError::ValuesNotComparable(..) => "no such overload".into(),
        ExecutionError::DivisionByZero(_) => "division by zero".into(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".into(),
        ExecutionError::Overflow(..) => "integer overflow".into(),
        ExecutionError::IndexOutOfBounds(i) => format!("index out of bounds: {i:?}"),
        ExecutionError::FunctionError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn is_overload_error(e: &ExecutionError) -> bool {
    matches!(
        e,
        ExecutionError::NoSuchOverload
            | ExecutionError::UnsupportedBinaryOperator(..)
            | ExecutionError::UnsupportedUnaryOperator(..)
            | ExecutionError::ValuesNotComparable(..)
            | ExecutionError::UnexpectedType { .. }
            | ExecutionError::UnsupportedTargetType { .. }
            | ExecutionError::NotSupportedAsMethod { .. }
    )
}

/// Ratcheting state of the CEL walk (upstream `ratchetingOptions`): the old value correlated
/// with the current node, and the nearest correlated ancestor (new, old).
#[derive(Clone, Copy)]
struct Ratchet<'a> {
    current: Option<&'a Value>,
    nearest: Option<(&'a Value, &'a Value)>,
    at_root: bool,
}

impl<'a> Ratchet<'a> {
    fn key(self, node: &Node, new: &'a Value, k: &str) -> Ratchet<'a> {
        let Some(cur) = self.current else {
            return Ratchet {
                at_root: false,
                ..self
            };
        };
        if self.at_root && (k == "apiVersion" || k == "kind") {
            return Ratchet {
                current: None,
                nearest: None,
                at_root: false,
            };
        }
        Ratchet {
            current: ratcheting::key(node, Some(cur), k).filter(|_| new.get(k).is_some()),
            nearest: Some((new, cur)),
            at_root: false,
        }
    }

    fn item(self, node: &Node, new: &'a Value, item: &Value) -> Ratchet<'a> {
        let Some(cur) = self.current else {
            return self;
        };
        Ratchet {
            current: ratcheting::item(node, Some(cur), item),
            nearest: Some((new, cur)),
            at_root: false,
        }
    }

    fn should_ratchet(&self, v: &Value) -> bool {
        match self.current {
            Some(old) => old == v,
            None => self.nearest.is_some_and(|(n, o)| n == o),
        }
    }
}

struct Walk {
    budget: i64,
    out: Vec<FieldCause>,
}

/// Evaluates every rule in `obj` (a custom resource; `old` on update) within `budget`.
pub fn validate(root: &Node, obj: &Value, old: Option<&Value>, budget: i64) -> Vec<FieldCause> {
    validate_at(root, obj, old, "", budget)
}

/// Evaluates the rules of `node` and below for `obj` at field path `path`.
pub fn validate_at(
    node: &Node,
    obj: &Value,
    old: Option<&Value>,
    path: &str,
    budget: i64,
) -> Vec<FieldCause> {
    let mut w = Walk {
        budget,
        out: Vec::new(),
    };
    let ratchet = Ratchet {
        current: old,
        nearest: None,
        at_root: true,
    };
    BASE.with(|base| w.node(base, node, obj, old, path, ratchet));
    w.out
}

fn correlatable_map(node: &Node) -> bool {
    matches!(node.map_type.as_deref(), None | Some("granular" | "atomic"))
}

impl Walk {
    /// Walks `v`; returns false when evaluation must stop (budget exhausted).
    fn node(
        &mut self,
        base: &Context<'_>,
        s: &Node,
        v: &Value,
        old: Option<&Value>,
        path: &str,
        ratchet: Ratchet<'_>,
    ) -> bool {
        if v.is_null() || !s.has_rules {
            return true;
        }
        let old = old.filter(|o| !o.is_null());
        if !s.rules.is_empty() && !self.expressions(base, s, v, old, path, ratchet) {
            return false;
        }
        match v {
            Value::Array(items) => {
                if let Some(item_schema) = s.items.as_deref().filter(|i| i.has_rules) {
                    for (i, item) in items.iter().enumerate() {
                        let item_old = ratcheting::item(s, old, item);
                        if !self.node(
                            base,
                            item_schema,
                            item,
                            item_old,
                            &field::index(path, i),
                            ratchet.item(s, v, item),
                        ) {
                            return false;
                        }
                    }
                }
            }
            Value::Object(map) => {
                let correlatable = correlatable_map(s);
                if let Some(Additional::Schema(add)) = &s.additional
                    && add.has_rules
                {
                    for (k, child) in map {
                        let child_old = old.and_then(|o| o.get(k)).filter(|_| correlatable);
                        if !self.node(
                            base,
                            add,
                            child,
                            child_old,
                            &field::key(path, k),
                            ratchet.key(s, v, k),
                        ) {
                            return false;
                        }
                    }
                }
                for (k, child) in map {
                    if let Some(prop) = s.property(k).filter(|p| p.has_rules) {
                        let child_old = old.and_then(|o| o.get(k)).filter(|_| correlatable);
                        if !self.node(
                            base,
                            prop,
                            child,
                            child_old,
                            &field::child(path, k),
                            ratchet.key(s, v, k),
                        ) {
                            return false;
                        }
                    }
                }
            }
            _ => {}
        }
        true
    }

    fn expressions(
        &mut self,
        base: &Context<'_>,
        s: &Node,
        v: &Value,
        old: Option<&Value>,
        path: &str,
        ratchet: Ratchet<'_>,
    ) -> bool {
        let type_value = s.type_.as_str();
        if self.budget <= 0 {
            self.out.push(field::invalid(
                path,
                Bad::Str(type_value),
                "validation failed due to running out of cost budget, no further validation rules will be run",
            ));
            return false;
        }
        let self_val = values::to_cel(v, Some(s));
        let old_val = old.map(|o| values::to_cel(o, Some(s)));
        let mut ctx = base.new_inner_scope();
        ctx.add_variable_from_value("self", self_val.clone());
        if let Some(o) = &old_val {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        let mut optional_ctx = base.new_inner_scope();
        if s.rules.iter().any(|r| r.optional_old_self == Some(true)) {
            optional_ctx.add_variable_from_value("self", self_val);
            optional_ctx.add_variable_from_value(
                "oldSelf",
                Cel::Opaque(Arc::new(match &old_val {
                    Some(o) => kube_cel::cel::objects::OptionalValue::of(o.clone()),
                    None => kube_cel::cel::objects::OptionalValue::none(),
                })),
            );
        }
        for rule in &s.rules {
            let program = match &rule.program {
                None => continue,
                Some(Err(e)) => {
                    self.out.push(field::invalid(
                        path,
                        Bad::Str(type_value),
                        &format!("rule compile error: {e}"),
                    ));
                    continue;
                }
                Some(Ok(p)) => p,
            };
            let optional = rule.optional_old_self == Some(true);
            if rule.uses_old_self && old.is_none() && !optional {
                continue;
            }
            // Cheap rules are charged their (bounded) estimate; others what they would cost on
            // this object's actual sizes.
            let cost = if rule.max_cost <= CHEAP_RULE_COST {
                rule.max_cost
            } else {
                stack::for_eval(rule.depth, || runtime_cost(program, v, old))
            };
            if cost > PER_CALL_LIMIT {
                self.out.push(field::invalid(
                    path,
                    Bad::Str(type_value),
                    &format!("'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {}", rule_error_string(rule)),
                ));
                self.budget = -1;
                return false;
            }
            if cost as i64 > self.budget {
                self.out.push(field::invalid(
                    path,
                    Bad::Str(type_value),
                    "validation failed due to running out of cost budget, no further validation rules will be run",
                ));
                self.budget = -1;
                return false;
            }
            self.budget -= cost as i64;
            let activation = if optional { &optional_ctx } else { &ctx };
            match stack::for_eval(rule.depth, || evaluate(program, activation)) {
                Ok(Cel::Bool(true)) => continue,
                Ok(_) => {}
                Err(e) if is_overload_error(&e) => {
                    self.out.push(field::invalid(
                        path,
                        Bad::Str(type_value),
                        &format!("'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {}", rule_error_string(rule)),
                    ));
                    continue;
                }
                Err(e) => {
                    self.out.push(field::invalid(
                        path,
                        Bad::Str(type_value),
                        &format!(
                            "{} evaluating rule: {}",
                            runtime_error(&e),
                            rule_error_string(rule)
                        ),
                    ));
                    continue;
                }
            }
            let fpath = match &rule.normalized_field_path {
                Some(p) => field::child(path, p),
                None => path.to_string(),
            };
            let mut detail = None;
            if let Some(Ok(msg_program)) = &rule.message_program {
                let msg_cost = stack::for_eval(rule.depth, || runtime_cost(msg_program, v, old));
                if msg_cost as i64 > self.budget {
                    self.push_ratcheted(
                        rule,
                        ratchet,
                        v,
                        field::invalid(
                            &fpath,
                            Bad::Str(type_value),
                            "messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run",
                        ),
                    );
                    self.budget = -1;
                    return false;
                }
                self.budget -= msg_cost as i64;
                if let Ok(Cel::String(m)) =
                    stack::for_eval(rule.depth, || evaluate(msg_program, activation))
                {
                    let trimmed = m.trim();
                    if !trimmed.is_empty()
                        && !trimmed.contains('\n')
                        && trimmed.len() <= MAX_MESSAGE_EXPRESSION_BYTES
                    {
                        detail = Some(trimmed.to_string());
                    }
                }
            }
            let detail = detail.unwrap_or_else(|| {
                if rule.message.is_empty() {
                    format!("failed rule: {}", rule_error_string(rule))
                } else {
                    rule.message.trim().to_string()
                }
            });
            let bad = if matches!(type_value, "object" | "array") {
                Bad::Omit
            } else {
                Bad::Json(v)
            };
            let cause = match rule.reason.as_deref() {
                Some("FieldValueForbidden") => field::forbidden(&fpath, &detail),
                Some("FieldValueRequired") => field::required(&fpath, &detail),
                Some("FieldValueDuplicate") => field::duplicate(&fpath, bad),
                _ => field::invalid(&fpath, bad, &detail),
            };
            self.push_ratcheted(rule, ratchet, v, cause);
        }
        true
    }

    fn push_ratcheted(&mut self, rule: &Rule, ratchet: Ratchet<'_>, v: &Value, cause: FieldCause) {
        if !rule.uses_old_self && ratchet.should_ratchet(v) {
            return;
        }
        self.out.push(cause);
    }
}

/// `ruleErrorString`: the message if set, else the rule.
fn rule_error_string(rule: &Rule) -> String {
    if rule.message.is_empty() {
        rule.rule.trim().to_string()
    } else {
        rule.message.trim().to_string()
    }
}

/// The cost of evaluating `program` on the actual values.
fn runtime_cost(program: &Expression, v: &Value, old: Option<&Value>) -> u64 {
    let mut vars = vec![("self".to_string(), cost::ValueShape::of(v))];
    if let Some(o) = old {
        vars.push(("oldSelf".to_string(), cost::ValueShape::of(o)));
    }
    cost::estimate(program, &mut vars).0
}

/// The index just past the string literal whose opening quote is at `b[at]` (a backslash
/// escapes the next byte), for the scanners that locate errors in a rule's source.
pub(crate) fn past_string_literal(b: &[u8], at: usize) -> usize {
    let quote = b[at];
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod nesting_tests;
