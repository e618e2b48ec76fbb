//! apps/v1: the workloads.

pub(crate) mod controllerrevisions;
pub(crate) mod daemonsets;
pub(crate) mod deployments;
pub(crate) mod replicasets;
pub(crate) mod statefulsets;
pub mod workload;

use crate::fieldpath::markers::Markers;

/// The list markers of the StatefulSet and DaemonSet status types.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        (
            "io.k8s.api.apps.v1.StatefulSetStatus",
            "conditions",
            &["type"],
        ),
        (
            "io.k8s.api.apps.v1.DaemonSetStatus",
            "conditions",
            &["type"],
        ),
    ],
    ..Markers::NONE
};
