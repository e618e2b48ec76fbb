//! Finalizers: run cleanup before an object is deleted (controller-runtime's finalizer
//! helpers, kube-rs's `finalizer`).
//!
//! [`finalizer`] wraps a reconcile:
//! - object alive, finalizer missing: the finalizer is added (nothing else; adding it changes
//!   the object, which enqueues it again);
//! - object alive, finalizer present: [`Event::Apply`];
//! - object deleting (`deletionTimestamp` set), finalizer present: [`Event::Cleanup`]; when
//!   cleanup succeeds the finalizer is removed and the server completes the deletion; when it
//!   fails the finalizer stays and the error is returned (retried with back-off);
//! - object deleting, finalizer absent: nothing to do.
//!
//! Why not kube-rs's `finalizer` directly: it is tied to kube-rs's controller `Action` and a
//! typed error parameter, and patches with JSON-patch `test` operations. This one speaks our
//! [`Action`] and [`ReconcileError`], and writes the finalizer list as a merge patch carrying
//! the resourceVersion read, so a concurrent change makes it fail with 409 Conflict (and be
//! retried) instead of clobbering the list.

use crate::controller::{Action, ReconcileError};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

/// What the wrapped reconcile is asked to do.
#[derive(Debug, Clone)]
pub enum Event<K> {
    /// Converge the live object (the finalizer is in place).
    Apply(Arc<K>),
    /// The object is being deleted: release what it holds outside the cluster. Must be
    /// idempotent; it may run again if removing the finalizer fails.
    Cleanup(Arc<K>),
}

/// Runs `reconcile` for `obj` with the finalizer `name` managed around it (see the module
/// docs). `api` must address `obj` (its namespace, or all namespaces for cluster-scoped kinds).
///
/// ```no_run
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::{Api, ResourceExt};
/// use kubeforge_runtime::controller::{Action, ReconcileError};
/// use kubeforge_runtime::finalizer::{finalizer, Event};
/// use std::sync::Arc;
///
/// async fn reconcile(api: Api<ConfigMap>, cm: Arc<ConfigMap>) -> Result<Action, ReconcileError> {
///     finalizer(&api, "example.com/cleanup", cm, |event| async move {
///         match event {
///             Event::Apply(cm) => { /* converge */ }
///             Event::Cleanup(cm) => { /* delete what `cm` created elsewhere */ }
///         }
///         Ok(Action::await_change())
///     })
///     .await
/// }
/// ```
pub async fn finalizer<K, F, Fut>(
    api: &Api<K>,
    name: &str,
    obj: Arc<K>,
    reconcile: F,
) -> Result<Action, ReconcileError>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action, ReconcileError>>,
{
    let has = obj.finalizers().iter().any(|f| f == name);
    let deleting = obj.meta().deletion_timestamp.is_some();
    match (deleting, has) {
        (false, true) => reconcile(Event::Apply(obj)).await,
        (false, false) => {
            let mut finalizers = obj.finalizers().to_vec();
            finalizers.push(name.to_owned());
            write_finalizers(api, &obj, finalizers).await?;
            Ok(Action::await_change())
        }
        (true, true) => {
            let action = reconcile(Event::Cleanup(obj.clone())).await?;
            let finalizers = obj
                .finalizers()
                .iter()
                .filter(|f| *f != name)
                .cloned()
                .collect();
            write_finalizers(api, &obj, finalizers).await?;
            Ok(action)
        }
        (true, false) => Ok(Action::await_change()),
    }
}

async fn write_finalizers<K>(
    api: &Api<K>,
    obj: &K,
    finalizers: Vec<String>,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({
        "metadata": {
            "resourceVersion": obj.resource_version(),
            "finalizers": finalizers,
        }
    });
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Removing the last finalizer of a deleting object may delete it before we hear back.
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
