//! What kube-controller-manager does in a real cluster, running inside the server as small
//! controllers over the store's change stream: garbage collection of ownerReferences and the
//! namespace lifecycle, and (optionally) simulated workloads. (The CRD controller lives with the CRD code in `crd::controller`.)

pub mod cronjobs;
mod events;
pub mod gc;
pub mod jobs;
pub mod namespace;
mod owned;
pub mod workloads;

use crate::resource::ResourceType;
use crate::rest::Rest;
use std::collections::BTreeSet;
use std::sync::Arc;

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
