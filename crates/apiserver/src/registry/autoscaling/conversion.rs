//! HorizontalPodAutoscaler autoscaling/v2 (stored) <-> autoscaling/v1, as upstream's
//! `pkg/apis/autoscaling/v1/conversion.go` converts between the internal type and v1.
//!
//! v1 holds a CPU utilization target and the current CPU utilization; everything else v2 has
//! travels in annotations, so that a v1 client that reads an object and writes it back (or a
//! v2 webhook that mutates an object sent at v1) loses nothing:
//!
//! | annotation | holds |
//! |---|---|
//! | `autoscaling.alpha.kubernetes.io/metrics` | the metrics other than a CPU utilization target, as v1 `MetricSpec`s |
//! | `autoscaling.alpha.kubernetes.io/current-metrics` | every current metric, as v1 `MetricStatus`es |
//! | `autoscaling.alpha.kubernetes.io/conditions` | the conditions |
//! | `autoscaling.alpha.kubernetes.io/behavior` | `behavior`, as Go marshals the internal type: no JSON tags, so `ScaleUp`, `StabilizationWindowSeconds`, … and `null` for what is unset |
//!
//! Converting to v1 first drops such annotations an object already had, then writes them from
//! the v2 fields (upstream's `DropRoundTripHorizontalPodAutoscalerAnnotations`); converting to
//! v2 reads them back, then drops them: the stored object never carries them. The values are
//! written as Go's `json.Marshal` writes the v1 types (their field order, `omitempty` as
//! tagged, non-pointer quantities as `"0"` when unset), so they match a kube-apiserver's byte
//! for byte. An annotation that does not parse is dropped (upstream fails the conversion).

use crate::table::printer::s;
use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";
const ROUND_TRIP: [&str; 4] = [METRICS, BEHAVIOR, CURRENT_METRICS, CONDITIONS];
/// `autoscaling.DefaultCPUUtilization`: v1's target when it names none.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

pub(crate) const V1: &str = "autoscaling/v1";
const V2: &str = "autoscaling/v2";

/// A field that is set (present and not null).
fn set<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// Copies `from[key]` to `out[to]` when set.
fn copy(out: &mut Map<String, Value>, to: &str, from: &Value, key: &str) {
    if let Some(x) = set(from, key) {
        out.insert(to.into(), x.clone());
    }
}

/// A non-pointer Go field: its value, or the zero value Go marshals.
fn or_zero(from: &Value, key: &str, zero: Value) -> Value {
    set(from, key).cloned().unwrap_or(zero)
}

/// A v1 `CrossVersionObjectReference` (kind, name, apiVersion if set) from a v2 one.
fn reference(r: Option<&Value>) -> Value {
    let r = r.unwrap_or(&Value::Null);
    let mut out = Map::new();
    out.insert("kind".into(), or_zero(r, "kind", json!("")));
    out.insert("name".into(), or_zero(r, "name", json!("")));
    copy(&mut out, "apiVersion", r, "apiVersion");
    Value::Object(out)
}

/// A v2 `MetricIdentifier` from a v1 source's name and selector fields.
fn identifier(v1: &Value, selector_key: &str) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), or_zero(v1, "metricName", json!("")));
    copy(&mut out, "selector", v1, selector_key);
    Value::Object(out)
}

/// Whether a v2 metric is the CPU utilization target v1 holds itself.
fn is_cpu_utilization_target(metric: &Value) -> bool {
    s(metric, "/type") == "Resource"
        && s(metric, "/resource/name") == "cpu"
        && metric
            .pointer("/resource/target/averageUtilization")
            .is_some_and(|u| !u.is_null())
}

