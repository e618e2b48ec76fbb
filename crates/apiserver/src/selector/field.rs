//! Field selectors: `a=b`, `a==b`, `a!=b`, comma-separated; backslash escapes `,` `=` `!` `\`.
//!
//! Which fields a resource supports is its strategy's business; this module only parses and
//! matches against values the strategy extracts.

/// One requirement: a field equals (or does not equal) a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Field path, e.g. `metadata.name`.
    pub field: String,
    /// The value compared against.
    pub value: String,
    /// `!=` rather than `=`.
    pub negated: bool,
    /// The value the field has on an object that leaves it unset (its type's zero value, which
    /// the resource's strategy knows; `""` unless set).
    pub unset: String,
}

/// A parsed field selector; all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// The requirements.
    pub requirements: Vec<FieldRequirement>,
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | ',' | '=' | '!')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => return Err("invalid field selector: trailing backslash".into()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Splits on the first unescaped occurrence of `op`.
fn split_unescaped<'a>(s: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        // Compare bytes: `i` may be inside a multi-byte character; an ASCII `op` never is.
        if bytes[i..].starts_with(op.as_bytes()) {
            return Some((&s[..i], &s[i + op.len()..]));
        }
        i += 1;
    }
    None
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        let mut parts = Vec::new();
        let mut start = 0;
        let bytes = input.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b',' => {
                    parts.push(&input[start..i]);
                    start = i + 1;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        parts.push(&input[start.min(input.len())..]);
        for part in parts {
            if part.trim().is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = split_unescaped(part, "!=") {
                (f, v, true)
            } else if let Some((f, v)) = split_unescaped(part, "==") {
                (f, v, false)
            } else if let Some((f, v)) = split_unescaped(part, "=") {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if field.is_empty() {
                return Err(format!("invalid selector: '{part}': empty field name"));
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                value: unescape(value)?,
                negated,
                unset: String::new(),
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// True if no requirement is set.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether the values `lookup` returns satisfy every requirement (a missing field has the
    /// requirement's `unset` value).
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = lookup(&r.field);
            let actual = actual.as_deref().unwrap_or(&r.unset);
            (actual == r.value) != r.negated
        })
    }

    /// The name this selector pins, if it has `metadata.name=X` (lets a list skip the scan).
    pub fn exact_name(&self) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == "metadata.name" && !r.negated)
            .map(|r| r.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let sel = FieldSelector::parse("metadata.name=a\\,b,status.phase!=Running").expect("parse");
        assert_eq!(sel.requirements.len(), 2);
        assert_eq!(sel.requirements[0].value, "a,b");
        assert_eq!(sel.exact_name(), Some("a,b"));
        let lookup = |f: &str| match f {
            "metadata.name" => Some("a,b".to_string()),
            "status.phase" => Some("Pending".to_string()),
            _ => None,
        };
        assert!(sel.matches(lookup));
        assert!(
            FieldSelector::parse("metadata.name==x")
                .expect("parse")
                .requirements[0]
                .value
                == "x"
        );
    }

    #[test]
    fn non_ascii_is_not_split_inside_a_character() {
        let sel = FieldSelector::parse("metadata.name=é€,a!=𑛁").expect("parse");
        assert_eq!(sel.requirements[0].value, "é€");
        assert!(sel.requirements[1].negated);
        // An escape before a multi-byte character must not panic either.
        let _ = FieldSelector::parse("\\é=x,\\€!=y");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["nonsense", "=x", "a=\\q", "é"] {
            assert!(FieldSelector::parse(bad).is_err(), "{bad}");
        }
    }
}
