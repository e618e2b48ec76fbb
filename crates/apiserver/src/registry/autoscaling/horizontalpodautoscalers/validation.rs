//! Validation of HorizontalPodAutoscalers, as upstream's `pkg/apis/autoscaling/validation`
//! does it on the v2 form (an object written at v1 is checked after its conversion, so its errors
//! name v2's paths, as on a real cluster): replica bounds, the scale target reference, each
//! metric (its source type, the one source it populates, its target) and the scaling behavior.

use crate::quantity::parse_quantity;
use crate::status::FieldCause;
use crate::validation::{dns1123_label_problems, path_segment_problems, qualified_name_problems};
use serde_json::Value;

/// The longest scaling policy period (upstream's `MaxPeriodSeconds`).
const MAX_PERIOD_SECONDS: i64 = 1800;
/// The longest stabilization window (upstream's `MaxStabilizationWindowSeconds`).
const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;

/// The metric source types, sorted as upstream lists them in its messages.
const METRIC_SOURCE_TYPES: [&str; 5] = [
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

/// The causes a v2 object is refused for on create.
pub(crate) fn create_causes(obj: &Value) -> Vec<FieldCause> {
    spec_causes(obj.get("spec").unwrap_or(&Value::Null), 1)
}

/// The causes a v2 object is refused for on update: as on create, except that an autoscaler that
/// already had `minReplicas: 0` may keep it.
pub(crate) fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let lower = if old.pointer("/spec/minReplicas").and_then(Value::as_i64) == Some(0) {
        0
    } else {
        1
    };
    spec_causes(new.get("spec").unwrap_or(&Value::Null), lower)
}

