//! Server-side printing: `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (and v1beta1).
//!
//! kubectl prints table cells verbatim, so the server renders them as kubectl shows them against a
//! real cluster: the columns of each built-in type, a CRD's `additionalPrinterColumns`, and ages
//! like "5m" or "2d3h". Each resource's [`TableConvertor`] comes from its strategy.

mod custom;
pub mod jsonpath;
pub mod printer;

pub use custom::PrinterColumns;

use serde_json::{Value, json};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name`.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: String,
    /// OpenAPI format, e.g. `name`.
    pub format: String,
    /// Description.
    pub description: String,
    /// 0 = always shown; > 0 only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// A column.
    pub fn new(name: &str, type_: &str, priority: i32, description: &str) -> Self {
        Column {
            name: name.into(),
            type_: type_.into(),
            format: if name == "Name" {
                "name".into()
            } else {
                String::new()
            },
            description: description.into(),
            priority,
        }
    }

    fn to_json(&self) -> Value {
        json!({"name": self.name, "type": self.type_, "format": self.format, "description": self.description, "priority": self.priority})
    }
}

/// Turns objects of one resource into table rows.
pub trait TableConvertor: Send + Sync {
    /// The columns.
    fn columns(&self) -> Vec<Column>;
    /// The cells of one object, one per column.
    fn cells(&self, obj: &Value, now: jiff::Timestamp) -> Vec<Value>;
}

/// NAME and AGE only: what kubectl shows for a resource without printer columns.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameAge;

impl TableConvertor for NameAge {
    fn columns(&self) -> Vec<Column> {
        vec![name_column(), age_column()]
    }

    fn cells(&self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        vec![json!(name_of(obj)), json!(age(obj, now))]
    }
}

/// The standard Name column.
pub fn name_column() -> Column {
    Column::new(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    )
}

/// The standard Age column.
pub fn age_column() -> Column {
    Column::new(
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    )
}

/// `metadata.name`.
pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn parse_time(v: Option<&Value>) -> Option<jiff::Timestamp> {
    v.and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
}

/// Age of the object as kubectl renders it, or `<unknown>`.
pub fn age(obj: &Value, now: jiff::Timestamp) -> String {
    translate_timestamp(obj.pointer("/metadata/creationTimestamp"), now)
}

/// Time since `ts` as kubectl renders it, or `<unknown>`.
pub fn translate_timestamp(ts: Option<&Value>, now: jiff::Timestamp) -> String {
    match parse_time(ts) {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

/// kubectl's human-readable duration (apimachinery `duration.HumanDuration`).
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    let s = seconds;
    let m = s / 60;
    let h = s / 3600;
    if s < 60 * 2 {
        return format!("{s}s");
    }
    if m < 10 {
        let rem = s % 60;
        return if rem == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rem}s")
        };
    }
    if m < 60 * 3 {
        return format!("{m}m");
    }
    if h < 8 {
        let rem = m % 60;
        return if rem == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rem}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 24 * 8 {
        let rem = h % 24;
        return if rem == 0 {
            format!("{}d", h / 24)
        } else {
            format!("{}d{rem}h", h / 24)
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{}d", h / 24);
    }
    if h < 24 * 365 * 8 {
        let days = (h / 24) % 365;
        return if days == 0 {
            format!("{}y", h / 24 / 365)
        } else {
            format!("{}y{days}d", h / 24 / 365)
        };
    }
    format!("{}y", h / 24 / 365)
}

/// What a row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        match s {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// A `meta.k8s.io` Table of `objects`.
pub fn render(
    convertor: &dyn TableConvertor,
    objects: &[Value],
    api_version: &str,
    list_meta: Value,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": convertor.cells(o, now)});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))});
                }
                IncludeObject::Object => row["object"] = o.clone(),
            }
            row
        })
        .collect();
    let mut table = json!({"kind": "Table", "apiVersion": api_version, "metadata": list_meta});
    if with_columns {
        table["columnDefinitions"] =
            Value::Array(convertor.columns().iter().map(Column::to_json).collect());
    }
    table["rows"] = Value::Array(rows);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_kubectl() {
        for (s, want) in [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 120, "3h2m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400, "3y"),
            (3 * 365 * 86400 + 86400 * 5, "3y5d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }
}
