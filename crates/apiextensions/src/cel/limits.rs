//! cel-go's parser limits, checked on a rule's source before the `cel` parser sees it.
//!
//! cel-go refuses an expression longer than 100,000 code points and one whose parse nests deeper
//! than 250 (its ANTLR listener counts, per grammar rule, how deep the parse is; its visitor
//! counts nested operators, selections, calls and indexes). The `cel` crate's parser, our
//! macro expansion, checker, cost estimator and the interpreter all recurse over the expression,
//! so an expression nested a few thousand deep overflows the stack (aborting the process) and
//! nested macros make compilation quadratic. [`check`] is a single linear pass over the source's
//! tokens that bounds the nesting from above, so everything that passes it has an AST whose depth
//! is a small multiple of [`MAX_RECURSION_DEPTH`], and everything it rejects is rejected with
//! cel-go's message before any of that work starts.
//!
//! The bound is conservative: every bracket (`(`, `[`, `{`) nests one level below the point where
//! it opens; within one bracket, every operator cel's grammar nests (`+ - * / %`, the relations and
//! `in`), every member selection, member call and index, every ternary and every run of unary
//! `!`/`-` adds a level; `&&` and `||` chains, which both parsers balance, add the logarithm of
//! their length. A comma (a new argument or element) starts over at the bracket's level.

/// cel-go's default `maxRecursionDepth` (kube-apiserver's CEL environments keep it).
pub const MAX_RECURSION_DEPTH: usize = 250;

/// cel-go's default `expressionSizeCodePointLimit`.
pub const EXPRESSION_SIZE_CODE_POINT_LIMIT: usize = 100_000;

/// Checks `src` against cel-go's size and recursion limits. `Ok` is an upper bound of the
/// expression's nesting (at most [`MAX_RECURSION_DEPTH`]); `Err` is cel-go's message (the issue
/// text, without its `ERROR: <input>:-1:0: ` location).
pub fn check(src: &str) -> Result<usize, String> {
    let size = src.chars().count();
    if size > EXPRESSION_SIZE_CODE_POINT_LIMIT {
        return Err(format!(
            "expression code point size exceeds limit: size: {size}, limit {EXPRESSION_SIZE_CODE_POINT_LIMIT}"
        ));
    }
    let depth = nesting(src.as_bytes(), MAX_RECURSION_DEPTH);
    if depth > MAX_RECURSION_DEPTH {
        return Err(format!(
            "expression recursion limit exceeded: {MAX_RECURSION_DEPTH}"
        ));
    }
    Ok(depth)
}

/// What one open bracket (or the whole expression) has seen since its last comma.
#[derive(Default)]
struct Frame {
    /// The depth the bracket itself is at.
    base: usize,
    /// Nested binary operators, selections, calls and indexes of the current operand chain.
    chain: usize,
    /// Ternaries (`?`), which nest to the right.
    ternaries: usize,
    /// `&&` operators (balanced).
    ands: usize,
    /// `||` operators (balanced).
    ors: usize,
    /// Whether a unary `!`/`-` run was seen.
    unary: bool,
}

impl Frame {
    fn depth(&self) -> usize {
        self.base
            + self.chain
            + self.ternaries
            + ceil_log2(self.ands + 1)
            + ceil_log2(self.ors + 1)
            + usize::from(self.unary)
    }

    /// A comma: the next argument or element.
    fn restart(&mut self) {
        *self = Frame {
            base: self.base,
            ..Frame::default()
        };
    }
}

fn ceil_log2(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()) as usize
}

/// The previous token, for telling unary from binary `-` and a ternary from an optional `?`.
#[derive(Clone, Copy, PartialEq)]
enum Prev {
    /// An identifier, a literal or a closing bracket: an operand ends here.
    Operand,
    /// `.`, `[`, `{`, `(` or `,`: a following `?` is optional syntax (`.?f`, `[?i]`, `{?k: v}`).
    Opener,
    /// Anything else (an operator, or the start).
    Other,
}