/// `Convert_autoscaling_MetricSpec_To_v1_MetricSpec`: a v2 metric as a v1 `MetricSpec`.
fn metric_spec_to_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), or_zero(m, "type", json!("")));
    if let Some(o) = set(m, "object") {
        let target = o.get("target").unwrap_or(&Value::Null);
        let metric = o.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("target".into(), reference(o.get("describedObject")));
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        v.insert("targetValue".into(), or_zero(target, "value", json!("0")));
        copy(&mut v, "selector", metric, "selector");
        copy(&mut v, "averageValue", target, "averageValue");
        out.insert("object".into(), Value::Object(v));
    }
    if let Some(p) = set(m, "pods") {
        let target = p.get("target").unwrap_or(&Value::Null);
        let metric = p.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        v.insert(
            "targetAverageValue".into(),
            or_zero(target, "averageValue", json!("0")),
        );
        copy(&mut v, "selector", metric, "selector");
        out.insert("pods".into(), Value::Object(v));
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let target = r.get("target").unwrap_or(&Value::Null);
            let mut v = Map::new();
            v.insert("name".into(), or_zero(r, "name", json!("")));
            copy(
                &mut v,
                "targetAverageUtilization",
                target,
                "averageUtilization",
            );
            copy(&mut v, "targetAverageValue", target, "averageValue");
            if container {
                v.insert("container".into(), or_zero(r, "container", json!("")));
            }
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = set(m, "external") {
        let target = e.get("target").unwrap_or(&Value::Null);
        let metric = e.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        copy(&mut v, "metricSelector", metric, "selector");
        copy(&mut v, "targetValue", target, "value");
        copy(&mut v, "targetAverageValue", target, "averageValue");
        out.insert("external".into(), Value::Object(v));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricSpec_To_autoscaling_MetricSpec`: a v1 `MetricSpec` as a v2 metric.
fn metric_spec_to_v2(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), or_zero(m, "type", json!("")));
    if let Some(o) = set(m, "object") {
        let kind = if set(o, "averageValue").is_some() {
            "AverageValue"
        } else {
            "Value"
        };
        let mut target = Map::new();
        target.insert("type".into(), json!(kind));
        // Upstream points at the non-pointer `targetValue`: always set.
        target.insert("value".into(), or_zero(o, "targetValue", json!("0")));
        copy(&mut target, "averageValue", o, "averageValue");
        out.insert(
            "object".into(),
            json!({"describedObject": reference(o.get("target")),
                "target": target, "metric": identifier(o, "selector")}),
        );
    }
    if let Some(p) = set(m, "pods") {
        out.insert(
            "pods".into(),
            json!({"metric": identifier(p, "selector"), "target": {"type": "AverageValue",
                "averageValue": or_zero(p, "targetAverageValue", json!("0"))}}),
        );
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let kind = if set(r, "targetAverageUtilization").is_some() {
                "Utilization"
            } else {
                "AverageValue"
            };
            let mut target = Map::new();
            target.insert("type".into(), json!(kind));
            copy(
                &mut target,
                "averageUtilization",
                r,
                "targetAverageUtilization",
            );
            copy(&mut target, "averageValue", r, "targetAverageValue");
            let mut v = Map::new();
            v.insert("name".into(), or_zero(r, "name", json!("")));
            if container {
                v.insert("container".into(), or_zero(r, "container", json!("")));
            }
            v.insert("target".into(), Value::Object(target));
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = set(m, "external") {
        let kind = if set(e, "targetValue").is_some() {
            "Value"
        } else {
            "AverageValue"
        };
        let mut target = Map::new();
        target.insert("type".into(), json!(kind));
        copy(&mut target, "value", e, "targetValue");
        copy(&mut target, "averageValue", e, "targetAverageValue");
        out.insert(
            "external".into(),
            json!({"metric": identifier(e, "metricSelector"), "target": target}),
        );
    }
    Value::Object(out)
}

/// `Convert_autoscaling_MetricStatus_To_v1_MetricStatus`: a v2 current metric as a v1
/// `MetricStatus`.
fn metric_status_to_v1(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), or_zero(m, "type", json!("")));
    if let Some(o) = set(m, "object") {
        let current = o.get("current").unwrap_or(&Value::Null);
        let metric = o.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("target".into(), reference(o.get("describedObject")));
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        v.insert("currentValue".into(), or_zero(current, "value", json!("0")));
        copy(&mut v, "selector", metric, "selector");
        copy(&mut v, "averageValue", current, "averageValue");
        out.insert("object".into(), Value::Object(v));
    }
    if let Some(p) = set(m, "pods") {
        let current = p.get("current").unwrap_or(&Value::Null);
        let metric = p.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        v.insert(
            "currentAverageValue".into(),
            or_zero(current, "averageValue", json!("0")),
        );
        copy(&mut v, "selector", metric, "selector");
        out.insert("pods".into(), Value::Object(v));
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let current = r.get("current").unwrap_or(&Value::Null);
            let mut v = Map::new();
            v.insert("name".into(), or_zero(r, "name", json!("")));
            copy(
                &mut v,
                "currentAverageUtilization",
                current,
                "averageUtilization",
            );
            v.insert(
                "currentAverageValue".into(),
                or_zero(current, "averageValue", json!("0")),
            );
            if container {
                v.insert("container".into(), or_zero(r, "container", json!("")));
            }
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = set(m, "external") {
        let current = e.get("current").unwrap_or(&Value::Null);
        let metric = e.get("metric").unwrap_or(&Value::Null);
        let mut v = Map::new();
        v.insert("metricName".into(), or_zero(metric, "name", json!("")));
        copy(&mut v, "metricSelector", metric, "selector");
        v.insert("currentValue".into(), or_zero(current, "value", json!("0")));
        copy(&mut v, "currentAverageValue", current, "averageValue");
        out.insert("external".into(), Value::Object(v));
    }
    Value::Object(out)
}

/// `Convert_v1_MetricStatus_To_autoscaling_MetricStatus`: a v1 `MetricStatus` as a v2 current
/// metric.
fn metric_status_to_v2(m: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), or_zero(m, "type", json!("")));
    if let Some(o) = set(m, "object") {
        let mut current = Map::new();
        current.insert("value".into(), or_zero(o, "currentValue", json!("0")));
        copy(&mut current, "averageValue", o, "averageValue");
        out.insert(
            "object".into(),
            json!({"metric": identifier(o, "selector"), "current": current,
                "describedObject": reference(o.get("target"))}),
        );
    }
    if let Some(p) = set(m, "pods") {
        out.insert(
            "pods".into(),
            json!({"metric": identifier(p, "selector"),
                "current": {"averageValue": or_zero(p, "currentAverageValue", json!("0"))}}),
        );
    }
    for (key, container) in [("resource", false), ("containerResource", true)] {
        if let Some(r) = set(m, key) {
            let mut current = Map::new();
            // Upstream points at the non-pointer `currentAverageValue`: always set.
            current.insert(
                "averageValue".into(),
                or_zero(r, "currentAverageValue", json!("0")),
            );
            copy(
                &mut current,
                "averageUtilization",
                r,
                "currentAverageUtilization",
            );
            let mut v = Map::new();
            v.insert("name".into(), or_zero(r, "name", json!("")));
            if container {
                v.insert("container".into(), or_zero(r, "container", json!("")));
            }
            v.insert("current".into(), Value::Object(current));
            out.insert(key.into(), Value::Object(v));
        }
    }
    if let Some(e) = set(m, "external") {
        let mut current = Map::new();
        current.insert("value".into(), or_zero(e, "currentValue", json!("0")));
        copy(&mut current, "averageValue", e, "currentAverageValue");
        out.insert(
            "external".into(),
            json!({"metric": identifier(e, "metricSelector"), "current": current}),
        );
    }
    Value::Object(out)
}

/// A condition as the v1 type marshals it (`lastTransitionTime` is a struct: `null` when
/// unset; `reason` and `message` omitted when empty).
fn condition_to_v1(c: &Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), or_zero(c, "type", json!("")));
    out.insert("status".into(), or_zero(c, "status", json!("")));
    out.insert(
        "lastTransitionTime".into(),
        c.get("lastTransitionTime").cloned().unwrap_or(Value::Null),
    );
    for key in ["reason", "message"] {
        if let Some(v) = set(c, key).filter(|v| v.as_str() != Some("")) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// A condition read back from the annotation (`null` time as unset).
fn condition_to_v2(c: &Value) -> Value {
    let mut out = Map::new();
    for key in ["type", "status", "lastTransitionTime", "reason", "message"] {
        copy(&mut out, key, c, key);
    }
    Value::Object(out)
}

/// `behavior` as Go's `json.Marshal` writes the internal `HorizontalPodAutoscalerBehavior`.
fn behavior_to_go(b: &Value) -> Value {
    let rules = |r: Option<&Value>| {
        let Some(r) = r.filter(|r| !r.is_null()) else {
            return Value::Null;
        };
        let policies = set(r, "policies")
            .and_then(Value::as_array)
            .map_or(Value::Null, |p| {
                p.iter()
                    .map(|p| {
                        json!({"Type": or_zero(p, "type", json!("")),
                            "Value": or_zero(p, "value", json!(0)),
                            "PeriodSeconds": or_zero(p, "periodSeconds", json!(0))})
                    })
                    .collect()
            });
        json!({
            "StabilizationWindowSeconds": or_zero(r, "stabilizationWindowSeconds", Value::Null),
            "SelectPolicy": or_zero(r, "selectPolicy", Value::Null),
            "Policies": policies,
            "Tolerance": or_zero(r, "tolerance", Value::Null),
        })
    };
    json!({"ScaleUp": rules(b.get("scaleUp")), "ScaleDown": rules(b.get("scaleDown"))})
}

/// A key of Go-marshalled JSON, matched as `encoding/json` matches: exactly, else ignoring
/// case.
fn go_field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let map = v.as_object()?;
    map.get(name)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// The behavior annotation read back as v2's `behavior`.
fn behavior_from_go(b: &Value) -> Option<Value> {
    if !b.is_object() {
        return None;
    }
    let rules = |r: Option<&Value>| {
        let r = r.filter(|r| r.is_object())?;
        let mut out = Map::new();
        for (go, key) in [
            ("StabilizationWindowSeconds", "stabilizationWindowSeconds"),
            ("SelectPolicy", "selectPolicy"),
        ] {
            if let Some(v) = go_field(r, go) {
                out.insert(key.into(), v.clone());
            }
        }
        if let Some(p) = go_field(r, "Policies").and_then(Value::as_array) {
            let policies: Vec<Value> = p
                .iter()
                .map(|p| {
                    json!({"type": go_field(p, "Type").cloned().unwrap_or(json!("")),
                        "value": go_field(p, "Value").cloned().unwrap_or(json!(0)),
                        "periodSeconds": go_field(p, "PeriodSeconds").cloned().unwrap_or(json!(0))})
                })
                .collect();
            out.insert("policies".into(), Value::Array(policies));
        }
        if let Some(v) = go_field(r, "Tolerance") {
            out.insert("tolerance".into(), v.clone());
        }
        Some(Value::Object(out))
    };
    let mut out = Map::new();
    if let Some(r) = rules(go_field(b, "ScaleUp")) {
        out.insert("scaleUp".into(), r);
    }
    if let Some(r) = rules(go_field(b, "ScaleDown")) {
        out.insert("scaleDown".into(), r);
    }
    Some(Value::Object(out))
}

/// Removes the round-trip annotations (and an annotation map left empty).
fn drop_round_trip(obj: &mut Value) -> Map<String, Value> {
    let mut taken = Map::new();
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return taken;
    };
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for key in ROUND_TRIP {
            if let Some(v) = annotations.remove(key) {
                taken.insert(key.into(), v);
            }
        }
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
    taken
}

/// Sets `metadata.annotations[key]`.
fn annotate(obj: &mut Value, key: &str, value: &Value) {
    let meta = obj
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    if let Some(meta) = meta.and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(key.into(), json!(value.to_string()));
        }
    }
}

/// The list a round-trip annotation holds, if it parses as one.
fn parsed_list(taken: &Map<String, Value>, key: &str) -> Option<Vec<Value>> {
    let raw = taken.get(key)?.as_str()?;
    match serde_json::from_str(raw).ok()? {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// A stored v2 object in place to its v1 form.
pub(crate) fn to_v1(obj: &mut Value) {
    obj["apiVersion"] = json!(V1);
    drop_round_trip(obj);
    let mut notes: Vec<(&str, Value)> = Vec::new();
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let metrics = spec.remove("metrics");
        let metrics = metrics.as_ref().and_then(Value::as_array);
        let behavior = spec.remove("behavior");
        // The first CPU Resource metric decides, with or without a utilization.
        let cpu = metrics
            .into_iter()
            .flatten()
            .find(|m| s(m, "/type") == "Resource" && s(m, "/resource/name") == "cpu");
        if let Some(u) = cpu
            .and_then(|m| m.pointer("/resource/target/averageUtilization"))
            .filter(|u| !u.is_null())
        {
            spec.insert("targetCPUUtilizationPercentage".into(), u.clone());
        }
        let others: Vec<Value> = metrics
            .into_iter()
            .flatten()
            .filter(|m| !is_cpu_utilization_target(m))
            .map(metric_spec_to_v1)
            .collect();
        if !others.is_empty() {
            notes.push((METRICS, Value::Array(others)));
        }
        if let Some(b) = behavior.filter(|b| !b.is_null()) {
            notes.push((BEHAVIOR, behavior_to_go(&b)));
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let current = status.remove("currentMetrics");
        let current = current.as_ref().and_then(Value::as_array);
        let conditions = status.remove("conditions");
        // Upstream's loop does not stop: the last CPU utilization wins.
        for m in current.into_iter().flatten() {
            if s(m, "/type") == "Resource"
                && s(m, "/resource/name") == "cpu"
                && let Some(u) = m
                    .pointer("/resource/current/averageUtilization")
                    .filter(|u| !u.is_null())
            {
                status.insert("currentCPUUtilizationPercentage".into(), u.clone());
            }
        }
        if let Some(current) = current.filter(|c| !c.is_empty()) {
            notes.push((
                CURRENT_METRICS,
                current.iter().map(metric_status_to_v1).collect(),
            ));
        }
        if let Some(conditions) = conditions
            .as_ref()
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
        {
            notes.push((CONDITIONS, conditions.iter().map(condition_to_v1).collect()));
        }
    }
    for (key, value) in notes {
        annotate(obj, key, &value);
    }
}

/// A v1 object in place to its v2 form.
pub(crate) fn to_v2(obj: &mut Value) {
    obj["apiVersion"] = json!(V2);
    let taken = drop_round_trip(obj);
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let mut metrics = Vec::new();
        if let Some(cpu) = spec.remove("targetCPUUtilizationPercentage") {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": cpu}}}));
        }
        if let Some(others) = parsed_list(&taken, METRICS) {
            // The others first, then the CPU target v1 held itself.
            let mut all: Vec<Value> = others.iter().map(metric_spec_to_v2).collect();
            all.append(&mut metrics);
            metrics = all;
        }
        // v1's implicit target, made explicit as upstream's conversion does.
        if metrics.is_empty() {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}));
        }
        spec.insert("metrics".into(), Value::Array(metrics));
        if let Some(b) = taken
            .get(BEHAVIOR)
            .and_then(Value::as_str)
            .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
            .and_then(|b| behavior_from_go(&b))
        {
            spec.insert("behavior".into(), b);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(cpu) = status.remove("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": cpu}}}]),
            );
        }
        // The annotation knows more than the CPU figure: it replaces it.
        if let Some(current) = parsed_list(&taken, CURRENT_METRICS) {
            status.insert(
                "currentMetrics".into(),
                current.iter().map(metric_status_to_v2).collect(),
            );
        }
        if let Some(conditions) = parsed_list(&taken, CONDITIONS) {
            status.insert(
                "conditions".into(),
                conditions.iter().map(condition_to_v2).collect(),
            );
        }
        status.entry("desiredReplicas").or_insert(json!(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_with_everything() -> Value {
        json!({"apiVersion": V2, "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {"keep": "me"}},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 40, "averageValue": "100m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True",
                    "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "ReadyForNewScale"}]}})
    }

    #[test]
    fn v2_only_fields_ride_in_annotations_as_go_writes_them() {
        let mut obj = v2_with_everything();
        to_v1(&mut obj);
        assert_eq!(obj["spec"]["targetCPUUtilizationPercentage"], 60);
        assert_eq!(obj["status"]["currentCPUUtilizationPercentage"], 40);
        assert!(obj["spec"].get("metrics").is_none());
        assert!(obj["spec"].get("behavior").is_none());
        let a = &obj["metadata"]["annotations"];
        assert_eq!(a["keep"], "me");
        assert_eq!(
            a[METRICS],
            r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]"#
        );
        assert_eq!(
            a[CURRENT_METRICS],
            r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40,"currentAverageValue":"100m"}}]"#
        );
        assert_eq!(
            a[CONDITIONS],
            r#"[{"type":"AbleToScale","status":"True","lastTransitionTime":"2025-01-01T00:00:00Z","reason":"ReadyForNewScale"}]"#
        );
        assert_eq!(
            a[BEHAVIOR],
            r#"{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":null,"Policies":[{"Type":"Percent","Value":10,"PeriodSeconds":60}],"Tolerance":null}}"#
        );
    }

    #[test]
    fn a_v1_round_trip_keeps_the_v2_fields_and_drops_the_annotations() {
        let original = v2_with_everything();
        let mut obj = original.clone();
        to_v1(&mut obj);
        to_v2(&mut obj);
        assert_eq!(obj["metadata"]["annotations"], json!({"keep": "me"}));
        // The other metrics first, then the CPU target (upstream's order).
        assert_eq!(
            obj["spec"]["metrics"],
            json!([
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60}}},
            ])
        );
        assert_eq!(obj["spec"]["behavior"], original["spec"]["behavior"]);
        assert_eq!(
            obj["status"]["currentMetrics"],
            original["status"]["currentMetrics"]
        );
        assert_eq!(
            obj["status"]["conditions"],
            original["status"]["conditions"]
        );
    }

    #[test]
    fn every_metric_source_survives_the_round_trip() {
        let metrics = json!([
            {"type": "Object", "object": {"describedObject": {"kind": "Service", "name": "s", "apiVersion": "v1"},
                "target": {"type": "Value", "value": "10"}, "metric": {"name": "rps"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps", "selector": {"matchLabels": {"a": "b"}}},
                "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
                "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "External", "external": {"metric": {"name": "queue"},
                "target": {"type": "AverageValue", "averageValue": "30"}}},
        ]);
        let mut obj = json!({"apiVersion": V2, "metadata": {"name": "x"},
            "spec": {"maxReplicas": 3, "metrics": metrics}});
        to_v1(&mut obj);
        assert!(obj["spec"].get("targetCPUUtilizationPercentage").is_none());
        to_v2(&mut obj);
        assert_eq!(obj["spec"]["metrics"], metrics);
        assert!(obj["metadata"].get("annotations").is_none());
    }

    #[test]
    fn v1_without_a_target_gets_the_implicit_one() {
        let mut obj = json!({"apiVersion": V1, "metadata": {"name": "x"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
        to_v2(&mut obj);
        assert_eq!(
            obj["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
    }

    #[test]
    fn unparsable_annotations_are_dropped() {
        let mut obj = json!({"apiVersion": V1, "metadata": {"name": "x",
                "annotations": {METRICS: "not json", BEHAVIOR: "[]"}},
            "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 70}});
        to_v2(&mut obj);
        assert!(obj["metadata"].get("annotations").is_none());
        assert_eq!(obj["spec"]["metrics"].as_array().map(Vec::len), Some(1));
        assert!(obj["spec"].get("behavior").is_none());
    }
}
