//! Validation of LimitRanges, as upstream's `ValidateLimitRange` (`pkg/apis/core/validation`),
//! on the defaulted object: each item's `type` a standard limit type (`Pod`, `Container`,
//! `PersistentVolumeClaim`) or a qualified name, and no type twice; resource names valid for the
//! type (container resources for `Pod` and `Container` items); no `default`/`defaultRequest` on a
//! `Pod` item; a storage minimum or maximum on a `PersistentVolumeClaim` item; and for each
//! resource `min` ≤ `defaultRequest` ≤ `default` ≤ `max`, `maxLimitRequestRatio` at least 1 and
//! at most max/min, `default` = `defaultRequest` for resources that cannot be overcommitted —
//! with upstream's messages. Resources are visited in name order (Go visits them in random
//! order).

use crate::crd::schema::field::{self, Bad};
use crate::quantity::Quantity;
use crate::registry::core::resourcequotas::validation::{
    container_resource_name_causes, overcommit_allowed, quantity, resource_name_causes, sorted,
};
use crate::status::FieldCause;
use crate::validation::qualified_name_problems;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Upstream's `resource.MaxMilliValue`: the largest value whose thousandths fit an int64.
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

/// The causes a LimitRange is refused for, on create and on update.
pub(crate) fn causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    let items = obj
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let path = field::index("spec.limits", i);
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let type_path = field::child(&path, "type");
        causes.extend(type_name_causes(kind, &type_path));
        if !types.insert(kind) {
            causes.push(field::duplicate(&type_path, Bad::Str(kind)));
        }
        causes.extend(item_causes(kind, item, &path));
    }
    causes
}

/// `validateLimitRangeTypeName`.
fn type_name_causes(kind: &str, path: &str) -> Vec<FieldCause> {
    let problems = qualified_name_problems(kind);
    if !problems.is_empty() {
        return problems
            .iter()
            .map(|p| field::invalid(path, Bad::Str(kind), p))
            .collect();
    }
    if !kind.contains('/') && !matches!(kind, "Pod" | "Container" | "PersistentVolumeClaim") {
        return vec![field::invalid(
            path,
            Bad::Str(kind),
            "must be a standard limit type or fully qualified",
        )];
    }
    Vec::new()
}

/// `validateLimitRangeResourceName`.
fn resource_causes(kind: &str, name: &str, path: &str) -> Vec<FieldCause> {
    match kind {
        "Pod" | "Container" => container_resource_name_causes(name, path),
        _ => resource_name_causes(name, path),
    }
}

/// The checks of one item of `spec.limits`.
fn item_causes(kind: &str, item: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let mut lists: BTreeMap<&str, BTreeMap<String, Quantity>> = BTreeMap::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let mut take = |list: &'static str, causes: &mut Vec<FieldCause>| {
        let list_path = field::child(path, list);
        let mut quantities = BTreeMap::new();
        for (name, value) in sorted(item.get(list)) {
            causes.extend(resource_causes(kind, &name, &field::key(&list_path, &name)));
            keys.insert(name.clone());
            if let Some(q) = quantity(value) {
                quantities.insert(name, q);
            }
        }
        lists.insert(list, quantities);
    };
    take("max", &mut causes);
    take("min", &mut causes);
    if kind == "Pod" {
        for list in ["default", "defaultRequest"] {
            if item
                .get(list)
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            {
                causes.push(field::forbidden(
                    &field::child(path, list),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
    } else {
        take("default", &mut causes);
        take("defaultRequest", &mut causes);
    }
    let has_storage = |list: &str| {
        item.get(list)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key("storage"))
    };
    if kind == "PersistentVolumeClaim" && !has_storage("min") && !has_storage("max") {
        causes.push(field::required(
            &field::child(path, "limits"),
            "either minimum or maximum storage value is required, but neither was provided",
        ));
    }
    take("maxLimitRequestRatio", &mut causes);
    let get = |list: &str, k: &str| lists.get(list).and_then(|l| l.get(k)).copied();
    for k in &keys {
        let min = get("min", k);
        let max = get("max", k);
        let default = get("default", k);
        let request = get("defaultRequest", k);
        let ratio = get("maxLimitRequestRatio", k);
        let at = |list: &str| field::key(&field::child(path, list), k);
        let mut invalid = |list: &str, shown: Quantity, detail: String| {
            causes.push(field::invalid(
                &at(list),
                Bad::Raw(&shown.to_string()),
                &detail,
            ));
        };
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            invalid(
                "min",
                min,
                format!("min value {min} is greater than max value {max}"),
            );
        }
        if let (Some(request), Some(min)) = (request, min)
            && min > request
        {
            invalid(
                "defaultRequest",
                request,
                format!("min value {min} is greater than default request value {request}"),
            );
        }
        if let (Some(request), Some(max)) = (request, max)
            && request > max
        {
            invalid(
                "defaultRequest",
                request,
                format!("default request value {request} is greater than max value {max}"),
            );
        }
        if let (Some(request), Some(default)) = (request, default)
            && request > default
        {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "default request value {request} is greater than default limit value {default}"
                ),
            );
        }
        if let (Some(default), Some(min)) = (default, min)
            && min > default
        {
            invalid(
                "default",
                min,
                format!("min value {min} is greater than default value {default}"),
            );
        }
        if let (Some(default), Some(max)) = (default, max)
            && default > max
        {
            invalid(
                "default",
                max,
                format!("default value {default} is greater than max value {max}"),
            );
        }
        if let Some(ratio) = ratio
            && ratio < Quantity::count(1)
        {
            invalid(
                "maxLimitRequestRatio",
                ratio,
                format!("ratio {ratio} is less than 1"),
            );
        }
        if let (Some(ratio), Some(min), Some(max)) = (ratio, min, max)
            && let Some(limit) = ratio_exceeding(ratio, min, max)
        {
            invalid(
                "maxLimitRequestRatio",
                ratio,
                format!("ratio {ratio} is greater than max/min = {limit:.6}"),
            );
        }
        if let (Some(default), Some(request)) = (default, request)
            && !overcommit_allowed(k)
            && default != request
        {
            invalid(
                "defaultRequest",
                request,
                format!(
                    "default value {default} must equal to defaultRequest value {request} in {k}"
                ),
            );
        }
    }
    causes
}

