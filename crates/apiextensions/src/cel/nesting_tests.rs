//! Deeply nested rules (issue 11): refused over cel-go's limits with its message, compiled and
//! evaluated within them on a tokio worker's 2 MiB stack, in bounded time.

use super::super::compile_node;
use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use std::time::{Duration, Instant};

/// A bound that only runaway work (a quadratic or exponential blow-up, minutes) exceeds on a
/// loaded machine; how fast these run is measured by the benchmarks, not asserted here.
const RUNAWAY: Duration = Duration::from_secs(30);

/// A tokio worker's stack.
const WORKER_STACK: usize = 2 << 20;

const RECURSION_ERROR: &str =
    "compilation failed: ERROR: <input>:-1:0: expression recursion limit exceeded: 250";

/// Runs `f` on a thread with a tokio worker's stack (an overflow aborts the test binary).
fn on_worker_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic")
}

fn schema(rule: &str) -> Value {
    json!({"type": "object",
        "properties": {
            "s": {"type": "string", "maxLength": 10},
            "tags": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 10}}
        },
        "x-kubernetes-validations": [{"rule": rule}]})
}

fn object() -> Value {
    json!({"s": "A", "tags": ["x", "y"]})
}

fn plus(n: usize) -> String {
    format!("{} > 0", vec!["1"; n].join(" + "))
}

fn index(n: usize) -> String {
    format!("[1]{} == 1", "[0]".repeat(n))
}

fn lower(n: usize) -> String {
    format!("self.s{} == ''", ".lowerAscii()".repeat(n))
}

fn parens(n: usize) -> String {
    format!("{}1{} == 1", "(".repeat(n), ")".repeat(n))
}

fn exists(n: usize) -> String {
    (0..n).fold("true".to_string(), |e, i| {
        format!("self.tags.exists(a{i}, {e})")
    })
}

/// Compiles `rule` and evaluates it once; returns the compile result and the causes.
fn compile_and_run(rule: &str) -> (Option<Result<(), String>>, Vec<String>, Duration) {
    let start = Instant::now();
    let node = compile_node(&schema(rule), false);
    let took = start.elapsed();
    let program = node.rules[0]
        .program
        .as_ref()
        .map(|p| p.as_ref().map(|_| ()).map_err(Clone::clone));
    let causes = validate(&node, &object(), None, RUNTIME_COST_BUDGET)
        .into_iter()
        .map(|c| c.message)
        .collect();
    (program, causes, took)
}

#[test]
fn deep_rules_are_refused_with_cel_go_message() {
    on_worker_stack(|| {
        for rule in [
            plus(2_800),
            index(2_800),
            lower(2_800),
            parens(2_800),
            exists(3_000),
        ] {
            let (program, causes, took) = compile_and_run(&rule);
            assert_eq!(program, Some(Err(RECURSION_ERROR.to_string())));
            // A stored CRD with such a rule reports the compile error; the rule never runs.
            assert_eq!(
                causes,
                vec![format!(
                    "<nil>: Invalid value: \"object\": rule compile error: {RECURSION_ERROR}"
                )]
            );
            assert!(took < RUNAWAY, "{took:?}");
        }
        let (program, _, _) = compile_and_run(&format!("'{}' == ''", "a".repeat(100_000)));
        assert_eq!(
            program,
            Some(Err("compilation failed: ERROR: <input>:-1:0: expression code point size exceeds limit: size: 100008, limit 100000".to_string()))
        );
    });
}

#[test]
fn deepest_accepted_rules_compile_and_run_on_a_worker_stack() {
    on_worker_stack(|| {
        for (rule, want) in [
            (plus(249), vec![]),
            (index(247), vec!["no such overload"]),
            (lower(247), vec!["failed rule"]),
            (parens(249), vec![]),
            (exists(83), vec!["cost limit exceeded"]),
        ] {
            let (program, causes, took) = compile_and_run(&rule);
            assert_eq!(program, Some(Ok(())), "{}", &rule[..40]);
            assert_eq!(causes.len(), want.len(), "{causes:?}");
            for (c, w) in causes.iter().zip(want) {
                assert!(c.contains(w), "{c}");
            }
            assert!(took < RUNAWAY, "{took:?}");
        }
    });
}

/// One level of nesting around an expression: a prefix and a suffix.
const WRAPPERS: &[(&str, &str)] = &[
    ("", " + 1"),
    ("1 + ", ""),
    ("(", ")"),
    ("[", "][0]"),
    ("", ".lowerAscii()"),
    ("{'k': ", "}['k']"),
    ("(true ? ", " : 1)"),
    ("!", ""),
    ("-", ""),
    ("self.tags.exists(x, ", " == 'a')"),
    ("self.tags.all(i, v, ", " != 'b')"),
    ("int(", ")"),
    ("", " && true"),
    ("false || ", ""),
    ("[", ", 2].size() > 0"),
    ("", " < 3"),
    ("", " in [1]"),
    ("self.?s.orValue(", ")"),
];

#[test]
fn nested_rules_never_overflow_and_compile_in_bounded_time() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let rules = (
        proptest::collection::vec(0..WRAPPERS.len(), 0..3_000),
        proptest::sample::select(&["1", "self.s", "true", "'a'", "self.tags"][..]),
    )
        .prop_map(|(ws, leaf)| {
            let mut rule = String::new();
            for &w in &ws {
                rule.push_str(WRAPPERS[w].0);
            }
            rule.push_str(leaf);
            for &w in ws.iter().rev() {
                rule.push_str(WRAPPERS[w].1);
            }
            rule
        });
    runner
        .run(&rules, |rule| {
            let depth = limits::check(&rule);
            let r = rule.clone();
            let (program, causes, took) = on_worker_stack(move || compile_and_run(&r));
            prop_assert!(took < RUNAWAY, "compile took {took:?}");
            match depth {
                Err(e) => prop_assert_eq!(
                    program,
                    Some(Err(format!("compilation failed: ERROR: <input>:-1:0: {e}")))
                ),
                Ok(_) => prop_assert!(
                    !matches!(&program, Some(Err(e)) if e.contains("limit")),
                    "{program:?}"
                ),
            }
            prop_assert!(causes.iter().all(|c| !c.is_empty()));
            Ok(())
        })
        .expect("nested rules compile and run without overflowing");
}
