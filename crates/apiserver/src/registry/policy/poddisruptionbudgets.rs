//! PodDisruptionBudgets (policy/v1, `pdb`): how many pods of a set may be down at once.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};

/// `poddisruptionbudgets`.
pub(crate) fn resource() -> ResourceType {
    entry("poddisruptionbudgets", "poddisruptionbudget", true)
        .short(&["pdb"])
        .status()
        .build::<PodDisruptionBudget>(
            crate::strategy::Typed::<PodDisruptionBudget>::new().printer(&POD_DISRUPTION_BUDGET),
        )
}

/// An int-or-string field as text, `N/A` when unset.
fn int_or_na(o: &Value, pointer: &str) -> String {
    match o.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".into(),
    }
}

/// PodDisruptionBudget: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
pub(crate) const POD_DISRUPTION_BUDGET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Min Available", "string", 0),
            col("Max Unavailable", "string", 0),
            col("Allowed Disruptions", "integer", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(int_or_na(o, "/spec/minAvailable")),
            json!(int_or_na(o, "/spec/maxUnavailable")),
            json!(
                o.pointer("/status/disruptionsAllowed")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            ),
            json!(age(o, now)),
        ]
    },
};
