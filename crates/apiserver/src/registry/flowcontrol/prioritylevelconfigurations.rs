//! PriorityLevelConfigurations (flowcontrol.apiserver.k8s.io/v1): defaulted (`defaults.rs`)
//! and validated (`validation.rs`) as upstream, with `metadata.generation` kept (the bootstrap
//! configuration's keeper reads it).

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration;
use serde_json::{Value, json};

/// `prioritylevelconfigurations`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "prioritylevelconfigurations",
        "prioritylevelconfiguration",
        false,
    )
    .status()
    .build::<PriorityLevelConfiguration>(super::FlowControlStrategy {
        typed: Typed::<PriorityLevelConfiguration>::new()
            .with_generation()
            .printer(&PRIORITY_LEVEL_CONFIGURATION),
        defaults: defaults::set_defaults,
        causes: validation::causes,
        status_causes: validation::status_causes,
    })
}

pub(crate) mod defaults;
pub(crate) mod validation;

/// A field of `spec.limited`, `<none>` for an exempt level.
fn limited(o: &Value, field: &str) -> String {
    o.pointer(&format!("/spec/limited/{field}"))
        .and_then(Value::as_i64)
        .map_or("<none>".to_string(), |n| n.to_string())
}

/// A field of the limited level's queuing, `<none>` unless it queues.
fn queuing(o: &Value, field: &str) -> String {
    o.pointer(&format!("/spec/limited/limitResponse/queuing/{field}"))
        .and_then(Value::as_i64)
        .map_or("<none>".to_string(), |n| n.to_string())
}

/// PriorityLevelConfiguration: NAME TYPE NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE.
pub(crate) const PRIORITY_LEVEL_CONFIGURATION: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Type", "string", 0),
            col("NominalConcurrencyShares", "string", 0),
            col("Queues", "string", 0),
            col("HandSize", "string", 0),
            col("QueueLengthLimit", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/type")),
            json!(limited(o, "nominalConcurrencyShares")),
            json!(queuing(o, "queues")),
            json!(queuing(o, "handSize")),
            json!(queuing(o, "queueLengthLimit")),
            json!(age(o, now)),
        ]
    },
};
