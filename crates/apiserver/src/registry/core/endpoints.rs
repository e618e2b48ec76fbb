//! Endpoints (core/v1): the typed rules only.

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, n, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::Endpoints;
use serde_json::Value;
use serde_json::json;

/// `endpoints` (core/v1, `ep`).
pub(crate) fn resource() -> ResourceType {
    entry("endpoints", "endpoints", true)
        .short(&["ep"])
        .build::<Endpoints>(Typed::<Endpoints>::new().printer(&ENDPOINTS))
}

/// Endpoints: NAME ENDPOINTS AGE.
pub(crate) const ENDPOINTS: Printer = Printer {
    columns: || vec![name_column(), col("Endpoints", "string", 0), age_column()],
    cells: |o, now| {
        let mut eps = Vec::new();
        for subset in o
            .pointer("/subsets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let ports: Vec<i64> = subset
                .get("ports")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|p| n(p, "/port")).collect())
                .unwrap_or_default();
            for addr in subset
                .get("addresses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                if ports.is_empty() {
                    eps.push(s(&addr, "/ip").to_string());
                }
                for p in &ports {
                    eps.push(format!("{}:{p}", s(&addr, "/ip")));
                }
            }
        }
        vec![
            json!(name_of(o)),
            json!(none_if_empty(eps.join(","))),
            json!(age(o, now)),
        ]
    },
};

/// The struct markers of the Endpoints types.
pub(crate) const MARKERS: Markers = Markers {
    atomic_structs: &[
        "io.k8s.api.core.v1.EndpointAddress",
        "io.k8s.api.core.v1.EndpointPort",
    ],
    ..Markers::NONE
};
