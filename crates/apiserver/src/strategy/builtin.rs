//! The table of built-in resources. Adding a built-in type is one entry here (plus, where its rules
//! differ, a strategy of its own); routing, discovery and OpenAPI follow from the table.

use super::event::{CoreEventStrategy, EventsV1Strategy};
use super::namespace::NamespaceStrategy;
use super::pod::PodStrategy;
use super::secret::SecretStrategy;
use super::service::ServiceStrategy;
use super::{Strategy, Typed, WorkloadStrategy};
use crate::crd::CrdStrategy;
use crate::resource::{ResourceType, ScalePaths, SchemaSource};
use crate::table;
use crate::validation::NameRule;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Node, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use std::sync::Arc;

/// How one built-in resource is served.
struct Entry {
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    /// Stored with another resource (group, plural), converted by the strategy.
    stored_with: Option<(&'static str, &'static str)>,
    /// A review resource: create-only, answered, never stored.
    review: bool,
}

const fn entry(plural: &'static str, singular: &'static str, namespaced: bool) -> Entry {
    Entry {
        plural,
        singular,
        namespaced,
        short: &[],
        categories: &[],
        status: false,
        scale: false,
        stored_with: None,
        review: false,
    }
}

impl Entry {
    const fn short(mut self, short: &'static [&'static str]) -> Self {
        self.short = short;
        self
    }
    const fn all(mut self) -> Self {
        self.categories = &["all"];
        self
    }
    const fn status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn scale(mut self) -> Self {
        self.scale = true;
        self
    }
    /// Objects are stored with resource `plural` of `group` (the strategy converts).
    const fn stored_with(mut self, group: &'static str, plural: &'static str) -> Self {
        self.stored_with = Some((group, plural));
        self
    }

    /// A review resource (create-only, answered by [`crate::auth::review`], never stored; not in
    /// the OpenAPI documents).
    const fn review(mut self) -> Self {
        self.review = true;
        self
    }

    fn build<K: k8s_openapi::Resource + schemars::JsonSchema>(
        self,
        strategy: impl Strategy,
    ) -> ResourceType {
        ResourceType {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            kind: K::KIND.to_string(),
            list_kind: format!("{}List", K::KIND),
            plural: self.plural.to_string(),
            singular: self.singular.to_string(),
            namespaced: self.namespaced,
            short_names: self.short.iter().map(|s| s.to_string()).collect(),
            categories: self.categories.iter().map(|s| s.to_string()).collect(),
            status: self.status,
            scale: self.scale.then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: Some(".spec.selector".into()),
            }),
            storage_key: match self.stored_with {
                Some((group, plural)) => ResourceType::storage_key_for(group, plural),
                None => ResourceType::storage_key_for(K::GROUP, self.plural),
            },
            multi_version: false,
            strategy: Arc::new(strategy),
            schema: SchemaSource::Builtin(if self.review {
                no_schema
            } else {
                register_schema::<K>
            }),
            review: self.review,
            storage_version_hash: (!self.review).then(|| {
                let (group, version, kind) = match self.stored_with {
                    // Stored as the other resource's objects (whose kind is this kind).
                    Some((group, _)) => (group, "v1", K::KIND),
                    None => (K::GROUP, K::VERSION, K::KIND),
                };
                crate::resource::storage_version_hash(group, version, kind)
            }),
        }
    }
}

fn no_schema(_: &mut crate::openapi::OpenApiModel, _: &ResourceType) {}

fn register_schema<K: k8s_openapi::Resource + schemars::JsonSchema>(
    model: &mut crate::openapi::OpenApiModel,
    rt: &ResourceType,
) {
    let mut subresources = Vec::new();
    if rt.status {
        subresources.push("status");
    }
    if rt.scale.is_some() {
        subresources.push("scale");
    }
    model.add_builtin::<K>(&rt.plural, rt.namespaced, &subresources);
}

