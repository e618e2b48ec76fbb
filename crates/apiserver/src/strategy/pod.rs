//! Pods: phase `Pending` on create, and the field selectors kubelets and kubectl use.

use super::{Strategy, Typed};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

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
        obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
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
