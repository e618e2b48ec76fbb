//! Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1`.

use crate::validation::{label_value_problems, qualified_name_problems};
use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// The label exists and equals one of the values (`=`, `==`, `in`).
    In(String, Vec<String>),
    /// The label does not exist or equals none of the values (`!=`, `notin`).
    NotIn(String, Vec<String>),
    /// The label exists.
    Exists(String),
    /// The label does not exist.
    DoesNotExist(String),
    /// The label is an integer greater than the value.
    Gt(String, i64),
    /// The label is an integer less than the value.
    Lt(String, i64),
}

/// A parsed label selector; all requirements must hold. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(input)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// The selector a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`) states;
    /// `None` when an expression has an operator that does not exist.
    pub fn from_object(selector: &serde_json::Value) -> Option<Self> {
        use serde_json::Value;
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                requirements.push(Requirement::In(
                    k.clone(),
                    vec![v.as_str().unwrap_or_default().to_string()],
                ));
            }
        }
        for e in selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e.get("key").and_then(Value::as_str)?.to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            requirements.push(match e.get("operator").and_then(Value::as_str)? {
                "In" => Requirement::In(key, values),
                "NotIn" => Requirement::NotIn(key, values),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::DoesNotExist(key),
                _ => return None,
            });
        }
        Some(LabelSelector { requirements })
    }

    /// True if no requirement is set.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Gt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Requirement::Lt(k, n) => labels
                .get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!(
                        "unable to parse requirement: unexpected ')' in {input:?}"
                    ));
                }
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!(
            "unable to parse requirement: unclosed '(' in {input:?}"
        ));
    }
    parts.push(&input[start..]);
    if parts.len() > 1 && parts.iter().any(|p| p.trim().is_empty()) {
        return Err(format!(
            "unable to parse requirement: empty requirement in {input:?}"
        ));
    }
    Ok(parts)
}

fn key(k: &str) -> Result<String, String> {
    let k = k.trim();
    let problems = qualified_name_problems(k);
    if problems.is_empty() {
        Ok(k.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {k:?}: {}",
            problems.join("; ")
        ))
    }
}

fn value(v: &str) -> Result<String, String> {
    let v = v.trim();
    let problems = label_value_problems(v);
    if problems.is_empty() {
        Ok(v.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label value: {v:?}: {}",
            problems.join("; ")
        ))
    }
}

fn set_values(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: expected '(' values ')', found {rest:?}")
        })?;
    let values = inner.split(',').map(value).collect::<Result<Vec<_>, _>>()?;
    Ok(values)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key(k)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotIn(key(k)?, vec![value(v)?]));
    }
    if let Some((k, v)) = part.split_once("==") {
        return Ok(Requirement::In(key(k)?, vec![value(v)?]));
    }
    if let Some((k, v)) = part.split_once('=') {
        return Ok(Requirement::In(key(k)?, vec![value(v)?]));
    }
    for (op, gt) in [('>', true), ('<', false)] {
        if let Some((k, v)) = part.split_once(op) {
            let n: i64 = v.trim().parse().map_err(|_| {
                format!("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {v:?}")
            })?;
            let k = key(k)?;
            return Ok(if gt {
                Requirement::Gt(k, n)
            } else {
                Requirement::Lt(k, n)
            });
        }
    }
    let tokens: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [k, rest] = tokens.as_slice() {
        let rest = rest.trim_start();
        if let Some(vals) = rest.strip_prefix("notin") {
            return Ok(Requirement::NotIn(key(k)?, set_values(vals)?));
        }
        if let Some(vals) = rest.strip_prefix("in") {
            return Ok(Requirement::In(key(k)?, set_values(vals)?));
        }
        return Err(format!(
            "unable to parse requirement: found {rest:?}, expected: in, notin, =, ==, !=, gt, lt"
        ));
    }
    if part.contains('(') || part.contains(')') {
        return Err(format!("unable to parse requirement: unexpected {part:?}"));
    }
    Ok(Requirement::Exists(key(part)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn all_operators() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web,db)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing!=x", true),
            ("app=web,tier=back", false),
            ("n>4,n<6", true),
            ("", true),
            ("example.com/role in (a),app=web", false),
        ] {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(parsed.matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for sel in [
            "app in (a",
            "a=b=c",
            "app in a",
            "-bad=x",
            "a=,",
            "app=(x)",
            "x>y",
            "a b c",
        ] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel} should fail");
        }
    }
}
