//! The JSONPath subset of CRD printer columns: `.a.b`, `['a.b']`, `[0]`, `[*]`, and filters
//! `[?(@.type=="Ready")]`. Paths are compiled once, when the CRD is established.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter {
        path: Vec<String>,
        value: String,
        negated: bool,
    },
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

fn parse_field_name(chars: &[char], i: &mut usize) -> String {
    let mut name = String::new();
    while *i < chars.len() && chars[*i] != '.' && chars[*i] != '[' {
        name.push(chars[*i]);
        *i += 1;
    }
    name
}

impl JsonPath {
    /// Compiles `path` (with or without surrounding `{}`); `Err` explains what is wrong.
    pub fn compile(path: &str) -> Result<JsonPath, String> {
        let p = path.trim();
        let p = p
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(p);
        let p = p.strip_prefix('$').unwrap_or(p);
        if p.is_empty() {
            return Err("must not be empty".into());
        }
        let chars: Vec<char> = p.chars().collect();
        let mut i = 0;
        let mut steps = Vec::new();
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    let name = parse_field_name(&chars, &mut i);
                    if name.is_empty() {
                        if i < chars.len() && chars[i] == '[' {
                            continue;
                        }
                        return Err(format!("invalid JSONPath {path:?}: empty field name"));
                    }
                    if name == "*" {
                        steps.push(Step::All);
                    } else {
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|c| *c == ']')
                        .map(|p| p + i)
                        .ok_or_else(|| format!("invalid JSONPath {path:?}: unclosed ["))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if inner == "*" {
                        steps.push(Step::All);
                    } else if let Some(q) =
                        inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
                    {
                        steps.push(Step::Field(q.to_string()));
                    } else if let Some(q) =
                        inner.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                    {
                        steps.push(Step::Field(q.to_string()));
                    } else if let Some(f) =
                        inner.strip_prefix("?(").and_then(|s| s.strip_suffix(')'))
                    {
                        let (lhs, rhs, negated) = if let Some((l, r)) = f.split_once("!=") {
                            (l, r, true)
                        } else if let Some((l, r)) = f.split_once("==") {
                            (l, r, false)
                        } else {
                            return Err(format!(
                                "invalid JSONPath {path:?}: unsupported filter {f:?}"
                            ));
                        };
                        let lhs = lhs.trim().strip_prefix("@.").ok_or_else(|| {
                            format!("invalid JSONPath {path:?}: filter must start with @.")
                        })?;
                        let value = rhs
                            .trim()
                            .trim_matches(|c| c == '"' || c == '\'')
                            .to_string();
                        steps.push(Step::Filter {
                            path: lhs.split('.').map(str::to_string).collect(),
                            value,
                            negated,
                        });
                    } else {
                        let n: i64 = inner.parse().map_err(|_| {
                            format!("invalid JSONPath {path:?}: bad index {inner:?}")
                        })?;
                        steps.push(Step::Index(n));
                    }
                    i = close + 1;
                }
                _ => {
                    // A leading bare name (`spec.x`) is accepted like `.spec.x`.
                    if !steps.is_empty() {
                        return Err(format!(
                            "invalid JSONPath {path:?}: unexpected {:?}",
                            chars[i]
                        ));
                    }
                    let name = parse_field_name(&chars, &mut i);
                    steps.push(Step::Field(name));
                }
            }
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path selects in `root`.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for v in current {
                match step {
                    Step::Field(name) => {
                        if let Some(x) = v.get(name.as_str()) {
                            next.push(x);
                        }
                    }
                    Step::Index(n) => {
                        if let Some(arr) = v.as_array() {
                            let idx = if *n < 0 { arr.len() as i64 + n } else { *n };
                            if let Some(x) = usize::try_from(idx).ok().and_then(|i| arr.get(i)) {
                                next.push(x);
                            }
                        }
                    }
                    Step::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                    Step::Filter {
                        path,
                        value,
                        negated,
                    } => {
                        if let Some(arr) = v.as_array() {
                            for item in arr {
                                let mut cur = Some(item);
                                for seg in path {
                                    cur = cur.and_then(|c| c.get(seg.as_str()));
                                }
                                let s = cur.map(|c| match c {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                });
                                if (s.as_deref() == Some(value.as_str())) != *negated {
                                    next.push(item);
                                }
                            }
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects() {
        let obj = json!({"spec": {"replicas": 3, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Other", "status": "False"}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "n"}}});
        let f = |p: &str| {
            JsonPath::compile(p)
                .expect("compiles")
                .find(&obj)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(f(".spec.replicas"), vec![json!(3)]);
        assert_eq!(
            f("{.spec.containers[*].image}"),
            vec![json!("x"), json!("y")]
        );
        assert_eq!(f(".spec.containers[1].name"), vec![json!("b")]);
        assert_eq!(
            f(".status.conditions[?(@.type==\"Ready\")].status"),
            vec![json!("True")]
        );
        assert_eq!(
            f(".metadata.labels['app.kubernetes.io/name']"),
            vec![json!("n")]
        );
        assert!(f(".nope").is_empty());
        for bad in ["", ".spec[", ".spec.[x]", ".a[?(@x)]"] {
            assert!(JsonPath::compile(bad).is_err(), "{bad}");
        }
    }
}
