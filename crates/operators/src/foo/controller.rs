//! The Foo controller: reconciles Foos, and a Foo again whenever a Deployment it controls
//! changes (sample-controller's `handleObject`).

use super::reconcile::{FooContext, reconcile};
use super::types::Foo;
use crate::events::Events;
use k8s_openapi::api::apps::v1::Deployment;
use kubeforge_runtime::cache::{IndexError, InformerScope};
use kubeforge_runtime::controller::{Controller, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::sync::Arc;

/// The controller's name (its work queue and metrics are labelled with it).
pub const CONTROLLER_NAME: &str = "foo";

/// Builds the Foo controller on `manager`'s client, informers and recorder.
pub fn controller(manager: &Manager) -> Result<RunnableController, IndexError> {
    let ctx = Arc::new(FooContext {
        client: manager.client(),
        foos: manager
            .factory()
            .informer::<Foo>(InformerScope::all())
            .lister(),
        deployments: manager
            .factory()
            .informer::<Deployment>(InformerScope::all())
            .lister(),
        events: Events::new(manager.recorder("kubeforge.dev/foo-controller")),
    });
    // sample-controller runs two workers.
    Ok(Controller::<Foo>::new(CONTROLLER_NAME)
        .owns::<Deployment>()
        .concurrency(2)
        .build(reconcile, ctx))
}
