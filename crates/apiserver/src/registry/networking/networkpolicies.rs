//! NetworkPolicies (networking.k8s.io/v1, `netpol`): stored; not enforced by the simulated network.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, selector_string};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;

/// `networkpolicies`.
pub(crate) fn resource() -> ResourceType {
    entry("networkpolicies", "networkpolicy", true)
        .short(&["netpol"])
        .build::<NetworkPolicy>(
            crate::strategy::Typed::<NetworkPolicy>::new().printer(&NETWORK_POLICY),
        )
}

/// NetworkPolicy: NAME POD-SELECTOR AGE.
pub(crate) const NETWORK_POLICY: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Pod-Selector", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(selector_string(o.pointer("/spec/podSelector"))),
            json!(age(o, now)),
        ]
    },
};
