//! ClusterRoles (rbac.authorization.k8s.io/v1): path-segment names.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::CREATED_AT;
use crate::validation::NameRule;
use k8s_openapi::api::rbac::v1::ClusterRole;

/// `clusterroles` (rbac.authorization.k8s.io/v1).
pub(crate) fn resource() -> ResourceType {
    entry("clusterroles", "clusterrole", false)
        .guarded(super::escalation::guard_role)
        .build::<ClusterRole>(
            Typed::<ClusterRole>::new()
                .names(NameRule::PathSegment)
                .printer(&CREATED_AT),
        )
}