/// The causes a status update is refused for (replica counts may not be negative).
pub(crate) fn status_causes(obj: &Value) -> Vec<FieldCause> {
    ["currentReplicas", "desiredReplicas"]
        .iter()
        .filter_map(|field| {
            let v = obj.pointer(&format!("/status/{field}"))?;
            (v.as_i64()? < 0).then(|| {
                FieldCause::invalid(
                    format!("status.{field}"),
                    v,
                    "must be greater than or equal to 0",
                )
            })
        })
        .collect()
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn present<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    v.get(field).filter(|x| !x.is_null())
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn spec_causes(spec: &Value, min_lower_bound: i64) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let min = int(spec, "/minReplicas");
    let max = int(spec, "/maxReplicas").unwrap_or(0);
    if let Some(min) = min
        && min < min_lower_bound
    {
        causes.push(FieldCause::invalid(
            "spec.minReplicas",
            &Value::from(min),
            format!("must be greater than or equal to {min_lower_bound}"),
        ));
    }
    if max < 1 {
        causes.push(FieldCause::invalid(
            "spec.maxReplicas",
            &Value::from(max),
            "must be greater than 0",
        ));
    }
    if let Some(min) = min
        && max < min
    {
        causes.push(FieldCause::invalid(
            "spec.maxReplicas",
            &Value::from(max),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    causes.extend(object_reference_causes(
        spec.get("scaleTargetRef").unwrap_or(&Value::Null),
        "spec.scaleTargetRef",
    ));
    causes.extend(metrics_causes(spec, min));
    if let Some(behavior) = present(spec, "behavior") {
        for direction in ["scaleUp", "scaleDown"] {
            if let Some(rules) = present(behavior, direction) {
                causes.extend(rules_causes(rules, &format!("spec.behavior.{direction}")));
            }
        }
    }
    causes
}

/// Upstream's `ValidateCrossVersionObjectReference`.
fn object_reference_causes(reference: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for field in ["kind", "name"] {
        let value = str_of(reference, field);
        if value.is_empty() {
            causes.push(FieldCause::required(format!("{path}.{field}"), ""));
        } else {
            causes.extend(path_segment_problems(value).into_iter().map(|problem| {
                FieldCause::invalid(format!("{path}.{field}"), &Value::from(value), problem)
            }));
        }
    }
    causes
}

fn metrics_causes(spec: &Value, min_replicas: Option<i64>) -> Vec<FieldCause> {
    let metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut causes = Vec::new();
    for (i, metric) in metrics.iter().enumerate() {
        causes.extend(metric_causes(metric, &format!("spec.metrics[{i}]")));
    }
    let scales_by_objects = metrics
        .iter()
        .any(|m| matches!(str_of(m, "type"), "Object" | "External"));
    if min_replicas == Some(0) && !scales_by_objects {
        causes.push(FieldCause::forbidden(
            "spec.metrics",
            "must specify at least one Object or External metric to support scaling to zero replicas",
        ));
    }
    causes
}

/// Upstream's `validateMetricSpec`: a known source type, the source of that type populated
/// (and checked), and no other.
fn metric_causes(metric: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let kind = str_of(metric, "type");
    let supported: Vec<String> = METRIC_SOURCE_TYPES.iter().map(|s| s.to_string()).collect();
    if kind.is_empty() {
        causes.push(FieldCause::required(
            format!("{path}.type"),
            "must specify a metric source type",
        ));
    }
    let known = METRIC_SOURCE_TYPES.contains(&kind);
    if !known {
        causes.push(FieldCause::not_supported(
            format!("{path}.type"),
            &Value::from(kind),
            &supported,
        ));
    }
    // The sources present, in the order upstream checks them; only the first is validated.
    let sources = [
        "object",
        "external",
        "pods",
        "resource",
        "containerResource",
    ];
    let present_sources: Vec<&str> = sources
        .iter()
        .copied()
        .filter(|s| present(metric, s).is_some())
        .collect();
    if let Some(first) = present_sources.first() {
        let source = &metric[*first];
        let source_path = format!("{path}.{first}");
        causes.extend(match *first {
            "object" => object_source_causes(source, &source_path),
            "external" => external_source_causes(source, &source_path),
            "pods" => pods_source_causes(source, &source_path),
            "resource" => resource_source_causes(source, &source_path, false),
            _ => resource_source_causes(source, &source_path, true),
        });
    }
    let expected = match kind {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => "",
    };
    if expected.is_empty() {
        // Upstream's switch reports an unknown type a second time.
        causes.push(FieldCause::not_supported(
            format!("{path}.type"),
            &Value::from(kind),
            &supported,
        ));
    } else if present(metric, expected).is_none() {
        causes.push(FieldCause::required(
            format!("{path}.{expected}"),
            "must populate information for the given metric source",
        ));
    }
    if present_sources.len() != 1 {
        let mut others: Vec<&str> = present_sources
            .into_iter()
            .filter(|s| *s != expected)
            .collect();
        others.sort_unstable();
        for other in others {
            causes.push(FieldCause::forbidden(
                format!("{path}.{other}"),
                "must populate the given metric source only",
            ));
        }
    }
    causes
}

fn object_source_causes(source: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = object_reference_causes(
        source.get("describedObject").unwrap_or(&Value::Null),
        &format!("{path}.describedObject"),
    );
    causes.extend(identifier_causes(source, path));
    let target = source.get("target").unwrap_or(&Value::Null);
    causes.extend(target_causes(target, &format!("{path}.target")));
    if present(target, "value").is_none() && present(target, "averageValue").is_none() {
        causes.push(FieldCause::required(
            format!("{path}.target.averageValue"),
            "must set either a target value or averageValue",
        ));
    }
    causes
}

fn external_source_causes(source: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = identifier_causes(source, path);
    let target = source.get("target").unwrap_or(&Value::Null);
    causes.extend(target_causes(target, &format!("{path}.target")));
    let (value, average) = (present(target, "value"), present(target, "averageValue"));
    if value.is_none() && average.is_none() {
        causes.push(FieldCause::required(
            format!("{path}.target.averageValue"),
            "must set either a target value for metric or a per-pod target",
        ));
    }
    if value.is_some() && average.is_some() {
        causes.push(FieldCause::forbidden(
            format!("{path}.target.value"),
            "may not set both a target value for metric and a per-pod target",
        ));
    }
    causes
}

fn pods_source_causes(source: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = identifier_causes(source, path);
    let target = source.get("target").unwrap_or(&Value::Null);
    causes.extend(target_causes(target, &format!("{path}.target")));
    if present(target, "averageValue").is_none() {
        causes.push(FieldCause::required(
            format!("{path}.target.averageValue"),
            "must specify a positive target averageValue",
        ));
    }
    causes
}

/// A `resource` or `containerResource` source.
fn resource_source_causes(source: &Value, path: &str, container: bool) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let name = str_of(source, "name");
    if name.is_empty() {
        causes.push(FieldCause::required(
            format!("{path}.name"),
            "must specify a resource name",
        ));
    } else if container {
        causes.extend(container_resource_name_causes(
            name,
            &format!("{path}.name"),
        ));
    }
    if container {
        let container_name = str_of(source, "container");
        if container_name.is_empty() {
            causes.push(FieldCause::required(
                format!("{path}.container"),
                "must specify a container",
            ));
        } else {
            causes.extend(
                dns1123_label_problems(container_name)
                    .into_iter()
                    .map(|problem| {
                        FieldCause::invalid(
                            format!("{path}.container"),
                            &Value::from(container_name),
                            problem,
                        )
                    }),
            );
        }
    }
    let target = source.get("target").unwrap_or(&Value::Null);
    causes.extend(target_causes(target, &format!("{path}.target")));
    let (utilization, average) = (
        present(target, "averageUtilization"),
        present(target, "averageValue"),
    );
    if utilization.is_none() && average.is_none() {
        causes.push(FieldCause::required(
            format!("{path}.target.averageUtilization"),
            "must set either a target raw value or a target utilization",
        ));
    }
    if utilization.is_some() && average.is_some() {
        causes.push(FieldCause::forbidden(
            format!("{path}.target.averageValue"),
            "may not set both a target raw value and a target utilization",
        ));
    }
    causes
}

/// Upstream's `ValidateContainerResourceName`: a qualified name, and a standard container
/// resource when it has no domain.
fn container_resource_name_causes(name: &str, path: &str) -> Vec<FieldCause> {
    let mut causes: Vec<FieldCause> = qualified_name_problems(name)
        .into_iter()
        .map(|problem| FieldCause::invalid(path, &Value::from(name), problem))
        .collect();
    let standard =
        matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if !name.contains('/') && !standard {
        causes.push(FieldCause::invalid(
            path,
            &Value::from(name),
            "must be a standard resource for containers",
        ));
    }
    causes
}

/// Upstream's `validateMetricIdentifier` on `source.metric`.
fn identifier_causes(source: &Value, path: &str) -> Vec<FieldCause> {
    let name = source
        .pointer("/metric/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        return vec![FieldCause::required(
            format!("{path}.metric.name"),
            "must specify a metric name",
        )];
    }
    path_segment_problems(name)
        .into_iter()
        .map(|problem| {
            FieldCause::invalid(format!("{path}.metric.name"), &Value::from(name), problem)
        })
        .collect()
}

