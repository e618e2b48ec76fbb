//! EndpointSlices (discovery.k8s.io/v1): a Service's endpoints in slices.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

/// `endpointslices`.
pub(crate) fn resource() -> ResourceType {
    entry("endpointslices", "endpointslice", true).build::<EndpointSlice>(
        crate::strategy::Typed::<EndpointSlice>::new().printer(&ENDPOINT_SLICE),
    )
}

/// The ports' numbers, `<unset>` for none (or for a port without a number).
fn ports(o: &Value) -> String {
    let ports = o
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() {
        return "<unset>".into();
    }
    ports
        .iter()
        .map(|p| {
            p.get("port")
                .and_then(Value::as_i64)
                .map_or("<unset>".to_string(), |n| n.to_string())
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The first three addresses and how many more, `<unset>` for none.
fn endpoints(o: &Value) -> String {
    let addresses: Vec<&str> = o
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .collect();
    match addresses.len() {
        0 => "<unset>".into(),
        n if n <= 3 => addresses.join(","),
        n => format!("{} + {} more...", addresses[..3].join(","), n - 3),
    }
}

/// EndpointSlice: NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
pub(crate) const ENDPOINT_SLICE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("AddressType", "string", 0),
            col("Ports", "string", 0),
            col("Endpoints", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/addressType")),
            json!(ports(o)),
            json!(endpoints(o)),
            json!(age(o, now)),
        ]
    },
};
