//! The Foo controller: reconciles Foos, and a Foo again whenever a Deployment it controls
//! changes (sample-controller's `handleObject`).

use super::reconcile::{FooContext, reconcile};
use super::types::Foo;
use crate::Wiring;
use crate::events::Events;
use k8s_openapi::api::apps::v1::Deployment;
use kubeforge_runtime::cache::{IndexError, InformerScope};
use kubeforge_runtime::controller::{Controller, RunnableController};
use std::sync::Arc;

/// The controller's name (its work queue and metrics are labelled with it).
pub const CONTROLLER_NAME: &str = "foo";

/// Builds the Foo controller on `wiring`'s informers.
pub fn controller(wiring: &Wiring) -> Result<RunnableController, IndexError> {
    let ctx = Arc::new(FooContext {
        client: wiring.client.clone(),
        foos: wiring
            .factory
            .informer::<Foo>(InformerScope::all())
            .lister(),
        deployments: wiring
            .factory
            .informer::<Deployment>(InformerScope::all())
            .lister(),
        events: Events::new(
            wiring.client.clone(),
            "kubeforge.dev/foo-controller",
            &wiring.instance,
        ),
    });
    // sample-controller runs two workers.
    Ok(Controller::<Foo>::new(CONTROLLER_NAME)
        .owns::<Deployment>()
        .concurrency(2)
        .build(reconcile, ctx))
}
