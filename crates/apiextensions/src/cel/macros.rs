//! cel-go's two-variable comprehension macros (`ext.TwoVarComprehensions`, in kube-apiserver's
//! CEL environment since 1.32), which the `cel` crate parses as ordinary receiver calls:
//! `all(k, v, p)`, `exists(k, v, p)`, `existsOne(k, v, p)` / `exists_one(k, v, p)`,
//! `transformList(k, v, [filter,] e)`, `transformMap(k, v, [filter,] e)` and
//! `transformMapEntry(k, v, [filter,] e)`. On a list the first variable is the index, on a map
//! the key; the second is the element (the value).
//!
//! [`expand`] rewrites them, after parsing and before type checking, costing and evaluation, into
//! one-variable comprehensions the `cel` interpreter evaluates (it ignores a comprehension's
//! second variable):
//!
//! ```text
//! bind(@target, <target>,
//!   comprehension(k in @keys(@target); @result = <init>; <cond>;
//!     bind(v, @target[k], <step>));
//!   <result>)
//! ```
//!
//! where `bind(x, init, body)` is a comprehension over an empty list whose accumulator `x` is
//! `init` and whose result is `body` (cel-go's `cel.bind` expansion). The target is evaluated
//! once; `v` is bound per iteration, so user variables shadow and are shadowed exactly as in
//! cel-go. The names starting with `@` cannot be written in CEL, so they never clash with a
//! rule's own variables. Two helpers are registered on the evaluation context: [`KEYS`] (the
//! indices of a list, the keys of a map in order) and [`MAP_INSERT`] (cel-go's
//! `cel.@mapInsert`: a map with one more entry, or two maps merged, failing on a duplicate key).

use kube_cel::cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, ListExpr, LiteralValue, MapExpr,
};
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::parser::Expression;
use kube_cel::cel::{ExecutionError, FunctionContext, Value as Cel};
use std::collections::HashMap;
use std::sync::Arc;

/// The helper listing what a two-variable comprehension iterates: a list's indices, a map's keys.
pub const KEYS: &str = "@keys";
/// The helper inserting into the map a `transformMap`/`transformMapEntry` builds.
pub const MAP_INSERT: &str = "@mapInsert";
/// The variable the comprehension's target is bound to.
pub const TARGET: &str = "@target";
/// The accumulator of the expanded comprehensions (the one the `cel` crate's macros use).
pub const RESULT: &str = "@result";
/// The iteration variable of a `bind` (never referenced).
const UNUSED: &str = "@unused";
/// cel-go's accumulator name, which iteration variables may not take.
const CEL_GO_ACCUMULATOR: &str = "__result__";

/// A misuse of a macro, in cel-go's words.
#[derive(Debug, Clone)]
pub struct MacroError {
    /// The message.
    pub msg: String,
    /// Where: the byte offset in the source, if known.
    pub offset: Option<usize>,
}

/// Where a macro call is: the `nth` call of `name` with `arity` arguments, in source order.
struct Site {
    name: String,
    arity: usize,
    nth: usize,
}

/// The two-variable macros, by name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Macro {
    All,
    Exists,
    ExistsOne,
    TransformList,
    TransformMap,
    TransformMapEntry,
}

impl Macro {
    fn of(name: &str, args: usize) -> Option<Macro> {
        let m = match name {
            "all" => Macro::All,
            "exists" => Macro::Exists,
            "existsOne" | "exists_one" => Macro::ExistsOne,
            "transformList" => Macro::TransformList,
            "transformMap" => Macro::TransformMap,
            "transformMapEntry" => Macro::TransformMapEntry,
            _ => return None,
        };
        let arity_ok = match m {
            Macro::All | Macro::Exists | Macro::ExistsOne => args == 3,
            _ => args == 3 || args == 4,
        };
        arity_ok.then_some(m)
    }
}

struct Expander<'s> {
    src: &'s str,
    next_id: u64,
    errors: Vec<MacroError>,
    /// How many calls of each macro name and arity were seen, to locate the n-th in the source.
    seen: HashMap<(String, usize), usize>,
}

