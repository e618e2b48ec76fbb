//! A CRD version's `additionalPrinterColumns` as a table: Name first, then the columns (JSONPath
//! cells typed by the column's type, dates as ages), and Age when no column is given.

use super::jsonpath::JsonPath;
use super::{Column, TableConvertor, age_column, name_column, name_of, translate_timestamp};
use serde_json::{Value, json};

/// Compiled printer columns.
#[derive(Debug, Clone)]
pub struct PrinterColumns {
    columns: Vec<(Column, Option<JsonPath>)>,
}

impl PrinterColumns {
    /// From `additionalPrinterColumns` (None or empty: Name and Age). Columns whose JSONPath does
    /// not compile render as empty cells (CRD validation rejects them up front).
    pub fn new(raw: Option<&Value>) -> Self {
        let specs = raw.and_then(Value::as_array).cloned().unwrap_or_default();
        let mut columns = vec![(name_column(), None)];
        if specs.is_empty() {
            columns.push((age_column(), None));
        }
        for spec in specs {
            let s = |k: &str| {
                spec.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let mut col = Column::new(
                &s("name"),
                &s("type"),
                spec.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                &s("description"),
            );
            col.format = s("format");
            let path = JsonPath::compile(&s("jsonPath")).ok();
            columns.push((col, path));
        }
        PrinterColumns { columns }
    }
}

fn cell(type_: &str, values: &[&Value], now: jiff::Timestamp) -> Value {
    match values {
        [] => Value::Null,
        [one] => match type_ {
            "date" => json!(translate_timestamp(Some(one), now)),
            "integer" => one.as_i64().map(Value::from).unwrap_or(Value::Null),
            "number" => one.as_f64().map(Value::from).unwrap_or(Value::Null),
            "boolean" => one.as_bool().map(Value::from).unwrap_or(Value::Null),
            _ => match one {
                Value::String(s) => json!(s),
                other => json!(other.to_string()),
            },
        },
        many => json!(
            many.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

impl TableConvertor for PrinterColumns {
    fn columns(&self) -> Vec<Column> {
        self.columns.iter().map(|(c, _)| c.clone()).collect()
    }

    fn cells(&self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, (col, path))| match (i, path) {
                (0, _) => json!(name_of(obj)),
                (_, None) if col.name == "Age" => json!(super::age(obj, now)),
                (_, None) => Value::Null,
                (_, Some(p)) => cell(&col.type_, &p.find(obj), now),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_printer_columns() {
        let cols = PrinterColumns::new(Some(&json!([
            {"name": "Deployment", "type": "string", "jsonPath": ".spec.deploymentName"},
            {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Wide", "type": "string", "jsonPath": ".spec.x", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ])));
        let names: Vec<String> = cols.columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, vec!["Name", "Deployment", "Desired", "Wide", "Age"]);
        let now: jiff::Timestamp = "2024-01-01T00:05:00Z".parse().expect("time");
        let obj = json!({"metadata": {"name": "f", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"deploymentName": "d", "replicas": 2}});
        assert_eq!(
            cols.cells(&obj, now),
            vec![json!("f"), json!("d"), json!(2), Value::Null, json!("5m")]
        );
        let plain = PrinterColumns::new(None);
        assert_eq!(plain.cells(&obj, now), vec![json!("f"), json!("5m")]);
    }
}
