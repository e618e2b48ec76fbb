//! autoscaling/v2's defaulting of HorizontalPodAutoscalers (upstream's `SetDefaults_*` of
//! `pkg/apis/autoscaling/v2`): one minimum replica, a CPU utilization target of 80% when no
//! metric is given, and, once `behavior` is given, every scaling rule filled in (scale up: no
//! stabilization, the larger of 4 pods or 100% per 15 s; scale down: 100% per 15 s, with the
//! stabilization window left to the controller's 300 s).
//!
//! An object written at autoscaling/v1 is converted to v2 and then defaulted here, which is what a
//! v1 write looks like on a real cluster (there the stored v2 form is defaulted when it is read).

use serde_json::{Map, Value, json};

/// The CPU utilization target of an autoscaler that names no metric (upstream's
/// `DefaultCPUUtilization`).
pub(crate) const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// Defaults a v2 HorizontalPodAutoscaler in place.
pub(crate) fn set_defaults(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("minReplicas").is_none_or(Value::is_null) {
        spec.insert("minReplicas".into(), json!(1));
    }
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]),
        );
    }
    if let Some(behavior) = spec.get_mut("behavior").and_then(Value::as_object_mut) {
        fill_rules(behavior, "scaleUp", scale_up_rules());
        fill_rules(behavior, "scaleDown", scale_down_rules());
    }
}

/// The rules a scale-up gets where `behavior` leaves them out.
fn scale_up_rules() -> Map<String, Value> {
    let rules = json!({
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    });
    rules.as_object().cloned().unwrap_or_default()
}

/// The rules a scale-down gets where `behavior` leaves them out (no stabilization window: the
/// controller applies its own, 300 s).
fn scale_down_rules() -> Map<String, Value> {
    let rules = json!({
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    });
    rules.as_object().cloned().unwrap_or_default()
}

/// `behavior[direction]` with each rule it does not set taken from `defaults` (upstream's
/// `copyHPAScalingRules`: a given field wins, a missing one is defaulted).
fn fill_rules(behavior: &mut Map<String, Value>, direction: &str, defaults: Map<String, Value>) {
    let given = behavior
        .get(direction)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut rules = defaults;
    for (field, value) in given {
        if !value.is_null() {
            rules.insert(field, value);
        }
    }
    behavior.insert(direction.into(), Value::Object(rules));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_autoscaler_without_metrics_targets_80_percent_cpu_from_one_replica() {
        let mut hpa = json!({"spec": {"maxReplicas": 3,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
        set_defaults(&mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert!(hpa["spec"].get("behavior").is_none());
    }

    #[test]
    fn given_values_are_kept_and_behavior_is_completed() {
        let mut hpa = json!({"spec": {"minReplicas": 2, "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "memory",
                "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        set_defaults(&mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 2);
        assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "memory");
        assert_eq!(
            hpa["spec"]["behavior"]["scaleDown"],
            json!({"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
        );
        assert_eq!(
            hpa["spec"]["behavior"]["scaleUp"]["policies"],
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}])
        );
        assert_eq!(
            hpa["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
            0
        );
    }
}
