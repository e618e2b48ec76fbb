//! DaemonSets (apps/v1, `ds`): the workload rules of [`super::workload`] with upstream's
//! DaemonSet defaults and update strategy validation; generation and status.

use super::workload::{WorkloadStrategy, non_negative_field};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::table::printer::{Printer, col, labels_string, n, workload_cells, workload_columns};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::DaemonSet;
use serde_json::{Map, Value, json};

/// `daemonsets` (apps/v1, `ds`).
pub(crate) fn resource() -> ResourceType {
    entry("daemonsets", "daemonset", true)
        .short(&["ds"])
        .all()
        .status()
        .build::<DaemonSet>(WorkloadStrategy::daemon_set())
}

/// Upstream's `SetDefaults_DaemonSet`: the `RollingUpdate` strategy with maxUnavailable 1 and
/// maxSurge 0 (each filled in when a rolling update leaves it out), 10 revisions kept.
pub(crate) fn default_spec(spec: &mut Map<String, Value>) {
    let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if strategy.is_null() {
        *strategy = json!({});
    }
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
                for (field, value) in [("maxUnavailable", 1), ("maxSurge", 0)] {
                    if rolling.get(field).is_none_or(Value::is_null) {
                        rolling.insert(field.into(), json!(value));
                    }
                }
            }
        }
    }
    if spec.get("revisionHistoryLimit").is_none_or(Value::is_null) {
        spec.insert("revisionHistoryLimit".into(), json!(10));
    }
}

/// An int-or-percent as upstream's `getIntOrPercentValue` reads it (a bad percentage is 0).
fn int_or_percent(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent` for `field` of `rolling`.
fn int_or_percent_causes(rolling: &Value, field: &str, causes: &mut Vec<FieldCause>) {
    if let Some(v) = rolling.get(field).filter(|v| !v.is_null()) {
        causes.extend(super::workload::positive_int_or_percent_causes(
            v,
            &format!("spec.updateStrategy.rollingUpdate.{field}"),
        ));
    }
}

/// The DaemonSet-only part of `ValidateDaemonSetSpec` (after the selector and the template):
/// `minReadySeconds`, `templateGeneration`, the update strategy, `revisionHistoryLimit`.
pub(super) fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    non_negative_field(spec, "minReadySeconds", &mut causes);
    non_negative_field(spec, "templateGeneration", &mut causes);
    let empty = json!({});
    let strategy = spec.get("updateStrategy").unwrap_or(&empty);
    match strategy.get("type").and_then(Value::as_str) {
        Some("OnDelete") => {}
        Some("RollingUpdate") => match strategy.get("rollingUpdate").filter(|r| !r.is_null()) {
            None => causes.push(FieldCause::required(
                "spec.updateStrategy.rollingUpdate",
                "",
            )),
            Some(rolling) => {
                int_or_percent_causes(rolling, "maxUnavailable", &mut causes);
                int_or_percent_causes(rolling, "maxSurge", &mut causes);
                let value = |f: &str| rolling.get(f).map(int_or_percent).unwrap_or(0);
                match (value("maxUnavailable") != 0, value("maxSurge") != 0) {
                    (true, true) => causes.push(FieldCause::invalid(
                        "spec.updateStrategy.rollingUpdate.maxSurge",
                        rolling.get("maxSurge").unwrap_or(&Value::Null),
                        "may not be set when maxUnavailable is non-zero",
                    )),
                    (false, false) => causes.push(FieldCause::required(
                        "spec.updateStrategy.rollingUpdate.maxUnavailable",
                        "cannot be 0 when maxSurge is 0",
                    )),
                    _ => {}
                }
            }
        },
        other => causes.push(FieldCause::not_supported(
            "spec.updateStrategy.type",
            &json!(other.unwrap_or("")),
            &["OnDelete".into(), "RollingUpdate".into()],
        )),
    }
    non_negative_field(spec, "revisionHistoryLimit", &mut causes);
    causes
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
