//! The horizontal pod autoscaler controller (kube-controller-manager's,
//! `pkg/controller/podautoscaler`), on a cluster without a metrics server: what a real cluster
//! does for a HorizontalPodAutoscaler before metrics-server (or a custom metrics adapter) is
//! installed.
//!
//! Every autoscaler is reconciled when it changes, when its target's `spec.replicas` changes, and
//! every 15 s (upstream's `--horizontal-pod-autoscaler-sync-period`):
//! - the target's scale is read through its `scale` subresource (`AbleToScale` False
//!   `FailedGetScale` when it cannot be: an unparsable apiVersion, an unknown kind, a missing
//!   object or a resource without a scale subresource);
//! - a target scaled to zero disables autoscaling (`ScalingActive` False `ScalingDisabled`);
//! - a replica count above `maxReplicas` or below `minReplicas` is brought back within the
//!   bounds through the scale subresource (`AbleToScale` True `SucceededRescale`, event
//!   `SuccessfulRescale` with upstream's reason, `status.lastScaleTime`);
//! - otherwise the metrics are asked for. There is no metrics API here, so each metric fails as
//!   it does upstream without one (`ScalingActive` False `FailedGetResourceMetric`, …, with
//!   client-go's message for the missing `metrics.k8s.io` group, an empty entry per metric in
//!   `status.currentMetrics`, and the `FailedComputeMetricsReplicas` event); nothing is scaled.
//!   The scale's selector is checked first, as upstream checks it (`InvalidSelector`,
//!   `AmbiguousSelector` when another autoscaler's pods overlap).
//!
//! `status.currentReplicas` is the scale's `spec.replicas`, as upstream reads it. The status is
//! written only when it changes, and each condition's `lastTransitionTime` moves only when its
//! status does. Not done: scaling from metrics (there are none), so neither the stabilization
//! window nor `behavior`'s rate limits ever apply.

use super::changes::{Change, Changes};
use super::events::EventRecorder;
use super::{str_at as s, type_for, write_options};
use crate::registry::policy::poddisruptionbudgets::labels_of;
use crate::resource::ResourceType;
use crate::rest::{ListOptions, Rest, now};
use crate::selector::LabelSelector;
use crate::status::ApiError;
use crate::storage::EventType;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The field manager of the status and scale this controller writes.
const MANAGER: &str = "kube-controller-manager";

/// How often every autoscaler is reconciled (upstream's default sync period).
const SYNC_PERIOD: Duration = Duration::from_secs(15);

/// How often a status write that lost a race is retried in one reconcile.
const WRITE_ATTEMPTS: usize = 5;

/// The kind of the objects this controller records events about.
const KIND: (&str, &str) = ("autoscaling/v2", "HorizontalPodAutoscaler");

type Key = (String, String);

struct Types {
    hpas: Arc<ResourceType>,
    pods: Arc<ResourceType>,
    events: EventRecorder,
}

