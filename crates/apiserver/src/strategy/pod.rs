//! Pods: phase `Pending` on create, the field selectors kubelets and kubectl use, and graceful
//! deletion: a pod on a node stays, Terminating, until its kubelet removes it.

use super::{Strategy, Typed};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

/// `terminationGracePeriodSeconds` when a pod leaves it unset (upstream's defaulting).
const DEFAULT_GRACE_PERIOD: i64 = 30;

/// Upstream's `SetDefaults_PodSpec` for the scalar fields (applied as every pod is decoded, so
/// field selectors such as `spec.restartPolicy=Always` or `spec.schedulerName=default-scheduler`
/// find pods that left them out, and graceful deletion finds the 30 s period).
fn default_spec(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, value) in [
        ("dnsPolicy", json!("ClusterFirst")),
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(DEFAULT_GRACE_PERIOD)),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
    ] {
        match spec.get(field) {
            Some(v) if !v.is_null() && v.as_str() != Some("") => {}
            _ => {
                spec.insert(field.into(), value);
            }
        }
    }
}

/// The Pod strategy.
pub struct PodStrategy {
    typed: Typed<Pod>,
}

impl PodStrategy {
    /// The strategy.
    pub fn new() -> Self {
        PodStrategy {
            typed: Typed::new()
                .printer(&crate::table::POD)
                .fields(&[
                    "spec.nodeName",
                    "spec.restartPolicy",
                    "spec.schedulerName",
                    "spec.serviceAccountName",
                    "spec.hostNetwork",
                    "status.phase",
                    "status.podIP",
                    "status.nominatedNodeName",
                ])
                .unset_values(&[("spec.hostNetwork", "false")]),
        }
    }
}

impl Strategy for PodStrategy {
    typed_basics!(typed, decode);

    fn prepare_for_create(&self, obj: &mut Value) {
        default_spec(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_spec(new);
    }

    /// As upstream's Pod storage (`ReturnDeletedObject: true`).
    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn deletes_gracefully(&self) -> bool {
        true
    }

    /// Upstream's `podStrategy.CheckGracefulDelete`: the request's period, else the pod's
    /// `terminationGracePeriodSeconds` (defaulted to 30 upstream); 0 for a pod no kubelet runs
    /// (unscheduled) or one that already terminated.
    fn grace_period(&self, obj: &Value, requested: Option<i64>) -> i64 {
        let unscheduled = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        let terminated = matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Failed" | "Succeeded")
        );
        if unscheduled || terminated {
            return 0;
        }
        requested.unwrap_or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(DEFAULT_GRACE_PERIOD)
        })
    }

    fn validate(&self, obj: &Value) -> Vec<crate::status::FieldCause> {
        let mut causes = Vec::new();
        match obj.pointer("/spec/containers").and_then(Value::as_array) {
            Some(c) if !c.is_empty() => {
                for (i, container) in c.iter().enumerate() {
                    if container
                        .get("name")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        causes.push(crate::status::FieldCause::required(
                            format!("spec.containers[{i}].name"),
                            "",
                        ));
                    }
                    if container
                        .get("image")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        causes.push(crate::status::FieldCause::required(
                            format!("spec.containers[{i}].image"),
                            "",
                        ));
                    }
                }
            }
            _ => causes.push(crate::status::FieldCause::required("spec.containers", "")),
        }
        causes
    }
}

impl Default for PodStrategy {
    fn default() -> Self {
        Self::new()
    }
}
