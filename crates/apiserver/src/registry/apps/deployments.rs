//! Deployments: the workload rules of [`super::workload`], and their table.

use super::workload::WorkloadStrategy;
use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, n, workload_cells, workload_columns};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Map, Value, json};

/// `deployments` (apps/v1, `deploy`).
pub(crate) fn resource() -> ResourceType {
    entry("deployments", "deployment", true)
        .short(&["deploy"])
        .all()
        .status()
        .scale()
        .build::<Deployment>(WorkloadStrategy::deployment())
}

/// Upstream's `SetDefaults_Deployment`: one replica, the `RollingUpdate` strategy with 25%
/// unavailable and 25% surge (each filled in when a rolling update leaves it out), 10 old
/// ReplicaSets kept, a 600 s progress deadline.
pub(crate) fn default_spec(spec: &mut Map<String, Value>) {
    if spec.get("replicas").is_none_or(Value::is_null) {
        spec.insert("replicas".into(), json!(1));
    }
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        if strategy
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            strategy.insert("type".into(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if rolling.is_null() {
                *rolling = json!({});
            }
            if let Some(rolling) = rolling.as_object_mut() {
                for field in ["maxUnavailable", "maxSurge"] {
                    if rolling.get(field).is_none_or(Value::is_null) {
                        rolling.insert(field.into(), json!("25%"));
                    }
                }
            }
        }
    }
    for (field, value) in [
        ("revisionHistoryLimit", 10),
        ("progressDeadlineSeconds", 600),
    ] {
        if spec.get(field).is_none_or(Value::is_null) {
            spec.insert(field.into(), json!(value));
        }
    }
}

/// Deployment: NAME READY UP-TO-DATE AVAILABLE AGE (CONTAINERS IMAGES SELECTOR wide).
pub(crate) const DEPLOYMENT: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            age_column(),
        ]
        .into_iter()
        .chain(workload_columns())
        .collect()
    },
    cells: |o, now| {
        let desired = o
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        vec![
            json!(name_of(o)),
            json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
            json!(n(o, "/status/updatedReplicas")),
            json!(n(o, "/status/availableReplicas")),
            json!(age(o, now)),
        ]
        .into_iter()
        .chain(workload_cells(o))
        .collect()
    },
};

/// The list markers of the Deployment types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[(
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        &["type"],
    )],
    ..Markers::NONE
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableConvertor;

    #[test]
    fn deployment_defaults() {
        for (name, given, defaulted) in [
            (
                "empty",
                json!({}),
                json!({"replicas": 1, "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                    "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}),
            ),
            (
                "partial rolling update",
                json!({"replicas": 0, "strategy": {"rollingUpdate": {"maxSurge": 1}}}),
                json!({"replicas": 0, "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                    "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}),
            ),
            (
                "recreate",
                json!({"replicas": 3, "strategy": {"type": "Recreate"},
                    "revisionHistoryLimit": 0, "progressDeadlineSeconds": 60}),
                json!({"replicas": 3, "strategy": {"type": "Recreate"},
                    "revisionHistoryLimit": 0, "progressDeadlineSeconds": 60}),
            ),
        ] {
            let mut spec = given;
            default_spec(spec.as_object_mut().expect("object"));
            assert_eq!(spec, defaulted, "{name}");
        }
    }

    #[test]
    fn deployment_row() {
        let now: jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("time");
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert_eq!(
            DEPLOYMENT.cells(&d, now),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("60m"),
                json!("nginx"),
                json!("nginx:1"),
                json!("app=web")
            ]
        );
    }
}
