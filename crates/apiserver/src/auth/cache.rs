//! The informer of the RBAC authorizer: a [`Policy`] (roles and bindings, indexed by subject)
//! kept current from the store's change stream, so that a decision reads memory, never the
//! store. Like client-go's informer it starts from a list and then follows a watch; unlike an
//! informer in its own task, it catches up on demand: a decision first compares the store's
//! committed resourceVersion with the one the policy reflects (one atomic read when nothing
//! changed) and, when the store is ahead, applies the changes since — so a binding takes effect
//! with its write, as tests and `kubectl` users expect, and nothing runs when nobody asks.

use super::attributes::Attributes;
use super::rbac::{Decision, GROUP, Kind, Policy};
use super::user::UserInfo;
use crate::resource::ResourceType;
use crate::storage::{ReadAt, Store, StoreError, WatchCursor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The RBAC objects of the store, indexed and kept current.
pub struct RbacCache {
    store: Store,
    keys: [(Kind, Arc<str>); 4],
    policy: RwLock<Policy>,
    /// The resourceVersion the policy reflects.
    position: AtomicU64,
    /// The change stream the policy follows (None until the first decision, or after it fell
    /// behind the store's history).
    cursor: tokio::sync::Mutex<Option<WatchCursor>>,
}

impl std::fmt::Debug for RbacCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacCache")
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl RbacCache {
    /// A cache of `store`'s RBAC objects, filled at the first decision.
    pub fn new(store: Store) -> Self {
        RbacCache {
            store,
            keys: Kind::ALL
                .map(|(kind, plural)| (kind, ResourceType::storage_key_for(GROUP, plural))),
            policy: RwLock::default(),
            position: AtomicU64::new(0),
            cursor: tokio::sync::Mutex::new(None),
        }
    }

    fn kind_of(&self, resource: &str) -> Option<Kind> {
        self.keys
            .iter()
            .find(|(_, key)| &**key == resource)
            .map(|(kind, _)| *kind)
    }

    /// Brings the policy up to the store's committed state.
    async fn sync(&self) {
        if self.store.resource_version() <= self.position.load(Ordering::Acquire)
            && self.position.load(Ordering::Acquire) > 0
        {
            return;
        }
        let mut cursor = self.cursor.lock().await;
        loop {
            let Some(c) = cursor.as_mut() else {
                *cursor = self.relist().await;
                if cursor.is_none() {
                    return;
                }
                continue;
            };
            match c.ready() {
                Ok(events) => {
                    let mut policy = self.policy.write().unwrap_or_else(|e| e.into_inner());
                    for event in events {
                        if let Some(kind) = self.kind_of(&event.key.resource) {
                            let gone = event.event_type == crate::storage::EventType::Deleted;
                            policy.apply(
                                kind,
                                &event.key.namespace,
                                &event.key.name,
                                (!gone).then_some(&event.object.json[..]),
                            );
                        }
                    }
                    self.position.store(c.position().max(1), Ordering::Release);
                    return;
                }
                // Fell out of the history: start over from a list.
                Err(StoreError::TooOld { .. }) => *cursor = None,
                Err(e) => {
                    tracing::warn!(error = %e, "RBAC cache cannot follow the store");
                    return;
                }
            }
        }
    }

    /// A new policy from a list of the four resources, and the cursor of the changes since
    /// the list began (replaying a change the list already saw is harmless: each event carries
    /// the whole object).
    async fn relist(&self) -> Option<WatchCursor> {
        let from = self.store.resource_version();
        let cursor = match self.store.watch(None, from) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "RBAC cache cannot watch the store");
                return None;
            }
        };
        let mut policy = Policy::default();
        for (kind, key) in &self.keys {
            match self.store.list(key, None, ReadAt::Latest).await {
                Ok(page) => {
                    for (k, obj) in &page.items {
                        policy.apply(*kind, &k.namespace, &k.name, Some(&obj.json));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "RBAC cache cannot list {key}");
                    return None;
                }
            }
        }
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = policy;
        Some(cursor)
    }

    /// Runs `f` on the current policy.
    pub async fn read<T>(&self, f: impl FnOnce(&Policy) -> T) -> T {
        self.sync().await;
        f(&self.policy.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether `user` may do `attrs`, by the roles and bindings the cache holds now, without
    /// catching up with the store first (for decisions made where nothing may wait: the CEL
    /// `authorizer` of admission, whose callers catch up once before).
    pub fn authorize_current(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.is_privileged() {
            return Policy::default().authorize(user, attrs);
        }
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .authorize(user, attrs)
    }

    /// Whether `user` may do `attrs`.
    pub async fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.is_privileged() {
            return Policy::default().authorize(user, attrs);
        }
        self.read(|p| p.authorize(user, attrs)).await
    }
}
