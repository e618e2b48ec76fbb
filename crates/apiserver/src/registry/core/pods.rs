//! Pods: upstream's defaulting ([`defaults`]), phase `Pending` and the QoS class ([`qos`]) on
//! create, the field selectors kubelets and kubectl use, the pod spec rules (`ValidatePodSpec`)
//! shared with the pod templates of workloads, what an update may change ([`update`]), all in
//! kube-apiserver's words, and graceful deletion: a pod on a node stays, Terminating, until its
//! kubelet removes it; `pods/ephemeralcontainers` ([`ephemeral`]) and `pods/resize`
//! ([`resize`]), served like `status`. Only the rules below are checked.

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::rest::subresource_create::CreateSubresource;
use crate::status::FieldCause;
use crate::strategy::typed_basics;
use crate::strategy::{Strategy, Typed};
use crate::table::printer::{Printer, col, len, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::dns1123_label_problems;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use std::collections::HashSet;

mod binding;
pub(crate) mod defaults;
mod ephemeral;
mod eviction;
mod qos;
mod resize;
mod update;

pub use qos::qos_class;
pub(crate) use update::semantic_diff;

/// `pods` (core/v1, `po`).
pub(crate) fn resource() -> ResourceType {
    entry("pods", "pod", true)
        .short(&["po"])
        .all()
        .status()
        .build::<Pod>(PodStrategy::new())
}

/// `IsValidPortNum`'s message.
pub(crate) const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// Whether `n` is a valid port number.
pub(crate) fn valid_port(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// The protocols ports may have, as upstream lists them (sorted).
pub(crate) fn port_protocols() -> Vec<String> {
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

use defaults::DEFAULT_GRACE_PERIOD;

/// The Pod strategy.
pub struct PodStrategy {
    typed: Typed<Pod>,
}

impl PodStrategy {
    /// The strategy.
    pub fn new() -> Self {
        PodStrategy {
            typed: Typed::new()
                .printer(&POD)
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

    /// Defaulting, then upstream's `PrepareForCreate`: the status starts `Pending` with the
    /// pod's QoS class.
    fn prepare_for_create(&self, obj: &mut Value) {
        defaults::default_pod(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(obj)});
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        defaults::default_pod(new);
    }

    /// The pod spec rules, then what an update may change (`ValidatePodUpdate`).
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = spec_causes(new);
        causes.extend(update::pod_update_causes(new, old));
        causes
    }

    /// A binding (`pods/binding`, [`binding`]; the simulated scheduler writes through it too):
    /// only `spec.nodeName` changes, and only from unset, with the binding's annotations added
    /// and the `PodScheduled` condition it sets.
    /// Through `pods/ephemeralcontainers` ([`ephemeral`]) only the ephemeral containers change,
    /// through `pods/resize` ([`resize`]) only the containers' resources and resize policies.
    fn update_through(&self, subresource: &str, old: &Value, new: Value) -> Value {
        let through = match subresource {
            ephemeral::EPHEMERAL_CONTAINERS => Some(ephemeral::through(old, &new)),
            resize::RESIZE => Some(resize::through(old, &new)),
            _ => None,
        };
        if let Some(mut next) = through {
            // As the sent pod is defaulted when upstream decodes it.
            defaults::default_pod(&mut next);
            return next;
        }
        let mut bound = old.clone();
        if subresource != "binding"
            || !old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return bound;
        }
        let Some(node) = new.pointer("/spec/nodeName").and_then(Value::as_str) else {
            return bound;
        };
        let annotations = new
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        bound = binding::bound(old, node, &annotations);
        if !new
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
            })
        {
            // A binding written without the condition (the simulated scheduler's) keeps the
            // pod's conditions as they were.
            bound["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            if bound["status"].is_null()
                && let Some(m) = bound.as_object_mut()
            {
                m.remove("status");
            }
        }
        bound
    }

    fn create_subresources(&self) -> &[CreateSubresource] {
        &[binding::BINDING, eviction::EVICTION]
    }

    /// `pods/ephemeralcontainers` and `pods/resize`, served like `status`.
    fn object_subresources(&self) -> &[&'static str] {
        &[ephemeral::EPHEMERAL_CONTAINERS, resize::RESIZE]
    }

    fn validate_update_through(
        &self,
        subresource: &str,
        new: &Value,
        old: &Value,
    ) -> Vec<FieldCause> {
        let checked = match subresource {
            ephemeral::EPHEMERAL_CONTAINERS => ephemeral::update_causes(new, old),
            resize::RESIZE => resize::update_causes(new, old),
            _ => Ok(Vec::new()),
        };
        match checked {
            Ok(more) => {
                let mut causes = spec_causes(new);
                causes.extend(more);
                causes
            }
            Err(only) => vec![only],
        }
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

    /// The pod spec rules (a status write keeps the spec).
    fn validate_status(&self, obj: &Value) -> Vec<FieldCause> {
        spec_causes(obj)
    }

    /// The pod spec rules, and no ephemeral containers on create.
    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = spec_causes(obj);
        causes.extend(ephemeral::create_causes(obj));
        causes
    }
}

/// The pod spec rules for `pod`'s spec.
fn spec_causes(pod: &Value) -> Vec<FieldCause> {
    let empty = json!({});
    pod_spec_causes(pod.get("spec").unwrap_or(&empty), "spec")
}

impl Default for PodStrategy {
    fn default() -> Self {
        Self::new()
    }
}

fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return "Terminating".into();
    }
    let mut reason = match s(o, "/status/reason") {
        "" => s(o, "/status/phase").to_string(),
        r => r.to_string(),
    };
    if let Some(statuses) = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for c in statuses.iter().rev() {
            if let Some(w) = c
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = w.to_string();
            } else if let Some(t) = c
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = t.to_string();
            }
        }
    }
    if reason.is_empty() {
        "Unknown".into()
    } else {
        reason
    }
}

