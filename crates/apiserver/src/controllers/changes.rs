//! The one list + watch + relist spine the in-server controllers share, as client-go's reflector
//! is the one every informer shares: a controller asks its [`Changes`] for the next step, and is
//! told either to rebuild its state from a list ([`Change::Resync`]: at start, and whenever the
//! store's history no longer reaches back to what the controller has seen) or what was
//! committed since ([`Change::Events`]).
//!
//! The watch is opened before the controller lists, at the revision the list is meant to
//! reflect, so a change committed while it lists is delivered afterwards rather than lost
//! (handling it twice is harmless to a level-driven controller). [`Changes::next`] is
//! cancel-safe, so a controller may wait for it in a `select!` beside its timers and wake-ups.

use crate::rest::Rest;
use crate::storage::{StoreError, StoredEvent, WatchCursor};
use std::sync::Arc;

/// The next step of a controller.
#[derive(Debug)]
pub enum Change {
    /// Rebuild: list what the controller follows (the watch continues from `from`, the store's
    /// revision before the list).
    Resync {
        /// The revision the watch continues after.
        from: u64,
    },
    /// Changes committed since the last step, in revision order (never empty).
    Events(Vec<Arc<StoredEvent>>),
}

/// A controller's view of the store's change stream.
pub struct Changes {
    rest: Rest,
    /// The storage key followed (None: every resource).
    resource: Option<Arc<str>>,
    cursor: Option<WatchCursor>,
}

impl Changes {
    /// Follows `resource` (a storage key; None for every resource). The first step is a resync.
    pub fn new(rest: &Rest, resource: Option<Arc<str>>) -> Self {
        Changes {
            rest: rest.clone(),
            resource,
            cursor: None,
        }
    }

    /// Follows every resource.
    pub fn all(rest: &Rest) -> Self {
        Changes::new(rest, None)
    }

    /// The next step, or None once the store has closed (the controller should return).
    pub async fn next(&mut self) -> Option<Change> {
        loop {
            let Some(cursor) = self.cursor.as_mut() else {
                let from = self.rest.store.resource_version();
                match self.rest.store.watch(self.resource.clone(), from) {
                    Ok(cursor) => {
                        self.cursor = Some(cursor);
                        return Some(Change::Resync { from });
                    }
                    // Compacted between reading the revision and opening the watch: read again.
                    Err(StoreError::TooOld { .. }) => continue,
                    Err(_) => return None,
                }
            };
            return match cursor.next().await {
                Ok(events) => Some(Change::Events(events)),
                Err(StoreError::TooOld { .. }) => {
                    self.cursor = None;
                    continue;
                }
                Err(_) => None,
            };
        }
    }
}
