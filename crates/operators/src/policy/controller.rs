//! The policy controllers: one per kind, for every policy of the kind in every namespace. A
//! policy is checked when it changes, and when a pod of its namespace changes (through the pods'
//! shared informer and its namespace index: a pod change enqueues only the policies of the pod's
//! namespace, batched: see [`POD_BATCH`]). The controllers of one process share one pod writer (`writes.rs`), so the marks
//! of every policy on one pod go out as one write.

use super::kinds::PolicyKind;
use super::reconcile::{PolicyContext, policies_for_pod, reconcile};
use super::writes::{PodWrites, SharedPodWrites};
use crate::events::Events;
use k8s_openapi::api::core::v1::Pod;
use kubeforge_runtime::cache::{IndexError, InformerScope};
use kubeforge_runtime::controller::{Controller, RunnableController};
use kubeforge_runtime::manager::Manager;
use std::sync::Arc;
use std::time::Duration;

/// A check reads every pod of its namespace: pod changes (its own marks streaming back, a
/// rollout) are batched into one check per policy per this period.
pub const POD_BATCH: Duration = Duration::from_millis(250);
/// Policies of one kind checked at once. A check waits for its writes, so this is how many
/// policies' marks can meet in the shared writer (and go out as one write per pod).
const CONCURRENCY: usize = 8;

/// Builds the controller of policy kind `K` on `manager`'s client, informers and recorder.
pub fn controller<K: PolicyKind>(manager: &Manager) -> Result<RunnableController, IndexError> {
    let factory = manager.factory();
    let policies = factory.informer::<K>(InformerScope::all()).lister();
    let pods = factory.informer::<Pod>(InformerScope::all()).lister();
    // One writer for every policy controller of the process (a private one when built on a
    // manager that does not carry the shared slot).
    let make = || {
        PodWrites::new(
            manager.client(),
            Events::new(manager.recorder("kubeforge.dev/policy-controller")),
        )
    };
    let writes = match manager.extension::<SharedPodWrites>() {
        Some(shared) => shared.get_or_init(make),
        None => make(),
    };
    let ctx = Arc::new(PolicyContext::new(
        manager.client(),
        writes,
        policies.clone(),
        pods,
        Events::new(manager.recorder(&format!("kubeforge.dev/{}-controller", K::NAME))),
    ));
    Ok(Controller::<K>::new(K::NAME)
        .watches_batched::<Pod, _>(POD_BATCH, move |pod| policies_for_pod(&policies, pod))
        .concurrency(CONCURRENCY)
        .build(reconcile::<K>, ctx))
}
