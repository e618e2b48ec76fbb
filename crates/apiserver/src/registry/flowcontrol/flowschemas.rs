//! FlowSchemas (flowcontrol.apiserver.k8s.io/v1): defaulted (`defaults.rs`) and validated
//! (`validation.rs`) as upstream, with `metadata.generation` kept (the bootstrap configuration's
//! keeper reads it); their status (the `Dangling` condition) is the flow control controller's.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::flowcontrol::v1::FlowSchema;
use serde_json::{Value, json};

/// `flowschemas`.
pub(crate) fn resource() -> ResourceType {
    entry("flowschemas", "flowschema", false)
        .status()
        .build::<FlowSchema>(super::FlowControlStrategy {
            typed: Typed::<FlowSchema>::new()
                .with_generation()
                .printer(&FLOW_SCHEMA),
            defaults: defaults::set_defaults,
            causes: validation::causes,
            status_causes: validation::status_causes,
        })
}

pub(crate) mod defaults;
pub(crate) mod validation;

/// The `Dangling` condition's status (`?` when unknown).
fn missing_pl(o: &Value) -> String {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| s(c, "/type") == "Dangling")
        .map_or("?".to_string(), |c| s(c, "/status").to_string())
}

/// FlowSchema: NAME PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL.
pub(crate) const FLOW_SCHEMA: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("PriorityLevel", "string", 0),
            col("MatchingPrecedence", "string", 0),
            col("DistinguisherMethod", "string", 0),
            age_column(),
            col("MissingPL", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/priorityLevelConfiguration/name")),
            json!(
                o.pointer("/spec/matchingPrecedence")
                    .and_then(Value::as_i64)
                    .unwrap_or(1000)
                    .to_string()
            ),
            json!(match s(o, "/spec/distinguisherMethod/type") {
                "" => "<none>",
                t => t,
            }),
            json!(age(o, now)),
            json!(missing_pl(o)),
        ]
    },
};