/// Pod: NAME READY STATUS RESTARTS AGE (IP NODE NOMINATED NODE READINESS GATES wide).
pub(crate) const POD: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            age_column(),
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ]
    },
    cells: |o, now| {
        let total = len(o, "/spec/containers");
        let statuses = o
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ready = statuses
            .iter()
            .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
            .count();
        let restarts: i64 = statuses
            .iter()
            .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
            .sum();
        let gates = match len(o, "/spec/readinessGates") {
            0 => "<none>".to_string(),
            g => format!("0/{g}"),
        };
        vec![
            json!(name_of(o)),
            json!(format!("{ready}/{total}")),
            json!(pod_status(o)),
            json!(restarts.to_string()),
            json!(age(o, now)),
            json!(none_if_empty(s(o, "/status/podIP").to_string())),
            json!(none_if_empty(s(o, "/spec/nodeName").to_string())),
            json!(none_if_empty(s(o, "/status/nominatedNodeName").to_string())),
            json!(gates),
        ]
    },
};

/// The list and map markers of the pod types (pod templates of workloads use them too).
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        (
            "io.k8s.api.core.v1.Container",
            "ports",
            &["containerPort", "protocol"],
        ),
        ("io.k8s.api.core.v1.Container", "env", &["name"]),
        (
            "io.k8s.api.core.v1.Container",
            "volumeMounts",
            &["mountPath"],
        ),
        (
            "io.k8s.api.core.v1.Container",
            "volumeDevices",
            &["devicePath"],
        ),
        (
            "io.k8s.api.core.v1.EphemeralContainer",
            "ports",
            &["containerPort", "protocol"],
        ),
        ("io.k8s.api.core.v1.EphemeralContainer", "env", &["name"]),
        (
            "io.k8s.api.core.v1.EphemeralContainer",
            "volumeMounts",
            &["mountPath"],
        ),
        (
            "io.k8s.api.core.v1.EphemeralContainer",
            "volumeDevices",
            &["devicePath"],
        ),
        ("io.k8s.api.core.v1.VolumeMount", "bindMountOptions", &[]),
        (
            "io.k8s.api.core.v1.ResourceRequirements",
            "claims",
            &["name"],
        ),
        (
            "io.k8s.api.core.v1.ContainerStatus",
            "volumeMounts",
            &["mountPath"],
        ),
        (
            "io.k8s.api.core.v1.ContainerStatus",
            "allocatedResourcesStatus",
            &["name"],
        ),
        (
            "io.k8s.api.core.v1.ResourceStatus",
            "resources",
            &["resourceID"],
        ),
        (
            "io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes",
            "values",
            &[],
        ),
        ("io.k8s.api.core.v1.PodSpec", "volumes", &["name"]),
        ("io.k8s.api.core.v1.PodSpec", "initContainers", &["name"]),
        ("io.k8s.api.core.v1.PodSpec", "containers", &["name"]),
        (
            "io.k8s.api.core.v1.PodSpec",
            "ephemeralContainers",
            &["name"],
        ),
        ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", &["name"]),
        ("io.k8s.api.core.v1.PodSpec", "hostAliases", &["ip"]),
        (
            "io.k8s.api.core.v1.PodSpec",
            "topologySpreadConstraints",
            &["topologyKey", "whenUnsatisfiable"],
        ),
        ("io.k8s.api.core.v1.PodSpec", "schedulingGates", &["name"]),
        ("io.k8s.api.core.v1.PodSpec", "resourceClaims", &["name"]),
        ("io.k8s.api.core.v1.PodStatus", "conditions", &["type"]),
        ("io.k8s.api.core.v1.PodStatus", "podIPs", &["ip"]),
        (
            "io.k8s.api.core.v1.PodStatus",
            "resourceClaimStatuses",
            &["name"],
        ),
    ],
    atomic_structs: &[
        "io.k8s.api.core.v1.FileKeySelector",
        "io.k8s.api.core.v1.ObjectFieldSelector",
        "io.k8s.api.core.v1.ResourceFieldSelector",
        "io.k8s.api.core.v1.ConfigMapKeySelector",
        "io.k8s.api.core.v1.SecretKeySelector",
        "io.k8s.api.core.v1.NodeSelector",
        "io.k8s.api.core.v1.NodeSelectorTerm",
        "io.k8s.api.core.v1.TopologySelectorTerm",
    ],
    atomic_maps: &[("io.k8s.api.core.v1.PodSpec", "nodeSelector")],
    defaults: &[("io.k8s.api.core.v1.ContainerPort", "protocol", "TCP")],
    ..Markers::NONE
};

#[cfg(test)]
mod printer_tests {
    use super::*;
    use crate::table::TableConvertor;

    #[test]
    fn pod_row() {
        let now: jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("time");
        let p = json!({"metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:59:30Z"},
            "spec": {"containers": [{"name": "a"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{"ready": true, "restartCount": 2}]}});
        let cells = POD.cells(&p, now);
        assert_eq!(
            &cells[..5],
            &[
                json!("p"),
                json!("1/1"),
                json!("Running"),
                json!("2"),
                json!("30s")
            ]
        );
        assert_eq!(cells[6], json!("n1"));
    }
}
