//! `pattern` (and CEL's `matches`, `find`, `findAll`): user-supplied regular expressions, compiled
//! with Go's RE2 semantics and within limits.
//!
//! Every regular expression a user supplies is compiled by [`compile`]. The regex crate matches in
//! time linear in the input times the compiled program's size, so the program is kept small:
//! [`SIZE_LIMIT`] bounds it (over it, Go's `expression too large`), [`DFA_SIZE_LIMIT`] bounds the
//! lazy DFA's cache per search thread, [`NEST_LIMIT`] the nesting (Go's `expression nests too
//! deeply`). Capture groups are compiled as non-capturing groups: no caller reads submatches, and
//! the regex crate's NFA simulation keeps one slot per group per NFA state, so `(a|b)` repeated
//! 5,000 times needed gigabytes per search.

use regex::{Regex, RegexBuilder};

/// The largest compiled program (bytes of the NFA). Go allows far larger programs (3.3 million
/// instructions). Measured in an optimized build, the slowest patterns at this limit
/// (`(?:a|b)` ×907, `(?:[a-c]*[b-d]+[a-z]?)` ×177) take under 30 ms on a 10,001-character
/// value and under 20 ms on a 1,000,000-character one; at 256 KiB they took up to 500 ms. A
/// Unicode class such as `\pL` compiles to 32–64 KiB, so only one or two fit.
pub const SIZE_LIMIT: usize = 64 * 1024;

/// The lazy DFA's cache, per regex and search thread.
pub const DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// The deepest nesting of groups and repetitions (Go allows 1,000).
pub const NEST_LIMIT: u32 = 250;

/// Compiles a user's regular expression with Go's RE2 semantics (`\d`, `\w`, `\s`, `\b` are
/// ASCII) and the limits above; `Err` is Go's compile error text.
pub fn compile(p: &str) -> Result<Regex, String> {
    if let Some(op) = nested_repetition(p) {
        return Err(format!(
            "error parsing regexp: invalid nested repetition operator: `{op}`"
        ));
    }
    match build(&go_to_rust_regex(p, false)) {
        Ok(re) => Ok(re),
        Err(regex::Error::CompiledTooBig(_)) => {
            Err(format!("error parsing regexp: expression too large: `{p}`"))
        }
        // Errors point into the pattern as written: report them from the pattern with its groups.
        Err(e) => Err(go_regex_error(
            p,
            &build(&go_to_rust_regex(p, true)).err().unwrap_or(e),
        )),
    }
}

fn build(p: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(p)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
}

/// Go rejects a repetition of a repetition (`a**`, `a+{2}`) that Rust accepts; returns the
/// offending operators. A single `?` after a repetition makes it lazy and is allowed.
fn nested_repetition(p: &str) -> Option<String> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    // Start of the previous repetition operator, and whether a lazy `?` followed it.
    let mut prev: Option<(usize, bool)> = None;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            prev = None;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            i += 1;
            continue;
        }
        let op_end = match c {
            '*' | '+' | '?' => Some(i + 1),
            '{' => {
                let close = chars[i..].iter().position(|x| *x == '}').map(|j| i + j);
                close
                    .filter(|&j| {
                        let inner: String = chars[i + 1..j].iter().collect();
                        !inner.is_empty()
                            && inner.chars().all(|x| x.is_ascii_digit() || x == ',')
                            && inner.chars().next().is_some_and(|x| x.is_ascii_digit())
                    })
                    .map(|j| j + 1)
            }
            _ => None,
        };
        match (op_end, prev) {
            (Some(end), Some((start, lazy))) => {
                if c == '?' && !lazy {
                    prev = Some((start, true));
                    i = end;
                    continue;
                }
                return Some(chars[start..end].iter().collect());
            }
            (Some(end), None) => {
                prev = Some((i, false));
                i = end;
                continue;
            }
            (None, _) => prev = None,
        }
        if c == '[' {
            in_class = true;
            if chars.get(i + 1) == Some(&'^') {
                i += 1;
            }
            if chars.get(i + 1) == Some(&']') {
                i += 1;
            }
        }
        i += 1;
    }
    None
}

