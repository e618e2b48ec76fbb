//! The writers on a shared medium waiting for their own change to reach this server's cache
//! (read-your-writes), each woken once, when the cache applies that change.
//!
//! A write on etcd is answered only once the cache holds it (`Store::write`). With a change
//! notification that wakes every waiter on every applied batch, 64 concurrent writers meant 64
//! wake-ups (each taking the state lock to look) per batch the etcd feed applied; here each
//! waiter is registered under the revision it waits for, and applying a batch wakes exactly
//! the waiters it satisfies.

use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Waiters by the revision they wait for.
#[derive(Default)]
pub(crate) struct ChangeWaiters {
    waiting: Mutex<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
}

impl ChangeWaiters {
    /// Registers a wait for revision `rv`, unless `applied()` (the cache's last applied
    /// change, read while registering) has reached it already: None then. The caller awaits the
    /// receiver, which also ends (with an error) when the waiters are [released](Self::close).
    ///
    /// The check and the registration happen under one lock, and [`Self::release`] takes that
    /// lock only after the cache has moved, so a change applied while registering is never
    /// missed.
    pub(crate) fn register(
        &self,
        rv: u64,
        applied: impl FnOnce() -> u64,
    ) -> Option<oneshot::Receiver<()>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if applied() >= rv {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        waiting.entry(rv).or_default().push(tx);
        Some(rx)
    }

    /// Wakes every waiter for a revision up to `applied` (call after the cache has applied it).
    pub(crate) fn release(&self, applied: u64) {
        let ready = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            if waiting
                .first_key_value()
                .is_none_or(|(rv, _)| *rv > applied)
            {
                return;
            }
            let later = waiting.split_off(&(applied + 1));
            std::mem::replace(&mut *waiting, later)
        };
        for tx in ready.into_values().flatten() {
            let _ = tx.send(());
        }
    }

    /// Ends every wait (the store is closing): their receivers end with an error.
    pub(crate) fn close(&self) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reached_revision_needs_no_wait() {
        let waiters = ChangeWaiters::default();
        assert!(waiters.register(5, || 5).is_none());
        assert!(waiters.register(5, || 7).is_none());
    }

    #[test]
    fn release_wakes_exactly_the_waiters_it_satisfies() {
        let waiters = ChangeWaiters::default();
        let mut three = waiters.register(3, || 1).expect("waits");
        let mut five = waiters.register(5, || 1).expect("waits");
        let mut five_too = waiters.register(5, || 1).expect("waits");
        waiters.release(4);
        assert_eq!(three.try_recv(), Ok(()));
        assert!(five.try_recv().is_err() && five_too.try_recv().is_err());
        waiters.release(5);
        assert_eq!(five.try_recv(), Ok(()));
        assert_eq!(five_too.try_recv(), Ok(()));
    }

    #[test]
    fn close_ends_every_wait() {
        let waiters = ChangeWaiters::default();
        let mut rx = waiters.register(9, || 1).expect("waits");
        waiters.close();
        assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
    }
}
