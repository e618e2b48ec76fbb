//! The simulated nodes (kwok-style): Nodes labelled `type: kwok`, Ready, whose pods the
//! simulated kubelet runs (`workloads.rs`). The server creates [`NODE_NAME`] and, when asked
//! for more (`ApiServer::builder().nodes(n)`, `kubeforge up --nodes N`), `kubeforge-node-2` …
//! `kubeforge-node-N`; a Node a user creates with the label joins them (it is made Ready, as
//! kwok does for the nodes it manages).

use super::scheduler;
use super::str_at as s;
use crate::rest::Rest;
use serde_json::{Value, json};

/// The first simulated node's name.
pub const NODE_NAME: &str = "kubeforge-node";
/// The label (with value `kwok`) that marks a node the simulated kubelet runs pods on.
const SIMULATED_LABEL: &str = "type";
/// The field manager of the nodes' writes.
const MANAGER: &str = "kubelet";

/// The name of simulated node `i` (0-based): `kubeforge-node`, `kubeforge-node-2`, ...
pub fn node_name(i: usize) -> String {
    match i {
        0 => NODE_NAME.to_string(),
        i => format!("{NODE_NAME}-{}", i + 1),
    }
}

/// Creates the first `count` simulated nodes that do not exist yet, Ready.
pub(crate) async fn ensure(rest: &Rest, count: usize) {
    let Some(nodes) = rest.catalog.snapshot().find("", "v1", "nodes") else {
        return;
    };
    let opts = super::write_options(MANAGER);
    for name in (0..count.max(1)).map(node_name) {
        if rest.get(&nodes, None, &name).is_ok() {
            continue;
        }
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", SIMULATED_LABEL: "kwok"}},
        });
        if let Err(e) = rest.create(&nodes, None, node, &opts).await
            && e.code != 409
        {
            tracing::warn!(node = name, error = %e, "creating a simulated node");
            continue;
        }
        mark_ready(rest, &name).await;
    }
}

/// Reports node `name` Ready, as its (simulated) kubelet would, with its addresses, capacity
/// and node info.
async fn mark_ready(rest: &Rest, name: &str) {
    let Some(nodes) = rest.catalog.snapshot().find("", "v1", "nodes") else {
        return;
    };
    let opts = super::write_options(MANAGER);
    let now = crate::rest::now();
    let status = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status (simulated)", "lastHeartbeatTime": now, "lastTransitionTime": now}],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "capacity": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
        "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "1000"},
        "nodeInfo": {"kubeletVersion": "v1.33.0-kubeforge", "containerRuntimeVersion": "kubeforge://simulated", "osImage": "kubeforge simulated node", "kernelVersion": "", "operatingSystem": "linux", "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""}
    }});
    if let Err(e) = rest
        .update(&nodes, None, name, status, &opts, Some("status"))
        .await
    {
        tracing::warn!(node = name, error = %e, "marking a simulated node ready");
    }
}

/// A node labelled `type: kwok` that does not report Ready yet (one a user created) is made
/// Ready, as kwok does for the nodes it manages.
pub(crate) async fn adopt(rest: &Rest, node: &Value) {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| s(c, "/type") == "Ready" && s(c, "/status") == "True");
    if !ready
        && !super::deleting(node)
        && s(node, &format!("/metadata/labels/{SIMULATED_LABEL}")) == "kwok"
    {
        mark_ready(rest, s(node, "/metadata/name")).await;
    }
}

/// The current Nodes.
pub(crate) fn current(rest: &Rest) -> Vec<Value> {
    rest.catalog
        .snapshot()
        .find("", "v1", "nodes")
        .map(|nodes| {
            rest.store
                .current(&nodes.storage_key)
                .iter()
                .map(|n| n.value())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the simulated kubelet runs the pods of node `name`: a Node of that name exists and
/// carries the label `type: kwok`.
pub(crate) fn simulated(rest: &Rest, name: &str) -> bool {
    !name.is_empty()
        && rest
            .catalog
            .snapshot()
            .find("", "v1", "nodes")
            .and_then(|nodes| rest.get_value(&nodes, None, name).ok())
            .is_some_and(|n| s(&n, &format!("/metadata/labels/{SIMULATED_LABEL}")) == "kwok")
}

/// The node the scheduler gives a pod of spec `spec` now (the least loaded of those that fit,
/// by `placement`), or why none fits (empty: the pod is not this scheduler's to place).
pub(crate) fn schedule(
    rest: &Rest,
    spec: &Value,
    placement: &scheduler::Placement,
) -> Result<String, String> {
    if !scheduler::schedulable(spec) {
        return Err(String::new());
    }
    let fits = scheduler::fitting(spec, &current(rest))?;
    placement
        .least_loaded(&fits)
        .ok_or_else(|| "no nodes available to schedule pods".to_string())
}
