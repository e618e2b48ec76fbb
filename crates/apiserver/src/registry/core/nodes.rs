//! Nodes: cluster-scoped; status kept on create (a kubelet registers with capacity).

use crate::fieldpath::markers::Markers;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::{Printer, col, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;
use serde_json::json;

/// `nodes` (core/v1, `no`).
pub(crate) fn resource() -> ResourceType {
    entry("nodes", "node", false)
        .short(&["no"])
        .status()
        .build::<Node>(
            // nodeStrategy.PrepareForCreate keeps status: a kubelet registers its node
            // with capacity and allocatable.
            Typed::<Node>::new()
                .fields(&["spec.unschedulable"])
                .unset_values(&[("spec.unschedulable", "false")])
                .keeps_status_on_create()
                .printer(&NODE),
        )
}

/// Node: NAME STATUS ROLES AGE VERSION (INTERNAL-IP … wide).
pub(crate) const NODE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Status", "string", 0),
            col("Roles", "string", 0),
            age_column(),
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("External-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Kernel-Version", "string", 1),
            col("Container-Runtime", "string", 1),
        ]
    },
    cells: |o, now| {
        let conditions = o
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut status = match conditions
            .iter()
            .find(|c| s(c, "/type") == "Ready")
            .map(|c| s(c, "/status"))
        {
            Some("True") => "Ready".to_string(),
            Some(_) => "NotReady".to_string(),
            None => "Unknown".to_string(),
        };
        if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
            status.push_str(",SchedulingDisabled");
        }
        let mut roles: Vec<String> = o
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        roles.sort();
        let addr = |t: &str| {
            o.pointer("/status/addresses")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| s(x, "/type") == t))
                .map(|x| s(x, "/address").to_string())
                .unwrap_or_else(|| "<none>".into())
        };
        vec![
            json!(name_of(o)),
            json!(status),
            json!(none_if_empty(roles.join(","))),
            json!(age(o, now)),
            json!(s(o, "/status/nodeInfo/kubeletVersion")),
            json!(addr("InternalIP")),
            json!(addr("ExternalIP")),
            json!(none_if_empty(s(o, "/status/nodeInfo/osImage").to_string())),
            json!(none_if_empty(
                s(o, "/status/nodeInfo/kernelVersion").to_string()
            )),
            json!(none_if_empty(
                s(o, "/status/nodeInfo/containerRuntimeVersion").to_string()
            )),
        ]
    },
};

/// The list markers of the Node types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", &[]),
        ("io.k8s.api.core.v1.NodeStatus", "conditions", &["type"]),
        ("io.k8s.api.core.v1.NodeStatus", "addresses", &["type"]),
    ],
    ..Markers::NONE
};
