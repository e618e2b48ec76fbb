//! Printers: tables defined by two functions (columns, and one object's cells), and the cell
//! helpers the built-in resources' printers share (upstream's `pkg/printers/internalversion`
//! conventions: `<none>` for empty, selectors as `k=v,...`).

use super::{Column, TableConvertor, name_column, name_of};
use serde_json::{Value, json};

/// A table defined by two functions: its columns and one object's cells.
#[derive(Clone, Copy)]
pub struct Printer {
    /// The columns.
    pub columns: fn() -> Vec<Column>,
    /// One object's cells.
    pub cells: fn(&Value, jiff::Timestamp) -> Vec<Value>,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").finish_non_exhaustive()
    }
}

impl TableConvertor for Printer {
    fn columns(&self) -> Vec<Column> {
        (self.columns)()
    }
    fn cells(&self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        (self.cells)(obj, now)
    }
}
/// The string at `pointer`, or "" when absent or not a string.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at `pointer`, or 0.
pub fn n(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// How many entries the map or list at `pointer` has (0 when absent).
pub fn len(v: &Value, pointer: &str) -> usize {
    match v.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// A column without a description.
pub fn col(name: &str, type_: &str, priority: i32) -> Column {
    Column::new(name, type_, priority, "")
}

/// `<none>` for an empty cell, as kubectl prints it.
pub fn none_if_empty(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

/// A label selector as kubectl prints it (`k=v,k in (a,b)`), `<none>` when absent.
pub fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    } else if let Some(m) = sel
        .as_object()
        .filter(|m| !m.contains_key("matchExpressions"))
    {
        parts.extend(
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))),
        );
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = s(e, "/key");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match s(e, "/operator") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    none_if_empty(parts.join(","))
}

/// The comma-joined names and images of the containers at `pointer`.
pub fn containers_and_images(obj: &Value, pointer: &str) -> (String, String) {
    let cs = obj
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// Role, ClusterRole and CustomResourceDefinition: NAME CREATED AT.
pub const CREATED_AT: Printer = Printer {
    columns: || vec![name_column(), Column::new("Created At", "date", 0, "")],
    cells: |o, _| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/metadata/creationTimestamp")),
        ]
    },
};

/// The wide columns of a workload: CONTAINERS IMAGES SELECTOR.
pub fn workload_columns() -> [Column; 3] {
    [
        col("Containers", "string", 1),
        col("Images", "string", 1),
        col("Selector", "string", 1),
    ]
}

/// A workload's cells for [`workload_columns`]: its pod template's containers and images, and
/// its selector.
pub fn workload_cells(o: &Value) -> [Value; 3] {
    let (containers, images) = containers_and_images(o, "/spec/template/spec/containers");
    [
        json!(containers),
        json!(images),
        json!(selector_string(o.pointer("/spec/selector"))),
    ]
}

/// Access modes as kubectl abbreviates them (`RWO,ROX,RWX,RWOP`), in the order given.
pub fn access_modes(modes: Option<&Value>) -> String {
    let list: Vec<&str> = modes
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    other => other,
                })
                .collect()
        })
        .unwrap_or_default();
    list.join(",")
}

/// A label map as `k=v,...` (sorted), `<none>` when empty.
pub fn labels_string(labels: Option<&Value>) -> String {
    let mut pairs: Vec<String> = labels
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    none_if_empty(pairs.join(","))
}

/// The string at `pointer`, `<none>` when absent or empty.
pub fn or_none(v: &Value, pointer: &str) -> String {
    none_if_empty(s(v, pointer).to_string())
}

/// The integer at `pointer` as text, `<unset>` when absent (kubectl's optional counts).
pub fn int_or_unset(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "<unset>".into(),
    }
}
