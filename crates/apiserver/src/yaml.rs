//! Parsing YAML from clients with bounded nesting.
//!
//! libyaml (under serde_norway) spends time quadratic in the nesting depth of a document while
//! scanning it (each token re-checks every open flow level), before serde_norway's own recursion
//! limit (128) rejects it: a 128 KiB body of `[[[[…` took seconds and a 2 MiB one would take half
//! an hour. So every YAML body is scanned first, in one linear pass, for how deeply it nests, and
//! refused past [`MAX_DEPTH`] before libyaml sees it. The scan over-approximates rather than
//! under-approximates: it counts flow collections (`[`, `{`) where YAML would open one, block
//! collections by indentation and compact `- ` entries, and skips quoted scalars, comments and
//! block scalars (`|`, `>`), whose contents are text.

use serde::de::DeserializeOwned;

/// The deepest nesting a YAML body may have. Deeper than serde_norway's limit (128), so that a
/// document the scan estimates a little too deep still gets serde_norway's own answer.
pub const MAX_DEPTH: usize = 256;

/// Parses a YAML document from a client, refusing one that nests deeper than [`MAX_DEPTH`].
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    check_depth(body, MAX_DEPTH)?;
    serde_norway::from_slice(body).map_err(|e| e.to_string())
}

/// Refuses a document whose estimated nesting exceeds `max`, in go-yaml's words.
pub fn check_depth(body: &[u8], max: usize) -> Result<(), String> {
    let depth = estimate_depth(body, max);
    if depth > max {
        return Err(format!("yaml: exceeded max depth of {max}"));
    }
    Ok(())
}

/// An upper estimate of how deeply `body` nests; stops counting once past `stop`.
fn estimate_depth(body: &[u8], stop: usize) -> usize {
    let mut deepest = 0;
    // Indentation of the open block collections.
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    // While inside a block scalar: the indentation its content must exceed.
    let mut block_scalar: Option<usize> = None;
    for line in body.split(|&b| b == b'\n') {
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let rest = &line[indent..];
        let blank = rest.iter().all(|b| b.is_ascii_whitespace());
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if blank || rest.first() == Some(&b'#') {
            continue;
        }
        if flow == 0 {
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let line_depth = scan_line(rest, &mut flow, &mut block_scalar);
        if block_scalar.is_some() {
            block_scalar = Some(indent);
        }
        deepest = deepest.max(indents.len() + line_depth);
        if deepest > stop {
            break;
        }
    }
    deepest
}

/// Scans one line (without its indentation): updates the open flow collections and whether a
/// block scalar starts here; returns the deepest nesting reached on the line beyond the block
/// collections (compact `- ` entries and flow collections).
fn scan_line(line: &[u8], flow: &mut usize, block_scalar: &mut Option<usize>) -> usize {
    let mut deepest = *flow;
    let mut compact = 0usize;
    let mut i = 0;
    // At the start of a node, where a flow collection may open in block context.
    let mut node_start = true;
    while i < line.len() {
        let b = line[i];
        let next_is_space = line.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
        match b {
            b'#' if i == 0 || line[i - 1].is_ascii_whitespace() => break,
            b'"' => {
                i = skip_double_quoted(line, i + 1);
                node_start = false;
                continue;
            }
            b'\'' => {
                i = skip_single_quoted(line, i + 1);
                node_start = false;
                continue;
            }
            b'[' | b'{' if *flow > 0 || node_start => {
                *flow += 1;
                node_start = true;
            }
            b']' | b'}' if *flow > 0 => {
                *flow -= 1;
                node_start = false;
            }
            b',' if *flow > 0 => node_start = true,
            b'-' | b'?' if *flow == 0 && node_start && next_is_space => {
                compact += 1;
                node_start = true;
            }
            b':' if next_is_space => node_start = true,
            b'|' | b'>' if *flow == 0 && node_start => {
                *block_scalar = Some(0);
                break;
            }
            b' ' | b'\t' => {}
            _ => node_start = false,
        }
        deepest = deepest.max(*flow + compact);
        i += 1;
    }
    deepest.max(*flow + compact)
}

/// The index after the closing `"` of a double-quoted scalar (or the line's end).
fn skip_double_quoted(line: &[u8], mut i: usize) -> usize {
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    line.len()
}

/// The index after the closing `'` of a single-quoted scalar (`''` is a quote inside it).
fn skip_single_quoted(line: &[u8], mut i: usize) -> usize {
    while i < line.len() {
        if line[i] == b'\'' {
            if line.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn depth(s: &str) -> usize {
        estimate_depth(s.as_bytes(), usize::MAX)
    }

    #[test]
    fn estimates_nesting() {
        assert_eq!(depth("a: 1\n"), 1);
        assert_eq!(depth("a:\n  b:\n    c: 1\n"), 3);
        assert_eq!(depth("a: [1, [2, {b: 3}]]\n"), 4);
        assert_eq!(depth("- - - a\n"), 4);
        // Brackets inside scalars, comments and block scalars are text.
        assert_eq!(depth("a: 'x[[['\nb: \"[[{\"\nc: a[b # [[[\n"), 1);
        assert_eq!(depth("script: |\n  if [ [ [ [ x ]\n  {{{{\nnext: 1\n"), 1);
        // Multi-line flow collections keep their depth across lines.
        assert_eq!(depth("a: [\n  [\n    [1]\n  ]\n]\n"), 4);
    }

    #[test]
    fn refuses_deep_documents_quickly() {
        for body in [
            format!("{{a: {}{}}}", "[".repeat(60_000), "]".repeat(60_000)),
            format!("{}a\n", "- ".repeat(60_000)),
            (0..3000)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect(),
        ] {
            let start = std::time::Instant::now();
            let err = from_slice::<Value>(body.as_bytes()).expect_err("too deep");
            assert_eq!(err, "yaml: exceeded max depth of 256");
            // Bounds runaway (quadratic) work only; the benchmarks measure speed.
            assert!(start.elapsed() < std::time::Duration::from_secs(15));
        }
    }

    #[test]
    fn parses_ordinary_documents() {
        let v: Value = from_slice(b"kind: ConfigMap\ndata:\n  a: '[x'\n  b: |\n    {{[\n").unwrap();
        assert_eq!(v["data"]["b"], "{{[\n");
        let nested = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(from_slice::<Value>(nested.as_bytes()).is_ok());
    }
}
