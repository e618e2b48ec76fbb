//! The Network controller: one for every Network in every namespace. A Network is reconciled
//! when it changes, when another Network of its namespace changes (overlap), and when a pod
//! naming it (or carrying one of its addresses without naming a network) changes or goes.

use super::assignment::{IP_ANNOTATION, NETWORK_ANNOTATION};
use super::reconcile::{NetworkContext, reconcile};
use super::types::Network;
use crate::events::Events;
use k8s_openapi::api::core::v1::Pod;
use kube::{Resource, ResourceExt};
use kubeforge_runtime::cache::{IndexError, InformerScope, Lister};
use kubeforge_runtime::controller::{Controller, Request, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::sync::Arc;

/// The controller's name (its work queue and metrics are labelled with it).
pub const CONTROLLER_NAME: &str = "network";

fn networks_of_namespace(networks: &Lister<Network>, namespace: &str) -> Vec<Request> {
    networks
        .namespaced(namespace)
        .list(&Default::default())
        .iter()
        .map(|n| Request::namespaced(namespace, &n.name_any()))
        .collect()
}

/// The Networks a change of `pod` concerns: the one it names, or, when it names none but
/// carries an address, every Network of its namespace (one of them may have to take it back).
pub fn networks_for_pod(networks: &Lister<Network>, pod: &Pod) -> Vec<Request> {
    let namespace = pod.namespace().unwrap_or_default();
    let annotations = pod.meta().annotations.as_ref();
    match annotations
        .and_then(|a| a.get(NETWORK_ANNOTATION))
        .filter(|n| !n.is_empty())
    {
        Some(network) => vec![Request::namespaced(&namespace, network)],
        None if annotations.is_some_and(|a| a.contains_key(IP_ANNOTATION)) => {
            networks_of_namespace(networks, &namespace)
        }
        None => Vec::new(),
    }
}

/// Builds the Network controller on `manager`'s client, informers and recorder.
pub fn controller(manager: &Manager) -> Result<RunnableController, IndexError> {
    let factory = manager.factory();
    let networks = factory.informer::<Network>(InformerScope::all()).lister();
    let pods = factory.informer::<Pod>(InformerScope::all()).lister();
    let ctx = Arc::new(NetworkContext::new(
        manager.client(),
        networks.clone(),
        pods,
        Events::new(manager.recorder("kubeforge.dev/network-controller")),
    ));
    let for_pods = networks.clone();
    let for_networks = networks;
    Ok(Controller::<Network>::new(CONTROLLER_NAME)
        .watches::<Pod, _>(move |pod| networks_for_pod(&for_pods, pod))
        .watches::<Network, _>(move |network| {
            networks_of_namespace(&for_networks, &network.namespace().unwrap_or_default())
        })
        .concurrency(2)
        .build(reconcile, ctx))
}
