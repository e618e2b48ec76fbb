//! LimitRanger (kube-apiserver's admission plugin of that name), from the LimitRanges of the
//! request's namespace (in name order):
//!
//! - mutating, on a Pod's create: each container and init container gets the `default` limits
//!   and `defaultRequest` requests of the `Container` items for the resources it does not state,
//!   noted in the annotation `kubernetes.io/limit-ranger`
//!   (`LimitRanger plugin set: cpu, memory request for container nginx; cpu limit for container
//!   nginx`);
//! - validating, on a Pod's create: every container's and init container's requests and limits
//!   within the `min`, `max` and `maxLimitRequestRatio` of `Container` items, the pod's totals
//!   within those of `Pod` items; on a PersistentVolumeClaim's create or update, its
//!   `requests.storage` within the `min` and `max` of `PersistentVolumeClaim` items. The first
//!   LimitRange broken refuses with all its errors (`[a, b]` when several), as upstream.
//!
//! A Pod's updates are not looked at (its containers' resources cannot change), nor any
//! subresource. As in upstream, where the pod is defaulted when it is decoded, requests are
//! first taken from limits the container states, so that a LimitRange's `defaultRequest` does
//! not replace them.

use super::{Operation, Plugin, Request};
use crate::auth::rbac::aggregate;
use crate::controllers::str_at;
use crate::quantity::Quantity;
use crate::quota::{ResourceList, list_at};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::{Value, json};

/// The annotation that says what the plugin set.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// The largest value upstream compares in thousandths (`resource.MaxMilliValue`).
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitRanger;

/// What the plugin looks at: Pods (creates only) and PersistentVolumeClaims, never through a
/// subresource (upstream's `SupportsAttributes`).
fn applies(request: &Request<'_>) -> Option<&'static str> {
    let rt = request.rt;
    if request.subresource.is_some() || !rt.group.is_empty() || request.object_kind.is_some() {
        return None;
    }
    match (rt.plural.as_ref(), request.operation) {
        ("pods", Operation::Create) => Some("pods"),
        ("persistentvolumeclaims", Operation::Create | Operation::Update) => {
            Some("persistentvolumeclaims")
        }
        _ => None,
    }
}

/// The LimitRanges of `namespace`, in name order.
fn limit_ranges(rest: &Rest, namespace: &str) -> Vec<Value> {
    let Some(rt) = rest.catalog.snapshot().find("", "v1", "limitranges") else {
        return Vec::new();
    };
    rest.store
        .current(&rt.storage_key)
        .iter()
        .map(|o| o.value())
        .filter(|lr| str_at(lr, "/metadata/namespace") == namespace)
        .collect()
}

/// The items of `lr` of `kind`.
fn items<'a>(lr: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lr.pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |item| str_at(item, "/type") == kind)
}

impl Plugin for LimitRanger {
    fn name(&self) -> &'static str {
        "LimitRanger"
    }

    fn admit(&self, rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if applies(request) != Some("pods") {
            return Ok(());
        }
        let ranges = limit_ranges(rest, request.namespace.unwrap_or(""));
        if ranges.is_empty() {
            return Ok(());
        }
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            for list in ["containers", "initContainers"] {
                if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
                    for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                        crate::registry::core::pods::defaults::requests_from_limits(c);
                    }
                }
            }
        }
        for lr in &ranges {
            default_pod_resources(lr, obj);
        }
        Ok(())
    }

    fn validate(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        obj: Option<&Value>,
    ) -> Result<(), ApiError> {
        let (Some(resource), Some(obj)) = (applies(request), obj) else {
            return Ok(());
        };
        for lr in limit_ranges(rest, request.namespace.unwrap_or("")) {
            let errors = match resource {
                "pods" => validate_pod(&lr, obj),
                _ => validate_claim(&lr, obj),
            };
            if !errors.is_empty() {
                return Err(super::forbidden(request, aggregate(&errors)));
            }
        }
        Ok(())
    }
}

/// Upstream's `mergePodResourceRequirements` for one LimitRange.
fn default_pod_resources(lr: &Value, pod: &mut Value) {
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    for item in items(lr, "Container") {
        requests.extend(list_at(item, "/defaultRequest"));
        limits.extend(list_at(item, "/default"));
    }
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    let mut notes: Vec<String> = Vec::new();
    for (list, label) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in containers.iter_mut().filter(|c| c.is_object()) {
            let name = str_at(c, "/name").to_string();
            if !c.get("resources").is_some_and(Value::is_object) {
                c["resources"] = json!({});
            }
            let set_limits = merge(&mut c["resources"], "limits", &limits);
            let set_requests = merge(&mut c["resources"], "requests", &requests);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {label} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {label} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[ANNOTATION] = json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
}

/// Adds to `resources[which]` each default it lacks; answers the names set, sorted.
fn merge(resources: &mut Value, which: &str, defaults: &ResourceList) -> Vec<String> {
    if !resources.get(which).is_some_and(Value::is_object) {
        resources[which] = json!({});
    }
    let Some(list) = resources[which].as_object_mut() else {
        return Vec::new();
    };
    let mut set = Vec::new();
    for (name, q) in defaults {
        if !list.contains_key(name) {
            list.insert(name.clone(), json!(q.to_string()));
            set.push(name.clone());
        }
    }
    set
}

/// The values upstream compares: thousandths when none is too large, else units
/// (`requestLimitEnforcedValues`).
fn comparable(a: Option<&Quantity>, b: Option<&Quantity>, c: &Quantity) -> (i128, i128, i128) {
    let zero = Quantity::default();
    let (a, b) = (a.unwrap_or(&zero), b.unwrap_or(&zero));
    if [a, b, c].iter().all(|q| q.value() <= MAX_MILLI_VALUE) {
        (a.milli_value(), b.milli_value(), c.milli_value())
    } else {
        (a.value(), b.value(), c.value())
    }
}

fn min_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, e) = comparable(req, lim, enforced);
    match (req, lim) {
        (None, _) => Some(format!(
            "minimum {name} usage per {kind} is {enforced}.  No request is specified"
        )),
        (Some(req), _) if r < e => Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        (_, Some(lim)) if l < e => Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, e) = comparable(req, lim, enforced);
    match (req, lim) {
        (_, None) => Some(format!(
            "maximum {name} usage per {kind} is {enforced}.  No limit is specified"
        )),
        (_, Some(lim)) if l > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but limit is {lim}"
        )),
        (Some(req), _) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

