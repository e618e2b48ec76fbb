//! sample-controller's Foo: a Foo owns a Deployment of nginx Pods, named by the Foo, scaled to
//! its replicas, and reports the Deployment's available replicas in its status.
//!
//! | file | what it owns |
//! |---|---|
//! | `types.rs` | the `Foo` custom resource and its schema (v1alpha1: the storage version) |
//! | `v1.rs` | Foo at v1: `spec.deployment: {name, replicas}` for v1alpha1's flat fields |
//! | `conversion.rs` | the conversion webhook: v1alpha1 the hub, v1 a spoke |
//! | `reconcile.rs` | one sync: the owned Deployment, replicas, status, events |
//! | `controller.rs` | the controller: what it watches, its context |
//! | `webhook.rs` | the defaulting webhook: `spec.replicas` 1 when absent |

// `foo` is this resource's real name (sample-controller's kind), not a placeholder.
#![allow(clippy::disallowed_names)]

mod controller;
mod conversion;
mod reconcile;
mod types;
pub mod v1;
mod webhook;

pub use controller::{CONTROLLER_NAME, controller};
pub use conversion::conversion_webhook;
pub use reconcile::{
    Changes, ERR_RESOURCE_EXISTS, FooContext, FooError, MESSAGE_RESOURCE_SYNCED, SUCCESS_SYNCED,
    deployment_labels, new_deployment, reconcile, sync,
};
pub use types::{DNS1123_SUBDOMAIN, Foo, FooSpec, FooStatus};
pub use webhook::{DEFAULT_REPLICAS, FooDefaulter, webhooks};

use crate::rbac::Access;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The operator's name in the registry and on the command line.
pub const NAME: &str = "foo";

/// The version Foos are stored at, and the hub of conversion.
pub const STORAGE_VERSION: &str = "v1alpha1";

/// The CRDs this operator serves: Foo at v1alpha1 (stored) and v1. Their conversion webhook is
/// set where it is served (`kubeforge manifests`, `kubeforge up`).
pub fn crds() -> Vec<CustomResourceDefinition> {
    let versions = vec![Foo::crd(), v1::Foo::crd()];
    vec![
        kube::core::crd::merge_crds(versions, STORAGE_VERSION)
            .expect("Foo's versions share group, kind and scope"),
    ]
}

/// What the Foo controller reads and writes.
pub fn permissions() -> Vec<Access> {
    vec![
        Access::watch::<Foo>(),
        Access::status::<Foo>(&["get", "patch", "update"]),
        Access::watch::<Deployment>(),
        Access::on::<Deployment>(&["create", "update", "patch", "delete"]),
    ]
}
