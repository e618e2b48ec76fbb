//! Field causes: one problem with one field, as kube-apiserver reports it in
//! `Status.details.causes` (apimachinery's `field.Error`, flattened to what the Status carries).
//!
//! These constructors render values as Rust's JSON does; `field.rs` has the ones that render them
//! exactly as Go does, for the messages clients compare.

use serde_json::Value;

/// One problem with one field, as in `Status.details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    /// Machine-readable cause, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: &'static str,
    /// JSON path of the field, e.g. `metadata.name`.
    pub field: String,
    /// Human-readable message, already including the field path as upstream does.
    pub message: String,
}

impl FieldCause {
    /// `field: Invalid value: <value>: detail`.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl AsRef<str>) -> Self {
        let field = field.into();
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        FieldCause {
            reason: "FieldValueInvalid",
            message: format!("{field}: Invalid value: {shown}: {}", detail.as_ref()),
            field,
        }
    }

    /// `field: Invalid value: <shown>: detail`, for a value already rendered as upstream renders
    /// it (Go's `%#v` of a struct or map, or `"null"` for a nil pointer).
    pub fn invalid_shown(field: impl Into<String>, shown: &str, detail: impl AsRef<str>) -> Self {
        let field = field.into();
        FieldCause {
            reason: "FieldValueInvalid",
            message: format!("{field}: Invalid value: {shown}: {}", detail.as_ref()),
            field,
        }
    }

    /// `field: Required value[: detail]`.
    pub fn required(field: impl Into<String>, detail: impl AsRef<str>) -> Self {
        let field = field.into();
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            format!("{field}: Required value")
        } else {
            format!("{field}: Required value: {detail}")
        };
        FieldCause {
            reason: "FieldValueRequired",
            message,
            field,
        }
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(field: impl Into<String>, detail: impl AsRef<str>) -> Self {
        let field = field.into();
        FieldCause {
            reason: "FieldValueForbidden",
            message: format!("{field}: Forbidden: {}", detail.as_ref()),
            field,
        }
    }

    /// `field: Invalid value: "type": detail` for a value of the wrong JSON type.
    pub fn type_invalid(field: impl Into<String>, value: &Value, expected: &str) -> Self {
        let field = field.into();
        FieldCause {
            reason: "FieldValueTypeInvalid",
            message: format!(
                "{field}: Invalid value: \"{}\": {field} in body must be of type {expected}: \"{}\"",
                json_type_name(value),
                json_type_name(value)
            ),
            field,
        }
    }

    /// `field: Unsupported value: "v": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[String]) -> Self {
        let field = field.into();
        let list = supported
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        FieldCause {
            reason: "FieldValueNotSupported",
            message: format!("{field}: Unsupported value: {value}: supported values: {list}"),
            field,
        }
    }

    /// `field: Duplicate value: v`.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        let field = field.into();
        FieldCause {
            reason: "FieldValueDuplicate",
            message: format!("{field}: Duplicate value: {value}"),
            field,
        }
    }
}

/// The JSON type name used in upstream's type errors.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
