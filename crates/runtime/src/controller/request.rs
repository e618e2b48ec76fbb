//! What a reconcile is asked to do and what it answers: [`Request`] (controller-runtime's
//! `reconcile.Request`) and [`Action`] (its `reconcile.Result`).
//!
//! A request names an object, never carries it: the reconciler reads the current state from a
//! lister (or the server), so a burst of events for one object collapses into one reconcile of
//! its latest state.

use kube::{Resource, ResourceExt};
use std::fmt;
use std::time::Duration;

/// The object a reconcile is about: its namespace (`None` for cluster-scoped kinds) and name.
///
/// Displays as `namespace/name` (or `name`), the cache key of the object.
///
/// ```
/// use kubeforge_runtime::controller::Request;
///
/// assert_eq!(Request::namespaced("default", "web").to_string(), "default/web");
/// assert_eq!(Request::cluster("node-1").to_string(), "node-1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Request {
    /// The object's namespace; `None` for a cluster-scoped object.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl Request {
    /// A request for the namespaced object `namespace/name`.
    pub fn namespaced(namespace: &str, name: &str) -> Self {
        Request {
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
        }
    }

    /// A request for the cluster-scoped object `name`.
    pub fn cluster(name: &str) -> Self {
        Request {
            namespace: None,
            name: name.to_owned(),
        }
    }

    /// The request for `obj` (its namespace and name).
    pub fn for_object<K: Resource>(obj: &K) -> Self {
        Request {
            namespace: obj.namespace(),
            name: obj.name_any(),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What to do after a successful reconcile.
///
/// ```
/// use kubeforge_runtime::controller::Action;
/// use std::time::Duration;
///
/// // Done until something watched changes:
/// let done = Action::await_change();
/// // Look again in a minute even if nothing changes (e.g. a certificate nearing expiry):
/// let later = Action::requeue_after(Duration::from_secs(60));
/// assert_eq!(later.requeue_after_duration(), Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// The object is reconciled; reconcile it again only when a watched object changes.
    pub fn await_change() -> Self {
        Action {
            requeue_after: None,
        }
    }

    /// Reconcile the object again after `delay` (its failure count is reset, as on success).
    /// A zero delay requeues at once.
    pub fn requeue_after(delay: Duration) -> Self {
        Action {
            requeue_after: Some(delay),
        }
    }

    /// The delay set by [`requeue_after`](Self::requeue_after), if any.
    pub fn requeue_after_duration(&self) -> Option<Duration> {
        self.requeue_after
    }
}
