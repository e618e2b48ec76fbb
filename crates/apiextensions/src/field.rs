//! Field errors rendered exactly as apimachinery's `field.Error` renders them.
//!
//! kube-apiserver builds its messages from Go values: strings are `strconv.Quote`d, numbers are
//! printed with `%v`, anything else is JSON-marshalled (sorted keys, HTML-safe). Clients compare
//! these strings, so this module reproduces those renderings instead of using Rust's.

use crate::FieldCause;
use serde_json::Value;

/// Field paths as `field.Path` prints them: `a.b`, `a[0]`, `a[key]`; the empty (nil) path is
/// rendered `<nil>`.
pub fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]` (map keys and list-map keys).
pub fn key(parent: &str, k: &str) -> String {
    format!("{parent}[{k}]")
}

fn shown_path(path: &str) -> &str {
    if path.is_empty() { "<nil>" } else { path }
}

/// The bad value of a field error.
#[derive(Debug, Clone, Copy)]
pub enum Bad<'a> {
    /// A JSON value (strings quoted, numbers `%v`, the rest JSON).
    Json(&'a Value),
    /// A Go string.
    Str(&'a str),
    /// A Go integer.
    Int(i64),
    /// A nil value (`null`).
    Null,
    /// No value shown.
    Omit,
    /// A Go value already rendered as Go prints it (`%#v` of a slice: `[]string{"a"}`).
    Raw(&'a str),
}

impl Bad<'_> {
    fn render(self) -> Option<String> {
        match self {
            Bad::Json(Value::String(s)) => Some(go_quote(s)),
            Bad::Str(s) => Some(go_quote(s)),
            Bad::Json(Value::Number(n)) => Some(go_number(n)),
            Bad::Json(Value::Bool(b)) => Some(b.to_string()),
            Bad::Json(v) => Some(go_json(v)),
            Bad::Int(i) => Some(i.to_string()),
            Bad::Null => Some("null".into()),
            Bad::Omit => None,
            Bad::Raw(s) => Some(s.to_string()),
        }
    }
}

fn with_value(
    reason: &'static str,
    kind: &str,
    field: &str,
    bad: Bad<'_>,
    detail: &str,
) -> FieldCause {
    let mut body = kind.to_string();
    if let Some(v) = bad.render() {
        body.push_str(": ");
        body.push_str(&v);
    }
    if !detail.is_empty() {
        body.push_str(": ");
        body.push_str(detail);
    }
    FieldCause {
        reason,
        field: shown_path(field).to_string(),
        message: format!("{}: {body}", shown_path(field)),
    }
}

fn without_value(reason: &'static str, kind: &str, field: &str, detail: &str) -> FieldCause {
    with_value(reason, kind, field, Bad::Omit, detail)
}

/// `field.Invalid`.
pub fn invalid(field: &str, bad: Bad<'_>, detail: &str) -> FieldCause {
    with_value("FieldValueInvalid", "Invalid value", field, bad, detail)
}

/// `field.TypeInvalid`.
pub fn type_invalid(field: &str, bad: Bad<'_>, detail: &str) -> FieldCause {
    with_value("FieldValueTypeInvalid", "Invalid value", field, bad, detail)
}

/// `field.Required`.
pub fn required(field: &str, detail: &str) -> FieldCause {
    without_value("FieldValueRequired", "Required value", field, detail)
}

/// `field.Forbidden`.
pub fn forbidden(field: &str, detail: &str) -> FieldCause {
    without_value("FieldValueForbidden", "Forbidden", field, detail)
}

/// `field.Duplicate`.
pub fn duplicate(field: &str, bad: Bad<'_>) -> FieldCause {
    with_value("FieldValueDuplicate", "Duplicate value", field, bad, "")
}

/// `field.NotSupported`: `supported values: "a", "b"`.
pub fn not_supported<S: AsRef<str>>(field: &str, bad: Bad<'_>, supported: &[S]) -> FieldCause {
    let detail = if supported.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = supported.iter().map(|s| go_quote(s.as_ref())).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    with_value(
        "FieldValueNotSupported",
        "Unsupported value",
        field,
        bad,
        &detail,
    )
}

/// `field.TooLong`: `may not be more than N bytes`.
pub fn too_long(field: &str, max: i64) -> FieldCause {
    let detail = if max >= 0 {
        format!(
            "may not be more than {max} {}",
            if max == 1 { "byte" } else { "bytes" }
        )
    } else {
        "value is too long".to_string()
    };
    without_value("FieldValueTooLong", "Too long", field, &detail)
}

