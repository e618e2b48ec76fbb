//! Delivery to one handler (client-go's `processorListener`): an unbounded, ordered queue of
//! notifications drained by the handler's own task.
//!
//! What this guarantees:
//! - Notifications reach the handler in the order the informer queued them, one call at a time.
//! - Queueing never blocks the informer: a slow handler only grows its own queue (unbounded, as
//!   client-go's; the entries are `Arc`s, not copies).
//! - The handler's has-synced turns true when the handler has returned from every add that
//!   preceded the `Synced` marker.
//! - A panicking handler is logged and keeps receiving notifications.
//! - When the informer drops the listener, the queue is drained and the task ends.

use super::handler::{DeleteEvent, EventHandler};
use super::synced::{InformerSynced, SyncSender, mark_stopped, mark_synced, sync_channel};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One thing to tell a handler.
pub(crate) enum Notification<K> {
    Add(Arc<K>),
    Update(Arc<K>, Arc<K>),
    Delete(DeleteEvent<K>),
    /// Every add of the handler's initial list precedes this.
    Synced,
}

impl<K> Clone for Notification<K> {
    fn clone(&self) -> Self {
        match self {
            Notification::Add(o) => Notification::Add(o.clone()),
            Notification::Update(a, b) => Notification::Update(a.clone(), b.clone()),
            Notification::Delete(d) => Notification::Delete(d.clone()),
            Notification::Synced => Notification::Synced,
        }
    }
}

/// A handler and the queue it drains, until its task is spawned.
type Pending<K> = (UnboundedReceiver<Notification<K>>, Arc<dyn EventHandler<K>>);

/// The informer's side of one handler.
pub(crate) struct Listener<K> {
    pub(crate) id: u64,
    tx: UnboundedSender<Notification<K>>,
    /// The receiving side and the handler, until the task is spawned.
    pending: Option<Pending<K>>,
    state: SyncSender,
    /// Whether the `Synced` marker has been queued.
    pub(crate) synced_queued: bool,
    /// Resync period (zero: never).
    pub(crate) resync: Duration,
    /// When the next resync is due (set once the informer has synced).
    pub(crate) next_resync: Option<Instant>,
}

impl<K: Send + Sync + 'static> Listener<K> {
    pub(crate) fn new(id: u64, handler: Arc<dyn EventHandler<K>>, resync: Duration) -> Self {
        let (tx, rx) = unbounded_channel();
        Listener {
            id,
            tx,
            pending: Some((rx, handler)),
            state: sync_channel(),
            synced_queued: false,
            resync,
            next_resync: None,
        }
    }

    /// Spawns the delivery task on `runtime` (once).
    pub(crate) fn spawn(&mut self, runtime: &Handle) -> Option<JoinHandle<()>> {
        let (rx, handler) = self.pending.take()?;
        Some(runtime.spawn(deliver(rx, handler, self.state.clone())))
    }
}

impl<K> Listener<K> {
    /// The handler's has-synced.
    pub(crate) fn synced(&self) -> InformerSynced {
        InformerSynced::new(&self.state)
    }

    /// Queues a notification (dropped if the task has ended, which only happens at shutdown).
    pub(crate) fn send(&self, n: Notification<K>) {
        let _ = self.tx.send(n);
    }

    /// Queues the `Synced` marker once.
    pub(crate) fn send_synced(&mut self) {
        if !self.synced_queued {
            self.synced_queued = true;
            self.send(Notification::Synced);
        }
    }

    /// The resync is due at or before `now`.
    pub(crate) fn resync_due(&self, now: Instant) -> bool {
        self.next_resync.is_some_and(|at| at <= now)
    }

    /// Plans the next resync one period after `now` (if this listener resyncs at all).
    pub(crate) fn plan_resync(&mut self, now: Instant) {
        if !self.resync.is_zero() {
            self.next_resync = Some(now + self.resync);
        }
    }
}

impl<K> Drop for Listener<K> {
    fn drop(&mut self) {
        // Never spawned: nobody will drain the queue, so nobody will sync.
        if self.pending.is_some() {
            mark_stopped(&self.state);
        }
    }
}

async fn deliver<K: 'static>(
    mut rx: UnboundedReceiver<Notification<K>>,
    handler: Arc<dyn EventHandler<K>>,
    state: SyncSender,
) {
    while let Some(n) = rx.recv().await {
        let what = match &n {
            Notification::Add(_) => "add",
            Notification::Update(..) => "update",
            Notification::Delete(_) => "delete",
            Notification::Synced => {
                mark_synced(&state);
                continue;
            }
        };
        let call = AssertUnwindSafe(|| match n {
            Notification::Add(o) => handler.on_add(o),
            Notification::Update(a, b) => handler.on_update(a, b),
            Notification::Delete(d) => handler.on_delete(d),
            Notification::Synced => {}
        });
        if catch_unwind(call).is_err() {
            tracing::error!(event = what, "event handler panicked");
        }
    }
    mark_stopped(&state);
}