/// An upper bound of the nesting of the expression in `b`; stops counting once past `limit`.
fn nesting(b: &[u8], limit: usize) -> usize {
    let mut stack = vec![Frame {
        base: 1,
        ..Frame::default()
    }];
    let mut max = 1;
    let mut prev = Prev::Other;
    let mut i = 0;
    while i < b.len() && max <= limit {
        let top = stack.len() - 1;
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'/' if next == Some(b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' | b'"' => {
                i = past_string(b, i, false);
                prev = Prev::Operand;
                continue;
            }
            b'0'..=b'9' => {
                i = past_number(b, i);
                prev = Prev::Operand;
                continue;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let word = &b[start..i];
                if matches!(b.get(i), Some(b'\'' | b'"')) && is_string_prefix(word) {
                    let raw = word.iter().any(|x| x.eq_ignore_ascii_case(&b'r'));
                    i = past_string(b, i, raw);
                    prev = Prev::Operand;
                } else if word == b"in" {
                    stack[top].chain += 1;
                    prev = Prev::Other;
                } else {
                    prev = Prev::Operand;
                }
                max = max.max(stack[top].depth());
                continue;
            }
            b'(' | b'[' | b'{' => {
                if c == b'[' && prev == Prev::Operand {
                    // An index.
                    stack[top].chain += 1;
                }
                let base = stack[top].depth() + 1;
                stack.push(Frame {
                    base,
                    ..Frame::default()
                });
                max = max.max(base);
                prev = Prev::Opener;
            }
            b')' | b']' | b'}' => {
                if stack.len() > 1 {
                    stack.pop();
                }
                prev = Prev::Operand;
            }
            b',' => {
                stack[top].restart();
                prev = Prev::Opener;
            }
            b'.' => {
                stack[top].chain += 1;
                prev = Prev::Opener;
            }
            b'?' if prev == Prev::Opener => prev = Prev::Other,
            b'?' => {
                let f = &mut stack[top];
                f.ternaries += 1;
                f.chain = 0;
                f.unary = false;
                prev = Prev::Other;
            }
            b':' => {
                let f = &mut stack[top];
                f.chain = 0;
                f.unary = false;
                prev = Prev::Other;
            }
            b'&' | b'|' if next == Some(c) => {
                let f = &mut stack[top];
                if c == b'&' {
                    f.ands += 1;
                } else {
                    f.ors += 1;
                }
                f.chain = 0;
                f.unary = false;
                prev = Prev::Other;
                i += 2;
                continue;
            }
            b'!' | b'-' if prev != Prev::Operand && !(c == b'!' && next == Some(b'=')) => {
                stack[top].unary = true;
                prev = Prev::Other;
            }
            b'=' | b'!' | b'<' | b'>' => {
                stack[top].chain += 1;
                if next == Some(b'=') {
                    i += 1;
                }
                prev = Prev::Other;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' => {
                stack[top].chain += 1;
                prev = Prev::Other;
            }
            _ => prev = Prev::Other,
        }
        max = max.max(stack[top.min(stack.len() - 1)].depth());
        i += 1;
    }
    max
}

/// cel's string prefixes: raw (`r`), bytes (`b`), or both.
fn is_string_prefix(word: &[u8]) -> bool {
    let lower: Vec<u8> = word.iter().map(u8::to_ascii_lowercase).collect();
    matches!(lower.as_slice(), b"r" | b"b" | b"rb" | b"br")
}

/// The index just past the string literal (single, double or triple quoted) starting at `at`.
fn past_string(b: &[u8], at: usize, raw: bool) -> usize {
    let q = b[at];
    let triple = b.get(at + 1) == Some(&q) && b.get(at + 2) == Some(&q);
    let mut i = at + if triple { 3 } else { 1 };
    while i < b.len() {
        if b[i] == b'\\' && !raw {
            i += 2;
        } else if b[i] == q && (!triple || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q))) {
            return i + if triple { 3 } else { 1 };
        } else if b[i] == b'\n' && !triple {
            // An unterminated literal: the parser reports it.
            return i;
        } else {
            i += 1;
        }
    }
    b.len()
}

