//! rbac.authorization.k8s.io/v1: roles and bindings, with path-segment names, and the
//! escalation check their writes pass (`escalation.rs`).

pub(crate) mod clusterrolebindings;
pub(crate) mod clusterroles;
mod escalation;
pub(crate) mod rolebindings;
pub(crate) mod roles;

pub(crate) use escalation::uncovered as uncovered_rules;

use crate::fieldpath::markers::Markers;

/// The struct markers of the RBAC types.
pub(crate) const MARKERS: Markers = Markers {
    atomic_structs: &["io.k8s.api.rbac.v1.Subject", "io.k8s.api.rbac.v1.RoleRef"],
    ..Markers::NONE
};