/// The maximum for what only has requests (claims: `maxRequestConstraint`).
fn max_request_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &ResourceList,
) -> Option<String> {
    let req = requests.get(name);
    let (r, _, e) = comparable(req, None, enforced);
    match req {
        None => Some(format!(
            "maximum {name} usage per {kind} is {enforced}.  No request is specified"
        )),
        Some(req) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn ratio_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let (req, lim) = (requests.get(name), limits.get(name));
    let (r, l, _) = comparable(req, lim, enforced);
    if r == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
        ));
    }
    if l == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
        ));
    }
    let observed = l as f64 / r as f64;
    let (scaled, max) = if enforced.value() <= MAX_MILLI_VALUE {
        (observed * 1000.0, enforced.milli_value() as f64)
    } else {
        (observed, enforced.value() as f64)
    };
    (scaled > max).then(|| {
        format!(
            "{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {observed:.6}"
        )
    })
}

/// The min, max and ratio errors of `requests`/`limits` against one item.
fn check_item(
    item: &Value,
    kind: &str,
    requests: &ResourceList,
    limits: &ResourceList,
    errors: &mut Vec<String>,
) {
    for (name, q) in list_at(item, "/min") {
        errors.extend(min_constraint(kind, &name, &q, requests, limits));
    }
    for (name, q) in list_at(item, "/max") {
        errors.extend(max_constraint(kind, &name, &q, requests, limits));
    }
    for (name, q) in list_at(item, "/maxLimitRequestRatio") {
        errors.extend(ratio_constraint(kind, &name, &q, requests, limits));
    }
}

/// Upstream's `PodValidateLimitFunc`.
fn validate_pod(lr: &Value, pod: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for item in lr
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match str_at(item, "/type") {
            "Container" => {
                for list in ["containers", "initContainers"] {
                    for c in pod
                        .pointer(&format!("/spec/{list}"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        check_item(
                            item,
                            "Container",
                            &list_at(c, "/resources/requests"),
                            &list_at(c, "/resources/limits"),
                            &mut errors,
                        );
                    }
                }
            }
            "Pod" => {
                let (requests, limits) = crate::quota::evaluator::pod_requests_and_limits(pod);
                check_item(item, "Pod", &requests, &limits, &mut errors);
            }
            _ => {}
        }
    }
    errors
}

/// Upstream's `PersistentVolumeClaimValidateLimitFunc`: `min` and `max` of the claim's
/// requests (its limits are not user input).
fn validate_claim(lr: &Value, pvc: &Value) -> Vec<String> {
    let kind = "PersistentVolumeClaim";
    let requests = list_at(pvc, "/spec/resources/requests");
    let mut errors = Vec::new();
    for item in items(lr, kind) {
        for (name, q) in list_at(item, "/min") {
            errors.extend(min_constraint(
                kind,
                &name,
                &q,
                &requests,
                &ResourceList::new(),
            ));
        }
        for (name, q) in list_at(item, "/max") {
            errors.extend(max_request_constraint(kind, &name, &q, &requests));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[(&str, &str)]) -> ResourceList {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn defaults_and_annotates() {
        let lr = json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}});
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "nginx", "resources": {"limits": {"memory": "1Gi"}}}],
            "initContainers": [{"name": "init"}]}});
        default_pod_resources(&lr, &mut pod);
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container nginx; cpu limit for container nginx; cpu, memory request for init container init; cpu, memory limit for init container init"
        );
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"memory": "1Gi", "cpu": "500m"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
        );
    }

    #[test]
    fn constraints_speak_upstreams_words() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(
            min_constraint(
                "Container",
                "cpu",
                &q("100m"),
                &list(&[("cpu", "50m")]),
                &list(&[])
            ),
            Some("minimum cpu usage per Container is 100m, but request is 50m".into())
        );
        assert_eq!(
            max_constraint("Container", "memory", &q("1Gi"), &list(&[]), &list(&[])),
            Some("maximum memory usage per Container is 1Gi.  No limit is specified".into())
        );
        assert_eq!(
            ratio_constraint(
                "Container",
                "cpu",
                &q("2"),
                &list(&[("cpu", "100m")]),
                &list(&[("cpu", "500m")])
            ),
            Some(
                "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000"
                    .into()
            )
        );
        assert_eq!(
            ratio_constraint(
                "Container",
                "cpu",
                &q("2"),
                &list(&[("cpu", "100m")]),
                &list(&[("cpu", "200m")])
            ),
            None
        );
    }
}
