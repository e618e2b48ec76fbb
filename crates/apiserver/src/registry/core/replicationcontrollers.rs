//! ReplicationControllers (core/v1, `rc`): the map-selector ancestor of ReplicaSets, with a
//! scale subresource.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, n, workload_cells, workload_columns};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::ReplicationController;
use serde_json::{Value, json};

/// `replicationcontrollers` (core/v1, `rc`).
pub(crate) fn resource() -> ResourceType {
    entry("replicationcontrollers", "replicationcontroller", true)
        .short(&["rc"])
        .all()
        .status()
        .scale()
        .build::<ReplicationController>(
            crate::strategy::Typed::<ReplicationController>::new()
                .with_generation()
                .printer(&REPLICATION_CONTROLLER),
        )
}

/// ReplicationController: NAME DESIRED CURRENT READY AGE (CONTAINERS IMAGES SELECTOR wide).
pub(crate) const REPLICATION_CONTROLLER: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            age_column(),
        ]
        .into_iter()
        .chain(workload_columns())
        .collect()
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(
                o.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            ),
            json!(n(o, "/status/replicas")),
            json!(n(o, "/status/readyReplicas")),
            json!(age(o, now)),
        ]
        .into_iter()
        .chain(workload_cells(o))
        .collect()
    },
};
