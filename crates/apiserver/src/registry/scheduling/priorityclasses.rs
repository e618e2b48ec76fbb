//! PriorityClasses (scheduling.k8s.io/v1, `pc`): pod priorities by name.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, n, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

/// `priorityclasses`.
pub(crate) fn resource() -> ResourceType {
    entry("priorityclasses", "priorityclass", false)
        .short(&["pc"])
        .build::<PriorityClass>(
            crate::strategy::Typed::<PriorityClass>::new().printer(&PRIORITY_CLASS),
        )
}

/// PriorityClass: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY.
pub(crate) const PRIORITY_CLASS: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Value", "integer", 0),
            col("Global-Default", "boolean", 0),
            age_column(),
            col("PreemptionPolicy", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(n(o, "/value")),
            json!(
                o.get("globalDefault")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            ),
            json!(age(o, now)),
            json!(match s(o, "/preemptionPolicy") {
                "" => "PreemptLowerPriority",
                p => p,
            }),
        ]
    },
};
