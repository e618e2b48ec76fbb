//! Standalone CEL expressions over JSON variables (admission's `matchConditions`; later
//! ValidatingAdmissionPolicy): compiled with cel-go's parser limits, two-variable macros and the
//! Kubernetes library the CRD rules have, evaluated with catch-all panic safety. Unlike CRD
//! rules there is no schema: values are typed by what they hold, and nothing is type-checked
//! before evaluation ([`Expression::type_check`] checks an expression against typed variables
//! on its own, for ValidatingAdmissionPolicy's `status.typeChecking`).

use super::check::{self, Ty};
use super::{ADMISSION, limits, macros, parse, render_issues, runtime_error, stack};
use kube_cel::cel::Value as Cel;
use kube_cel::cel::parser::Expression as Program;
use serde_json::Value;
use std::collections::HashMap;

/// A compiled expression.
#[derive(Debug)]
pub struct Expression {
    program: Program,
    depth: usize,
    /// The source, to tell which variables it may name.
    src: String,
}

impl Expression {
    /// Compiles `src`, or returns cel-go's rendering of what is wrong with it.
    pub fn compile(src: &str) -> Result<Expression, String> {
        let depth = limits::check(src).map_err(|e| super::render_unlocated(&e))?;
        stack::for_compile(depth, || {
            let mut program = parse(src)?;
            macros::expand(&mut program, src).map_err(|errs| {
                let rendered: Vec<(String, usize, usize)> = errs
                    .into_iter()
                    .map(|e| {
                        let (line, col) = e.offset.map_or((1, 1), |o| super::line_col(src, o));
                        (e.msg, line, col)
                    })
                    .collect();
                render_issues(src, &rendered)
            })?;
            Ok(Expression {
                program,
                depth,
                src: src.to_string(),
            })
        })
    }

    /// Whether the expression may name the variable `name` (it appears in the source): a
    /// variable it cannot name need not be bound.
    pub fn mentions(&self, name: &str) -> bool {
        self.src.contains(name)
    }

    /// Evaluates the expression with `variables` bound (JSON values; `null` stays null).
    pub fn evaluate(&self, variables: &[(&str, &Value)]) -> Result<Cel, String> {
        let bound: Vec<(&str, Cel)> = variables.iter().map(|(n, v)| (*n, to_cel(v))).collect();
        self.evaluate_cel(&bound)
    }

    /// Evaluates the expression with CEL values bound.
    pub fn evaluate_cel(&self, variables: &[(&str, Cel)]) -> Result<Cel, String> {
        stack::for_eval(self.depth, || {
            ADMISSION.with(|base| {
                let mut ctx = base.new_inner_scope();
                for (name, value) in variables {
                    ctx.add_variable_from_value(*name, value.clone());
                }
                super::evaluate(&self.program, &ctx).map_err(|e| runtime_error(&e))
            })
        })
    }

    /// Type-checks `src` with `variables` typed as given (undeclared names are reported, `dyn`
    /// accepts anything): `Err` with the compile error when it does not compile, `Ok(None)` when
    /// it checks, `Ok(Some(issues))` with cel-go's rendering of the issues otherwise.
    pub fn type_check(
        src: &str,
        variables: HashMap<String, Ty<'_>>,
    ) -> Result<Option<String>, String> {
        let Expression {
            mut program, depth, ..
        } = Expression::compile(src)?;
        let (_, issues) = stack::for_compile(depth, || {
            check::check(&mut program, src, variables, check::Library::Admission)
        });
        if issues.is_empty() {
            return Ok(None);
        }
        let mut issues: Vec<(String, Option<usize>)> =
            issues.into_iter().map(|i| (i.msg, i.offset)).collect();
        // cel-go lists issues in source order.
        issues.sort_by_key(|(_, offset)| offset.unwrap_or(0));
        Ok(Some(check::render(src, &issues)))
    }

