//! The watchers of the store, by resource and namespace: each committed event is pushed once to
//! the watchers it concerns (kube-apiserver's cacher dispatching to its `cacheWatcher`s), instead
//! of every watcher waking on every commit and re-reading the history.
//!
//! A watcher is registered for one resource (or every resource), optionally one namespace, and
//! optionally a filter (its selectors). The dispatcher hands an event to the watchers of the
//! event's resource in the event's namespace and to those of every namespace, tests each one's
//! filter, and sends it on that watcher's bounded channel. A watcher whose channel is full (a
//! slow reader) is unregistered: it reads the rest of its channel, then catches up from the
//! history where it stands, or gets 410 Gone when the history no longer reaches back that far, as
//! a terminated watcher of upstream's cacher relists. Nothing is dropped silently.
//!
//! The dispatcher also records how far it has dispatched, so a watcher with nothing left in its
//! channel knows it has seen everything up to there (a bookmark's resourceVersion).

use super::history::StoredEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// How many events a watcher may have waiting before it is unregistered and left to catch up
/// from the history.
const CHANNEL: usize = 1024;

/// A watcher's test of an event: whether it may concern it (the dispatcher skips the others).
pub type EventFilter = Arc<dyn Fn(&StoredEvent) -> bool + Send + Sync>;

/// What a watcher follows.
#[derive(Clone, Default)]
pub struct Interest {
    /// The storage key followed; None for every resource.
    pub resource: Option<Arc<str>>,
    /// The namespace followed; None for every namespace.
    pub namespace: Option<String>,
    /// Events it may care about; None for all of them.
    pub filter: Option<EventFilter>,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interest")
            .field("resource", &self.resource)
            .field("namespace", &self.namespace)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

impl Interest {
    /// Whether `event` concerns this watcher.
    pub fn wants(&self, event: &StoredEvent) -> bool {
        self.resource
            .as_ref()
            .is_none_or(|r| *r == event.key.resource)
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == event.key.namespace)
            && self.filter.as_ref().is_none_or(|f| f(event))
    }
}

struct Watcher {
    id: u64,
    filter: Option<EventFilter>,
    tx: mpsc::Sender<Arc<StoredEvent>>,
}

/// The watchers of one resource.
#[derive(Default)]
struct ResourceWatchers {
    every_namespace: Vec<Watcher>,
    by_namespace: HashMap<String, Vec<Watcher>>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// Every event up to this resourceVersion has been dispatched.
    dispatched: u64,
    every_resource: Vec<Watcher>,
    resources: HashMap<Arc<str>, ResourceWatchers>,
}

impl Registry {
    fn list_mut(&mut self, resource: Option<&str>, namespace: Option<&str>) -> &mut Vec<Watcher> {
        let Some(resource) = resource else {
            return &mut self.every_resource;
        };
        if !self.resources.contains_key(resource) {
            self.resources
                .insert(Arc::from(resource), Default::default());
        }
        let watchers = self.resources.get_mut(resource).expect("inserted");
        match namespace {
            None => &mut watchers.every_namespace,
            Some(ns) => watchers.by_namespace.entry(ns.to_string()).or_default(),
        }
    }
}

/// Every open watch of a store.
pub(crate) struct Watchers {
    registry: Mutex<Registry>,
}

/// A watcher's registration: its channel, and its place in the registry (removed on drop).
pub(crate) struct Registration {
    id: u64,
    resource: Option<Arc<str>>,
    namespace: Option<String>,
    watchers: std::sync::Weak<Watchers>,
    /// The events dispatched to this watcher.
    pub rx: mpsc::Receiver<Arc<StoredEvent>>,
}

