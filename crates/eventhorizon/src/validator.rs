//! CloudEventValidators compiled: each allowed pattern is a glob (`*` any run, `?` one
//! character) or, written `/like this/`, a regular expression; either must match the whole
//! value.

use crate::types::CloudEventValidatorSpec;
use cloudevents::{AttributesReader, Event};
use regex::Regex;

/// One compiled validator.
#[derive(Debug, Clone)]
pub struct Validator {
    /// Its name.
    pub name: String,
    /// Handlers it guards (empty: all).
    pub handlers: Vec<String>,
    /// Its priority (higher first).
    pub priority: i32,
    types: Vec<Regex>,
    sources: Vec<Regex>,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The validator that refused it.
    pub validator: String,
    /// `type` or `source`.
    pub attribute: &'static str,
    /// The refused value.
    pub value: String,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event {} {:?} is not allowed by CloudEventValidator {}",
            self.attribute, self.value, self.validator
        )
    }
}

/// A pattern as an anchored regex.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let source = match pattern
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix('/'))
        .filter(|_| pattern.len() >= 2)
    {
        Some(re) => format!("^(?:{re})$"),
        None => {
            let mut re = String::from("^");
            for c in pattern.chars() {
                match c {
                    '*' => re.push_str(".*"),
                    '?' => re.push('.'),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
            }
            re.push('$');
            re
        }
    };
    regex::RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("pattern {pattern:?}: {e}"))
}

impl Validator {
    /// Compiles `spec`, or says which pattern is invalid.
    pub fn new(name: &str, spec: &CloudEventValidatorSpec) -> Result<Validator, String> {
        let all = |patterns: &[String]| {
            patterns
                .iter()
                .map(|p| compile(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Validator {
            name: name.to_string(),
            handlers: spec.handlers.clone(),
            priority: spec.priority,
            types: all(&spec.allowed_types)?,
            sources: all(&spec.allowed_sources)?,
        })
    }

    /// Whether it guards any of `handlers`.
    pub fn applies_to<'a>(&self, mut handlers: impl Iterator<Item = &'a str>) -> bool {
        self.handlers.is_empty() || handlers.any(|h| self.handlers.iter().any(|g| g == h))
    }

    /// Checks `event`.
    pub fn check(&self, event: &Event) -> Result<(), Denied> {
        let source = event.source().to_string();
        for (attribute, patterns, value) in [
            ("type", &self.types, event.ty()),
            ("source", &self.sources, source.as_str()),
        ] {
            if !patterns.is_empty() && !patterns.iter().any(|p| p.is_match(value)) {
                return Err(Denied {
                    validator: self.name.clone(),
                    attribute,
                    value: value.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Sorts validators as they are checked: priority descending, then name.
pub fn order(validators: &mut [Validator]) {
    validators.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.name.cmp(&b.name)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_regexes_match_whole_values() {
        let glob = compile("com.example.*").unwrap();
        assert!(glob.is_match("com.example.created"));
        assert!(!glob.is_match("org.com.example.x"));
        let one = compile("v?").unwrap();
        assert!(one.is_match("v1") && !one.is_match("v10"));
        let re = compile("/https://[a-z]+\\.example/").unwrap();
        assert!(re.is_match("https://api.example"));
        assert!(!re.is_match("https://api.example/x"));
        assert!(compile("/(/").is_err());
        assert!(compile("a.b").unwrap().is_match("a.b"));
        assert!(!compile("a.b").unwrap().is_match("axb"));
    }
}
