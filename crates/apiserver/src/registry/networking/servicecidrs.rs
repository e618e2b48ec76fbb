//! ServiceCIDRs (networking.k8s.io/v1): the ranges Service cluster IPs come from.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::networking::v1::ServiceCIDR;
use serde_json::{Value, json};

/// `servicecidrs`.
pub(crate) fn resource() -> ResourceType {
    entry("servicecidrs", "servicecidr", false)
        .status()
        .build::<ServiceCIDR>(crate::strategy::Typed::<ServiceCIDR>::new().printer(&SERVICE_CIDR))
}

/// The strings of the list at `pointer`.
fn strings<'a>(o: &'a Value, pointer: &str) -> Vec<&'a str> {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// ServiceCIDR: NAME CIDRS AGE.
pub(crate) const SERVICE_CIDR: Printer = Printer {
    columns: || vec![name_column(), col("CIDRs", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(strings(o, "/spec/cidrs").join(",")),
            json!(age(o, now)),
        ]
    },
};
