//! ConfigMaps: the typed rules only.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, len};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

/// `configmaps` (core/v1, `cm`).
pub(crate) fn resource() -> ResourceType {
    entry("configmaps", "configmap", true)
        .short(&["cm"])
        .build::<ConfigMap>(Typed::<ConfigMap>::new().printer(&CONFIG_MAP))
}

/// ConfigMap: NAME DATA AGE.
pub(crate) const CONFIG_MAP: Printer = Printer {
    columns: || vec![name_column(), col("Data", "integer", 0), age_column()],
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(len(o, "/data") + len(o, "/binaryData")),
            json!(age(o, now)),
        ]
    },
};
