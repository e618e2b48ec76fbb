//! DaemonSets (apps/v1, `ds`): typed rules, generation and status.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, labels_string, n, workload_cells, workload_columns};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::DaemonSet;
use serde_json::json;

/// `daemonsets` (apps/v1, `ds`).
pub(crate) fn resource() -> ResourceType {
    entry("daemonsets", "daemonset", true)
        .short(&["ds"])
        .all()
        .status()
        .build::<DaemonSet>(
            crate::strategy::Typed::<DaemonSet>::new()
                .with_generation()
                .printer(&DAEMON_SET),
        )
}

/// DaemonSet: NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE (CONTAINERS
/// IMAGES SELECTOR wide).
pub(crate) const DAEMON_SET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Node Selector", "string", 0),
            age_column(),
        ]
        .into_iter()
        .chain(workload_columns())
        .collect()
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(n(o, "/status/desiredNumberScheduled")),
            json!(n(o, "/status/currentNumberScheduled")),
            json!(n(o, "/status/numberReady")),
            json!(n(o, "/status/updatedNumberScheduled")),
            json!(n(o, "/status/numberAvailable")),
            json!(labels_string(o.pointer("/spec/template/spec/nodeSelector"))),
            json!(age(o, now)),
        ]
        .into_iter()
        .chain(workload_cells(o))
        .collect()
    },
};