impl Watchers {
    /// No watchers; everything up to `dispatched` counts as dispatched.
    pub(crate) fn new(dispatched: u64) -> Self {
        Watchers {
            registry: Mutex::new(Registry {
                dispatched,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Updates are plain vector and map edits: a poisoned lock is still consistent.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a watcher. The caller holds the store's state lock, so no commit can be made
    /// visible between its reading the history and this registration; events made visible
    /// before the registration but dispatched after it reach it twice, and the watcher skips
    /// them by resourceVersion.
    pub(crate) fn register(self: &Arc<Self>, interest: &Interest) -> Registration {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let mut registry = self.lock();
        registry.next_id += 1;
        let id = registry.next_id;
        registry
            .list_mut(interest.resource.as_deref(), interest.namespace.as_deref())
            .push(Watcher {
                id,
                filter: interest.filter.clone(),
                tx,
            });
        Registration {
            id,
            resource: interest.resource.clone(),
            namespace: interest.namespace.clone(),
            watchers: Arc::downgrade(self),
            rx,
        }
    }

    fn unregister(&self, registration: &Registration) {
        let mut registry = self.lock();
        let list = registry.list_mut(
            registration.resource.as_deref(),
            registration.namespace.as_deref(),
        );
        list.retain(|w| w.id != registration.id);
        if list.is_empty()
            && let Some(resource) = &registration.resource
        {
            let empty = registry.resources.get_mut(resource).is_some_and(|r| {
                if let Some(ns) = &registration.namespace
                    && r.by_namespace.get(ns).is_some_and(Vec::is_empty)
                {
                    r.by_namespace.remove(ns);
                }
                r.every_namespace.is_empty() && r.by_namespace.is_empty()
            });
            if empty {
                registry.resources.remove(resource);
            }
        }
    }

    /// Hands committed events (in resourceVersion order) to the watchers they concern, then
    /// records that everything up to `up_to` has been dispatched. Called by one committer at a
    /// time, in commit order.
    pub(crate) fn dispatch(&self, events: &[Arc<StoredEvent>], up_to: u64) {
        let mut registry = self.lock();
        for event in events {
            let Registry {
                every_resource,
                resources,
                ..
            } = &mut *registry;
            send(every_resource, event);
            if let Some(watchers) = resources.get_mut(&event.key.resource) {
                send(&mut watchers.every_namespace, event);
                if let Some(in_namespace) = watchers.by_namespace.get_mut(&event.key.namespace) {
                    send(in_namespace, event);
                }
            }
        }
        registry.dispatched = registry.dispatched.max(up_to);
    }

    /// Forgets every watcher (the store closed, or its cache was rebuilt): each reads what is
    /// left in its channel, then finds the store closed or catches up from the new history.
    pub(crate) fn clear(&self, dispatched: u64) {
        let mut registry = self.lock();
        registry.every_resource.clear();
        registry.resources.clear();
        registry.dispatched = dispatched;
    }

    /// How far a watcher with an empty channel has seen: everything dispatched. None when its
    /// channel still holds events (it has not seen those yet). Decided under the registry's lock,
    /// so no dispatch can slip between the two readings.
    pub(crate) fn seen_through(&self, registration: &Registration) -> Option<u64> {
        let registry = self.lock();
        registration.rx.is_empty().then_some(registry.dispatched)
    }

    /// How many watchers are registered.
    #[cfg(test)]
    fn count(&self) -> usize {
        let registry = self.lock();
        registry.every_resource.len()
            + registry
                .resources
                .values()
                .map(|r| {
                    r.every_namespace.len() + r.by_namespace.values().map(Vec::len).sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// Sends `event` to each watcher in `list` whose filter takes it; a watcher that is gone or full
/// is unregistered (a full one catches up from the history).
fn send(list: &mut Vec<Watcher>, event: &Arc<StoredEvent>) {
    list.retain(|watcher| {
        if watcher.filter.as_ref().is_some_and(|f| !f(event)) {
            return !watcher.tx.is_closed();
        }
        watcher.tx.try_send(event.clone()).is_ok()
    });
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(watchers) = self.watchers.upgrade() {
            watchers.unregister(self);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{EventType, ObjectKey, StoredObject};

    fn event(rv: u64, resource: &str, ns: &str) -> Arc<StoredEvent> {
        Arc::new(StoredEvent::new(
            EventType::Added,
            ObjectKey::new(Arc::from(resource), ns, format!("o{rv}")),
            Arc::new(StoredObject::new(rv, Default::default())),
            None,
        ))
    }

    fn interest(resource: Option<&str>, ns: Option<&str>) -> Interest {
        Interest {
            resource: resource.map(Arc::from),
            namespace: ns.map(str::to_string),
            filter: None,
        }
    }

    fn received(reg: &mut Registration) -> Vec<u64> {
        let mut out = Vec::new();
        while let Ok(ev) = reg.rx.try_recv() {
            out.push(ev.resource_version());
        }
        out
    }

    #[test]
    fn events_reach_the_watchers_of_their_resource_and_namespace() {
        let watchers = Arc::new(Watchers::new(0));
        let mut all = watchers.register(&interest(None, None));
        let mut cms = watchers.register(&interest(Some("/configmaps"), None));
        let mut cms_a = watchers.register(&interest(Some("/configmaps"), Some("a")));
        let mut pods = watchers.register(&interest(Some("/pods"), None));
        watchers.dispatch(
            &[
                event(1, "/configmaps", "a"),
                event(2, "/configmaps", "b"),
                event(3, "/pods", "a"),
            ],
            3,
        );
        assert_eq!(received(&mut all), vec![1, 2, 3]);
        assert_eq!(received(&mut cms), vec![1, 2]);
        assert_eq!(received(&mut cms_a), vec![1]);
        assert_eq!(received(&mut pods), vec![3]);
        assert_eq!(watchers.seen_through(&pods), Some(3));
    }

    #[test]
    fn a_filter_is_asked_once_per_event_and_watcher() {
        let watchers = Arc::new(Watchers::new(0));
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = asked.clone();
        let mut odd = watchers.register(&Interest {
            filter: Some(Arc::new(move |e: &StoredEvent| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                e.resource_version() % 2 == 1
            })),
            ..interest(Some("/configmaps"), None)
        });
        let evs: Vec<_> = (1..=4).map(|rv| event(rv, "/configmaps", "a")).collect();
        watchers.dispatch(&evs, 4);
        assert_eq!(received(&mut odd), vec![1, 3]);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn a_full_watcher_is_unregistered_after_what_it_was_sent() {
        let watchers = Arc::new(Watchers::new(0));
        let mut slow = watchers.register(&interest(Some("/configmaps"), None));
        let evs: Vec<_> = (1..=(CHANNEL as u64 + 5))
            .map(|rv| event(rv, "/configmaps", "a"))
            .collect();
        watchers.dispatch(&evs, evs.len() as u64);
        assert_eq!(watchers.count(), 0);
        let got = received(&mut slow);
        assert_eq!(got.len(), CHANNEL);
        assert_eq!(got.last(), Some(&(CHANNEL as u64)));
        // Its channel is closed: the reader knows to catch up from the history.
        assert!(slow.rx.is_closed());
    }

    #[test]
    fn dropping_a_registration_unregisters_it() {
        let watchers = Arc::new(Watchers::new(0));
        let a = watchers.register(&interest(Some("/configmaps"), Some("a")));
        let b = watchers.register(&interest(None, None));
        assert_eq!(watchers.count(), 2);
        drop(a);
        drop(b);
        assert_eq!(watchers.count(), 0);
        assert!(watchers.lock().resources.is_empty());
    }

    #[test]
    fn seen_through_waits_for_the_channel_to_empty() {
        let watchers = Arc::new(Watchers::new(7));
        let mut w = watchers.register(&interest(Some("/configmaps"), None));
        assert_eq!(watchers.seen_through(&w), Some(7));
        watchers.dispatch(&[event(8, "/configmaps", "a")], 8);
        assert_eq!(watchers.seen_through(&w), None);
        assert_eq!(received(&mut w), vec![8]);
        assert_eq!(watchers.seen_through(&w), Some(8));
    }
}
