//! JSON values as CEL sees them under a schema (apiserver `cel/common/valuesunstructured.go`):
//! property names escaped (`foo-bar` → `foo__dash__bar`, `namespace` → `__namespace__`),
//! `date`/`date-time` strings as timestamps, `duration` strings as durations, `byte` strings as
//! bytes, `number`s as doubles, and a resource root exposing `apiVersion`, `kind` and
//! `metadata.name`/`metadata.generateName` only.

use super::super::formats::go_parse_duration;
use super::super::{Additional, Node};
use base64::Engine;
use kube_cel::cel::Value as Cel;
use kube_cel::cel::objects::{Key, Map};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// CEL's reserved words (cel-go's parser `reservedIds`): not usable as identifiers, escaped
/// as `__<word>__` when a property is named so.
pub const RESERVED_WORDS: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// apiserver's `cel.Escape`: the CEL name of a property, `None` if it cannot be accessed.
pub fn escape(ident: &str) -> Option<String> {
    let first = ident.chars().next()?;
    if first.is_ascii_digit() {
        return None;
    }
    if RESERVED_WORDS.contains(&ident) {
        return Some(format!("__{ident}__"));
    }
    let mut out = String::with_capacity(ident.len());
    let chars: Vec<char> = ident.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '_' if chars.get(i + 1) == Some(&'_') => {
                out.push_str("__underscores__");
                i += 2;
                continue;
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

/// The inverse of [`escape`].
pub fn unescape(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains("__") {
        return std::borrow::Cow::Borrowed(name);
    }
    if let Some(inner) = name.strip_prefix("__").and_then(|s| s.strip_suffix("__"))
        && RESERVED_WORDS.contains(&inner)
    {
        return std::borrow::Cow::Owned(inner.to_string());
    }
    std::borrow::Cow::Owned(
        name.replace("__underscores__", "__")
            .replace("__dot__", ".")
            .replace("__dash__", "-")
            .replace("__slash__", "/"),
    )
}

pub(crate) fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

pub(crate) fn map(m: HashMap<Key, Cel>) -> Cel {
    Cel::Map(Map { map: Arc::new(m) })
}

/// `v` under schema `s` (`None`: no schema, plain JSON).
pub fn to_cel(v: &Value, s: Option<&Node>) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => {
            let number = s.is_some_and(|s| s.type_ == "number");
            match (n.as_i64(), number) {
                (Some(i), false) => Cel::Int(i),
                _ => {
                    let f = n.as_f64().unwrap_or(0.0);
                    if s.is_some_and(|s| s.type_ == "integer") && f.fract() == 0.0 {
                        Cel::Int(f as i64)
                    } else {
                        Cel::Float(f)
                    }
                }
            }
        }
        Value::String(text) => string(text, s),
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            Cel::List(Arc::new(
                items.iter().map(|x| to_cel(x, item_schema)).collect(),
            ))
        }
        Value::Object(obj) => {
            let Some(s) = s else {
                return map(obj.iter().map(|(k, x)| (key(k), to_cel(x, None))).collect());
            };
            if !s.properties.is_empty() || s.resource_root {
                let mut m = HashMap::with_capacity(obj.len());
                for (k, x) in obj {
                    if s.resource_root && (k == "apiVersion" || k == "kind") {
                        m.insert(key(k), to_cel(x, None));
                    } else if s.resource_root && k == "metadata" {
                        let mut meta = HashMap::new();
                        if let Some(mo) = x.as_object() {
                            for f in ["name", "generateName"] {
                                if let Some(val) = mo.get(f) {
                                    meta.insert(key(f), to_cel(val, None));
                                }
                            }
                        }
                        m.insert(key(k), map(meta));
                    } else if let Some(prop) = s.property(k) {
                        if let Some(name) = escape(k) {
                            m.insert(key(&name), to_cel(x, Some(prop)));
                        }
                    } else if s.preserve_unknown {
                        m.insert(key(k), to_cel(x, None));
                    }
                }
                return map(m);
            }
            match &s.additional {
                Some(Additional::Schema(add)) => map(obj
                    .iter()
                    .map(|(k, x)| (key(k), to_cel(x, Some(add))))
                    .collect()),
                _ => map(obj.iter().map(|(k, x)| (key(k), to_cel(x, None))).collect()),
            }
        }
    }
}

fn string(text: &str, s: Option<&Node>) -> Cel {
    let plain = || Cel::String(Arc::new(text.to_string()));
    let Some(s) = s else { return plain() };
    match s.format.as_str() {
        "date-time" => chrono::DateTime::parse_from_rfc3339(text)
            .map(Cel::Timestamp)
            .unwrap_or_else(|_| plain()),
        "date" => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Cel::Timestamp(d.and_utc().fixed_offset()))
            .unwrap_or_else(plain),
        "duration" => go_parse_duration(text)
            .and_then(|ns| i64::try_from(ns).ok())
            .map(|ns| Cel::Duration(chrono::Duration::nanoseconds(ns)))
            .unwrap_or_else(plain),
        "byte" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(|b| Cel::Bytes(Arc::new(b)))
            .unwrap_or_else(|_| plain()),
        _ => plain(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_apiserver() {
        for (raw, escaped) in [
            ("foo", Some("foo")),
            ("namespace", Some("__namespace__")),
            ("foo-bar", Some("foo__dash__bar")),
            ("a.b/c", Some("a__dot__b__slash__c")),
            ("a__b", Some("a__underscores__b")),
            ("my_field", Some("my_field")),
            ("1a", None),
            ("a b", None),
        ] {
            assert_eq!(escape(raw).as_deref(), escaped, "{raw}");
            if let Some(e) = escaped {
                assert_eq!(unescape(e), raw);
            }
        }
    }
}
