//! ClusterRoleBindings (rbac.authorization.k8s.io/v1): the RoleBinding table.

use super::rolebindings::BINDING;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::validation::NameRule;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

/// `clusterrolebindings` (rbac.authorization.k8s.io/v1).
pub(crate) fn resource() -> ResourceType {
    entry("clusterrolebindings", "clusterrolebinding", false)
        .guarded(super::escalation::guard_binding)
        .build::<ClusterRoleBinding>(
            Typed::<ClusterRoleBinding>::new()
                .names(NameRule::PathSegment)
                .printer(&BINDING),
        )
}
