//! ReplicationControllers (core/v1, `rc`): the map-selector ancestor of ReplicaSets, with a
//! scale subresource; printed as kubectl prints ReplicaSets (the same columns).

use crate::registry::apps::replicasets::REPLICA_SET;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use k8s_openapi::api::core::v1::ReplicationController;

/// `replicationcontrollers` (core/v1, `rc`).
pub(crate) fn resource() -> ResourceType {
    entry("replicationcontrollers", "replicationcontroller", true)
        .short(&["rc"])
        .all()
        .status()
        .scale()
        .build::<ReplicationController>(
            crate::strategy::Typed::<ReplicationController>::new()
                .with_generation()
                .printer(&REPLICA_SET),
        )
}
