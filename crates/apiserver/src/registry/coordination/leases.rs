//! Leases (coordination.k8s.io/v1).

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::json;

/// `leases` (coordination.k8s.io/v1).
pub(crate) fn resource() -> ResourceType {
    entry("leases", "lease", true).build::<Lease>(Typed::<Lease>::new().printer(&LEASE))
}

/// Lease: NAME HOLDER AGE.
pub(crate) const LEASE: Printer = Printer {
    columns: || vec![name_column(), col("Holder", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/holderIdentity")),
            json!(age(o, now)),
        ]
    },
};