/// Rewrites the two-variable macros in `expr` (see the module documentation); returns cel-go's
/// errors for misused ones.
pub fn expand(expr: &mut Expression, src: &str) -> Result<(), Vec<MacroError>> {
    let mut x = Expander {
        src,
        next_id: max_id(expr) + 1,
        errors: Vec::new(),
        seen: HashMap::new(),
    };
    x.walk(expr);
    if x.errors.is_empty() {
        Ok(())
    } else {
        Err(x.errors)
    }
}

fn max_id(e: &Expression) -> u64 {
    let mut m = e.id;
    children(e, &mut |c| m = m.max(max_id(c)));
    m
}

/// Calls `f` on each direct subexpression of `e`, in source order.
fn children<'e>(e: &'e Expression, f: &mut dyn FnMut(&'e Expression)) {
    match &e.expr {
        Expr::Select(s) => f(&s.operand),
        Expr::Call(c) => {
            if let Some(t) = c.target.as_deref() {
                f(t);
            }
            c.args.iter().for_each(f);
        }
        Expr::List(l) => l.elements.iter().for_each(f),
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    f(&me.key);
                    f(&me.value);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(sf) = &entry.expr {
                    f(&sf.value);
                }
            }
        }
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                f(x);
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

impl Expander<'_> {
    fn node(&mut self, expr: Expr) -> Expression {
        self.next_id += 1;
        Expression {
            id: self.next_id,
            expr,
        }
    }

    fn ident(&mut self, name: &str) -> Expression {
        self.node(Expr::Ident(name.to_string()))
    }

    fn call(&mut self, func: &str, args: Vec<Expression>) -> Expression {
        self.node(Expr::Call(CallExpr {
            func_name: func.to_string(),
            target: None,
            args,
        }))
    }

    fn lit(&mut self, l: LiteralValue) -> Expression {
        self.node(Expr::Literal(l))
    }

    fn comprehension(&mut self, c: ComprehensionExpr) -> Expression {
        self.node(Expr::Comprehension(Box::new(c)))
    }

    /// `var` bound to `init` within `body`.
    fn bind(&mut self, var: &str, init: Expression, body: Expression) -> Expression {
        let empty = self.node(Expr::List(ListExpr::default()));
        let never = self.lit(LiteralValue::Boolean(false.into()));
        let loop_step = self.ident(var);
        self.comprehension(ComprehensionExpr {
            iter_range: empty,
            iter_var: UNUSED.to_string(),
            iter_var2: None,
            accu_var: var.to_string(),
            accu_init: init,
            loop_cond: never,
            loop_step,
            result: body,
        })
    }

    fn walk(&mut self, e: &mut Expression) {
        match &mut e.expr {
            Expr::Select(s) => self.walk(&mut s.operand),
            Expr::Call(c) => {
                if let Some(t) = c.target.as_deref_mut() {
                    self.walk(t);
                }
                // Counted in source order (target, call, arguments) to locate errors.
                let found = c.target.is_some().then(|| {
                    Macro::of(&c.func_name, c.args.len()).map(|m| {
                        let nth = self
                            .seen
                            .entry((c.func_name.clone(), c.args.len()))
                            .or_default();
                        *nth += 1;
                        (m, *nth)
                    })
                });
                for a in &mut c.args {
                    self.walk(a);
                }
                if let Some(Some((m, nth))) = found {
                    let site = Site {
                        name: c.func_name.clone(),
                        arity: c.args.len(),
                        nth,
                    };
                    let target = *c.target.take().expect("checked above");
                    let args = std::mem::take(&mut c.args);
                    if let Some(expanded) = self.expand_call(m, &site, target, args) {
                        *e = expanded;
                    }
                }
            }
            Expr::List(l) => l.elements.iter_mut().for_each(|x| self.walk(x)),
            Expr::Map(m) => {
                for entry in &mut m.entries {
                    if let EntryExpr::MapEntry(me) = &mut entry.expr {
                        self.walk(&mut me.key);
                        self.walk(&mut me.value);
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &mut s.entries {
                    if let EntryExpr::StructField(sf) = &mut entry.expr {
                        self.walk(&mut sf.value);
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
                    self.walk(x);
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    /// The variable named by argument `i` of the `nth` call of `name`, or cel-go's error.
    fn iter_var(&mut self, site: &Site, arg: &Expression, i: usize) -> Option<String> {
        let offset = arg_offset(self.src, site, i);
        match &arg.expr {
            Expr::Ident(v) if v == CEL_GO_ACCUMULATOR => {
                self.errors.push(MacroError {
                    msg: "iteration variable overwrites accumulator variable".into(),
                    offset,
                });
                None
            }
            Expr::Ident(v) => Some(v.clone()),
            _ => {
                self.errors.push(MacroError {
                    msg: "argument must be a simple name".into(),
                    offset,
                });
                None
            }
        }
    }

    fn expand_call(
        &mut self,
        m: Macro,
        site: &Site,
        target: Expression,
        mut args: Vec<Expression>,
    ) -> Option<Expression> {
        let k = self.iter_var(site, &args[0], 0);
        let v = self.iter_var(site, &args[1], 1);
        let (k, v) = (k?, v?);
        if k == v {
            self.errors.push(MacroError {
                msg: format!("duplicate variable name: {v}"),
                offset: arg_offset(self.src, site, 1),
            });
            return None;
        }
        let mut rest = args.split_off(2).into_iter();
        let first = rest.next().expect("arity checked");
        let (filter, body) = match rest.next() {
            Some(second) => (Some(first), second),
            None => (None, first),
        };
        let accu = |x: &mut Self| x.ident(RESULT);
        let (init, cond, step, result) = match m {
            Macro::All => {
                let init = self.lit(LiteralValue::Boolean(true.into()));
                let a = accu(self);
                let cond = self.call("@not_strictly_false", vec![a]);
                let a = accu(self);
                let step = self.call("_&&_", vec![a, body]);
                (init, cond, step, accu(self))
            }
            Macro::Exists => {
                let init = self.lit(LiteralValue::Boolean(false.into()));
                let a = accu(self);
                let not = self.call("!_", vec![a]);
                let cond = self.call("@not_strictly_false", vec![not]);
                let a = accu(self);
                let step = self.call("_||_", vec![a, body]);
                (init, cond, step, accu(self))
            }
            Macro::ExistsOne => {
                let init = self.lit(LiteralValue::Int(0.into()));
                let cond = self.lit(LiteralValue::Boolean(true.into()));
                let a = accu(self);
                let one = self.lit(LiteralValue::Int(1.into()));
                let plus = self.call("_+_", vec![a, one]);
                let a = accu(self);
                let step = self.call("_?_:_", vec![body, plus, a]);
                let a = accu(self);
                let one = self.lit(LiteralValue::Int(1.into()));
                let result = self.call("_==_", vec![a, one]);
                (init, cond, step, result)
            }
            Macro::TransformList | Macro::TransformMap | Macro::TransformMapEntry => {
                let init = if m == Macro::TransformList {
                    self.node(Expr::List(ListExpr::default()))
                } else {
                    self.node(Expr::Map(MapExpr::default()))
                };
                let cond = self.lit(LiteralValue::Boolean(true.into()));
                let a = accu(self);
                let mut step = match m {
                    Macro::TransformList => {
                        let item = self.node(Expr::List(ListExpr {
                            elements: vec![body],
                            optional_indices: Vec::new(),
                        }));
                        self.call("_+_", vec![a, item])
                    }
                    Macro::TransformMap => {
                        let key = self.ident(&k);
                        self.call(MAP_INSERT, vec![a, key, body])
                    }
                    _ => self.call(MAP_INSERT, vec![a, body]),
                };
                if let Some(filter) = filter {
                    let a = accu(self);
                    step = self.call("_?_:_", vec![filter, step, a]);
                }
                (init, cond, step, accu(self))
            }
        };
        let tgt = self.ident(TARGET);
        let keys = self.call(KEYS, vec![tgt]);
        let tgt = self.ident(TARGET);
        let key = self.ident(&k);
        let value = self.call("_[_]", vec![tgt, key]);
        let step = self.bind(&v, value, step);
        let loop_ = self.comprehension(ComprehensionExpr {
            iter_range: keys,
            iter_var: k,
            iter_var2: None,
            accu_var: RESULT.to_string(),
            accu_init: init,
            loop_cond: cond,
            loop_step: step,
            result,
        });
        Some(self.bind(TARGET, target, loop_))
    }
}

/// The byte offset of argument `i` of the macro call at `site` (where cel-go reports an
/// argument's error): the `nth` `.name(` in `src` with `arity` arguments.
fn arg_offset(src: &str, site: &Site, i: usize) -> Option<usize> {
    let needle = format!("{}(", site.name);
    let b = src.as_bytes();
    let mut found = 0;
    let mut pos = 0;
    loop {
        let at = pos + src[pos..].find(&needle)?;
        pos = at + needle.len();
        let is_member = src[..at].trim_end().ends_with('.');
        let boundary = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        if !is_member || !boundary {
            continue;
        }
        let starts = arg_starts(src, pos);
        if starts.len() == site.arity {
            found += 1;
            if found == site.nth {
                return starts.get(i).copied();
            }
        }
    }
}

/// The byte offsets where the arguments of a call whose `(` ends at `open` start (after
/// whitespace), skipping nested brackets and string literals.
fn arg_starts(src: &str, open: usize) -> Vec<usize> {
    let b = src.as_bytes();
    let skip_ws = |at: usize| at + (src[at..].len() - src[at..].trim_start().len());
    let mut starts = vec![skip_ws(open)];
    let mut depth = 0usize;
    let mut j = open;
    while j < b.len() {
        match b[j] {
            b'\'' | b'"' => {
                j = super::past_string_literal(b, j);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => starts.push(skip_ws(j + 1)),
            _ => {}
        }
        j += 1;
    }
    starts
}

/// [`KEYS`]: the indices of a list, or the keys of a map in order.
pub fn keys(target: Cel) -> Result<Cel, ExecutionError> {
    match target {
        Cel::List(l) => Ok(Cel::List(Arc::new(
            (0..l.len() as i64).map(Cel::Int).collect(),
        ))),
        Cel::Map(m) => {
            let mut keys: Vec<&Key> = m.map.keys().collect();
            keys.sort();
            Ok(Cel::List(Arc::new(
                keys.into_iter().map(|k| Cel::from(k.clone())).collect(),
            )))
        }
        _ => Err(ExecutionError::NoSuchOverload),
    }
}

/// [`MAP_INSERT`]: `(map, key, value)` adds one entry, `(map, map)` merges; a key already in
/// the map is cel-go's `insert failed: key ... already exists`.
pub fn map_insert(
    ftx: &FunctionContext,
    kube_cel::cel::extractors::Arguments(args): kube_cel::cel::extractors::Arguments,
) -> Result<Cel, ExecutionError> {
    let (base, additions): (&Map, Vec<(Key, Cel)>) = match args.as_slice() {
        [Cel::Map(m), key, value] => {
            let key: Key = key
                .clone()
                .try_into()
                .map_err(|_| ExecutionError::NoSuchOverload)?;
            (m, vec![(key, value.clone())])
        }
        [Cel::Map(m), Cel::Map(update)] => {
            let mut entries: Vec<(Key, Cel)> = update
                .map
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            (m, entries)
        }
        _ => return Err(ExecutionError::NoSuchOverload),
    };
    let mut out: HashMap<Key, Cel> = (*base.map).clone();
    for (k, v) in additions {
        if out.contains_key(&k) {
            return Err(ftx.error(format!("insert failed: key {k} already exists")));
        }
        out.insert(k, v);
    }
    Ok(Cel::Map(Map { map: Arc::new(out) }))
}
