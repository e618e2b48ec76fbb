//! core/v1 (the legacy group, served under `/api/v1`).

pub(crate) mod configmaps;
pub(crate) mod endpoints;
pub(crate) mod events;
pub(crate) mod limitranges;
pub mod namespaces;
pub(crate) mod nodes;
pub(crate) mod persistentvolumeclaims;
pub(crate) mod persistentvolumes;
pub mod pods;
pub(crate) mod podtemplates;
pub(crate) mod replicationcontrollers;
pub(crate) mod resourcequotas;
pub(crate) mod secrets;
pub(crate) mod serviceaccounts;
pub(crate) mod services;

use crate::fieldpath::markers::Markers;

/// Markers of core/v1 types several resources share (references), and of the types of core resources not served yet, kept so they are right when they are.
pub(crate) const MARKERS: Markers = Markers {
    lists: &[
        (
            "io.k8s.api.core.v1.ReplicationControllerStatus",
            "conditions",
            &["type"],
        ),
        (
            "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
            "conditions",
            &["type"],
        ),
        (
            "io.k8s.api.core.v1.ComponentStatus",
            "conditions",
            &["type"],
        ),
    ],
    atomic_structs: &[
        "io.k8s.api.core.v1.SecretReference",
        "io.k8s.api.core.v1.ObjectReference",
        "io.k8s.api.core.v1.LocalObjectReference",
        "io.k8s.api.core.v1.TypedLocalObjectReference",
        "io.k8s.api.core.v1.ScopeSelector",
    ],
    atomic_maps: &[("io.k8s.api.core.v1.ReplicationControllerSpec", "selector")],
    struct_overrides: &[("io.k8s.api.core.v1.PersistentVolumeSpec", "claimRef", false)],
    ..Markers::NONE
};
