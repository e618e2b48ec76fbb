//! `pods/resize` (upstream 1.33's `ResizeStrategy`, InPlacePodVerticalScaling being beta and on):
//! a write through it changes only the containers' (and init containers') `resources` and
//! `resizePolicy` of the stored pod, and is checked as `ValidatePodResize` checks it: not for
//! pods with pod-level resources, static pods or Windows pods; the QoS class stays; requests
//! and limits are not removed; memory limits are neither lowered nor added unless the memory
//! resize policy restarts the container; only cpu and memory change, and only for regular and
//! sidecar containers.

use super::ephemeral::{is_mirror, items};
use super::qos_class;
use crate::quantity::parse_quantity;
use crate::status::FieldCause;
use serde_json::{Map, Value, json};

/// The name of this subresource.
pub(crate) const RESIZE: &str = "resize";

/// The resources a resize may change.
const RESIZABLE: [&str; 2] = ["cpu", "memory"];

/// The pod a write through `pods/resize` makes of the stored `old` and the sent `new`
/// (upstream's `dropNonResizeUpdates`): the stored pod with each container's sent `resources`
/// and `resizePolicy` (defaulted: limits without requests request as much). Containers added,
/// removed, reordered or renamed are kept as sent, for validation to refuse.
pub(crate) fn through(old: &Value, new: &Value) -> Value {
    let mut next = old.clone();
    for list in ["containers", "initContainers"] {
        let (sent, stored) = (items(new, list), items(old, list));
        let same_shape = sent.len() == stored.len()
            && sent
                .iter()
                .zip(stored)
                .all(|(a, b)| a.get("name") == b.get("name"));
        let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) else {
            continue;
        };
        if !same_shape {
            spec.insert(list.into(), Value::Array(sent.to_vec()));
            continue;
        }
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for (c, s) in containers.iter_mut().zip(sent) {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            for field in ["resources", "resizePolicy"] {
                match s.get(field).filter(|v| !v.is_null()) {
                    Some(v) => c.insert(field.into(), v.clone()),
                    None => c.remove(field),
                };
            }
            super::defaults::requests_from_limits(c);
        }
    }
    next
}

/// The causes refusing a resize that makes `new` of `old` (`ValidatePodResize`), to follow the
/// pod spec rules' causes; `Err` is a refusal that stands alone (pod-level resources, a static
/// or a Windows pod).
pub(crate) fn update_causes(new: &Value, old: &Value) -> Result<Vec<FieldCause>, FieldCause> {
    let mut causes = Vec::new();
    let pod_level = |p: &Value| {
        ["requests", "limits"].iter().any(|k| {
            p.pointer(&format!("/spec/resources/{k}"))
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
        })
    };
    if pod_level(old) || pod_level(new) {
        return Err(FieldCause::forbidden(
            "[]",
            "pods with pod-level resources cannot be resized",
        ));
    }
    if is_mirror(old) {
        return Err(FieldCause::forbidden("[]", "static pods cannot be resized"));
    }
    if old.pointer("/spec/os/name").and_then(Value::as_str) == Some("windows") {
        return Err(FieldCause::forbidden(
            "[]",
            "windows pods cannot be resized",
        ));
    }
    // Upstream's `GetPodQOS`: the recorded class, else the computed one.
    let old_class = old
        .pointer("/status/qosClass")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| qos_class(old));
    if old_class != qos_class(new) {
        let shown = new
            .pointer("/status/qosClass")
            .and_then(Value::as_str)
            .unwrap_or("");
        causes.push(FieldCause::invalid(
            "spec",
            &json!(shown),
            "Pod QOS Class may not change as a result of resizing",
        ));
    }
    if !resize_supported(old) {
        causes.push(FieldCause::forbidden(
            "spec",
            "Pod running on node without support for resize",
        ));
    }
    let mutable = "only cpu and memory resources are mutable";
    let shaped = |list: &str| {
        let (n, o) = (items(new, list), items(old, list));
        n.len() == o.len() && n.iter().zip(o).all(|(a, b)| a.get("name") == b.get("name"))
    };
    if !shaped("containers") || !shaped("initContainers") {
        causes.push(FieldCause::forbidden("spec", mutable));
        return Ok(causes);
    }
    let inits: Vec<(usize, &Value, &Value)> = items(old, "initContainers")
        .iter()
        .zip(items(new, "initContainers"))
        .enumerate()
        .map(|(i, (o, n))| (i, o, n))
        .collect();
    for (i, o, n) in &inits {
        if restartable(o) {
            causes.extend(container_resize_causes(
                n,
                o,
                &format!("spec.initContainers[{i}].resources"),
            ));
        }
    }
    for (i, (o, n)) in items(old, "containers")
        .iter()
        .zip(items(new, "containers"))
        .enumerate()
    {
        causes.extend(container_resize_causes(
            n,
            o,
            &format!("spec.containers[{i}].resources"),
        ));
    }
    for (o, n) in items(old, "containers")
        .iter()
        .zip(items(new, "containers"))
    {
        if !super::semantic_diff(o, &cpu_memory_as_before(n, o), "").is_empty() {
            causes.push(FieldCause::forbidden("spec", mutable));
        }
    }
    for (_, o, n) in &inits {
        if restartable(o) {
            if !super::semantic_diff(o, &cpu_memory_as_before(n, o), "").is_empty() {
                causes.push(FieldCause::forbidden(
                    "spec",
                    "only cpu and memory resources for sidecar containers are mutable",
                ));
            }
        } else if !super::semantic_diff(o, n, "").is_empty() {
            causes.push(FieldCause::forbidden(
                "spec",
                "resources for non-sidecar init containers are immutable",
            ));
        }
    }
    Ok(causes)
}