/// Upstream's `validateMetricTarget`.
fn target_causes(target: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let kind = str_of(target, "type");
    if kind.is_empty() {
        causes.push(FieldCause::required(
            format!("{path}.type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(kind, "Utilization" | "Value" | "AverageValue") {
        causes.push(FieldCause::invalid(
            format!("{path}.type"),
            &Value::from(kind),
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for field in ["value", "averageValue"] {
        if let Some(q) = present(target, field).and_then(Value::as_str)
            && parse_quantity(q).is_none_or(|n| n <= 0)
        {
            // A Quantity prints as its string (Go's Stringer), unquoted.
            causes.push(FieldCause::invalid_shown(
                format!("{path}.{field}"),
                q,
                "must be positive",
            ));
        }
    }
    if let Some(u) = present(target, "averageUtilization").and_then(Value::as_i64)
        && u < 1
    {
        causes.push(FieldCause::invalid(
            format!("{path}.averageUtilization"),
            &Value::from(u),
            "must be greater than 0",
        ));
    }
    causes
}

/// Upstream's `validateScalingRules` for one direction of `behavior`.
fn rules_causes(rules: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if let Some(window) = present(rules, "stabilizationWindowSeconds").and_then(Value::as_i64) {
        if window < 0 {
            causes.push(FieldCause::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                &Value::from(window),
                "must be greater than or equal to zero",
            ));
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            causes.push(FieldCause::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                &Value::from(window),
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(select) = present(rules, "selectPolicy")
        && !matches!(select.as_str(), Some("Max" | "Min" | "Disabled"))
    {
        causes.push(FieldCause::not_supported(
            format!("{path}.selectPolicy"),
            select,
            &["Disabled".to_string(), "Max".to_string(), "Min".to_string()],
        ));
    }
    let policies = rules
        .get("policies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if policies.is_empty() {
        causes.push(FieldCause::required(
            format!("{path}.policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, policy) in policies.iter().enumerate() {
        let at = format!("{path}.policies[{i}]");
        let kind = policy.get("type").cloned().unwrap_or(Value::from(""));
        if !matches!(kind.as_str(), Some("Pods" | "Percent")) {
            causes.push(FieldCause::not_supported(
                format!("{at}.type"),
                &kind,
                &["Percent".to_string(), "Pods".to_string()],
            ));
        }
        let value = int(policy, "/value").unwrap_or(0);
        if value <= 0 {
            causes.push(FieldCause::invalid(
                format!("{at}.value"),
                &Value::from(value),
                "must be greater than zero",
            ));
        }
        let period = int(policy, "/periodSeconds").unwrap_or(0);
        if period <= 0 {
            causes.push(FieldCause::invalid(
                format!("{at}.periodSeconds"),
                &Value::from(period),
                "must be greater than zero",
            ));
        }
        if period > MAX_PERIOD_SECONDS {
            causes.push(FieldCause::invalid(
                format!("{at}.periodSeconds"),
                &Value::from(period),
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(causes: Vec<FieldCause>) -> Vec<String> {
        causes.into_iter().map(|c| c.message).collect()
    }

    #[test]
    fn replica_bounds_and_the_target_reference() {
        let hpa = json!({"spec": {"minReplicas": 5, "maxReplicas": 0,
            "scaleTargetRef": {"kind": "Deployment", "name": ""},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]}});
        assert_eq!(
            messages(create_causes(&hpa)),
            [
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.name: Required value",
            ]
        );
        let zero = json!({"spec": {"minReplicas": 0, "maxReplicas": 2,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]}});
        assert_eq!(
            messages(create_causes(&zero)),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
            ]
        );
        // An autoscaler that already scales to zero may keep doing so.
        assert_eq!(
            messages(update_causes(&zero, &zero)),
            [
                "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas"
            ]
        );
    }

    #[test]
    fn metrics_name_one_source_with_a_valid_target() {
        let hpa = json!({"spec": {"maxReplicas": 2,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}},
            {"type": "Pods", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 0, "averageValue": "-1"}}},
            {"type": "Bogus"},
            {"type": "Pods", "pods": {"metric": {"name": "qps"},
                "target": {"type": "AverageValue", "averageValue": "1"}},
                "external": {"metric": {"name": "x"}}},
        ]}});
        assert_eq!(
            messages(create_causes(&hpa)),
            [
                "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
                "spec.metrics[1].resource.target.averageValue: Invalid value: -1: must be positive",
                "spec.metrics[1].resource.target.averageUtilization: Invalid value: 0: must be greater than 0",
                "spec.metrics[1].resource.target.averageValue: Forbidden: may not set both a target raw value and a target utilization",
                "spec.metrics[1].pods: Required value: must populate information for the given metric source",
                "spec.metrics[2].type: Unsupported value: \"Bogus\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                "spec.metrics[2].type: Unsupported value: \"Bogus\": supported values: \"ContainerResource\", \"External\", \"Object\", \"Pods\", \"Resource\"",
                // Two sources: only the first (in upstream's order) is checked, the other refused.
                "spec.metrics[3].external.target.type: Required value: must specify a metric target type",
                "spec.metrics[3].external.target.type: Invalid value: \"\": must be either Utilization, Value, or AverageValue",
                "spec.metrics[3].external.target.averageValue: Required value: must set either a target value for metric or a per-pod target",
                "spec.metrics[3].external: Forbidden: must populate the given metric source only",
            ]
        );
    }

    #[test]
    fn behavior_rules_are_bounded() {
        let hpa = json!({"spec": {"maxReplicas": 2,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}],
            "behavior": {"scaleUp": {"stabilizationWindowSeconds": 4000, "selectPolicy": "Most",
                "policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}]},
                "scaleDown": {"policies": []}}}});
        assert_eq!(
            messages(create_causes(&hpa)),
            [
                "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
                "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Most\": supported values: \"Disabled\", \"Max\", \"Min\"",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
                "spec.behavior.scaleDown.policies: Required value: must specify at least one Policy",
            ]
        );
    }
}
