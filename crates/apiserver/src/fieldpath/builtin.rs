//! Upstream's list and map semantics for built-in types.
//!
//! k8s-openapi's schemas do not carry `x-kubernetes-list-type` and friends, so this table
//! records, per definition and field, what the upstream Go types declare with `+listType`,
//! `+listMapKey`, `+structType`, `+mapType` and `+default` (k8s.io/api and
//! k8s.io/apimachinery `types.go`). Lists not listed here are atomic, as upstream's are when
//! unmarked.

use super::schema::ListKind;
use serde_json::Value;
use std::collections::BTreeMap;

const CORE: &str = "io.k8s.api.core.v1.";
const APPS: &str = "io.k8s.api.apps.v1.";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
const APIEXT: &str = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";
const RBAC: &str = "io.k8s.api.rbac.v1.";

/// Associative lists: (prefix, type, field, keys); no keys means a set.
const LISTS: &[(&str, &str, &str, &[&str])] = &[
    // core/v1 containers and pods
    (CORE, "Container", "ports", &["containerPort", "protocol"]),
    (CORE, "Container", "env", &["name"]),
    (CORE, "Container", "volumeMounts", &["mountPath"]),
    (CORE, "Container", "volumeDevices", &["devicePath"]),
    (
        CORE,
        "EphemeralContainer",
        "ports",
        &["containerPort", "protocol"],
    ),
    (CORE, "EphemeralContainer", "env", &["name"]),
    (CORE, "EphemeralContainer", "volumeMounts", &["mountPath"]),
    (CORE, "EphemeralContainer", "volumeDevices", &["devicePath"]),
    (CORE, "VolumeMount", "bindMountOptions", &[]),
    (CORE, "ResourceRequirements", "claims", &["name"]),
    (CORE, "ContainerStatus", "volumeMounts", &["mountPath"]),
    (
        CORE,
        "ContainerStatus",
        "allocatedResourcesStatus",
        &["name"],
    ),
    (CORE, "ResourceStatus", "resources", &["resourceID"]),
    (CORE, "ContainerRestartRuleOnExitCodes", "values", &[]),
    (CORE, "PodSpec", "volumes", &["name"]),
    (CORE, "PodSpec", "initContainers", &["name"]),
    (CORE, "PodSpec", "containers", &["name"]),
    (CORE, "PodSpec", "ephemeralContainers", &["name"]),
    (CORE, "PodSpec", "imagePullSecrets", &["name"]),
    (CORE, "PodSpec", "hostAliases", &["ip"]),
    (
        CORE,
        "PodSpec",
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    (CORE, "PodSpec", "schedulingGates", &["name"]),
    (CORE, "PodSpec", "resourceClaims", &["name"]),
    (CORE, "PodStatus", "conditions", &["type"]),
    (CORE, "PodStatus", "podIPs", &["ip"]),
    (CORE, "PodStatus", "resourceClaimStatuses", &["name"]),
    // core/v1 other kinds
    (CORE, "ServiceSpec", "ports", &["port", "protocol"]),
    (CORE, "ServiceStatus", "conditions", &["type"]),
    (CORE, "ServiceAccount", "secrets", &["name"]),
    (CORE, "NodeSpec", "podCIDRs", &[]),
    (CORE, "NodeStatus", "conditions", &["type"]),
    (CORE, "NodeStatus", "addresses", &["type"]),
    (CORE, "NamespaceStatus", "conditions", &["type"]),
    (CORE, "ReplicationControllerStatus", "conditions", &["type"]),
    (CORE, "PersistentVolumeClaimStatus", "conditions", &["type"]),
    (CORE, "ComponentStatus", "conditions", &["type"]),
    // apps/v1
    (APPS, "DeploymentStatus", "conditions", &["type"]),
    (APPS, "ReplicaSetStatus", "conditions", &["type"]),
    (APPS, "StatefulSetStatus", "conditions", &["type"]),
    (APPS, "DaemonSetStatus", "conditions", &["type"]),
    // meta/v1
    (META, "ObjectMeta", "ownerReferences", &["uid"]),
    (META, "ObjectMeta", "finalizers", &[]),
    // apiextensions/v1
    (
        APIEXT,
        "CustomResourceDefinitionStatus",
        "conditions",
        &["type"],
    ),
    (
        APIEXT,
        "JSONSchemaProps",
        "x-kubernetes-validations",
        &["rule"],
    ),
];

/// Structs that are one value (`+structType=atomic`).
const ATOMIC_STRUCTS: &[(&str, &str)] = &[
    (CORE, "SecretReference"),
    (CORE, "FileKeySelector"),
    (CORE, "ObjectFieldSelector"),
    (CORE, "ResourceFieldSelector"),
    (CORE, "ConfigMapKeySelector"),
    (CORE, "SecretKeySelector"),
    (CORE, "NodeSelector"),
    (CORE, "NodeSelectorTerm"),
    (CORE, "TopologySelectorTerm"),
    (CORE, "EndpointAddress"),
    (CORE, "EndpointPort"),
    (CORE, "ObjectReference"),
    (CORE, "LocalObjectReference"),
    (CORE, "TypedLocalObjectReference"),
    (CORE, "ScopeSelector"),
    (META, "OwnerReference"),
    (META, "LabelSelector"),
    (RBAC, "Subject"),
    (RBAC, "RoleRef"),
];

/// Map fields that are one value (`+mapType=atomic`).
const ATOMIC_MAPS: &[(&str, &str, &str)] = &[
    (CORE, "PodSpec", "nodeSelector"),
    (CORE, "ServiceSpec", "selector"),
    (CORE, "ReplicationControllerSpec", "selector"),
];

/// Fields that make a referenced struct granular or atomic where it is used.
const STRUCT_OVERRIDES: &[(&str, &str, &str, bool)] =
    &[(CORE, "PersistentVolumeSpec", "claimRef", false)];

/// Field defaults that identify list-map items (`+default`).
const DEFAULTS: &[(&str, &str, &str, &str)] = &[
    (CORE, "ContainerPort", "protocol", "TCP"),
    (CORE, "ServicePort", "protocol", "TCP"),
];

fn is(def: &str, prefix: &str, name: &str) -> bool {
    def.strip_prefix(prefix) == Some(name)
}

/// The kind of the list `field` of definition `def`, if it is not atomic.
pub(super) fn list_kind(def: &str, field: &str) -> Option<ListKind> {
    LISTS
        .iter()
        .find(|(p, t, f, _)| *f == field && is(def, p, t))
        .map(|(_, _, _, keys)| {
            if keys.is_empty() {
                ListKind::Set
            } else {
                ListKind::Map(keys.iter().map(|k| k.to_string()).collect())
            }
        })
}

/// Whether the struct `def` is atomic.
pub(super) fn atomic_struct(def: &str) -> bool {
    ATOMIC_STRUCTS.iter().any(|(p, t)| is(def, p, t))
}

/// Whether the map field `field` of `def` is atomic.
pub(super) fn atomic_map_field(def: &str, field: &str) -> bool {
    ATOMIC_MAPS
        .iter()
        .any(|(p, t, f)| *f == field && is(def, p, t))
}

/// Whether the struct-typed field `field` of `def` overrides its type's atomicity.
pub(super) fn field_struct_override(def: &str, field: &str) -> Option<bool> {
    STRUCT_OVERRIDES
        .iter()
        .find(|(p, t, f, _)| *f == field && is(def, p, t))
        .map(|(_, _, _, atomic)| *atomic)
}

/// The defaults of `def`'s fields that matter for list-map keys.
pub(super) fn field_defaults(def: &str) -> BTreeMap<String, Value> {
    DEFAULTS
        .iter()
        .filter(|(p, t, _, _)| is(def, p, t))
        .map(|(_, _, f, v)| (f.to_string(), Value::String(v.to_string())))
        .collect()
}