/// Upstream's `isPodResizeRequestSupported`: the first running container reports its
/// resources (a kubelet that resizes does); with none running, assumed supported.
fn resize_supported(pod: &Value) -> bool {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    for s in statuses.into_iter().flatten() {
        if s.pointer("/state/running").is_some_and(|r| !r.is_null()) {
            return s.get("resources").is_some_and(|r| !r.is_null());
        }
    }
    true
}

/// Whether an init container is a sidecar (`restartPolicy: Always`).
fn restartable(c: &Value) -> bool {
    c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// `validateContainerResize`: requests and limits are not removed; memory limits are neither
/// lowered nor added unless the memory resize policy is `RestartContainer`.
fn container_resize_causes(new: &Value, old: &Value, at: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let list = |c: &Value, which: &str| -> Map<String, Value> {
        c.pointer(&format!("/resources/{which}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    for (which, what) in [("requests", "requests"), ("limits", "limits")] {
        let (n, o) = (list(new, which), list(old, which));
        if o.keys().any(|k| !n.contains_key(k)) {
            causes.push(FieldCause::forbidden(
                format!("{at}.{which}"),
                format!("resource {what} cannot be removed"),
            ));
        }
    }
    let memory_policy = new
        .get("resizePolicy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("resourceName").and_then(Value::as_str) == Some("memory"))
        .and_then(|p| p.get("restartPolicy").and_then(Value::as_str))
        .unwrap_or("");
    if matches!(memory_policy, "" | "NotRequired") {
        let amount = |c: &Value| {
            c.pointer("/resources/limits/memory")
                .and_then(Value::as_str)
                .map(|q| parse_quantity(q).unwrap_or(0))
        };
        match (amount(new), amount(old)) {
            (Some(n), Some(o)) if n < o => causes.push(FieldCause::forbidden(
                format!("{at}.limits[memory]"),
                "memory limits cannot be decreased unless resizePolicy is RestartContainer",
            )),
            (Some(_), None) => causes.push(FieldCause::forbidden(
                format!("{at}.limits[memory]"),
                "memory limits cannot be added unless resizePolicy is RestartContainer",
            )),
            _ => {}
        }
    }
    causes
}

/// `new` with its cpu and memory requests and limits as in `old` (upstream's
/// `dropCPUMemoryResourcesFromContainer`): what else differs is a change a resize may not make.
fn cpu_memory_as_before(new: &Value, old: &Value) -> Value {
    let mut out = new.clone();
    let mut resources = Map::new();
    for which in ["limits", "requests"] {
        let Some(before) = old
            .pointer(&format!("/resources/{which}"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let mut munged = new
            .pointer(&format!("/resources/{which}"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for r in RESIZABLE {
            munged.remove(r);
            if let Some(q) = before.get(r) {
                munged.insert(r.into(), q.clone());
            }
        }
        resources.insert(which.into(), Value::Object(munged));
    }
    if let Some(c) = out.as_object_mut() {
        if resources.is_empty() {
            c.remove("resources");
        } else {
            c.insert("resources".into(), Value::Object(resources));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(resources: Value) -> Value {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "image": "nginx", "resources": resources}
        ]}, "status": {}});
        p["status"]["qosClass"] = json!(qos_class(&p));
        p
    }

    fn messages(sent: Value, old: &Value) -> Vec<String> {
        let new = through(old, &sent);
        update_causes(&new, old)
            .unwrap_or_else(|only| vec![only])
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    #[test]
    fn cpu_and_memory_change_and_nothing_else_is_taken() {
        let old = pod(json!({"requests": {"cpu": "100m"}}));
        let mut sent = pod(json!({"requests": {"cpu": "200m"}}));
        sent["spec"]["containers"][0]["image"] = json!("other");
        let next = through(&old, &sent);
        assert_eq!(next["spec"]["containers"][0]["image"], "nginx");
        assert_eq!(
            next["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "200m"
        );
        assert!(messages(sent, &old).is_empty());
    }

    #[test]
    fn refusals_in_upstream_words() {
        let old = pod(
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}),
        );
        assert_eq!(
            messages(
                pod(json!({"requests": {"cpu": "100m", "memory": "64Mi"}})),
                &old
            ),
            vec![
                "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"
            ]
        );
        assert_eq!(
            messages(
                pod(
                    json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "100Mi"}})
                ),
                &old
            ),
            vec![
                "spec.containers[0].resources.limits[memory]: Forbidden: memory limits cannot be decreased unless resizePolicy is RestartContainer"
            ]
        );
        assert_eq!(
            messages(
                pod(
                    json!({"requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": "1Gi"}, "limits": {"memory": "128Mi"}})
                ),
                &old
            ),
            vec!["spec: Forbidden: only cpu and memory resources are mutable"]
        );
        let best_effort = pod(json!({}));
        assert_eq!(
            messages(pod(json!({"requests": {"cpu": "100m"}})), &best_effort),
            vec![
                "spec: Invalid value: \"BestEffort\": Pod QOS Class may not change as a result of resizing"
            ]
        );
    }

    #[test]
    fn a_running_container_without_resources_in_its_status_cannot_be_resized() {
        let mut old = pod(json!({"requests": {"cpu": "100m"}}));
        old["status"]["containerStatuses"] = json!([{"name": "c", "state": {"running": {}}}]);
        assert_eq!(
            messages(pod(json!({"requests": {"cpu": "200m"}})), &old),
            vec!["spec: Forbidden: Pod running on node without support for resize"]
        );
    }
}