    /// Type-checks `src` with `variables` typed as given and gives the type it evaluates to
    /// (`dyn` when unknown), or cel-go's rendering of why it does not compile or check.
    pub fn output_type<'a>(
        src: &str,
        variables: HashMap<String, Ty<'a>>,
    ) -> Result<Ty<'a>, String> {
        let Expression {
            mut program, depth, ..
        } = Expression::compile(src)?;
        let (ty, issues) = stack::for_compile(depth, || {
            check::check(&mut program, src, variables, check::Library::Admission)
        });
        if issues.is_empty() {
            return Ok(ty);
        }
        let mut issues: Vec<(String, Option<usize>)> =
            issues.into_iter().map(|i| (i.msg, i.offset)).collect();
        issues.sort_by_key(|(_, offset)| offset.unwrap_or(0));
        Err(check::render(src, &issues))
    }

    /// Evaluates an expression that must give a bool.
    pub fn evaluate_bool(&self, variables: &[(&str, &Value)]) -> Result<bool, String> {
        match self.evaluate(variables)? {
            Cel::Bool(b) => Ok(b),
            other => Err(format!(
                "expected boolean result, got {}",
                type_name(&other)
            )),
        }
    }
}

/// Variables bound once for several evaluations: the interpreter converts a bound value into
/// its own form (a deep copy of maps and lists) when it is bound, so expressions that share
/// variables evaluate in one activation rather than binding them each.
pub struct Activation<'a> {
    ctx: kube_cel::cel::Context<'a>,
}

impl Activation<'_> {
    /// Binds `name` to `value` (replacing a previous binding).
    pub fn bind(&mut self, name: &str, value: Cel) {
        self.ctx.add_variable_from_value(name, value);
    }

    /// Evaluates `expression` with the variables bound so far.
    pub fn evaluate(&self, expression: &Expression) -> Result<Cel, String> {
        stack::for_eval(expression.depth, || {
            super::evaluate(&expression.program, &self.ctx).map_err(|e| runtime_error(&e))
        })
    }
}

/// Runs `f` with an empty [`Activation`] over the function library.
pub fn with_activation<R>(f: impl FnOnce(&mut Activation<'_>) -> R) -> R {
    ADMISSION.with(|base| {
        let mut activation = Activation {
            ctx: base.new_inner_scope(),
        };
        f(&mut activation)
    })
}

/// A JSON value as CEL sees it (no schema).
pub fn to_cel(v: &Value) -> Cel {
    super::values::to_cel(v, None)
}

/// A CEL map of named values (`variables`).
pub fn named(values: Vec<(String, Cel)>) -> Cel {
    super::values::map(
        values
            .into_iter()
            .map(|(k, v)| (super::values::key(&k), v))
            .collect(),
    )
}

/// The name of a value's CEL type, as errors quote it.
pub fn type_name(v: &Cel) -> &'static str {
    match v {
        Cel::Bool(_) => "bool",
        Cel::Int(_) => "int",
        Cel::UInt(_) => "uint",
        Cel::Float(_) => "double",
        Cel::String(_) => "string",
        Cel::Bytes(_) => "bytes",
        Cel::List(_) => "list",
        Cel::Map(_) => "map",
        Cel::Null => "null_type",
        _ => "value",
    }
}

#[cfg(test)]
mod tests {
    use super::Expression;
    use serde_json::json;

    #[test]
    fn expressions_over_json_variables() {
        let e = Expression::compile(
            "object.metadata.name.startsWith('a') && request.operation == 'CREATE'",
        )
        .unwrap();
        let obj = json!({"metadata": {"name": "abc"}});
        let req = json!({"operation": "CREATE"});
        assert_eq!(
            e.evaluate_bool(&[("object", &obj), ("request", &req)]),
            Ok(true)
        );
        let req = json!({"operation": "UPDATE"});
        assert_eq!(
            e.evaluate_bool(&[("object", &obj), ("request", &req)]),
            Ok(false)
        );
        assert!(Expression::compile("object.").is_err());
        let e = Expression::compile("object.metadata.missing == 1").unwrap();
        assert_eq!(
            e.evaluate_bool(&[("object", &obj)]),
            Err("no such key: missing".into())
        );
        let e = Expression::compile("1").unwrap();
        assert!(e.evaluate_bool(&[]).is_err());
    }
}