/// Runs until the store closes.
pub async fn run(rest: Rest) {
    let found = {
        let r = rest.catalog.snapshot();
        (
            r.find("autoscaling", "v2", "horizontalpodautoscalers"),
            r.find("", "v1", "pods"),
        )
    };
    let (Some(hpas), Some(pods)) = found else {
        return;
    };
    let t = Types {
        hpas,
        pods,
        events: EventRecorder::new("horizontal-pod-autoscaler"),
    };
    // Every autoscaler, with its target's name, and when it is next due.
    let mut targets: BTreeMap<Key, String> = BTreeMap::new();
    let mut due: BTreeMap<Key, tokio::time::Instant> = BTreeMap::new();
    // The selector each autoscaler's target had at its last reconcile (for ambiguity checks).
    let mut selectors: BTreeMap<Key, LabelSelector> = BTreeMap::new();
    let mut dirty: BTreeSet<Key> = BTreeSet::new();
    let mut changes = Changes::all(&rest);
    loop {
        for key in std::mem::take(&mut dirty) {
            if !targets.contains_key(&key) {
                continue;
            }
            if let Err(e) = reconcile(&rest, &t, &key, &mut selectors).await {
                tracing::debug!(namespace = key.0, hpa = key.1, error = %e, "reconciling autoscaler");
            }
            due.insert(key, tokio::time::Instant::now() + SYNC_PERIOD);
        }
        let wake = super::sleep_until(due.values().min().copied());
        tokio::select! {
            change = changes.next() => match change {
                None => return,
                Some(Change::Resync { .. }) => {
                    targets.clear();
                    due.clear();
                    selectors.clear();
                    if let Ok(list) = rest.list(&t.hpas, None, &ListOptions::default()).await {
                        for o in list.items {
                            let v = o.value();
                            targets.insert(key_of(&v), s(&v, "/spec/scaleTargetRef/name").into());
                        }
                    }
                    dirty = targets.keys().cloned().collect();
                }
                Some(Change::Events(events)) => {
                    for e in events {
                        let key = (e.key.namespace.clone(), e.key.name.clone());
                        let gone = e.event_type == EventType::Deleted;
                        if e.key.resource == t.hpas.storage_key {
                            if gone {
                                targets.remove(&key);
                                due.remove(&key);
                                selectors.remove(&key);
                            } else {
                                let v = e.object.value();
                                let before = e.prev.as_ref().map(|p| p.value());
                                targets.insert(key.clone(), s(&v, "/spec/scaleTargetRef/name").into());
                                // Its own status writes do not wake it; spec and metadata changes do.
                                if before.as_ref().map(|b| &b["spec"]) != Some(&v["spec"]) {
                                    dirty.insert(key);
                                }
                            }
                        } else if e.key.resource != t.pods.storage_key && !gone {
                            // A target's replicas changed: its autoscalers look again.
                            let now = e.object.value();
                            let before = e.prev.as_ref().map(|p| p.value());
                            let replicas = |v: &Value| v.pointer("/spec/replicas").cloned();
                            if now.pointer("/spec/replicas").is_none()
                                || before.as_ref().map(replicas) == Some(replicas(&now))
                            {
                                continue;
                            }
                            dirty.extend(
                                targets
                                    .iter()
                                    .filter(|((ns, _), target)| *ns == key.0 && **target == key.1)
                                    .map(|(k, _)| k.clone()),
                            );
                        }
                    }
                }
            },
            _ = wake => {
                let now = tokio::time::Instant::now();
                dirty.extend(due.iter().filter(|(_, at)| **at <= now).map(|(k, _)| k.clone()));
            }
        }
    }
}

fn key_of(v: &Value) -> Key {
    (
        s(v, "/metadata/namespace").to_string(),
        s(v, "/metadata/name").to_string(),
    )
}

/// One reconcile of one autoscaler (upstream's `reconcileAutoscaler`), retried on a conflict.
async fn reconcile(
    rest: &Rest,
    t: &Types,
    (ns, name): &Key,
    selectors: &mut BTreeMap<Key, LabelSelector>,
) -> Result<(), ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let hpa = match rest.get_value(&t.hpas, Some(ns), name) {
            Ok(h) => h,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut status = hpa.get("status").cloned().unwrap_or_else(|| json!({}));
        if !status.is_object() {
            status = json!({});
        }
        decide(rest, t, &hpa, &mut status, selectors).await;
        if hpa.get("status") == Some(&status) {
            return Ok(());
        }
        let mut updated = hpa.clone();
        updated["status"] = status;
        match rest
            .update(
                &t.hpas,
                Some(ns),
                name,
                updated,
                &write_options(MANAGER),
                Some("status"),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.code == 409 => continue,
            Err(e) if e.code == 404 => return Ok(()),
            Err(e) => {
                t.events
                    .warning(rest, &hpa, KIND, "FailedUpdateStatus", e.message.clone());
                return Err(e);
            }
        }
    }
    Err(ApiError::conflict(
        "autoscaling",
        "horizontalpodautoscalers",
        name,
        "too many concurrent writers",
    ))
}

/// Sets condition `kind` in `status` (upstream's `setCondition`: added when absent, its
/// transition time moved only when its status changes).
fn set_condition(status: &mut Value, kind: &str, state: bool, reason: &str, message: String) {
    let state = if state { "True" } else { "False" };
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(conditions) = status["conditions"].as_array_mut() else {
        return;
    };
    let index = match conditions.iter().position(|c| s(c, "/type") == kind) {
        Some(i) => i,
        None => {
            conditions.push(json!({"type": kind}));
            conditions.len() - 1
        }
    };
    let condition = &mut conditions[index];
    if s(condition, "/status") != state {
        condition["lastTransitionTime"] = json!(now());
    }
    condition["status"] = json!(state);
    condition["reason"] = json!(reason);
    condition["message"] = json!(message);
}

