//! CSINodes (storage.k8s.io/v1): the CSI drivers on a node.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, len};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::storage::v1::CSINode;
use serde_json::json;

/// `csinodes`.
pub(crate) fn resource() -> ResourceType {
    entry("csinodes", "csinode", false)
        .build::<CSINode>(crate::strategy::Typed::<CSINode>::new().printer(&CSI_NODE))
}

/// CSINode: NAME DRIVERS AGE.
pub(crate) const CSI_NODE: Printer = Printer {
    columns: || vec![name_column(), col("Drivers", "integer", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/spec/drivers")),
            json!(age(o, now)),
        ]
    },
};