/// The index just past the number literal starting at `at` (`1`, `1u`, `0x1F`, `1.5e-3`).
fn past_number(b: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < b.len() {
        match b[i] {
            x if x.is_ascii_alphanumeric() || x == b'_' => {
                let exponent = (x == b'e' || x == b'E')
                    && !b[at..i].starts_with(b"0x")
                    && !b[at..i].starts_with(b"0X");
                i += 1;
                if exponent && matches!(b.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => i += 1,
            _ => break,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(src: &str) -> usize {
        nesting(src.as_bytes(), usize::MAX)
    }

    #[test]
    fn counts_what_nests() {
        assert_eq!(depth("self"), 1);
        assert_eq!(depth("1 + 1"), 2);
        assert_eq!(depth("1 + 1 + 1"), 3);
        assert_eq!(depth("(1)"), 2);
        assert_eq!(depth("((1))"), 3);
        assert_eq!(depth("self.a.b"), 3);
        assert_eq!(depth("self.a[0]"), 4);
        assert_eq!(depth("f(1, 2, 3)"), 2);
        assert_eq!(depth("[1, 2 + 3]"), 3);
        assert_eq!(depth("a ? b : c ? d : e"), 3);
        assert_eq!(depth("!!!!a"), 2);
        assert_eq!(depth("-1 - -1"), 3);
        assert_eq!(depth("a != b"), 2);
        assert_eq!(depth("a in b"), 2);
        assert_eq!(depth("self.?a.?b"), 3);
        assert_eq!(depth("[?a, ?b]"), 2);
        assert_eq!(depth("1.5e-3 + 0x1F + 2u"), 3);
        // Operators inside literals and comments do not count.
        assert_eq!(depth("'((((' + \"]]]]\" + r'\\' + '''a'b''' // ((((("), 4);
    }

    #[test]
    fn logical_chains_count_their_logarithm() {
        let chain = vec!["a"; 1024].join(" && ");
        assert_eq!(depth(&chain), 1 + 10);
        let chain = vec!["a"; 100_000 / 5].join(" || ");
        assert!(depth(&chain) <= 1 + 15);
        assert!(check(&vec!["true"; 10_000].join(" && ")).is_ok());
    }

    #[test]
    fn recursion_over_the_limit_is_refused_in_cel_go_words() {
        let msg = "expression recursion limit exceeded: 250";
        let plus = |n: usize| format!("{} > 0", vec!["1"; n].join(" + "));
        assert!(check(&plus(249)).is_ok());
        assert_eq!(check(&plus(251)).unwrap_err(), msg);
        let parens = |n: usize| format!("{}1{} > 0", "(".repeat(n), ")".repeat(n));
        assert!(check(&parens(249)).is_ok());
        assert_eq!(check(&parens(250)).unwrap_err(), msg);
        assert_eq!(
            check(&format!("[1]{} == 1", "[0]".repeat(2_800))).unwrap_err(),
            msg
        );
        assert_eq!(
            check(&format!("self{} == ''", ".lowerAscii()".repeat(2_800))).unwrap_err(),
            msg
        );
        let mut exists = "true".to_string();
        for i in 0..3_000 {
            exists = format!("self.tags.exists(a{i}, {exists})");
        }
        assert_eq!(check(&exists).unwrap_err(), msg);
    }

    #[test]
    fn size_over_the_limit_is_refused_in_cel_go_words() {
        let src = format!("'{}' == ''", "é".repeat(99_992));
        assert_eq!(src.chars().count(), 100_000);
        assert!(check(&src).is_ok());
        assert_eq!(
            check(&format!("{src} ")).unwrap_err(),
            "expression code point size exceeds limit: size: 100001, limit 100000"
        );
    }
}
