//! The policy controllers: one per kind, for every policy of the kind in every namespace. A
//! policy is checked when it changes, and when a pod of its namespace changes (through the pods'
//! shared informer and its namespace index: a pod change enqueues only the policies of the pod's
//! namespace).

use super::kinds::PolicyKind;
use super::reconcile::{PolicyContext, policies_for_pod, reconcile};
use crate::events::Events;
use k8s_openapi::api::core::v1::Pod;
use kubeforge_runtime::cache::{IndexError, InformerScope};
use kubeforge_runtime::controller::{Controller, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::sync::Arc;

/// Builds the controller of policy kind `K` on `manager`'s client, informers and recorder.
pub fn controller<K: PolicyKind>(manager: &Manager) -> Result<RunnableController, IndexError> {
    let factory = manager.factory();
    let policies = factory.informer::<K>(InformerScope::all()).lister();
    let pods = factory.informer::<Pod>(InformerScope::all()).lister();
    let ctx = Arc::new(PolicyContext::new(
        manager.client(),
        policies.clone(),
        pods,
        Events::new(manager.recorder(&format!("kubeforge.dev/{}-controller", K::NAME))),
    ));
    Ok(Controller::<K>::new(K::NAME)
        .watches::<Pod, _>(move |pod| policies_for_pod(&policies, pod))
        .concurrency(2)
        .build(reconcile::<K>, ctx))
}
