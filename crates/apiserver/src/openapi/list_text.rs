//! The descriptions upstream publishes on `<Kind>List` schemas.
//!
//! k8s-openapi, whose schemas give every other description here, has no list types (it uses a
//! generic `List<T>`), so the built-in lists' texts are upstream's, as its published OpenAPI
//! documents carry them (the Go doc comments of each `<Kind>List` type). Custom resource lists
//! are described as the apiextensions server describes them.

use super::{CommonText, OpenApiKind};

/// The texts of one built-in list schema.
struct ListText {
    /// Component name of the item kind.
    schema: &'static str,
    /// The list type's description.
    description: &'static str,
    /// `items`' description.
    items: &'static str,
    /// `metadata`'s description.
    metadata: &'static str,
}

/// The built-in lists this server serves.
const BUILTIN: &[ListText] = &[
    ListText {
        schema: "io.k8s.api.core.v1.ConfigMap",
        description: "ConfigMapList is a resource containing a list of ConfigMap objects.",
        items: "Items is the list of ConfigMaps.",
        metadata: "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Secret",
        description: "SecretList is a list of Secret.",
        items: "Items is a list of secret objects. More info: https://kubernetes.io/docs/concepts/configuration/secret",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Pod",
        description: "PodList is a list of Pods.",
        items: "List of pods. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Service",
        description: "ServiceList holds a list of services.",
        items: "List of services",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Endpoints",
        description: "EndpointsList is a list of endpoints. Deprecated: This API is deprecated in v1.33+.",
        items: "List of endpoints.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Event",
        description: "EventList is a list of events.",
        items: "List of events",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.ServiceAccount",
        description: "ServiceAccountList is a list of ServiceAccount objects",
        items: "List of ServiceAccounts. More info: https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Node",
        description: "NodeList is the whole list of all Nodes which have been registered with master.",
        items: "List of nodes",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.core.v1.Namespace",
        description: "NamespaceList is a list of Namespaces.",
        items: "Items is the list of Namespace objects in the list. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.apps.v1.Deployment",
        description: "DeploymentList is a list of Deployments.",
        items: "Items is the list of Deployments.",
        metadata: "Standard list metadata.",
    },
    ListText {
        schema: "io.k8s.api.apps.v1.ReplicaSet",
        description: "ReplicaSetList is a collection of ReplicaSets.",
        items: "List of ReplicaSets. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    },
    ListText {
        schema: "io.k8s.api.coordination.v1.Lease",
        description: "LeaseList is a list of Lease objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    },
    ListText {
        schema: "io.k8s.api.events.v1.Event",
        description: "EventList is a list of Event objects.",
        items: "items is a list of schema objects.",
        metadata: "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    },
    ListText {
        schema: "io.k8s.api.rbac.v1.Role",
        description: "RoleList is a collection of Roles",
        items: "Items is a list of Roles",
        metadata: "Standard object's metadata.",
    },
    ListText {
        schema: "io.k8s.api.rbac.v1.RoleBinding",
        description: "RoleBindingList is a collection of RoleBindings",
        items: "Items is a list of RoleBindings",
        metadata: "Standard object's metadata.",
    },
    ListText {
        schema: "io.k8s.api.rbac.v1.ClusterRole",
        description: "ClusterRoleList is a collection of ClusterRoles",
        items: "Items is a list of ClusterRoles",
        metadata: "Standard object's metadata.",
    },
    ListText {
        schema: "io.k8s.api.rbac.v1.ClusterRoleBinding",
        description: "ClusterRoleBindingList is a collection of ClusterRoleBindings",
        items: "Items is a list of ClusterRoleBindings",
        metadata: "Standard object's metadata.",
    },
    ListText {
        schema: "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        description: "CustomResourceDefinitionList is a list of CustomResourceDefinition objects.",
        items: "items list individual CustomResourceDefinition objects",
        metadata: "Standard object's metadata More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    },
];

/// The descriptions of `kind`'s list schema: the list's, its `items`' and its `metadata`'s.
pub(crate) fn for_kind(kind: &OpenApiKind, text: &CommonText) -> (String, String, String) {
    if let Some(t) = BUILTIN.iter().find(|t| t.schema == kind.schema_name) {
        return (
            t.description.to_owned(),
            t.items.to_owned(),
            t.metadata.to_owned(),
        );
    }
    (
        format!("{}List is a list of {}", kind.kind, kind.kind),
        format!(
            "List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
            kind.plural
        ),
        text.list_metadata.clone(),
    )
}