/// `field.TooMany`: `Too many: N: must have at most M items`.
pub fn too_many(field: &str, actual: i64, max: i64) -> FieldCause {
    let detail = if max >= 0 {
        format!(
            "must have at most {max} {}",
            if max == 1 { "item" } else { "items" }
        )
    } else {
        "has too many items".to_string()
    };
    let bad = if actual >= 0 {
        Bad::Int(actual)
    } else {
        Bad::Omit
    };
    with_value("FieldValueTooMany", "Too many", field, bad, &detail)
}

/// `field.InternalError`.
pub fn internal(field: &str, detail: &str) -> FieldCause {
    without_value("InternalError", "Internal error", field, detail)
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters and unassigned/private-use ranges Go does not print.
    !matches!(c as u32, 0xad | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff)
}

/// A JSON number as Go prints the `int64`/`float64` it decodes to (`%v`).
pub fn go_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(f) = n.as_f64() {
        go_float(f)
    } else {
        n.to_string()
    }
}

/// The shortest decimal digits of `f` and its decimal point position (`0.d1d2… × 10^dp`).
fn shortest_digits(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0').to_string();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    (digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if dp <= 0 {
        s.push_str("0.");
        for _ in 0..(-dp) {
            s.push('0');
        }
        s.push_str(digits);
    } else if dp as usize >= digits.len() {
        s.push_str(digits);
        for _ in 0..(dp as usize - digits.len()) {
            s.push('0');
        }
    } else {
        s.push_str(&digits[..dp as usize]);
        s.push('.');
        s.push_str(&digits[dp as usize..]);
    }
    s
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, dp) = shortest_digits(f);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        fmt_e(f < 0.0, &digits, dp)
    } else {
        fmt_f(f < 0.0, &digits, dp)
    }
}

/// A float as Go's `encoding/json` writes it.
fn go_json_float(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let (digits, dp) = shortest_digits(f);
    let a = f.abs();
    if !(1e-6..1e21).contains(&a) {
        let s = fmt_e(f < 0.0, &digits, dp);
        // Go writes e-07 as e-7.
        if let Some(pos) = s.find("e-0") {
            return format!("{}e-{}", &s[..pos], &s[pos + 3..]);
        }
        s
    } else {
        fmt_f(f < 0.0, &digits, dp)
    }
}

fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn go_json_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => match n.as_u64() {
                Some(u) => out.push_str(&u.to_string()),
                None => out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0))),
            },
        },
        Value::String(s) => go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_into(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json_into(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// Go's `json.Marshal` of a decoded JSON value (sorted keys, HTML-safe strings).
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    go_json_into(v, &mut out);
    out
}

/// Go's `%T` of a decoded JSON value.
pub fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a decoded JSON value.
pub fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_v(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_go() {
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1.5e-5), "1.5e-05");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(-2.25), "-2.25");
        assert_eq!(go_float(1.1e21), "1.1e+21");
        assert_eq!(
            go_json(&json!({"b": 1.5, "a": "<x>"})),
            r#"{"a":"\u003cx\u003e","b":1.5}"#
        );
        assert_eq!(go_json(&json!(1e21)), "1e+21");
        assert_eq!(go_json(&json!(1e-7)), "1e-7");
        assert_eq!(go_quote("a\"b\n\u{1}é"), r#""a\"b\n\x01é""#);
        assert_eq!(
            not_supported(
                "spec.action",
                Bad::Json(&json!("explode")),
                &["label", "kill"]
            )
            .message,
            r#"spec.action: Unsupported value: "explode": supported values: "label", "kill""#
        );
        assert_eq!(
            too_long("x", 2).message,
            "x: Too long: may not be more than 2 bytes"
        );
        assert_eq!(
            too_many("x", 3, 2).message,
            "x: Too many: 3: must have at most 2 items"
        );
        assert_eq!(required("", "").message, "<nil>: Required value");
        assert_eq!(
            invalid("", Bad::Null, "boom").message,
            "<nil>: Invalid value: null: boom"
        );
        assert_eq!(
            invalid("f", Bad::Omit, "boom").message,
            "f: Invalid value: boom"
        );
        assert_eq!(
            go_v(&json!({"b": [1, "x"], "a": true})),
            "map[a:true b:[1 x]]"
        );
    }
}