/// Upstream's max/min ratio check: in thousandths when all three fit, else in (rounded up)
/// units; Some(max/min) when the ratio is over it.
fn ratio_exceeding(ratio: Quantity, min: Quantity, max: Quantity) -> Option<f64> {
    let (mut ratio_value, mut min_value, mut max_value) =
        (ratio.value() as f64, min.value(), max.value());
    if ratio.value() < MAX_MILLI_VALUE && min_value < MAX_MILLI_VALUE && max_value < MAX_MILLI_VALUE
    {
        ratio_value = ratio.milli_value() as f64 / 1000.0;
        min_value = min.milli_value();
        max_value = max.milli_value();
    }
    let limit = max_value as f64 / min_value as f64;
    (ratio_value > limit).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(limits: Value) -> Vec<String> {
        causes(&json!({"spec": {"limits": limits}}))
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    #[test]
    fn a_valid_limit_range_passes() {
        assert!(
            messages(json!([
                {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"},
                 "default": {"cpu": "1"}, "defaultRequest": {"cpu": "500m"},
                 "maxLimitRequestRatio": {"cpu": "4"}},
                {"type": "Pod", "max": {"memory": "1Gi"}},
                {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}},
                {"type": "example.com/Thing", "max": {"example.com/widgets": "3"}}
            ]))
            .is_empty()
        );
    }

    #[test]
    fn types_names_and_pod_defaults() {
        assert_eq!(
            messages(json!([
                {"type": "Container", "max": {"foo": "1", "requests.cpu": "1"}},
                {"type": "Container"},
                {"type": "Node"},
                {"type": "Pod", "default": {"cpu": "1"}},
                {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}
            ])),
            vec![
                r#"spec.limits[0].max[foo]: Invalid value: "foo": must be a standard resource type or fully qualified"#,
                r#"spec.limits[0].max[foo]: Invalid value: "foo": must be a standard resource for containers"#,
                r#"spec.limits[0].max[requests.cpu]: Invalid value: "requests.cpu": must be a standard resource for containers"#,
                r#"spec.limits[1].type: Duplicate value: "Container""#,
                r#"spec.limits[2].type: Invalid value: "Node": must be a standard limit type or fully qualified"#,
                "spec.limits[3].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[4].limits: Required value: either minimum or maximum storage value is required, but neither was provided",
            ]
        );
    }

    #[test]
    fn ordering_of_min_default_and_max() {
        assert_eq!(
            messages(json!([{"type": "Container",
                "min": {"cpu": "2"}, "max": {"cpu": "1"},
                "default": {"cpu": "1500m"}, "defaultRequest": {"cpu": "3"}}])),
            vec![
                "spec.limits[0].min[cpu]: Invalid value: 2: min value 2 is greater than max value 1",
                "spec.limits[0].defaultRequest[cpu]: Invalid value: 3: default request value 3 is greater than max value 1",
                "spec.limits[0].defaultRequest[cpu]: Invalid value: 3: default request value 3 is greater than default limit value 1500m",
                "spec.limits[0].default[cpu]: Invalid value: 2: min value 2 is greater than default value 1500m",
                "spec.limits[0].default[cpu]: Invalid value: 1: default value 1500m is greater than max value 1",
            ]
        );
        assert_eq!(
            messages(json!([{"type": "Container", "min": {"memory": "1Gi"},
                "defaultRequest": {"memory": "512Mi"}}])),
            vec![
                "spec.limits[0].defaultRequest[memory]: Invalid value: 512Mi: min value 1Gi is greater than default request value 512Mi",
            ]
        );
    }

    #[test]
    fn ratios_and_non_overcommitted_resources() {
        assert_eq!(
            messages(json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}])),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 500m: ratio 500m is less than 1"
            ]
        );
        assert_eq!(
            messages(
                json!([{"type": "Pod", "min": {"cpu": "1"}, "max": {"cpu": "3"},
                "maxLimitRequestRatio": {"cpu": "4"}}])
            ),
            vec![
                "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: 4: ratio 4 is greater than max/min = 3.000000"
            ]
        );
        assert_eq!(
            messages(
                json!([{"type": "Container", "default": {"example.com/gpu": "2"},
                "defaultRequest": {"example.com/gpu": "1"}}])
            ),
            vec![
                "spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: 1: default value 2 must equal to defaultRequest value 1 in example.com/gpu"
            ]
        );
    }
}
