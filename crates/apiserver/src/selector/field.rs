//! Field selectors: `a=b`, `a==b`, `a!=b`, comma-separated; backslash escapes `,` `=` `\` in values.
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

/// Unescapes a value as apimachinery's `UnescapeValue`: `\\`, `\,` and `\=` are the only escapes,
/// and an unescaped `,` or `=` is an error (worded as upstream, which prints the character's
/// code point).
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => return Err("invalid field selector: invalid escape sequence: \\".into()),
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits a selector into its terms on unescaped commas (escapes are kept in the terms).
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&input[start..i]);
            start = i + 1;
        }
    }
    terms.push(&input[start..]);
    terms
}

/// Splits a term at the first place any operator starts (`!=`, then `==`, then `=` at the same
/// place): the field cannot be escaped, the value is unescaped afterwards.
fn split_term(term: &str) -> Option<(&str, &str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter as apimachinery's `fields.ParseSelector`
    /// (terms in sorted order, so the first error reported is upstream's).
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        if input.is_empty() {
            return Ok(FieldSelector { requirements });
        }
        let mut parts = split_terms(input);
        parts.sort_unstable();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((field, op, value)) = split_term(part) else {
                return Err(format!(
                    "invalid selector: '{input}'; can't understand '{part}'"
                ));
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                value: unescape(value)?,
                negated: op == "!=",
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
        let sel = FieldSelector::parse("status.phase!=Running,metadata.name=a\\,b").expect("parse");
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
        assert_eq!(sel.requirements[1].value, "é€");
        assert!(sel.requirements[0].negated);
        // An escape before a multi-byte character must not panic either.
        let _ = FieldSelector::parse("\\é=x,\\€!=y");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["nonsense", "a=\\q", "é", "a=b=c", "a=\\"] {
            assert!(FieldSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_are_worded_as_upstream() {
        assert_eq!(
            FieldSelector::parse("metadata.name==a==b"),
            Err("invalid field selector: unescaped character in value: 61".to_string())
        );
        assert_eq!(
            FieldSelector::parse("b=1,nonsense"),
            Err("invalid selector: 'b=1,nonsense'; can't understand 'nonsense'".to_string())
        );
        assert_eq!(
            FieldSelector::parse("a=\\q"),
            Err("invalid field selector: invalid escape sequence: \\q".to_string())
        );
        // The first operator wins, wherever it is.
        let sel = FieldSelector::parse("a=b!\\=c").expect("parse");
        assert_eq!(sel.requirements[0].field, "a");
        assert_eq!(sel.requirements[0].value, "b!=c");
    }
}
