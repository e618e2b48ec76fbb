//! Roles (rbac.authorization.k8s.io/v1): path-segment names.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::Typed;
use crate::table::printer::CREATED_AT;
use crate::validation::NameRule;
use k8s_openapi::api::rbac::v1::Role;

/// `roles` (rbac.authorization.k8s.io/v1).
pub(crate) fn resource() -> ResourceType {
    entry("roles", "role", true)
        .guarded(super::escalation::guard_role)
        .build::<Role>(
            Typed::<Role>::new()
                .names(NameRule::PathSegment)
                .printer(&CREATED_AT),
        )
}
