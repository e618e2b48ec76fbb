//! PodDisruptionBudgets (policy/v1, `pdb`): how many pods of a set may be down at once. The
//! rules the eviction subresource (`registry/core/pods/eviction.rs`) and the disruption
//! controller (`controllers/disruption.rs`) share live here: which pods a budget selects, when a
//! pod counts as healthy, and the `DisruptionAllowed` condition.

use crate::registry::apps::workload::{label_selector_causes, positive_int_or_percent_causes};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::selector::LabelSelector;
use crate::status::FieldCause;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `poddisruptionbudgets`. As upstream's strategy, `metadata.generation` starts at 1 and
/// follows spec changes (the eviction subresource refuses to decrement a budget whose status
/// has not observed its generation).
pub(crate) fn resource() -> ResourceType {
    entry("poddisruptionbudgets", "poddisruptionbudget", true)
        .short(&["pdb"])
        .status()
        .build::<PodDisruptionBudget>(
            Typed::<PodDisruptionBudget>::new()
                .with_generation()
                .printer(&POD_DISRUPTION_BUDGET)
                .validated_by(validate),
        )
}

/// Upstream's `ValidatePodDisruptionBudgetSpec` (the spec may change since 1.15).
/// The resource's rules, on its spec.
fn validate(obj: &Value) -> Vec<FieldCause> {
    spec_causes(obj.get("spec").unwrap_or(&Value::Null))
}

fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let set = |f: &str| spec.get(f).filter(|v| !v.is_null());
    if set("minAvailable").is_some() && set("maxUnavailable").is_some() {
        causes.push(FieldCause::invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for field in ["minAvailable", "maxUnavailable"] {
        if let Some(v) = set(field) {
            causes.extend(positive_int_or_percent_causes(v, &format!("spec.{field}")));
        }
    }
    if let Some(selector) = set("selector") {
        causes.extend(label_selector_causes(selector, "spec.selector"));
    }
    if let Some(policy) = set("unhealthyPodEvictionPolicy")
        && !matches!(policy.as_str(), Some("AlwaysAllow" | "IfHealthyBudget"))
    {
        causes.push(FieldCause::not_supported(
            "spec.unhealthyPodEvictionPolicy",
            policy,
            &["AlwaysAllow".to_string(), "IfHealthyBudget".to_string()],
        ));
    }
    causes
}

/// The condition the disruption controller keeps.
pub(crate) const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";

/// The labels of `obj` as a map.
pub(crate) fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether budget `pdb` selects a pod with `labels` (upstream's `LabelSelectorAsSelector`: no
/// selector selects nothing, an empty one every pod of the namespace, an invalid one nothing).
pub(crate) fn selects(pdb: &Value, labels: &BTreeMap<String, String>) -> bool {
    match pdb.pointer("/spec/selector") {
        None | Some(Value::Null) => false,
        Some(sel) => LabelSelector::from_object(sel).is_some_and(|s| s.matches(labels)),
    }
}

/// Whether the pod is Ready (upstream's `IsPodReady`, what a budget counts as healthy).
pub(crate) fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// An integer field of the budget's status (0 when unset).
pub(crate) fn status_int(pdb: &Value, field: &str) -> i64 {
    pdb.pointer(&format!("/status/{field}"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Sets condition `kind` of `status.conditions` as apimachinery's `SetStatusCondition` does:
/// `lastTransitionTime` moves only when the status changes.
pub(crate) fn set_condition(
    status: &mut Value,
    kind: &str,
    value: &str,
    reason: &str,
    message: &str,
    observed_generation: i64,
) {
    if !status.is_object() {
        *status = json!({});
    }
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) else {
        return;
    };
    let now = crate::rest::now();
    match conditions
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some(value) {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(value);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
            c["observedGeneration"] = json!(observed_generation);
        }
        None => conditions.push(json!({
            "type": kind,
            "status": value,
            "observedGeneration": observed_generation,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        })),
    }
}

/// `UpdateDisruptionAllowedCondition`: True `SufficientPods` while disruptions are allowed,
/// False `InsufficientPods` otherwise.
pub(crate) fn update_disruption_allowed(status: &mut Value) {
    let allowed = status
        .get("disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = status
        .get("observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if allowed > 0 {
        set_condition(
            status,
            DISRUPTION_ALLOWED,
            "True",
            "SufficientPods",
            "",
            observed,
        );
    } else {
        set_condition(
            status,
            DISRUPTION_ALLOWED,
            "False",
            "InsufficientPods",
            "",
            observed,
        );
    }
}

/// An int-or-string field as text, `N/A` when unset.
fn int_or_na(o: &Value, pointer: &str) -> String {
    match o.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".into(),
    }
}

/// PodDisruptionBudget: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
pub(crate) const POD_DISRUPTION_BUDGET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Min Available", "string", 0),
            col("Max Unavailable", "string", 0),
            col("Allowed Disruptions", "integer", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(int_or_na(o, "/spec/minAvailable")),
            json!(int_or_na(o, "/spec/maxUnavailable")),
            json!(
                o.pointer("/status/disruptionsAllowed")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            ),
            json!(age(o, now)),
        ]
    },
};
