//! Whether a cache, or one handler of it, has caught up with the server (client-go's
//! `InformerSynced` and `WaitForCacheSync`).
//!
//! What this guarantees:
//! - An informer has synced once its first complete list is in the cache.
//! - A handler has synced once it has *handled* the adds of that first list (or, for a handler
//!   added late, the synthetic adds of the objects cached when it was added).
//! - Synced never goes back to false; waiting ends with `false` if the informer stops first, so a
//!   waiter never hangs on a stopped informer.

use tokio::sync::watch;

/// The state behind an [`InformerSynced`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncState {
    pub(crate) synced: bool,
    pub(crate) stopped: bool,
}

/// Publishes a [`SyncState`].
pub(crate) type SyncSender = watch::Sender<SyncState>;

/// A new, unsynced state.
pub(crate) fn sync_channel() -> SyncSender {
    watch::Sender::new(SyncState::default())
}

pub(crate) fn mark_synced(tx: &SyncSender) {
    tx.send_if_modified(|s| !std::mem::replace(&mut s.synced, true));
}

pub(crate) fn mark_stopped(tx: &SyncSender) {
    tx.send_if_modified(|s| !std::mem::replace(&mut s.stopped, true));
}

/// Tells whether an informer (or one of its handlers) has synced; cheap to clone and to keep.
///
/// ```no_run
/// # async fn demo(pods: kubeforge_runtime::cache::Informer<k8s_openapi::api::core::v1::Pod>,
/// #               nodes: kubeforge_runtime::cache::Informer<k8s_openapi::api::core::v1::Node>) {
/// use kubeforge_runtime::cache::wait_for_cache_sync;
///
/// if !wait_for_cache_sync(&[pods.synced(), nodes.synced()]).await {
///     panic!("an informer stopped before it synced");
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InformerSynced {
    rx: watch::Receiver<SyncState>,
}

impl InformerSynced {
    pub(crate) fn new(tx: &SyncSender) -> Self {
        InformerSynced { rx: tx.subscribe() }
    }

    /// Whether it has synced.
    pub fn has_synced(&self) -> bool {
        self.rx.borrow().synced
    }

    /// Waits until it has synced (`true`) or stopped without syncing (`false`).
    pub async fn wait(&self) -> bool {
        let mut rx = self.rx.clone();
        let reached = rx
            .wait_for(|s| s.synced || s.stopped)
            .await
            .map(|state| state.synced);
        // Err: the informer is gone; whatever it reached last is final.
        reached.unwrap_or_else(|_| rx.borrow().synced)
    }
}

/// Waits until every one of `synced` has synced (`true`), or one stopped without syncing
/// (`false`), as client-go's `WaitForCacheSync`. Bound it with `tokio::time::timeout`.
pub async fn wait_for_cache_sync(synced: &[InformerSynced]) -> bool {
    for s in synced {
        if !s.wait().await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_ends_on_sync_or_stop() {
        let a = sync_channel();
        let b = sync_channel();
        let (sa, sb) = (InformerSynced::new(&a), InformerSynced::new(&b));
        assert!(!sa.has_synced());
        mark_synced(&a);
        assert!(sa.has_synced());
        let waiter = tokio::spawn({
            let (sa, sb) = (sa.clone(), sb.clone());
            async move { wait_for_cache_sync(&[sa, sb]).await }
        });
        mark_stopped(&b);
        assert!(!waiter.await.unwrap());
        assert!(sa.wait().await);
        drop(a);
        assert!(sa.wait().await);
    }
}
