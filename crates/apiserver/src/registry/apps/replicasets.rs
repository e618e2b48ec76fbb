//! ReplicaSets: the workload rules of [`super::workload`], and their table.

use super::workload::WorkloadStrategy;
use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, n, workload_cells, workload_columns};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::{Map, Value, json};

/// `replicasets` (apps/v1, `rs`).
pub(crate) fn resource() -> ResourceType {
    entry("replicasets", "replicaset", true)
        .short(&["rs"])
        .all()
        .status()
        .scale()
        .build::<ReplicaSet>(WorkloadStrategy::replica_set())
}

/// Upstream's `SetDefaults_ReplicaSet`: one replica.
pub(crate) fn default_spec(spec: &mut Map<String, Value>) {
    if spec.get("replicas").is_none_or(Value::is_null) {
        spec.insert("replicas".into(), json!(1));
    }
}

/// ReplicaSet: NAME DESIRED CURRENT READY AGE (CONTAINERS IMAGES SELECTOR wide).
pub(crate) const REPLICA_SET: Printer = Printer {
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

/// The list markers of the ReplicaSet types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[(
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        &["type"],
    )],
    ..Markers::NONE
};
