//! RuntimeClasses (node.k8s.io/v1): container runtime configurations by name.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::node::v1::RuntimeClass;
use serde_json::json;

/// `runtimeclasses`.
pub(crate) fn resource() -> ResourceType {
    entry("runtimeclasses", "runtimeclass", false).build::<RuntimeClass>(
        crate::strategy::Typed::<RuntimeClass>::new().printer(&RUNTIME_CLASS),
    )
}

/// RuntimeClass: NAME HANDLER AGE.
pub(crate) const RUNTIME_CLASS: Printer = Printer {
    columns: || vec![name_column(), col("Handler", "string", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/handler")),
            json!(age(o, now)),
        ]
    },
};
