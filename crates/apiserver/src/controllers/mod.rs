//! What kube-controller-manager does in a real cluster, running inside the server as small
//! controllers over the store's change stream (each on the one list + watch + relist spine of
//! `changes.rs`): garbage collection of ownerReferences and the
//! namespace lifecycle, Endpoints and EndpointSlices of Services, PodDisruptionBudget status
//! (`disruption.rs`), HorizontalPodAutoscaler status and replica bounds without a metrics server
//! (`podautoscaler.rs`), the signer of `kubernetes.io/kube-apiserver-client` certificate signing
//! requests (`csr_signing.rs`), ResourceQuota usage (`resourcequota.rs`), the aggregated ClusterRoles' rules (`clusterrole_aggregation.rs`), the APIServices of the served group versions (`apiservices.rs`), the `default` ServiceAccount of every namespace, kube-apiserver's own `kubernetes` Service, the API Priority and Fairness bootstrap configuration and FlowSchema status (`flowcontrol.rs`), persistent volume binding,
//! reclaiming and protection (with a simulated provisioner, `volumes.rs`), and (optionally)
//! simulated workloads: Deployments and ReplicaSets with a simulated scheduler and kubelet
//! (`workloads.rs`), Jobs (`jobs.rs`) and CronJobs (`cronjobs.rs`), StatefulSets
//! (`statefulsets.rs`) and DaemonSets (`daemonsets.rs`) with the ControllerRevision history
//! they share (`revisions.rs`). On a storage shared by several API servers they run in the one
//! that holds the controllers' Lease (`leader.rs`). (The CRD controller lives with the CRD code in
//! `crd::controller`.)

pub mod apiservices;
pub mod changes;
pub mod clusterrole_aggregation;
pub mod cronjobs;
pub mod csr_signing;
pub mod daemonsets;
pub mod disruption;
pub mod endpoints;
mod events;
pub mod flowcontrol;
pub mod gc;
pub mod jobs;
pub mod kubernetes_service;
pub mod leader;
pub mod namespace;
pub mod nodes;
mod owned;
mod per_namespace;
pub mod podautoscaler;
pub mod resourcequota;
mod revisions;
pub mod root_ca;
mod scheduler;
pub mod serviceaccounts;
pub mod servicecidrs;
pub mod statefulsets;
pub mod volumes;
pub mod workloads;

use crate::resource::ResourceType;
use crate::rest::{Rest, WriteOptions};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Sleeps until `next`, or forever when there is nothing to wake for (a controller's timer arm
/// in its `select!`).
pub(crate) async fn sleep_until(next: Option<tokio::time::Instant>) {
    match next {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The string at `pointer` in `v` ("" when absent or not a string).
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Whether `v` is marked for deletion.
pub(crate) fn deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// The namespace and name of `v`.
pub(crate) fn key_of(v: &Value) -> owned::Key {
    (
        str_at(v, "/metadata/namespace").to_string(),
        str_at(v, "/metadata/name").to_string(),
    )
}

/// The options of a controller's writes, as field manager `manager`.
pub(crate) fn write_options(manager: &str) -> WriteOptions {
    WriteOptions {
        field_manager: manager.into(),
        ..WriteOptions::default()
    }
}

/// One served version of every resource (each storage key once).
pub(crate) fn all_types(rest: &Rest) -> Vec<Arc<ResourceType>> {
    let mut seen = BTreeSet::new();
    rest.catalog
        .snapshot()
        .all()
        .iter()
        .filter(|t| seen.insert(t.storage_key.clone()))
        .cloned()
        .collect()
}

/// The resource type of `apiVersion` + `kind`, if served.
pub(crate) fn type_for(rest: &Rest, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let resources = rest.catalog.snapshot();
    resources
        .all()
        .iter()
        .find(|t| t.group == group && t.version == version && t.kind == kind)
        .or_else(|| {
            resources
                .all()
                .iter()
                .find(|t| t.group == group && t.kind == kind)
        })
        .cloned()
}

/// The resource type stored under `storage_key`.
pub(crate) fn type_of_key(rest: &Rest, storage_key: &str) -> Option<Arc<ResourceType>> {
    rest.catalog
        .snapshot()
        .all()
        .iter()
        .find(|t| &*t.storage_key == storage_key)
        .cloned()
}