/// Rewrites Go's ASCII-only Perl classes to explicit ASCII classes (Rust's are Unicode); unless
/// `keep_groups`, capture groups become non-capturing (nothing reads submatches, and the regex
/// crate's matcher keeps every capture slot per NFA state: memory quadratic in the pattern).
fn go_to_rust_regex(p: &str, keep_groups: bool) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(n) = chars.next() else {
                out.push('\\');
                break;
            };
            let (inside, outside) = match n {
                'd' => ("0-9", "[0-9]"),
                'D' => ("", "[^0-9]"),
                'w' => ("0-9A-Za-z_", "[0-9A-Za-z_]"),
                'W' => ("", "[^0-9A-Za-z_]"),
                's' => ("\\t\\n\\f\\r ", "[\\t\\n\\f\\r ]"),
                'S' => ("", "[^\\t\\n\\f\\r ]"),
                'b' if !in_class => ("", "(?-u:\\b)"),
                'B' if !in_class => ("", "(?-u:\\B)"),
                _ => ("", ""),
            };
            if in_class && !inside.is_empty() {
                out.push_str(inside);
            } else if !in_class && !outside.is_empty() {
                out.push_str(outside);
            } else {
                out.push('\\');
                out.push(n);
            }
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            } else if c == '[' && chars.peek() == Some(&':') {
                // `[:alpha:]` inside a class.
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
                continue;
            }
            out.push(c);
            continue;
        }
        if c == '(' && !keep_groups {
            match chars.peek() {
                Some('?') => {
                    let rest: String = chars.clone().take(3).collect();
                    if rest.starts_with("?P<")
                        || (rest.starts_with("?<") && rest != "?<=" && rest != "?<!")
                    {
                        // A named group: drop the name.
                        for d in chars.by_ref() {
                            if d == '>' {
                                break;
                            }
                        }
                        out.push_str("(?:");
                    } else {
                        out.push(c);
                    }
                }
                _ => out.push_str("(?:"),
            }
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            if chars.peek() == Some(&'^') {
                out.push(chars.next().unwrap_or('^'));
            }
            if chars.peek() == Some(&']') {
                out.push_str("\\]");
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Go's `regexp.Compile` error for the failure the Rust parser reports.
fn go_regex_error(p: &str, e: &regex::Error) -> String {
    let text = e.to_string();
    let kind = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.as_str())
        .to_string();
    // The caret line gives the offending position in the (rewritten) pattern; for the cases
    // below the rewrite does not move it, and the original is used where it would.
    let caret = text
        .lines()
        .find(|l| l.trim_start().starts_with('^'))
        .map(|l| l.len() - l.trim_start().len())
        .map(|col| col.saturating_sub(4));
    let at = |len: usize| -> String {
        let start = caret.unwrap_or(0).min(p.len());
        p.get(start..)
            .map(|s| s.chars().take(len).collect())
            .unwrap_or_default()
    };
    let code = if kind.contains("repetition operator missing expression") {
        format!("missing argument to repetition operator: `{}`", at(1))
    } else if kind.contains("unclosed group") {
        format!("missing closing ): `{p}`")
    } else if kind.contains("unopened group") {
        format!("unexpected ): `{p}`")
    } else if kind.contains("unclosed character class") {
        let start = p.rfind('[').unwrap_or(0);
        format!("missing closing ]: `{}`", &p[start..])
    } else if kind.contains("invalid character class range") {
        format!("invalid character class range: `{}`", at(3))
    } else if kind.contains("look-around") {
        format!("invalid or unsupported Perl syntax: `{}`", at(3))
    } else if kind.contains("backreferences") || kind.contains("unrecognized escape") {
        format!("invalid escape sequence: `{}`", at(2))
    } else if kind.contains("repetition") && kind.contains("nest") {
        format!("invalid nested repetition operator: `{}`", at(2))
    } else if kind.contains("nest limit") {
        format!("expression nests too deeply: `{p}`")
    } else if kind.contains("exceeds size limit") || kind.contains("repetition count") {
        format!("invalid repeat count: `{}`", at(6))
    } else {
        kind
    };
    format!("error parsing regexp: {code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_regex_errors() {
        for (p, msg) in [
            ("(abc", "error parsing regexp: missing closing ): `(abc`"),
            ("abc)", "error parsing regexp: unexpected ): `abc)`"),
            ("[abc", "error parsing regexp: missing closing ]: `[abc`"),
            (
                "a**",
                "error parsing regexp: invalid nested repetition operator: `**`",
            ),
            (
                "(?=x)",
                "error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
            ),
            (
                "\\1",
                "error parsing regexp: invalid escape sequence: `\\1`",
            ),
        ] {
            assert_eq!(compile(p).err().as_deref(), Some(msg), "{p}");
        }
        assert!(compile("^[\\w.-]+\\b$").is_ok());
    }

    #[test]
    fn programs_over_the_limit_are_too_large() {
        let p = "(a|b)".repeat(5_000);
        assert_eq!(
            compile(&p).err(),
            Some(format!("error parsing regexp: expression too large: `{p}`"))
        );
        // Nearly at the limit: matching a long value is quick and small.
        let re = compile(&"(a|b)".repeat(900)).expect("compiles");
        let value = "a".repeat(10_001);
        let started = std::time::Instant::now();
        assert!(re.is_match(&value));
        assert!(re.find_iter(&value).count() > 0);
        // Bounds runaway work only (the benchmarks measure speed).
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert!(compile(&format!("{}a{}", "(".repeat(300), ")".repeat(300))).is_err());
    }

    #[test]
    fn groups_do_not_capture() {
        let re = compile("^(a|b)(?P<x>c)(?<y>d)(?:e)(?i:F)$").expect("compiles");
        assert!(re.is_match("acdef"));
        assert_eq!(re.captures_len(), 1);
        // Look-behind stays an error, in Go's words.
        assert_eq!(
            compile("(?<=a)b").err().as_deref(),
            Some("error parsing regexp: invalid or unsupported Perl syntax: `(?<`")
        );
    }

    #[test]
    fn arbitrary_patterns_compile_and_match_in_bounded_time() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        const PIECES: &[&str] = &[
            "a", "b", "(a|b)", "(", ")", "[a-z]", "[^x]", "*", "+", "?", "{2,5}", "{1000}", ".",
            "\\d", "\\w", "\\pL", "^", "$", "|", "(?i)", "(?:", "(?P<n>", "\\b", "x*y*",
        ];
        let patterns = (
            proptest::collection::vec(proptest::sample::select(PIECES), 1..400),
            1..20usize,
        )
            .prop_map(|(pieces, times)| pieces.concat().repeat(times));
        // Mostly valid ones: quantified atoms, some grouped.
        let atom = (
            proptest::sample::select(&["a", "[a-c]", "\\pL", ".", "(a|b)", "(?:x|ab*)", "\\w"][..]),
            proptest::sample::select(&["", "*", "+", "?", "{2,5}", "{0,50}", "{1000}"][..]),
        )
            .prop_map(|(a, q)| format!("{a}{q}"));
        let valid = (proptest::collection::vec(atom, 1..2_000), any::<bool>()).prop_map(
            |(atoms, group)| {
                if group {
                    atoms.iter().map(|a| format!("({a})")).collect()
                } else {
                    atoms.concat()
                }
            },
        );
        let patterns = prop_oneof![patterns, valid];
        let value = "ab".repeat(5_000) + "é";
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&patterns, |p| {
                let started = std::time::Instant::now();
                if let Ok(re) = compile(&p) {
                    re.is_match(&value);
                    re.find_iter(&value).take(1_000).count();
                } else if let Err(e) = compile(&p) {
                    prop_assert!(e.starts_with("error parsing regexp: "), "{e}");
                }
                // An unoptimized build is ~20 times slower than the measured limits.
                let took = started.elapsed();
                prop_assert!(took < std::time::Duration::from_secs(30), "{took:?}: {p}");
                Ok(())
            })
            .expect("patterns compile and match in bounded time");
    }
}
