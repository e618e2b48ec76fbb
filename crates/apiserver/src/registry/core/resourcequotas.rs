//! ResourceQuotas (core/v1, `quota`): stored with their status, which the resourcequota
//! controller (`controllers/resourcequota.rs`) keeps; kubectl's REQUEST and LIMIT columns.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};

/// `resourcequotas` (core/v1, `quota`).
pub(crate) fn resource() -> ResourceType {
    entry("resourcequotas", "resourcequota", true)
        .short(&["quota"])
        .status()
        .build::<ResourceQuota>(
            crate::strategy::Typed::<ResourceQuota>::new().printer(&RESOURCE_QUOTA),
        )
}

/// `used/hard` for each resource of `status.hard` whose name starts (or not) with `limits.`,
/// sorted by name, as kubectl prints quota usage.
fn usage(o: &Value, limits: bool) -> String {
    let Some(hard) = o.pointer("/status/hard").and_then(Value::as_object) else {
        return String::new();
    };
    let mut names: Vec<&String> = hard
        .keys()
        .filter(|k| k.starts_with("limits.") == limits)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|k| {
            let used = o
                .pointer(&format!(
                    "/status/used/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .unwrap_or("0");
            format!("{k}: {used}/{}", hard[k].as_str().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// ResourceQuota: NAME AGE REQUEST LIMIT.
pub(crate) const RESOURCE_QUOTA: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            age_column(),
            col("Request", "string", 0),
            col("Limit", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(age(o, now)),
            json!(usage(o, false)),
            json!(usage(o, true)),
        ]
    },
};
