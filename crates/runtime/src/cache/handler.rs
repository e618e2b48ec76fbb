//! What an informer tells its handlers (client-go's `ResourceEventHandler`): an object was added,
//! updated (old and new), or deleted (its final state, or a tombstone when the deletion was missed).
//!
//! What this guarantees (with [`Informer`](super::Informer)):
//! - A handler sees the events of one informer in the order the cache applied them; each handler
//!   is called from its own task, one call at a time, so a slow handler delays only itself.
//! - Objects are the cache's own `Arc`s: a handler that keeps one keeps no copy.
//! - `old` in `on_update` is the object the cache held before; on a resync or a relist old and new
//!   may carry the same resourceVersion (client-go does the same): compare resource versions to
//!   skip them.
//! - A handler that panics is reported (tracing, error level) and keeps receiving events.

use kube::{Resource, ResourceExt};
use std::fmt;
use std::sync::Arc;

/// How an object's deletion was learnt.
pub enum DeleteEvent<K> {
    /// The watch delivered the deletion: `K` is the object's final state.
    Final(Arc<K>),
    /// The deletion was missed (the watch was down or too far behind) and found by the relist
    /// that followed: the object is gone and `last_known` is the state the cache last held
    /// (client-go's `DeletedFinalStateUnknown`).
    Tombstone {
        /// The object's cache key (`namespace/name`).
        key: String,
        /// The last state the cache held; the object may have changed before it was deleted.
        last_known: Arc<K>,
    },
}

impl<K> Clone for DeleteEvent<K> {
    fn clone(&self) -> Self {
        match self {
            DeleteEvent::Final(obj) => DeleteEvent::Final(obj.clone()),
            DeleteEvent::Tombstone { key, last_known } => DeleteEvent::Tombstone {
                key: key.clone(),
                last_known: last_known.clone(),
            },
        }
    }
}

impl<K> DeleteEvent<K> {
    /// The deleted object: the final state, or the last known state of a tombstone.
    pub fn object(&self) -> &Arc<K> {
        match self {
            DeleteEvent::Final(obj) => obj,
            DeleteEvent::Tombstone { last_known, .. } => last_known,
        }
    }

    /// Whether the deletion was missed and found by a relist.
    pub fn is_tombstone(&self) -> bool {
        matches!(self, DeleteEvent::Tombstone { .. })
    }
}

impl<K: Resource> DeleteEvent<K> {
    /// The deleted object's cache key (`namespace/name`).
    pub fn key(&self) -> String {
        match self {
            DeleteEvent::Final(obj) => super::object_key(&**obj),
            DeleteEvent::Tombstone { key, .. } => key.clone(),
        }
    }
}

impl<K: Resource> fmt::Debug for DeleteEvent<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteEvent::Final(obj) => f
                .debug_tuple("Final")
                .field(&super::object_key(&**obj))
                .field(&obj.resource_version())
                .finish(),
            DeleteEvent::Tombstone { key, last_known } => f
                .debug_struct("Tombstone")
                .field("key", key)
                .field(
                    "last_known_resource_version",
                    &last_known.resource_version(),
                )
                .finish(),
        }
    }
}

/// Receives an informer's events. Every method has a default that ignores the event.
///
/// Handlers run on their informer's tasks: keep them short and never block (enqueue a key on a
/// work queue, as controllers do).
///
/// ```
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::ResourceExt;
/// use kubeforge_runtime::cache::{DeleteEvent, EventHandler};
/// use std::sync::Arc;
///
/// struct Log;
/// impl EventHandler<ConfigMap> for Log {
///     fn on_add(&self, cm: Arc<ConfigMap>) {
///         println!("added {}", cm.name_any());
///     }
///     fn on_delete(&self, ev: DeleteEvent<ConfigMap>) {
///         println!("deleted {} (missed: {})", ev.object().name_any(), ev.is_tombstone());
///     }
/// }
/// ```
pub trait EventHandler<K>: Send + Sync + 'static {
    /// An object appeared in the cache (or, for a handler added late, was already there).
    fn on_add(&self, obj: Arc<K>) {
        let _ = obj;
    }
    /// An object in the cache was replaced: by a newer version, by a relist, or by a resync
    /// (`old` and `new` then are the same object).
    fn on_update(&self, old: Arc<K>, new: Arc<K>) {
        let _ = (old, new);
    }
    /// An object left the cache.
    fn on_delete(&self, event: DeleteEvent<K>) {
        let _ = event;
    }
}

type AddFn<K> = Box<dyn Fn(Arc<K>) + Send + Sync>;
type UpdateFn<K> = Box<dyn Fn(Arc<K>, Arc<K>) + Send + Sync>;
type DeleteFn<K> = Box<dyn Fn(DeleteEvent<K>) + Send + Sync>;

/// An [`EventHandler`] made of closures (client-go's `ResourceEventHandlerFuncs`); the events
/// without a closure are ignored.
///
/// ```no_run
/// # fn demo(informer: kubeforge_runtime::cache::Informer<k8s_openapi::api::core::v1::ConfigMap>) {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use kube::ResourceExt;
/// use kubeforge_runtime::cache::HandlerFuncs;
///
/// informer.add_event_handler(
///     HandlerFuncs::<ConfigMap>::new()
///         .on_add(|cm| println!("added {}", cm.name_any()))
///         .on_update(|old, new| {
///             if old.resource_version() != new.resource_version() {
///                 println!("changed {}", new.name_any());
///             }
///         }),
/// );
/// # }
/// ```
pub struct HandlerFuncs<K> {
    add: Option<AddFn<K>>,
    update: Option<UpdateFn<K>>,
    delete: Option<DeleteFn<K>>,
}

impl<K> Default for HandlerFuncs<K> {
    fn default() -> Self {
        HandlerFuncs {
            add: None,
            update: None,
            delete: None,
        }
    }
}

impl<K> fmt::Debug for HandlerFuncs<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFuncs")
            .field("add", &self.add.is_some())
            .field("update", &self.update.is_some())
            .field("delete", &self.delete.is_some())
            .finish()
    }
}

impl<K> HandlerFuncs<K> {
    /// A handler that ignores every event until closures are set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Called for every add.
    #[must_use]
    pub fn on_add(mut self, f: impl Fn(Arc<K>) + Send + Sync + 'static) -> Self {
        self.add = Some(Box::new(f));
        self
    }

    /// Called for every update, with the old and the new object.
    #[must_use]
    pub fn on_update(mut self, f: impl Fn(Arc<K>, Arc<K>) + Send + Sync + 'static) -> Self {
        self.update = Some(Box::new(f));
        self
    }

    /// Called for every delete.
    #[must_use]
    pub fn on_delete(mut self, f: impl Fn(DeleteEvent<K>) + Send + Sync + 'static) -> Self {
        self.delete = Some(Box::new(f));
        self
    }
}

impl<K: Send + Sync + 'static> EventHandler<K> for HandlerFuncs<K> {
    fn on_add(&self, obj: Arc<K>) {
        if let Some(f) = &self.add {
            f(obj)
        }
    }
    fn on_update(&self, old: Arc<K>, new: Arc<K>) {
        if let Some(f) = &self.update {
            f(old, new)
        }
    }
    fn on_delete(&self, event: DeleteEvent<K>) {
        if let Some(f) = &self.delete {
            f(event)
        }
    }
}
