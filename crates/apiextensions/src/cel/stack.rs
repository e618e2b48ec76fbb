//! Stack for the recursion over a rule's expression.
//!
//! The `cel` parser, our macro expansion, checker and cost estimator, and the interpreter recurse
//! over the expression; [`super::limits`] bounds its nesting, and the functions here make sure
//! the thread has the stack that nesting may need (a tokio worker has 2 MiB, and an unoptimized
//! build spends up to ~170 KiB per level parsing and ~40 KiB per level evaluating). A rule that
//! needs more than is left runs on a fresh stack segment (`stacker`), on the same thread;
//! evaluating a shallow rule, the common case, runs where it is.

/// Stack one level of nesting may need while compiling (measured in an unoptimized build at the
/// deepest nesting `limits::check` accepts: 43 MiB for 249 nested brackets, mostly the ANTLR
/// parser's rule chain; ~1.5×).
const COMPILE_PER_LEVEL: usize = 256 * 1024;

/// Stack one level of nesting may need while costing and evaluating (measured the same way:
/// 9 MiB for 249 nested operators; ~1.8×).
const EVAL_PER_LEVEL: usize = 64 * 1024;

/// Stack kept free besides the levels, for what runs around the recursion.
const BASE: usize = 512 * 1024;

/// Runs `f`, which compiles a rule nested at most `depth` levels deep, with enough stack.
pub fn for_compile<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    with(BASE + depth * COMPILE_PER_LEVEL, f)
}

/// Runs `f`, which costs or evaluates a rule nested at most `depth` levels deep, with enough
/// stack.
pub fn for_eval<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    with(BASE + depth * EVAL_PER_LEVEL, f)
}

fn with<R>(needed: usize, f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(needed, needed, f)
}
