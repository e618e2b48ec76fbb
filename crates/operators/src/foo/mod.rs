//! sample-controller's Foo: a Foo owns a Deployment of nginx Pods, named by the Foo, scaled to
//! its replicas, and reports the Deployment's available replicas in its status.
//!
//! | file | what it owns |
//! |---|---|
//! | `types.rs` | the `Foo` custom resource and its schema |
//! | `reconcile.rs` | one sync: the owned Deployment, replicas, status, events |
//! | `controller.rs` | the controller: what it watches, its context |
//! | `webhook.rs` | the defaulting webhook: `spec.replicas` 1 when absent |

// `foo` is this resource's real name (sample-controller's kind), not a placeholder.
#![allow(clippy::disallowed_names)]

mod controller;
mod reconcile;
mod types;
mod webhook;

pub use controller::{CONTROLLER_NAME, controller};
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

/// The CRDs this operator serves.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Foo::crd()]
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