/// Every built-in resource the server serves.
pub fn builtin_resources() -> Vec<ResourceType> {
    vec![
        entry("namespaces", "namespace", false)
            .short(&["ns"])
            .status()
            .build::<k8s_openapi::api::core::v1::Namespace>(NamespaceStrategy::new()),
        entry("configmaps", "configmap", true)
            .short(&["cm"])
            .build::<ConfigMap>(Typed::<ConfigMap>::new().printer(&table::CONFIG_MAP)),
        entry("secrets", "secret", true).build::<Secret>(SecretStrategy::new()),
        entry("pods", "pod", true)
            .short(&["po"])
            .all()
            .status()
            .build::<k8s_openapi::api::core::v1::Pod>(PodStrategy::new()),
        entry("services", "service", true)
            .short(&["svc"])
            .all()
            .status()
            .build::<Service>(ServiceStrategy::new()),
        entry("endpoints", "endpoints", true)
            .short(&["ep"])
            .build::<Endpoints>(Typed::<Endpoints>::new().printer(&table::ENDPOINTS)),
        entry("events", "event", true)
            .short(&["ev"])
            .build::<Event>(CoreEventStrategy::new()),
        entry("serviceaccounts", "serviceaccount", true)
            .short(&["sa"])
            .build::<ServiceAccount>(
                Typed::<ServiceAccount>::new()
                    .printer(&table::SERVICE_ACCOUNT)
                    .returns_deleted_object(),
            ),
        entry("nodes", "node", false)
            .short(&["no"])
            .status()
            .build::<Node>(
                // nodeStrategy.PrepareForCreate keeps status: a kubelet registers its node
                // with capacity and allocatable.
                Typed::<Node>::new()
                    .fields(&["spec.unschedulable"])
                    .unset_values(&[("spec.unschedulable", "false")])
                    .keeps_status_on_create()
                    .printer(&table::NODE),
            ),
        entry("deployments", "deployment", true)
            .short(&["deploy"])
            .all()
            .status()
            .scale()
            .build::<Deployment>(WorkloadStrategy::deployment()),
        entry("replicasets", "replicaset", true)
            .short(&["rs"])
            .all()
            .status()
            .scale()
            .build::<ReplicaSet>(WorkloadStrategy::replica_set()),
        entry("leases", "lease", true).build::<Lease>(Typed::<Lease>::new().printer(&table::LEASE)),
        entry("events", "event", true)
            .short(&["ev"])
            .stored_with("", "events")
            .build::<EventsV1Event>(EventsV1Strategy::new()),
        entry("roles", "role", true).build::<Role>(
            Typed::<Role>::new()
                .names(NameRule::PathSegment)
                .printer(&table::CREATED_AT),
        ),
        entry("rolebindings", "rolebinding", true).build::<RoleBinding>(
            Typed::<RoleBinding>::new()
                .names(NameRule::PathSegment)
                .printer(&table::BINDING),
        ),
        entry("clusterroles", "clusterrole", false).build::<ClusterRole>(
            Typed::<ClusterRole>::new()
                .names(NameRule::PathSegment)
                .printer(&table::CREATED_AT),
        ),
        entry("clusterrolebindings", "clusterrolebinding", false).build::<ClusterRoleBinding>(
            Typed::<ClusterRoleBinding>::new()
                .names(NameRule::PathSegment)
                .printer(&table::BINDING),
        ),
        entry("selfsubjectaccessreviews", "selfsubjectaccessreview", false)
            .review()
            .build::<SelfSubjectAccessReview>(Typed::<SelfSubjectAccessReview>::new()),
        entry("selfsubjectrulesreviews", "selfsubjectrulesreview", false)
            .review()
            .build::<SelfSubjectRulesReview>(Typed::<SelfSubjectRulesReview>::new()),
        entry("subjectaccessreviews", "subjectaccessreview", false)
            .review()
            .build::<SubjectAccessReview>(Typed::<SubjectAccessReview>::new()),
        entry(
            "localsubjectaccessreviews",
            "localsubjectaccessreview",
            true,
        )
        .review()
        .build::<LocalSubjectAccessReview>(Typed::<LocalSubjectAccessReview>::new()),
        entry("selfsubjectreviews", "selfsubjectreview", false)
            .review()
            .build::<SelfSubjectReview>(Typed::<SelfSubjectReview>::new()),
        {
            let mut crd = entry(
                "customresourcedefinitions",
                "customresourcedefinition",
                false,
            )
            .short(&["crd", "crds"])
            .status()
            .build::<CustomResourceDefinition>(CrdStrategy::new());
            crd.categories = vec!["api-extensions".into()];
            crd
        },
    ]
}
