//! Pods: phase `Pending` on create, the field selectors kubelets and kubectl use, and the pod
//! spec rules (`ValidatePodSpec`) shared with the pod templates of workloads, in
//! kube-apiserver's words. Only the rules below are checked; fields this server does not
//! default (restart policy, protocols) are checked only when given.

use super::{Strategy, Typed};
use crate::status::FieldCause;
use crate::validation::dns1123_label_problems;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use std::collections::HashSet;

/// `IsValidPortNum`'s message.
pub(super) const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// Whether `n` is a valid port number.
pub(super) fn valid_port(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// The protocols ports may have, as upstream lists them (sorted).
pub(super) fn port_protocols() -> Vec<String> {
    vec!["SCTP".into(), "TCP".into(), "UDP".into()]
}

/// The rules of a pod spec at `path` (`spec` of a Pod, `spec.template.spec` of a workload):
/// at least one container; containers with a unique DNS-1123 label name and an image; ports in
/// range with a known protocol; a known restart policy; a positive `activeDeadlineSeconds`.
pub fn pod_spec_causes(spec: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty());
    let Some(containers) = containers else {
        causes.push(FieldCause::required(format!("{path}.containers"), ""));
        return causes;
    };
    let mut names = HashSet::new();
    for (i, container) in containers.iter().enumerate() {
        let at = format!("{path}.containers[{i}]");
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            causes.push(FieldCause::required(format!("{at}.name"), ""));
        } else {
            for p in dns1123_label_problems(name) {
                causes.push(FieldCause::invalid(format!("{at}.name"), &json!(name), p));
            }
        }
        if container
            .get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(FieldCause::required(format!("{at}.image"), ""));
        }
        causes.extend(container_port_causes(container, &at));
        if !names.insert(name) {
            causes.push(FieldCause::duplicate(format!("{at}.name"), &json!(name)));
        }
    }
    if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str)
        && !matches!(policy, "Always" | "OnFailure" | "Never")
    {
        causes.push(FieldCause::not_supported(
            format!("{path}.restartPolicy"),
            &json!(policy),
            &["Always".into(), "OnFailure".into(), "Never".into()],
        ));
    }
    if let Some(secs) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64)
        && !(1..=i64::from(i32::MAX)).contains(&secs)
    {
        causes.push(FieldCause::invalid(
            format!("{path}.activeDeadlineSeconds"),
            &json!(secs),
            format!("must be between 1 and {}, inclusive", i32::MAX),
        ));
    }
    causes
}

/// A container's ports (`validateContainerPorts`).
fn container_port_causes(container: &Value, at: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let ports = container.get("ports").and_then(Value::as_array);
    for (j, port) in ports.into_iter().flatten().enumerate() {
        let at = format!("{at}.ports[{j}]");
        match port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0)
        {
            0 => causes.push(FieldCause::required(format!("{at}.containerPort"), "")),
            n if !valid_port(n) => causes.push(FieldCause::invalid(
                format!("{at}.containerPort"),
                &json!(n),
                PORT_RANGE,
            )),
            _ => {}
        }
        if let Some(n) = port.get("hostPort").and_then(Value::as_i64)
            && n != 0
            && !valid_port(n)
        {
            causes.push(FieldCause::invalid(
                format!("{at}.hostPort"),
                &json!(n),
                PORT_RANGE,
            ));
        }
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !port_protocols().iter().any(|p| p == protocol)
        {
            causes.push(FieldCause::not_supported(
                format!("{at}.protocol"),
                &json!(protocol),
                &port_protocols(),
            ));
        }
    }
    causes
}

/// The Pod strategy.
pub struct PodStrategy {
    typed: Typed<Pod>,
}

impl PodStrategy {
    /// The strategy.
    pub fn new() -> Self {
        PodStrategy {
            typed: Typed::new().printer(&crate::table::POD).fields(&[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            ]),
        }
    }
}

impl Strategy for PodStrategy {
    typed_basics!(typed, decode);

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let empty = json!({});
        pod_spec_causes(obj.get("spec").unwrap_or(&empty), "spec")
    }
}

impl Default for PodStrategy {
    fn default() -> Self {
        Self::new()
    }
}
