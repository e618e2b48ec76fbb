//! batch/v1: Jobs and CronJobs (the simulated controllers that run them are in
//! `controllers/jobs.rs` and `controllers/cronjobs.rs`).

pub(crate) mod cronjobs;
pub(crate) mod jobs;
pub(crate) mod schedule;

use crate::status::FieldCause;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `ValidateNonnegativeField` for the optional integer `field` of `spec` (at `path`).
pub(crate) fn non_negative(spec: &Value, path: &str, field: &str, causes: &mut Vec<FieldCause>) {
    if let Some(n) = spec.get(field).and_then(Value::as_i64)
        && n < 0
    {
        causes.push(FieldCause::invalid(
            format!("{path}.{field}"),
            &json!(n),
            "must be greater than or equal to 0",
        ));
    }
}

/// Go's `%#v` of a `map[string]string` (keys sorted, as Go prints maps).
pub(crate) fn go_map(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object) else {
        return "map[string]string(nil)".to_string();
    };
    let sorted: BTreeMap<&String, &Value> = m.iter().collect();
    let entries: Vec<String> = sorted
        .into_iter()
        .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or("")))
        .collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}
