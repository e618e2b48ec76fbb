//! Priority (kube-apiserver's admission plugin of that name): a new Pod gets `spec.priority`
//! (and `preemptionPolicy`) from the PriorityClass it names, or from the global default class
//! (the lowest-valued one if several are marked), or 0 and `PreemptLowerPriority` without one;
//! naming a class that does not exist, or giving a priority or policy that differs from the
//! class's, is refused. An update keeps the priority the pod was created with. Only one
//! PriorityClass may be the global default.

use super::{Operation, Plugin, Request, forbidden};
use crate::rest::Rest;
use crate::status::ApiError;
use serde_json::{Value, json};

/// The plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct Priority;

/// Upstream's priority of pods when no class is the global default.
const DEFAULT_PRIORITY: i64 = 0;

fn classes(rest: &Rest) -> Vec<Value> {
    let Some(rt) = rest
        .catalog
        .snapshot()
        .find("scheduling.k8s.io", "v1", "priorityclasses")
    else {
        return Vec::new();
    };
    rest.store
        .current(&rt.storage_key)
        .iter()
        .map(|o| o.value())
        .collect()
}

/// The global default class: the lowest-valued of those marked.
fn global_default(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Plugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    fn admit(&self, rest: &Rest, request: &Request<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let rt = request.rt;
        if request.subresource.is_some() {
            return Ok(());
        }
        if rt.group.is_empty() && rt.plural == "pods" {
            admit_pod(rest, request, obj)
        } else if rt.group == "scheduling.k8s.io" && rt.plural == "priorityclasses" {
            one_global_default(rest, request, obj)
        } else {
            Ok(())
        }
    }
}

fn admit_pod(rest: &Rest, request: &Request<'_>, pod: &mut Value) -> Result<(), ApiError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    match request.operation {
        Operation::Update => {
            // The priority set on create stays (validation refuses changing it).
            for field in ["priority", "preemptionPolicy"] {
                if spec.get(field).is_none_or(Value::is_null)
                    && let Some(old) = request
                        .old_object
                        .and_then(|o| o.pointer(&format!("/spec/{field}")))
                        .filter(|v| !v.is_null())
                {
                    spec.insert(field.into(), old.clone());
                }
            }
            Ok(())
        }
        Operation::Create => {
            let classes = classes(rest);
            let named = spec
                .get("priorityClassName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let (priority, policy) = if named.is_empty() {
                match global_default(&classes) {
                    Some(class) => {
                        spec.insert("priorityClassName".into(), json!(name_of(class)));
                        (
                            class.get("value").and_then(Value::as_i64).unwrap_or(0),
                            class.get("preemptionPolicy").cloned(),
                        )
                    }
                    None => (DEFAULT_PRIORITY, Some(json!("PreemptLowerPriority"))),
                }
            } else {
                let Some(class) = classes.iter().find(|c| name_of(c) == named) else {
                    return Err(forbidden(
                        request,
                        format!("no PriorityClass with name {named} was found"),
                    ));
                };
                (
                    class.get("value").and_then(Value::as_i64).unwrap_or(0),
                    class.get("preemptionPolicy").cloned(),
                )
            };
            if let Some(given) = spec.get("priority").and_then(Value::as_i64)
                && given != priority
            {
                return Err(forbidden(
                    request,
                    format!(
                        "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
                    ),
                ));
            }
            spec.insert("priority".into(), json!(priority));
            if let Some(policy) = policy.filter(|p| !p.is_null()) {
                if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
                    && Some(given) != policy.as_str()
                {
                    return Err(forbidden(
                        request,
                        format!(
                            "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                            policy.as_str().unwrap_or("")
                        ),
                    ));
                }
                spec.insert("preemptionPolicy".into(), policy);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn one_global_default(rest: &Rest, request: &Request<'_>, class: &Value) -> Result<(), ApiError> {
    if !matches!(request.operation, Operation::Create | Operation::Update)
        || class.get("globalDefault").and_then(Value::as_bool) != Some(true)
    {
        return Ok(());
    }
    let classes = classes(rest);
    match global_default(&classes) {
        Some(current)
            if request.operation == Operation::Create || name_of(current) != name_of(class) =>
        {
            Err(forbidden(
                request,
                format!(
                    "PriorityClass {} is already marked as default. Only one default can exist",
                    name_of(current)
                ),
            ))
        }
        _ => Ok(()),
    }
}
