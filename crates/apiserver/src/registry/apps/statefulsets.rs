//! StatefulSets (apps/v1, `sts`): the workload rules of [`super::workload`] with upstream's
//! StatefulSet defaults, strategy validation and update rule; generation, status and scale.

use super::workload::{WorkloadStrategy, semantic};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::table::printer::{Printer, col, containers_and_images, n};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::{Map, Value, json};

/// `statefulsets` (apps/v1, `sts`).
pub(crate) fn resource() -> ResourceType {
    entry("statefulsets", "statefulset", true)
        .short(&["sts"])
        .all()
        .status()
        .scale()
        .build::<StatefulSet>(WorkloadStrategy::stateful_set())
}

/// Upstream's `SetDefaults_StatefulSet`: `OrderedReady` pod management, the `RollingUpdate`
/// strategy with partition 0, the `Retain`/`Retain` claim retention policy, one replica, 10
/// revisions kept; and each volume claim template's defaults (`volumeMode: Filesystem`, status
/// phase `Pending`).
pub(crate) fn default_spec(spec: &mut Map<String, Value>) {
    let unset = |spec: &Map<String, Value>, field: &str| {
        spec.get(field)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    };
    if unset(spec, "podManagementPolicy") {
        spec.insert("podManagementPolicy".into(), json!("OrderedReady"));
    }
    let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
    if strategy.is_null() {
        *strategy = json!({});
    }
    if let Some(strategy) = strategy.as_object_mut() {
        if unset(strategy, "type") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            if strategy.get("rollingUpdate").is_none_or(Value::is_null) {
                strategy.insert("rollingUpdate".into(), json!({}));
            }
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling) = strategy
                .get_mut("rollingUpdate")
                .and_then(Value::as_object_mut)
            && rolling.get("partition").is_none_or(Value::is_null)
        {
            rolling.insert("partition".into(), json!(0));
        }
    }
    let policy = spec
        .entry("persistentVolumeClaimRetentionPolicy")
        .or_insert_with(|| json!({}));
    if policy.is_null() {
        *policy = json!({});
    }
    if let Some(policy) = policy.as_object_mut() {
        for field in ["whenDeleted", "whenScaled"] {
            if unset(policy, field) {
                policy.insert(field.into(), json!("Retain"));
            }
        }
    }
    for (field, value) in [("replicas", 1), ("revisionHistoryLimit", 10)] {
        if spec.get(field).is_none_or(Value::is_null) {
            spec.insert(field.into(), json!(value));
        }
    }
    for claim in spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(claim) = claim.as_object_mut() else {
            continue;
        };
        if let Some(claim_spec) = claim.get_mut("spec").and_then(Value::as_object_mut)
            && claim_spec.get("volumeMode").is_none_or(Value::is_null)
        {
            claim_spec.insert("volumeMode".into(), json!("Filesystem"));
        }
        let status = claim.entry("status").or_insert_with(|| json!({}));
        if status.is_null() {
            *status = json!({});
        }
        if let Some(status) = status.as_object_mut()
            && status.get("phase").is_none_or(Value::is_null)
        {
            status.insert("phase".into(), json!("Pending"));
        }
    }
}

/// The part of `ValidateStatefulSetSpec` before the selector: `podManagementPolicy`,
/// `updateStrategy` and `persistentVolumeClaimRetentionPolicy`, in upstream's words.
pub(super) fn strategy_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    match spec.get("podManagementPolicy").and_then(Value::as_str) {
        None | Some("") => causes.push(FieldCause::required("spec.podManagementPolicy", "")),
        Some("OrderedReady" | "Parallel") => {}
        Some(other) => causes.push(FieldCause::invalid(
            "spec.podManagementPolicy",
            &json!(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let empty = json!({});
    let strategy = spec.get("updateStrategy").unwrap_or(&empty);
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match strategy.get("type").and_then(Value::as_str) {
        None | Some("") => causes.push(FieldCause::required("spec.updateStrategy", "")),
        Some("OnDelete") => {
            if rolling.is_some() {
                causes.push(FieldCause::invalid_shown(
                    "spec.updateStrategy.rollingUpdate",
                    "apps.RollingUpdateStatefulSetStrategy",
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        Some("RollingUpdate") => {
            if let Some(partition) = rolling
                .and_then(|r| r.get("partition"))
                .and_then(Value::as_i64)
                && partition < 0
            {
                causes.push(FieldCause::invalid(
                    "spec.updateStrategy.rollingUpdate.partition",
                    &json!(partition),
                    "must be greater than or equal to 0",
                ));
            }
        }
        Some(other) => causes.push(FieldCause::not_supported(
            "spec.updateStrategy.type",
            &json!(other),
            &["OnDelete".into(), "RollingUpdate".into()],
        )),
    }
    let policy = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .unwrap_or(&empty);
    for field in ["whenDeleted", "whenScaled"] {
        match policy.get(field).and_then(Value::as_str) {
            None | Some("Retain" | "Delete") => {}
            Some(other) => causes.push(FieldCause::not_supported(
                format!("spec.persistentVolumeClaimRetentionPolicy.{field}"),
                &json!(other),
                &["Retain".into(), "Delete".into()],
            )),
        }
    }
    causes
}

/// The fields of a StatefulSet's spec an update may change (`ValidateStatefulSetUpdate`).
const UPDATABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// `ValidateStatefulSetUpdate`: a change to any other spec field is forbidden.
pub(super) fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let rest_of = |v: &Value| {
        let mut spec = v
            .get("spec")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        spec.retain(|k, _| !UPDATABLE.contains(&k.as_str()));
        semantic(&Value::Object(spec))
    };
    if rest_of(new) == rest_of(old) {
        return Vec::new();
    }
    vec![FieldCause::forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', \
         'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are \
         forbidden",
    )]
}

/// StatefulSet: NAME READY AGE (CONTAINERS IMAGES wide).
pub(crate) const STATEFUL_SET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
        ]
    },
    cells: |o, now| {
        let desired = o
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let (containers, images) = containers_and_images(o, "/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
            json!(age(o, now)),
            json!(containers),
            json!(images),
        ]
    },
};