/// Upstream's `setStatus`: the replica counts and metrics, the conditions kept, and
/// `lastScaleTime` moved on a rescale.
fn set_status(
    status: &mut Value,
    current: i64,
    desired: i64,
    metrics: Option<Vec<Value>>,
    rescaled: bool,
) {
    let mut next = serde_json::Map::new();
    if let Some(t) = status.get("lastScaleTime").filter(|t| !t.is_null()) {
        next.insert("lastScaleTime".into(), t.clone());
    }
    if rescaled {
        next.insert("lastScaleTime".into(), json!(now()));
    }
    next.insert("currentReplicas".into(), json!(current));
    next.insert("desiredReplicas".into(), json!(desired));
    if let Some(metrics) = metrics.filter(|m| !m.is_empty()) {
        next.insert("currentMetrics".into(), Value::Array(metrics));
    }
    if let Some(c) = status.get("conditions").filter(|c| !c.is_null()) {
        next.insert("conditions".into(), c.clone());
    }
    *status = Value::Object(next);
}

/// Decides the autoscaler's status (and rescales its target when it is out of bounds).
async fn decide(
    rest: &Rest,
    t: &Types,
    hpa: &Value,
    status: &mut Value,
    selectors: &mut BTreeMap<Key, LabelSelector>,
) {
    let key = key_of(hpa);
    let ns = key.0.as_str();
    let desired_before = status
        .get("desiredReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let target = match scale_target(rest, hpa) {
        Ok(target) => target,
        Err(message) => {
            t.events
                .warning(rest, hpa, KIND, "FailedGetScale", message.clone());
            set_condition(
                status,
                "AbleToScale",
                false,
                "FailedGetScale",
                format!(
                    "the HPA controller was unable to get the target's current scale: {message}"
                ),
            );
            return;
        }
    };
    let target_name = s(hpa, "/spec/scaleTargetRef/name");
    let scale = match rest.get_scale(&target, Some(ns), target_name).await {
        Ok(scale) => scale,
        Err(e) => {
            t.events
                .warning(rest, hpa, KIND, "FailedGetScale", e.message.clone());
            set_condition(
                status,
                "AbleToScale",
                false,
                "FailedGetScale",
                format!(
                    "the HPA controller was unable to get the target's current scale: {}",
                    e.message
                ),
            );
            return;
        }
    };
    set_condition(
        status,
        "AbleToScale",
        true,
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale".into(),
    );
    let current = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let min = hpa
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let max = hpa
        .pointer("/spec/maxReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let (desired, reason) = if current == 0 && min != 0 {
        set_condition(
            status,
            "ScalingActive",
            false,
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero".into(),
        );
        set_status(status, current, current, None, false);
        return;
    } else if current > max {
        (max, "Current number of replicas above Spec.MaxReplicas")
    } else if current < min {
        (min, "Current number of replicas below Spec.MinReplicas")
    } else {
        let metrics = metrics_failure(rest, t, hpa, &scale, status, selectors).await;
        set_status(status, current, desired_before, metrics, false);
        return;
    };
    let written = rest
        .write_scale(
            &target,
            Some(ns),
            target_name,
            &write_options(MANAGER),
            |scale| {
                let mut scale = scale.clone();
                scale["spec"]["replicas"] = json!(desired);
                Ok(scale)
            },
        )
        .await;
    match written {
        Ok(_) => {
            set_condition(
                status,
                "AbleToScale",
                true,
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {desired}"),
            );
            t.events.normal(
                rest,
                hpa,
                KIND,
                "SuccessfulRescale",
                format!("New size: {desired}; reason: {reason}"),
            );
            set_status(status, current, desired, None, true);
        }
        Err(e) => {
            t.events.warning(
                rest,
                hpa,
                KIND,
                "FailedRescale",
                format!(
                    "New size: {desired}; reason: {reason}; error: {}",
                    e.message
                ),
            );
            set_condition(
                status,
                "AbleToScale",
                false,
                "FailedUpdateScale",
                format!(
                    "the HPA controller was unable to update the target scale: {}",
                    e.message
                ),
            );
            set_status(status, current, desired_before, None, false);
        }
    }
}

