//! The detector's controller: one work queue (kubeforge-runtime's rate-limited queue) for Pods
//! and Services ([`Target`]), fed by the shared Pod and Service informers:
//! - a Pod event enqueues the Pod, and the Services its labels match now or its annotation says
//!   matched before (their counts may change);
//! - a Service event enqueues the Service, and the Pods its selector matches now or whose
//!   annotation names it (what its old selector matched): no other Pod is looked at.

use super::index::{add_indexes, pods_annotated_with, pods_selected, selector, services_selecting};
use super::metrics::DetectorMetrics;
use super::reconcile::{DetectorContext, Target, reconcile};
use super::{NAME, Options};
use crate::events::Events;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kubeforge_runtime::cache::{IndexError, InformerScope, Store};
use kubeforge_runtime::controller::{Controller, Request, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The controller's name (its work queue and metrics are labelled with it).
pub const CONTROLLER_NAME: &str = "service-detector";

/// The requests a Pod event makes, besides the Pod's own.
fn for_pod(services: &Store<Service>, pod: &Pod) -> Vec<Request> {
    let namespace = pod.namespace().unwrap_or_default();
    let mut requests: BTreeSet<Request> = super::index::annotated_services(pod)
        .iter()
        .map(|name| {
            Target::Service {
                namespace: namespace.clone(),
                name: name.clone(),
            }
            .request()
        })
        .collect();
    match services_selecting(services, pod) {
        Ok(found) => requests.extend(found.iter().map(|s| Target::service_request(s))),
        Err(error) => tracing::error!(%error, "the detector's Service index is missing"),
    }
    requests.into_iter().collect()
}

/// The requests a Service event makes: the Service, and the Pods it selects or selected.
fn for_service(pods: &Store<Pod>, service: &Service) -> Vec<Request> {
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    let mut requests = BTreeSet::from([Target::service_request(service)]);
    let mut pods_found = match pods_annotated_with(pods, &namespace, &name) {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "the detector's Pod index is missing");
            Vec::new()
        }
    };
    if let Some(selector) = selector(service) {
        match pods_selected(pods, &namespace, selector) {
            Ok(found) => pods_found.extend(found),
            Err(error) => tracing::error!(%error, "the detector's Pod index is missing"),
        }
    }
    requests.extend(
        pods_found
            .iter()
            .map(|pod| Request::for_object(pod.as_ref())),
    );
    requests.into_iter().collect()
}

/// Builds the detector on `manager`'s client, shared informers and recorder; its options are the
/// manager's [`Options`] extension (defaults when there is none), its gauges go to the manager's
/// registry.
pub fn controller(manager: &Manager) -> Result<RunnableController, IndexError> {
    let factory = manager.factory();
    let pods = factory.informer::<Pod>(InformerScope::all());
    let services = factory.informer::<Service>(InformerScope::all());
    add_indexes(&pods, &services)?;
    let options = manager
        .extension::<Options>()
        .map(|o| o.as_ref().clone())
        .unwrap_or_default();
    let metrics = manager.register_metrics(DetectorMetrics::new);
    let ctx = Arc::new(DetectorContext::new(
        manager.client(),
        pods.store(),
        services.store(),
        Events::new(manager.recorder(&format!("kubeforge.dev/{NAME}"))),
        options,
        metrics,
    ));
    let service_store = services.store();
    let pod_store = pods.store();
    Ok(Controller::<Pod>::new(CONTROLLER_NAME)
        .watches::<Pod, _>(move |pod| for_pod(&service_store, pod))
        .watches::<Service, _>(move |service| for_service(&pod_store, service))
        .concurrency(4)
        .build(reconcile, ctx))
}
