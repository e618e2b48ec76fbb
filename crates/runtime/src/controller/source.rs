//! Where a controller's requests come from (controller-runtime's `source` and `handler`):
//! an informer of the shared factory plus a function from an object to the requests it
//! causes. `for` maps an object to itself, `owns` to its controlling owner of the
//! controller's kind, `watches` through a user function.
//!
//! What this guarantees:
//! - An update enqueues the requests of both the old and the new object (an owner that
//!   changed, a label that moved an object from one mapping to another: both sides reconcile).
//! - A deletion, seen by the watch or found by a relist (tombstone), enqueues the requests of
//!   the last known state.
//! - The controller's predicates judge each event before anything is enqueued.
//! - The handler is removed when the controller stops; the informer (shared) keeps running.
//! - A batched source (`watches_batched`) queues each request a fixed period after the first
//!   event that caused it; events meanwhile join that wait, so a burst costs one reconcile.

use super::predicate::{ObjectEvent, Predicate};
use super::request::Request;
use crate::cache::{
    DeleteEvent, EventHandler, HandlerRegistration, Informer, InformerScope, InformerSynced,
    ScopedApi, SharedInformerFactory,
};
use crate::workqueue::WorkQueue;
use kube::Resource;
use kube::core::ClusterResourceScope;
use serde::de::DeserializeOwned;
use std::any::TypeId;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Maps an object to the requests it causes.
pub(crate) type MapFn<W> = Arc<dyn Fn(&W) -> Vec<Request> + Send + Sync>;

/// A watched source, its object type erased so one controller holds several.
pub(crate) trait Source: Send + Sync {
    /// Creates (or finds) the source's informer in `factory`, so it starts with the factory.
    fn prepare(&self, factory: &SharedInformerFactory);
    /// Adds a handler enqueueing this source's requests on `queue`.
    fn register(
        &self,
        factory: &SharedInformerFactory,
        queue: WorkQueue<Request>,
        filter: Option<Predicate>,
    ) -> Registration;
}

/// A handler added by a running controller; remove it when the controller stops.
pub(crate) struct Registration {
    synced: InformerSynced,
    remove: Box<dyn FnOnce() + Send>,
}

impl Registration {
    /// Whether the handler has seen the informer's cached objects.
    pub(crate) fn synced(&self) -> InformerSynced {
        self.synced.clone()
    }

    /// Removes the handler from its informer.
    pub(crate) fn remove(self) {
        (self.remove)()
    }
}

/// Watches `W` in `scope` and maps its objects to requests.
pub(crate) struct Watch<W> {
    scope: InformerScope,
    map: MapFn<W>,
    batch: Option<Duration>,
}

impl<W> Watch<W> {
    pub(crate) fn new(scope: InformerScope, map: MapFn<W>) -> Self {
        Watch {
            scope,
            map,
            batch: None,
        }
    }

    /// Each request waits `period` before it is queued, joined by the same request's later
    /// events meanwhile (see [`WorkQueue::add_batched`]).
    pub(crate) fn batched(mut self, period: Duration) -> Self {
        self.batch = Some(period);
        self
    }
}

impl<W> Source for Watch<W>
where
    W: Resource + Clone + DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    W::DynamicType: Default,
    W::Scope: ScopedApi,
{
    fn prepare(&self, factory: &SharedInformerFactory) {
        factory.informer::<W>(self.scope.clone());
    }

    fn register(
        &self,
        factory: &SharedInformerFactory,
        queue: WorkQueue<Request>,
        filter: Option<Predicate>,
    ) -> Registration {
        let informer: Informer<W> = factory.informer::<W>(self.scope.clone());
        let registration: HandlerRegistration = informer.add_event_handler(Enqueue {
            queue,
            filter,
            map: self.map.clone(),
            batch: self.batch,
        });
        Registration {
            synced: registration.synced(),
            remove: Box::new(move || {
                informer.remove_event_handler(&registration);
            }),
        }
    }
}

/// The event handler of a source.
struct Enqueue<W> {
    queue: WorkQueue<Request>,
    filter: Option<Predicate>,
    map: MapFn<W>,
    batch: Option<Duration>,
}

impl<W: Resource> Enqueue<W> {
    fn passes(&self, event: ObjectEvent<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(&event))
    }

    fn enqueue(&self, obj: &W) {
        for request in (self.map)(obj) {
            match self.batch {
                Some(period) => self.queue.add_batched(request, period),
                None => self.queue.add(request),
            }
        }
    }
}

impl<W: Resource + Send + Sync + 'static> EventHandler<W> for Enqueue<W> {
    fn on_add(&self, obj: Arc<W>) {
        if self.passes(ObjectEvent::Create(obj.meta())) {
            self.enqueue(&obj);
        }
    }

    fn on_update(&self, old: Arc<W>, new: Arc<W>) {
        if self.passes(ObjectEvent::Update {
            old: old.meta(),
            new: new.meta(),
        }) {
            if !Arc::ptr_eq(&old, &new) {
                self.enqueue(&old);
            }
            self.enqueue(&new);
        }
    }

    fn on_delete(&self, event: DeleteEvent<W>) {
        let obj = event.object();
        if self.passes(ObjectEvent::Delete(obj.meta())) {
            self.enqueue(obj);
        }
    }
}

/// The request of the object itself (`for`).
pub(crate) fn map_self<K: Resource>() -> MapFn<K> {
    Arc::new(|obj: &K| vec![Request::for_object(obj)])
}

/// The request of `obj`'s controlling owner when that owner is a `K` (`owns`), as
/// controller-runtime's `EnqueueRequestForOwner` with `OnlyControllerOwner`: the owner's
/// group (not version) and kind must match.
pub(crate) fn map_controller_owner<K, W>() -> MapFn<W>
where
    K: Resource + 'static,
    K::DynamicType: Default,
    W: Resource,
{
    let dt = K::DynamicType::default();
    let kind = K::kind(&dt).into_owned();
    let group = K::group(&dt).into_owned();
    let cluster_scoped = TypeId::of::<K::Scope>() == TypeId::of::<ClusterResourceScope>();
    Arc::new(move |obj: &W| {
        let refs = obj.meta().owner_references.as_deref().unwrap_or_default();
        refs.iter()
            .filter(|r| r.controller == Some(true) && r.kind == kind)
            .filter(|r| group_of(&r.api_version) == group)
            .map(|r| Request {
                namespace: if cluster_scoped {
                    None
                } else {
                    obj.meta().namespace.clone()
                },
                name: r.name.clone(),
            })
            .collect()
    })
}

/// The group of an `apiVersion` (`apps/v1` -> `apps`, `v1` -> ``).
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}