/// The resource of the autoscaler's `scaleTargetRef`, or the error upstream's REST mapping
/// gives.
fn scale_target(rest: &Rest, hpa: &Value) -> Result<Arc<ResourceType>, String> {
    let api_version = s(hpa, "/spec/scaleTargetRef/apiVersion");
    let kind = s(hpa, "/spec/scaleTargetRef/kind");
    if api_version.matches('/').count() > 1 {
        return Err(format!("unexpected GroupVersion string: {api_version}"));
    }
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    type_for(rest, api_version, kind)
        .ok_or_else(|| format!("no matches for kind {kind:?} in group {group:?}"))
}

/// The metrics step when no metrics API is served: the scale's selector is checked, then every
/// metric fails as it does upstream without metrics-server or a metrics adapter. Returns the
/// (empty) metric statuses upstream records; `None` when the selector is refused.
async fn metrics_failure(
    rest: &Rest,
    t: &Types,
    hpa: &Value,
    scale: &Value,
    status: &mut Value,
    selectors: &mut BTreeMap<Key, LabelSelector>,
) -> Option<Vec<Value>> {
    let key = key_of(hpa);
    let selector_text = s(scale, "/status/selector");
    if selector_text.is_empty() {
        t.events.warning(
            rest,
            hpa,
            KIND,
            "SelectorRequired",
            "selector is required".into(),
        );
        set_condition(
            status,
            "ScalingActive",
            false,
            "InvalidSelector",
            "the HPA target's scale is missing a selector".into(),
        );
        return None;
    }
    let selector = match LabelSelector::parse(selector_text) {
        Ok(selector) => selector,
        Err(e) => {
            let message = format!(
                "couldn't convert selector into a corresponding internal selector object: {e}"
            );
            t.events
                .warning(rest, hpa, KIND, "InvalidSelector", message.clone());
            set_condition(status, "ScalingActive", false, "InvalidSelector", message);
            return None;
        }
    };
    let pods: Vec<BTreeMap<String, String>> = rest
        .list(&t.pods, Some(&key.0), &ListOptions::default())
        .await
        .map(|l| {
            l.items
                .iter()
                .map(|o| labels_of(&o.value()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|labels| selector.matches(labels))
        .collect();
    let mut controlling: Vec<String> = selectors
        .iter()
        .filter(|(other, _)| other.0 == key.0 && **other != key)
        .filter(|(_, other)| pods.iter().any(|labels| other.matches(labels)))
        .map(|((ns, name), _)| format!("{ns}/{name}"))
        .collect();
    selectors.insert(key.clone(), selector);
    if !controlling.is_empty() {
        controlling.push(format!("{}/{}", key.0, key.1));
        controlling.sort();
        let message = format!(
            "pods by selector {selector_text} are controlled by multiple HPAs: [{}]",
            controlling.join(" ")
        );
        t.events
            .warning(rest, hpa, KIND, "AmbiguousSelector", message.clone());
        set_condition(status, "ScalingActive", false, "AmbiguousSelector", message);
        return None;
    }
    let metrics = hpa
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut first: Option<(&'static str, String, String)> = None;
    for metric in &metrics {
        let (reason, detail, wrapped) = metric_error(metric, &key.0);
        t.events.warning(rest, hpa, KIND, reason, detail.clone());
        if first.is_none() {
            first = Some((reason, detail, wrapped));
        }
    }
    let Some((reason, detail, wrapped)) = first else {
        return Some(Vec::new());
    };
    set_condition(
        status,
        "ScalingActive",
        false,
        reason,
        format!("the HPA was unable to compute the replica count: {detail}"),
    );
    t.events.warning(
        rest,
        hpa,
        KIND,
        "FailedComputeMetricsReplicas",
        format!(
            "invalid metrics ({n} invalid out of {n}), first error is: {wrapped}",
            n = metrics.len()
        ),
    );
    Some(metrics.iter().map(|_| json!({"type": ""})).collect())
}

/// How one metric fails without a metrics API: (the condition's reason, the error the condition
/// and its event carry, the error as `computeReplicasForMetric` wraps it).
fn metric_error(metric: &Value, namespace: &str) -> (&'static str, String, String) {
    const RESOURCE_API: &str = "unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";
    const CUSTOM_API: &str = "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered";
    const EXTERNAL_API: &str = "unable to fetch metrics from external metrics API: the server could not find the requested resource (get external.metrics.k8s.io)";
    let resource_error = |source: &Value| {
        let name = s(source, "/name");
        let what = if source
            .pointer("/target/averageValue")
            .is_some_and(|v| !v.is_null())
        {
            "usage"
        } else {
            "utilization"
        };
        format!(
            "failed to get {name} {what}: unable to get metrics for resource {name}: {RESOURCE_API}"
        )
    };
    match s(metric, "/type") {
        "Resource" => {
            let detail = resource_error(&metric["resource"]);
            let name = s(metric, "/resource/name");
            (
                "FailedGetResourceMetric",
                detail.clone(),
                format!("failed to get {name} resource metric value: {detail}"),
            )
        }
        "ContainerResource" => {
            let detail = resource_error(&metric["containerResource"]);
            let container = s(metric, "/containerResource/container");
            (
                "FailedGetContainerResourceMetric",
                detail.clone(),
                format!("failed to get {container} container metric value: {detail}"),
            )
        }
        "Pods" => {
            let detail = format!(
                "unable to get metric {}: {CUSTOM_API}",
                s(metric, "/pods/metric/name")
            );
            (
                "FailedGetPodsMetric",
                detail.clone(),
                format!("failed to get pods metric value: {detail}"),
            )
        }
        "Object" => {
            let detail = format!(
                "unable to get metric {}: {CUSTOM_API}",
                s(metric, "/object/metric/name")
            );
            (
                "FailedGetObjectMetric",
                detail.clone(),
                format!("failed to get object metric value: {detail}"),
            )
        }
        _ => {
            let name = s(metric, "/external/metric/name");
            let detail =
                format!("unable to get external metric {namespace}/{name}: {EXTERNAL_API}");
            (
                "FailedGetExternalMetric",
                detail.clone(),
                format!("failed to get {name} external metric value: {detail}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_moves_its_transition_time_only_when_its_status_changes() {
        let mut status = json!({});
        set_condition(
            &mut status,
            "AbleToScale",
            true,
            "SucceededGetScale",
            "a".into(),
        );
        let first = status["conditions"][0]["lastTransitionTime"].clone();
        status["conditions"][0]["lastTransitionTime"] = json!("2020-01-01T00:00:00Z");
        set_condition(
            &mut status,
            "AbleToScale",
            true,
            "SucceededRescale",
            "b".into(),
        );
        assert_eq!(
            status["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(status["conditions"][0]["reason"], "SucceededRescale");
        set_condition(
            &mut status,
            "AbleToScale",
            false,
            "FailedGetScale",
            "c".into(),
        );
        assert_ne!(
            status["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert!(first.is_string());
        set_condition(
            &mut status,
            "ScalingActive",
            false,
            "ScalingDisabled",
            "d".into(),
        );
        assert_eq!(status["conditions"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn metrics_fail_as_without_a_metrics_server() {
        let cpu = json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}});
        let (reason, detail, wrapped) = metric_error(&cpu, "default");
        assert_eq!(reason, "FailedGetResourceMetric");
        assert_eq!(
            detail,
            "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
        );
        assert!(
            wrapped.starts_with(
                "failed to get cpu resource metric value: failed to get cpu utilization"
            )
        );
        let memory = json!({"type": "Resource", "resource": {"name": "memory",
            "target": {"type": "AverageValue", "averageValue": "100Mi"}}});
        assert!(
            metric_error(&memory, "default")
                .1
                .starts_with("failed to get memory usage:")
        );
    }

    #[test]
    fn the_status_keeps_conditions_and_the_last_scale_time() {
        let mut status = json!({"lastScaleTime": "2020-01-01T00:00:00Z", "currentReplicas": 9,
            "conditions": [{"type": "AbleToScale"}], "currentMetrics": [{"type": ""}]});
        set_status(&mut status, 3, 2, None, false);
        assert_eq!(
            status,
            json!({"lastScaleTime": "2020-01-01T00:00:00Z", "currentReplicas": 3,
                "desiredReplicas": 2, "conditions": [{"type": "AbleToScale"}]})
        );
        set_status(&mut status, 3, 5, Some(vec![json!({"type": ""})]), true);
        assert_ne!(status["lastScaleTime"], "2020-01-01T00:00:00Z");
        assert_eq!(status["currentMetrics"], json!([{"type": ""}]));
    }
}
